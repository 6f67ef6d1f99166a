"""PynamoDB models: the one definition of every table, its keys and its indexes.

The local stack creates its tables from these classes and ``infra/`` declares the AWS tables
from them too, so the keys can never drift between code, emulator and cloud. Every request path
reads with GetItem or Query; no table is ever scanned.
"""

from __future__ import annotations

import threading
from datetime import datetime

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.connection import TableConnection
from pynamodb.exceptions import TableError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.adapters import aws
from chalicelib.adapters.client_config import (
    CONNECT_TIMEOUT_SECONDS,
    MAX_ATTEMPTS,
    MAX_POOL_CONNECTIONS,
    READ_TIMEOUT_SECONDS,
)
from chalicelib.domain.clock import ISO_FORMAT
from chalicelib.domain.shards import partition_values, shard_value
from chalicelib.settings import get_settings

# Value of TaskModel.listing: every task sits in one partition of the listing index.
TASK_LISTING = "task"
# Partition value of the sparse due index.
DUE_SHARD = "due"
# Partition prefixes of the sparse execution indexes (awaiting dispatch, held by a runner, owing
# an event): each item takes ``<prefix>#<n>`` (chalicelib.domain.shards); the bare prefix is the
# value of items written before sharding, still read.
AWAITING_SHARD = "awaiting"
# Partition of the awaiting-dispatch index for ``scheduled`` executions (made ahead of their
# instants), so the reconciler finds the overdue ones among them without reading the others.
SCHEDULED_SHARD = "scheduled"
ACTIVE_SHARD = "active"
OWED_SHARD = "owed"


def awaiting_shard(execution_id: str) -> str:
    return shard_value(AWAITING_SHARD, execution_id, get_settings().index_shards)


def active_shard(execution_id: str) -> str:
    return shard_value(ACTIVE_SHARD, execution_id, get_settings().index_shards)


def owed_shard(execution_id: str) -> str:
    return shard_value(OWED_SHARD, execution_id, get_settings().index_shards)


# Partition prefix of the task-id index: each task takes ``ids#<n>`` (n from its id).
TASK_ID_SHARD = "ids"


def task_id_shard(task_id: str) -> str:
    return shard_value(TASK_ID_SHARD, task_id, get_settings().task_id_shards)


def task_id_partitions() -> list[str]:
    """Every partition value of the task-id index (it never held unsharded items)."""
    return partition_values(TASK_ID_SHARD, get_settings().task_id_shards, legacy=False)


def partitions(prefix: str, legacy: bool = True) -> list[str]:
    """Every partition value of a sharded index (with ``legacy``, the unsharded one too)."""
    return partition_values(prefix, get_settings().index_shards, legacy)


# Value of HostModel.farm: every host sits in one partition of the farm index.
FARM = "farm"


class _TableMeta(type):
    """The metaclass of every model's ``Meta``: its table name and region are read from the
    settings when PynamoDB first asks for them, not when this module is imported, so importing
    the models fixes no deployment (tests, the CDK app and ``chalice package`` set it later)."""

    settings_field: str

    @property
    def table_name(cls) -> str:
        return str(getattr(get_settings(), cls.settings_field))

    @property
    def region(cls) -> str:
        return get_settings().region


class _Meta(metaclass=_TableMeta):
    # The Settings property naming the table (``tasks_table``, ...).
    settings_field = ""
    billing_mode = "PAY_PER_REQUEST"
    # The same retries, timeouts and pool as every boto3 client (aws.CLIENT_CONFIG).
    max_retry_attempts = MAX_ATTEMPTS
    connect_timeout_seconds = CONNECT_TIMEOUT_SECONDS
    read_timeout_seconds = READ_TIMEOUT_SECONDS
    max_pool_connections = MAX_POOL_CONNECTIONS


# Held while a model's table connection is pointed at the shared one (threads may race to it).
_SHARING = threading.Lock()


class _SharedConnectionModel(Model):
    """A model whose table calls go through the process's one connection (``aws.connection()``),
    not a connection, client and botocore session of its own per table (PynamoDB's way, about
    10 MB each)."""

    @classmethod
    def _get_connection(cls) -> TableConnection:
        # PynamoDB makes the TableConnection (cheap: its own connection makes no client until
        # asked), and this points it at the shared one, which learns the table's keys once.
        table = super()._get_connection()
        shared = aws.connection()
        if table.connection is not shared:
            with _SHARING:
                name = cls.Meta.table_name
                try:
                    shared.get_meta_table(name)
                except TableError:
                    shared.add_meta_table(table.connection.get_meta_table(name))
                table.connection = shared
        return table


class TasksByCreation(GlobalSecondaryIndex["TaskModel"]):
    """All tasks, newest first: the pages of GET /tasks/."""

    class Meta:
        index_name = "by-creation"
        projection = AllProjection()

    listing = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class TasksById(GlobalSecondaryIndex["TaskModel"]):
    """Task ids in order, over ``task_id_shards`` partitions: a Query per shard with
    ``begins_with`` reads the ids under one prefix only, so a scoped key's listing costs what
    its own tasks cost, not every team's. ``created_key`` is projected to order them newest
    first as the listing of all tasks does."""

    class Meta:
        index_name = "by-task-id"
        projection = IncludeProjection(["created_key"])

    id_shard = UnicodeAttribute(hash_key=True)
    task_id = UnicodeAttribute(range_key=True)


class TaskModel(_SharedConnectionModel):
    class Meta(_Meta):
        settings_field = "tasks_table"

    task_id = UnicodeAttribute(hash_key=True)
    listing = UnicodeAttribute(default=TASK_LISTING)
    # ISO creation time, then the task id: unique and time-ordered.
    created_key = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    last_modified_at = UTCDateTimeAttribute()
    jobs_count = NumberAttribute(default=0)
    # ``ids#<n>`` (task_id_shard): the task's partition in the task-id index. Tasks stored
    # before that index existed lack it until the backfill (task_repository.backfill_id_index).
    id_shard = UnicodeAttribute(null=True)

    by_creation = TasksByCreation()
    by_task_id = TasksById()


class TaskWordModel(_SharedConnectionModel):
    """Whole-word index of task ids for /search/: one item per (word, task)."""

    class Meta(_Meta):
        settings_field = "task_words_table"

    word = UnicodeAttribute(hash_key=True)
    task_id = UnicodeAttribute(range_key=True)


class JobsByDue(GlobalSecondaryIndex["JobModel"]):
    """Scheduled jobs by their next due instant (sparse: only jobs with a next run)."""

    class Meta:
        index_name = "by-due"
        projection = KeysOnlyProjection()

    due_shard = UnicodeAttribute(hash_key=True)
    next_run_at = NumberAttribute(range_key=True)


class JobModel(_SharedConnectionModel):
    class Meta(_Meta):
        settings_field = "jobs_table"

    task_id = UnicodeAttribute(hash_key=True)
    job_id = UnicodeAttribute(range_key=True)
    spec = JSONAttribute()
    created_at = UTCDateTimeAttribute()
    last_modified_at = UTCDateTimeAttribute()
    execution_count = NumberAttribute(default=0)
    retry_count = NumberAttribute(default=0)
    scheduled = BooleanAttribute(default=False)
    last_execution_id = UnicodeAttribute(null=True)
    # Set only while a run is pending: that is what makes the due index sparse.
    due_shard = UnicodeAttribute(null=True)
    next_run_at = NumberAttribute(null=True)
    # Set by the stop route: runs created before it are not retried.
    stopped_at = UTCDateTimeAttribute(null=True)
    # Cron ticks deliberately not run (forbid policy, missed starting deadline).
    skipped_ticks = NumberAttribute(default=0)
    last_skipped_at = UTCDateTimeAttribute(null=True)
    # The caller of the latest POST/PUT: its scheduled runs carry it as their requestIP.
    request_ip = UnicodeAttribute(null=True)
    # A suspended cron keeps its definition but has no next run (it is out of the due index)
    # until it is resumed.
    suspended = BooleanAttribute(null=True)

    by_due = JobsByDue()


class ExecutionsAwaitingDispatch(GlobalSecondaryIndex["ExecutionModel"]):
    """Executions not yet claimed by a runner, by the instant their message is due.

    Sparse: the attributes are removed when a runner claims the execution, so the reconciler
    reads only what may have lost its SQS message.
    """

    class Meta:
        index_name = "awaiting-dispatch"
        projection = KeysOnlyProjection()

    awaiting_shard = UnicodeAttribute(hash_key=True)
    dispatch_at = NumberAttribute(range_key=True)


class ExecutionsByHeartbeat(GlobalSecondaryIndex["ExecutionModel"]):
    """Executions a runner holds (pulling or running), by the runner's last heartbeat on them.

    Sparse: a claim adds the attributes and the end of the run removes ``active_shard``, so the
    reconciler finds the executions of a runner that went silent with one Query per shard, and
    a restarted runner finds its own (``host`` is projected for that filter).
    """

    class Meta:
        index_name = "by-heartbeat"
        projection = IncludeProjection(["host"])

    active_shard = UnicodeAttribute(hash_key=True)
    heartbeat_at = NumberAttribute(range_key=True)


class ExecutionsOwingEvents(GlobalSecondaryIndex["ExecutionModel"]):
    """Executions whose ``started`` or ``finished`` event is owed (the transactional outbox).

    Sparse: the write that stores a start or an end sets ``owed_shard``/``owed_at`` with the
    event's mark, and clearing the last mark after the publish removes them, so the dispatcher's
    tick reads only the events whose publish failed or whose publisher died.
    """

    class Meta:
        index_name = "owed-events"
        projection = IncludeProjection(["task_id", "start_event_pending", "end_event_pending"])

    owed_shard = UnicodeAttribute(hash_key=True)
    owed_at = NumberAttribute(range_key=True)


class ExecutionModel(_SharedConnectionModel):
    """One run of a container. The sort key is a UUIDv7, so a Query in reverse is newest first."""

    class Meta(_Meta):
        settings_field = "executions_table"

    job_id = UnicodeAttribute(hash_key=True)
    execution_id = UnicodeAttribute(range_key=True)
    task_id = UnicodeAttribute()
    status = UnicodeAttribute()
    image = UnicodeAttribute()
    command = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    started_at = UTCDateTimeAttribute(null=True)
    finished_at = UTCDateTimeAttribute(null=True)
    exit_code = NumberAttribute(null=True)
    # stdout and stderr (or the infrastructure error), cut to settings.inline_output_bytes.
    log = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)
    log_truncated = BooleanAttribute(default=False)
    error_truncated = BooleanAttribute(default=False)
    stdout_key = UnicodeAttribute(null=True)
    stderr_key = UnicodeAttribute(null=True)
    stdout_bytes = NumberAttribute(null=True)
    stderr_bytes = NumberAttribute(null=True)
    # stdout + separator + stderr as one object, stored when that answer might not fit Lambda's.
    logs_key = UnicodeAttribute(null=True)
    host = UnicodeAttribute(null=True)
    docker_port = NumberAttribute(null=True)
    container_id = UnicodeAttribute(null=True)
    attempt = NumberAttribute(default=0)
    queue_message_id = UnicodeAttribute(null=True)
    request_ip = UnicodeAttribute(null=True)
    # The due instant of a scheduled run or retry (None: run at once).
    scheduled_for = UTCDateTimeAttribute(null=True)
    retry_of = UnicodeAttribute(null=True)
    # A run-now's {"env": {...}, "command": "..."} over the job's definition (domain/overrides.py).
    overrides = JSONAttribute(null=True)
    stop_requested = BooleanAttribute(default=False)
    # The outbox: an event owed, set by the write that stores the start (``running``) or the end
    # (the final status) and cleared once the event is published (services/events.py).
    start_event_pending = UnicodeAttribute(null=True)
    end_event_pending = UnicodeAttribute(null=True)
    owed_shard = UnicodeAttribute(null=True)
    owed_at = NumberAttribute(null=True)
    awaiting_shard = UnicodeAttribute(null=True)
    dispatch_at = NumberAttribute(null=True)
    # Set while a runner holds the execution; heartbeat_at is its last sign of life (epoch s).
    active_shard = UnicodeAttribute(null=True)
    heartbeat_at = NumberAttribute(null=True)
    # Incremented by every heartbeat: with heartbeat_at, the token a reaper watches for change.
    beats = NumberAttribute(null=True)
    # What each reaper last saw: {reaper id: {"token": beat token, "since": the reaper's own
    # epoch seconds when it first saw that token}} (services/liveness.py).
    watches = MapAttribute(null=True)
    # One map per webhook POST or e-mail attempt (chalicelib.services.notifications), appended in place.
    dispatches = ListAttribute(null=True)
    # The sandbox its container ran in (domain/sandbox.AppliedSandbox.view), set with ``running``.
    sandbox = JSONAttribute(null=True)

    awaiting_dispatch = ExecutionsAwaitingDispatch()
    by_heartbeat = ExecutionsByHeartbeat()
    owing_events = ExecutionsOwingEvents()


class CounterModel(_SharedConnectionModel):
    """Named counters (tasks, jobs) so totals never need a scan."""

    class Meta(_Meta):
        settings_field = "counters_table"

    name = UnicodeAttribute(hash_key=True)
    value = NumberAttribute(default=0)


class HostsByPool(GlobalSecondaryIndex["HostModel"]):
    """Every registered host in one Query, ordered by pool then host id (``pool#host:port``)."""

    class Meta:
        index_name = "by-pool"
        projection = AllProjection()

    farm = UnicodeAttribute(hash_key=True)
    pool_host = UnicodeAttribute(range_key=True)


class HostModel(_SharedConnectionModel):
    """A runner's Docker host: written by its heartbeats, blacklisted by operators."""

    class Meta(_Meta):
        settings_field = "hosts_table"

    # "name:port", as operators name it in the blacklist routes.
    host_id = UnicodeAttribute(hash_key=True)
    farm = UnicodeAttribute(default=FARM)
    pool_host = UnicodeAttribute()
    pool = UnicodeAttribute()
    host = UnicodeAttribute()
    port = NumberAttribute()
    # Epoch seconds of the last heartbeat; absent until the runner's first one.
    heartbeat_at = NumberAttribute(null=True)
    blacklisted = BooleanAttribute(default=False)
    # "closed", "open" or "half-open".
    circuit = UnicodeAttribute(default="closed")
    circuit_opened_at = NumberAttribute(null=True)
    error = UnicodeAttribute(null=True)
    # The containers the runner runs: [{"executionId", "jobId", "taskId", "containerId", "startedAt"}].
    running = JSONAttribute(null=True)
    # A host that stopped heart-beating a day ago disappears from the table by itself.
    expires_at = TTLAttribute(null=True)

    by_pool = HostsByPool()


class SlotModel(_SharedConnectionModel):
    """A lease on one of the ``maxRunning`` slots of a pool (``pool#<name>#<i>``) or of a task
    (``task#<pool>#<task id>#<i>``), held by an execution until it ends or its lease expires."""

    class Meta(_Meta):
        settings_field = "slots_table"

    slot = UnicodeAttribute(hash_key=True)
    execution_id = UnicodeAttribute()
    host_id = UnicodeAttribute()
    # The holder's clock plus the lease: for operators; no decision compares it with a clock.
    lease_until = NumberAttribute()
    # Grows with every renewal: a taker frees the slot only when it saw this stand still for a
    # whole lease by its own clock (chalicelib/adapters/slots.py).
    renewals = NumberAttribute(null=True)


class ConnectionsByExecution(GlobalSecondaryIndex["ConnectionModel"]):
    """The viewers of one execution: what the runner posts each log batch to."""

    class Meta:
        index_name = "by-execution"
        projection = AllProjection()

    execution_id = UnicodeAttribute(hash_key=True)


class ConnectionModel(_SharedConnectionModel):
    """One open WebSocket of a log viewer, recorded by ``$connect`` (pk: API Gateway's id)."""

    class Meta(_Meta):
        settings_field = "connections_table"

    connection_id = UnicodeAttribute(hash_key=True)
    execution_id = UnicodeAttribute()
    job_id = UnicodeAttribute()
    task_id = UnicodeAttribute()
    connected_at = UTCDateTimeAttribute()
    # DynamoDB deletes the record after this instant, should no disconnect ever arrive.
    expires_at = TTLAttribute()

    by_execution = ConnectionsByExecution()


class DeliveryIdempotencyModel(_SharedConnectionModel):
    """Powertools idempotency records of notification deliveries: one per (execution, event,
    target, attempt), so a duplicate SQS delivery never POSTs or mails twice. Only the keys
    and the TTL are declared; Powertools writes the other attributes itself."""

    class Meta(_Meta):
        settings_field = "delivery_idempotency_table"

    id = UnicodeAttribute(hash_key=True)
    expiration = TTLAttribute(null=True)


class IdempotencyModel(_SharedConnectionModel):
    """Records of enqueues made with an ``Idempotency-Key`` (chalicelib.services.idempotency).

    Written and read by Powertools' ``DynamoDBPersistenceLayer``, whose default attribute names
    these are; declared here so the local stack and the CDK app provision the table like the
    others. DynamoDB's TTL removes records after their expiry (Powertools also ignores expired
    ones before TTL gets to them).
    """

    class Meta(_Meta):
        settings_field = "idempotency_table"

    id = UnicodeAttribute(hash_key=True)
    expiration = TTLAttribute(null=True)
    status = UnicodeAttribute(null=True)
    data = UnicodeAttribute(null=True)
    validation = UnicodeAttribute(null=True)
    in_progress_expiration = NumberAttribute(null=True)


ALL_MODELS: tuple[type[Model], ...] = (
    TaskModel,
    TaskWordModel,
    JobModel,
    ExecutionModel,
    CounterModel,
    HostModel,
    SlotModel,
    ConnectionModel,
    DeliveryIdempotencyModel,
    IdempotencyModel,
)


def new_task(
    task_id: str, created_at: datetime, last_modified_at: datetime | None = None, jobs_count: int = 1
) -> TaskModel:
    """A task's item as its first job writes it: in the listing (newest first by its created
    key) and in its shard of the task-id index."""
    return TaskModel(
        task_id,
        listing=TASK_LISTING,
        created_key=f"{created_at.strftime(ISO_FORMAT)}#{task_id}",
        created_at=created_at,
        last_modified_at=last_modified_at or created_at,
        jobs_count=jobs_count,
        id_shard=task_id_shard(task_id),
    )
