"""Every tunable fact of the service, in one place.

Values come from environment variables named ``SLIPWAY_<FIELD>`` (upper case); the defaults
below are what a fresh deployment gets. Resource names are derived from ``stage`` so that several
stacks (tests, a developer's, production) can share one AWS account or one emulator. The AWS
endpoints themselves are *not* settings: boto3 reads the standard ``AWS_ENDPOINT_URL*``
variables, so the same code talks to AWS, LocalStack or the local emulator (MiniStack).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field, fields
from functools import cached_property, lru_cache

from chalicelib.domain.access import parse_scoped_keys
from chalicelib.domain.credentials import (
    Credentials,
    GatewayAuthorizer,
    parse_api_keys,
    parse_authorizer,
    parse_basic_users,
)
from chalicelib.domain.pools import Pool, parse_pools
from chalicelib.domain.sandbox import Limits, Sandbox, check_sandbox, parse_cpus, parse_memory, parse_pids
from chalicelib.domain.webhook_targets import Networks, parse_networks

ENV_PREFIX = "SLIPWAY_"
# What the local stack blocks for webhooks instead of webhook_blocked_networks: link-local only
# (cloud metadata), so receivers on this machine and its network can be tried out.
LOCAL_WEBHOOK_BLOCKED_NETWORKS = ("169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "0.0.0.0/8")
# The header in which the CloudFront front door proves a request came through it.
FRONT_DOOR_HEADER = "x-slipway-front-door"
# Where metrics may go (``metrics_sink``).
METRICS_SINKS = ("emf-stdout", "cloudwatch", "off")


def _split_words(raw: str) -> tuple[str, ...]:
    return tuple(word.strip().lower() for word in raw.split(",") if word.strip())


def _split_kept(raw: str) -> tuple[str, ...]:
    return tuple(word.strip() for word in raw.split(",") if word.strip())


# Lists whose case matters (ARNs): read as written, not lower-cased.
_CASE_KEPT = frozenset({"env_secret_ref_patterns"})


@dataclass(frozen=True)
class Settings:
    # Prefix of every table, queue and bucket name of one deployment.
    stage: str = "dev"
    # AWS region used when the environment names none.
    region: str = "us-east-1"
    # Absolute base of the URLs in API responses; empty = derived from the request's Host.
    public_url: str = ""
    # Hosts whose X-Forwarded-Host is believed (the CloudFront front door's: exact names or
    # "*.suffix"); any other X-Forwarded-Host is ignored, since anyone can send the header.
    trusted_forwarded_hosts: tuple[str, ...] = ()
    # Jobs listed per page in GET /tasks/ and /search/.
    tasks_per_page: int = 10
    # Executions listed per page in the job details.
    executions_per_page: int = 20
    # Jobs listed per page in the task details.
    jobs_per_page: int = 100
    # Executions in a job's history (``…/history/``, the console's chart) unless ``?limit=`` says
    # otherwise, and the most ``?limit=`` may ask for: the route reads no more than that many.
    history_default_limit: int = 200
    history_max_limit: int = 1000
    # Instants listed in a job's ``nextRuns`` (its next one, then a cron's ticks after it).
    next_runs_listed: int = 5
    # The longest a container may run, whatever the job asks (seconds).
    hard_timeout_seconds: int = 1800
    # Env var names whose values are shown in clear in answers, webhooks, e-mails and logs
    # (compared without case); every other env value is shown as ***, whatever its name.
    visible_env_names: tuple[str, ...] = ()
    # Words that make a ``name=value`` in free text (logs, tracebacks) and a webhook header look
    # secret: such values are masked there too, even when they are no job's env value.
    secret_env_words: tuple[str, ...] = ("password", "key", "secret", "client_id", "token", "pass")
    # Secrets an env value may reference (``{"secretRef": "<ARN>"}``), as ARN patterns (``*``
    # matches anything): Secrets Manager secrets and SSM parameters under ``slipway/`` by default.
    # The runner role may read exactly these (infra/cdk/stack.py).
    env_secret_ref_patterns: tuple[str, ...] = (
        "arn:*:secretsmanager:*:*:secret:slipway/*",
        "arn:*:ssm:*:*:parameter/slipway/*",
    )
    # stdout/stderr kept inline on the execution item (bytes); all of it always goes to S3.
    inline_output_bytes: int = 64 * 1024
    # A stream up to this size is read once more after the container ended and stored from that
    # read when the follower's copy is shorter (runner/execution.py _read_the_rest); bigger ones
    # are not read twice.
    output_recheck_max_bytes: int = 256 * 1024 * 1024
    # Largest log body served inline, counted as the Lambda response holds it (a JSON string, non-ASCII
    # and control characters escaped); above it the client is redirected to S3 (Lambda caps at 6 MB).
    # Log texts inlined in execution and job details share it too.
    max_response_body_bytes: int = 5 * 1024 * 1024
    # Largest request body accepted (bytes).
    max_request_body_bytes: int = 256 * 1024
    # Largest job details once stored (JSON with non-ASCII escaped; a DynamoDB item holds 400 KB).
    max_job_bytes: int = 300 * 1024
    # Identity of this runner's Docker host in the farm (defaults to the machine's name). It must
    # stay the same across restarts: a restarted runner finds its containers by it.
    runner_host: str = field(default_factory=socket.gethostname)
    # Containers one runner runs at once.
    runner_concurrency: int = 4
    # Runs a runner prepares ahead (received, claimed, container created) while all its
    # containers run; each starts the moment a container ends (runner/start_gate.py).
    runner_prefetch: int = 1
    # SQS visibility timeout given to a message while its execution runs; extended by heartbeats.
    runner_visibility_seconds: int = 60
    # Long-poll wait of the runner's ReceiveMessage (seconds, ≤ 20); also the longest a warm stop waits for it.
    runner_poll_seconds: int = 5
    # How far ahead the dispatcher creates scheduled executions (seconds; SQS delays them the rest).
    # Above the dispatcher's period (1 minute in AWS), so no due instant falls between two ticks.
    dispatch_lookahead_seconds: int = 70
    # A scheduled run's message reaches a runner this much before its instant (seconds), so the
    # claim and the container's creation are done by then and only Docker's start remains.
    schedule_lead_seconds: float = 1.0
    # Seconds between dispatcher ticks of the local stack (EventBridge runs it each minute in AWS).
    dispatch_interval_seconds: float = 1.0
    # An execution still unclaimed this long after it was due had its message lost: send it again.
    reconcile_after_seconds: int = 30
    # A ``scheduled`` execution (made ahead of its instant) still unclaimed this long after its
    # instant is made ``enqueued`` by the dispatcher: listed and counted as a run waiting for a runner.
    scheduled_promote_after_seconds: float = 5.0
    # Longest wait between two retries (ms): SQS delays a message 15 minutes at most.
    retry_max_delay_ms: int = 900_000
    # Prefix of the labels put on every container the runner starts.
    container_label_prefix: str = "slipway"
    # How often a runner records on each execution it holds that it is still alive (seconds).
    execution_heartbeat_seconds: float = 5.0
    # An execution whose runner has not heart-beaten for this long is failed (and retried when it
    # has retries left): its runner or host is gone. Runners and the dispatcher both look.
    execution_stale_seconds: int = 30
    # Reaping trusts no clock but the reaper's own: a run ends only once the same reaper saw no
    # new beat on it for ``execution_stale_seconds``. Heartbeat times (the runners' clocks) only
    # pick the candidates: those older than ``execution_stale_seconds / reap_candidate_factor``
    # by the reaper's clock, so a reaper's clock that is off costs reads, never a healthy run.
    reap_candidate_factor: float = 3.0
    # Every so often (seconds, by the reaper's monotonic clock) a reaper looks at every held run,
    # whatever its heartbeat time says: a dead runner whose clock was far ahead is reaped too.
    reap_sweep_seconds: float = 300.0
    # Sparse indexes (held runs, runs awaiting dispatch, owed events) spread their items over this
    # many partition values, chosen from the execution id, so none of them is a hot partition.
    index_shards: int = 8
    # The task-id index (by-task-id: a scoped key's listing reads the ids under its pattern's
    # prefix) spreads the tasks over this many partition values, from a CRC-32 of the task id.
    # Changing it is safe: listings read every task id instead until the dispatcher's tick (or
    # the local provisioning) has moved every task to its new shard.
    task_id_shards: int = 4
    # Tasks stored before the task-id index existed (or before ``task_id_shards`` changed) are
    # put in it by the dispatcher's tick, at most this many a tick.
    task_id_backfill_per_tick: int = 500
    # A ``started``/``finished`` event still marked owed on its execution this long after its
    # write (seconds: the publish after the write failed or its writer died) is published again
    # by the dispatcher's tick; consumers drop a copy of one that did go out.
    outbox_grace_seconds: int = 60
    # At most this many owed events are published again per tick (spread over the shards).
    outbox_republish_per_tick: int = 100
    # On SIGTERM, how long running containers may go on before they are stopped and their
    # executions handed back to the queue for another runner (seconds).
    drain_seconds: int = 120
    # Pools of Docker hosts, as a JSON list of {"name", "match", "maxRunning", "maxRunningPerTask",
    # "runners"}: a task runs in the first pool whose ``match`` (a regular expression matched at
    # the start of the task id; empty matches all) fits. Empty: one pool, "default", for all.
    pools: str = ""
    # The container sandbox (chalicelib/domain/sandbox.py) every pool starts from; a pool's own
    # "sandbox" object in ``pools`` overrides any of it. What a job gets unless it asks
    # (``resources``): memory (256Mi, 1Gi, 512m or bytes), CPUs, processes at once.
    sandbox_memory: str = "512Mi"
    sandbox_cpus: float = 1.0
    sandbox_pids: int = 256
    # The most a job may ask for with ``resources`` (a pool's maxMemory, maxCpus, maxPids).
    sandbox_max_memory: str = "2Gi"
    sandbox_max_cpus: float = 2.0
    sandbox_max_pids: int = 1024
    # Linux capabilities kept; every other one is dropped (cap_drop ALL).
    sandbox_cap_add: tuple[str, ...] = ()
    # Run containers as this "uid[:gid]" (empty: the image's user).
    sandbox_user: str = ""
    # A read-only root file system, with a tmpfs /tmp of sandbox_tmpfs_size.
    sandbox_read_only: bool = False
    sandbox_tmpfs_size: str = "64m"
    # Docker network mode of the containers: "bridge", "none" or a user-defined network.
    sandbox_network: str = "bridge"
    # Docker keeps each container's output in json-file logs of at most this size and count, so
    # a container cannot fill the host's disk. The runner reads the output from that log (it
    # streams it to S3), so a container that prints faster than the runner reads can lose output
    # past the cap: keep it well above what jobs print.
    sandbox_log_max_size: str = "1g"
    sandbox_log_max_files: int = 2
    # While a container runs, the runner looks this often (seconds; 0: never) whether it sits at
    # its pids limit; found there twice in a row, it is killed as a fork bomb and its run fails.
    sandbox_pids_watch_seconds: float = 5.0
    # Can a job container reach the cloud's instance metadata endpoint? The runner checks with a
    # probe container at start-up: "refuse" (take no work when it can), "warn", or "off";
    # "auto" is "refuse" against AWS and "warn" against a local AWS (AWS_ENDPOINT_URL set).
    # infra/host/block-metadata.sh installs the host rule that blocks it.
    metadata_probe: str = "auto"
    # The probe's image (it runs ``wget``) and the address probed.
    metadata_probe_image: str = "busybox:latest"
    metadata_address: str = "169.254.169.254"
    metadata_probe_timeout_seconds: int = 2
    # Private registries' credentials, never in a job body: a JSON object of registry →
    # Secrets Manager secret (ARN or name) whose value is {"username": …, "password": …}…
    registry_secrets: str = ""
    # … or (locally) a JSON file of registry → {"username": …, "password": …}.
    registry_credentials_file: str = ""
    # How long the runner keeps credentials it read before reading them again (seconds).
    registry_credentials_ttl_seconds: int = 300
    # An image on an ECR registry (<account>.dkr.ecr.<region>.amazonaws.com) that neither of the
    # above names is pulled with a token from ecr:GetAuthorizationToken (valid 12 h), kept until
    # this many seconds before it expires, so no pull starts on a token about to lapse.
    registry_ecr_token_margin_seconds: int = 900
    # The pool this runner serves (it polls that pool's queue only).
    runner_pool: str = "default"
    # TCP port of this runner's Docker endpoint in its host id ("name:port"); 0 = the endpoint's
    # own port, or 2375 (Docker's) for a local socket.
    runner_port: int = 0
    # Seconds between two heartbeats of a runner (its host item: liveness, circuit, running
    # containers; the reply carries the blacklist flag, so a blacklist takes effect this fast).
    runner_heartbeat_seconds: float = 2.0
    # A host that has not heart-beaten for this long is shown unavailable in /status/.
    host_stale_seconds: int = 30
    # Consecutive Docker failures after which a runner's circuit opens.
    circuit_failures: int = 5
    # Seconds an open circuit waits before letting one probe through (half-open).
    circuit_reset_seconds: float = 60.0
    # Lease of a pool/task concurrency slot; heartbeats renew it, so a dead runner's slot frees itself.
    slot_lease_seconds: int = 60
    # A message that finds no free slot in its pool is sent again this many seconds later.
    slot_retry_seconds: int = 2
    # Endpoint of the WebSocket API's management API (``@connections``), e.g.
    # https://<api-id>.execute-api.<region>.amazonaws.com/<stage>; the local stack serves its own.
    ws_management_url: str = ""
    # After output comes, the runner waits this long for more before posting it (seconds):
    # latency first, yet a fast stream goes in batches, one post per viewer per period.
    ws_flush_seconds: float = 0.005
    # How long the runner trusts its list of an execution's viewers before querying it again.
    ws_connections_refresh_seconds: float = 0.5
    # A connection record is forgotten this long after its connect (API Gateway closes at 2 h).
    ws_connection_ttl_seconds: int = 7200
    # Largest WebSocket message the runner posts (API Gateway accepts 128 KB).
    ws_message_bytes: int = 96 * 1024
    # Lambda that replays a finished execution's log after a connect (asynchronous invoke);
    # empty: the replay runs on a thread of this process (the local stack).
    ws_replay_function: str = ""
    # Output of a running execution kept in the runner's memory for viewers connecting late.
    ws_backlog_bytes: int = 8 * 1024 * 1024
    # A live line longer than this (bytes; one with no newline, say) reaches viewers in pieces of
    # this size, so the runner never holds more than this of a line in progress. Each piece is
    # also kept under ws_message_bytes once escaped as JSON (up to 6 bytes per byte).
    live_line_max_bytes: int = 8 * 1024
    # Attempts at posting one live-log message to a viewer that is not gone before that message
    # is dropped for that viewer (logged); the viewer gets the lines after it.
    ws_post_attempts: int = 3
    # How long the runner goes on trying to store a run's outcome (output to S3, the final
    # write) after its container ended, with back-off, heart-beating the execution meanwhile
    # (seconds). Past it, the run is handed back and its container kept (runner/execution.py).
    runner_record_deadline_seconds: int = 600
    # How long the runner goes on trying to remove a container whose removal failed (the Docker
    # Engine restarting, say), with back-off, before leaving it to ``prune`` (seconds).
    runner_remove_retry_seconds: int = 300
    # Base of the links in webhooks and e-mails when public_url is empty (no request to take a
    # host from there); the local stack sets it to its own address. Empty: links are paths.
    links_base_url: str = ""
    # Webhook deliveries: first retry after this long (ms), then ×factor each time, at most the
    # cap (SQS delays a message 15 minutes at most). Whole seconds: the retry waits in SQS.
    webhook_backoff_ms: int = 1000
    webhook_backoff_factor: float = 2.0
    webhook_backoff_max_ms: int = 900_000
    # Seconds a webhook receiver has to answer one POST.
    webhook_timeout_seconds: float = 5.0
    # Addresses no webhook may reach (chalicelib/domain/webhook_targets.py): by default loopback,
    # the private ranges and link-local (where cloud metadata answers). The local stack
    # (infra/local) only blocks LOCAL_WEBHOOK_BLOCKED_NETWORKS, so receivers on this machine work.
    webhook_blocked_networks: tuple[str, ...] = (
        "169.254.0.0/16",
        "fe80::/10",
        "fd00:ec2::254/128",
        "0.0.0.0/8",
        "127.0.0.0/8",
        "::1/128",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "fc00::/7",
    )
    # Webhooks one job may declare (all events together), and e-mail recipients (likewise).
    max_webhooks_per_job: int = 10
    max_email_recipients_per_job: int = 20
    # A hook's own ``retries`` is capped at this, whatever the job asks.
    webhook_max_retries: int = 10
    # Dispatch records kept on one execution (webhookDispatch / notifyDispatch); later ones are
    # still made, only not stored, so an item never outgrows DynamoDB's 400 KB.
    dispatch_records_kept: int = 100
    # Failed e-mails are retried this many times, with the webhooks' back-off.
    mail_retries: int = 2
    # How e-mails leave: "smtp" (the settings below) or "ses" (the Lambda's IAM role).
    mail_transport: str = "smtp"
    mail_from: str = "slipway@localhost"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    # "none", "starttls" (upgrade a plain connection) or "ssl" (TLS from the first byte).
    smtp_tls: str = "none"
    smtp_user: str = ""
    smtp_password: str = ""
    # ARN of a Secrets Manager secret holding the SMTP password, read when a mail is sent (and
    # cached for the process): the password then sits in no environment and no stack output.
    smtp_password_secret: str = ""
    smtp_timeout_seconds: float = 10.0
    # HTTP Basic credentials accepted by the API, "user:password,user2:password2"; empty = off.
    # A password written "sha256:<64 hex digits>" is compared as that digest of the password sent.
    auth_basic_users: str = ""
    # API keys accepted (header X-Api-Key or Authorization: Bearer), comma-separated; empty = off.
    # A key written "sha256:<64 hex digits>" is compared as that digest of the key sent.
    auth_api_keys: str = ""
    # API keys limited to some tasks and verbs, as JSON: a list of {"name", "key" (or its
    # "sha256:<hex>" digest), "tasks" (a regular expression a task id must match whole; ".*" by
    # default), "verbs" (of "read", "write", "admin"; all by default)}. chalicelib/domain/access.py.
    auth_scoped_keys: str = ""
    # The secret the CloudFront front door sends in FRONT_DOOR_HEADER: when set, a request without
    # it (one sent straight to the execute-api endpoint) is refused. The CDK app sets it for a stage
    # deployed with front_door_only (a Secrets Manager value, referenced, never in the template).
    auth_front_door_secret: str = ""
    # An API Gateway authorizer on every route but the health check and /openapi.json (AWS only;
    # the local stack ignores it): "" = none, "iam" (SigV4-signed callers), or
    # "cognito:<user pool ARN>[,<user pool ARN>...]" (a Cognito ID token in Authorization).
    api_authorizer: str = ""
    # Names of API Gateway API keys the CDK stack makes in its usage plan (throttled and metered
    # per key). Non-empty: API Gateway itself requires one of them in X-Api-Key on every route but
    # the public ones; register the same value (its sha256 digest) as an auth_scoped_keys key.
    gateway_usage_plan_keys: tuple[str, ...] = ()
    # How long a POST's Idempotency-Key is remembered: a repeat within it answers the first response.
    idempotency_expiry_seconds: int = 24 * 3600
    # Origins allowed by CORS ("https://a.example,https://b.example", or "*"); empty = no CORS headers.
    cors_origins: tuple[str, ...] = ()
    # How long a browser may cache a CORS preflight answer (seconds).
    cors_max_age_seconds: int = 600
    # Responses at least this large are gzipped for clients that accept it (API Gateway's
    # minimumCompressionSize; the local front door does the same); -1 = never.
    gzip_min_bytes: int = 1024
    # CloudWatch namespace of the service's metrics (Embedded Metric Format, chalicelib/domain/metrics.py).
    metrics_namespace: str = "Slipway"
    # The ``service`` dimension of every metric; empty = "slipway-<stage>".
    metrics_service: str = ""
    # Where the metrics go (chalicelib/adapters/metrics.py): "emf-stdout", Embedded Metric Format
    # lines on stdout, which a Lambda's log group turns into metrics; "cloudwatch", PutMetricData
    # calls (the runner in AWS: nothing reads a Docker host's stdout for EMF); "off", nowhere.
    metrics_sink: str = "emf-stdout"
    # With the "cloudwatch" sink: the most distinct values kept for CloudWatch while PutMetricData
    # fails (the oldest are dropped beyond it, and the drop is logged).
    metrics_backlog_values: int = 50_000
    # 1: also keep the counters and duration sums in the counters table, for GET /metrics
    # (the local stack sets it; in AWS the figures are CloudWatch's and this costs a write each).
    metrics_local_counters: int = 0
    # How often those totals are written, added up in memory meanwhile (seconds).
    metrics_totals_seconds: float = 0.5
    # How often a runner writes its buffered metrics and its slots in use (seconds).
    metrics_flush_seconds: float = 60.0
    # The CDK stack's alarms (infra/cdk/monitoring.py): the period each looks at (seconds), and
    # how many executions failed by infrastructure in one period raise the alarm.
    alarm_period_seconds: int = 300
    alarm_infra_failures: int = 3

    @property
    def metrics_service_name(self) -> str:
        return self.metrics_service or f"slipway-{self.stage}"

    @property
    def tasks_table(self) -> str:
        return f"{self.stage}-slipway-tasks"

    @property
    def task_words_table(self) -> str:
        return f"{self.stage}-slipway-task-words"

    @property
    def jobs_table(self) -> str:
        return f"{self.stage}-slipway-jobs"

    @property
    def executions_table(self) -> str:
        return f"{self.stage}-slipway-executions"

    @property
    def hosts_table(self) -> str:
        return f"{self.stage}-slipway-hosts"

    @property
    def slots_table(self) -> str:
        return f"{self.stage}-slipway-slots"

    @property
    def counters_table(self) -> str:
        return f"{self.stage}-slipway-counters"

    @property
    def connections_table(self) -> str:
        return f"{self.stage}-slipway-ws-connections"

    @property
    def idempotency_table(self) -> str:
        return f"{self.stage}-slipway-idempotency"

    @property
    def delivery_idempotency_table(self) -> str:
        return f"{self.stage}-slipway-delivery-idempotency"

    @property
    def job_queue(self) -> str:
        return f"{self.stage}-slipway-jobs"

    def __post_init__(self) -> None:
        # The texts that need parsing are parsed now, once: a bad value stops the process at its
        # start (or the deploy at synth), not its first request.
        try:
            _ = self.blocked_networks
        except ValueError as exc:
            raise ValueError(f"SLIPWAY_WEBHOOK_BLOCKED_NETWORKS: {exc}") from exc
        _ = (self.pool_list, self.credentials, self.gateway_authorizer)
        if self.index_shards < 1:
            raise ValueError(f"SLIPWAY_INDEX_SHARDS must be at least 1, not {self.index_shards}")
        if self.task_id_shards < 1:
            raise ValueError(f"SLIPWAY_TASK_ID_SHARDS must be at least 1, not {self.task_id_shards}")
        if self.task_id_backfill_per_tick < 1:
            raise ValueError(
                f"SLIPWAY_TASK_ID_BACKFILL_PER_TICK must be at least 1, not {self.task_id_backfill_per_tick}"
            )
        if not 1 <= self.history_default_limit <= self.history_max_limit:
            raise ValueError(
                "SLIPWAY_HISTORY_DEFAULT_LIMIT must be between 1 and SLIPWAY_HISTORY_MAX_LIMIT, "
                f"not {self.history_default_limit} (max {self.history_max_limit})"
            )
        if self.reap_candidate_factor <= 0:
            raise ValueError(f"SLIPWAY_REAP_CANDIDATE_FACTOR must be above 0, not {self.reap_candidate_factor}")
        if self.metadata_probe not in ("auto", "refuse", "warn", "off"):
            raise ValueError(f"SLIPWAY_METADATA_PROBE must be auto, refuse, warn or off, not {self.metadata_probe!r}")
        if self.metrics_sink not in METRICS_SINKS:
            raise ValueError(
                f"SLIPWAY_METRICS_SINK must be one of {', '.join(METRICS_SINKS)}, not {self.metrics_sink!r}"
            )
        if self.metrics_backlog_values < 0:
            raise ValueError(f"SLIPWAY_METRICS_BACKLOG_VALUES must be at least 0, not {self.metrics_backlog_values}")

    @cached_property
    def sandbox_base(self) -> Sandbox:
        """The ``sandbox_*`` settings: the sandbox every pool starts from."""
        try:
            return check_sandbox(
                Sandbox(
                    defaults=Limits(
                        parse_memory(self.sandbox_memory, "SLIPWAY_SANDBOX_MEMORY"),
                        parse_cpus(self.sandbox_cpus, "SLIPWAY_SANDBOX_CPUS"),
                        parse_pids(self.sandbox_pids, "SLIPWAY_SANDBOX_PIDS"),
                    ),
                    ceiling=Limits(
                        parse_memory(self.sandbox_max_memory, "SLIPWAY_SANDBOX_MAX_MEMORY"),
                        parse_cpus(self.sandbox_max_cpus, "SLIPWAY_SANDBOX_MAX_CPUS"),
                        parse_pids(self.sandbox_max_pids, "SLIPWAY_SANDBOX_MAX_PIDS"),
                    ),
                    cap_add=tuple(name.upper() for name in self.sandbox_cap_add),
                    user=self.sandbox_user,
                    read_only=self.sandbox_read_only,
                    tmpfs_size=self.sandbox_tmpfs_size,
                    network=self.sandbox_network,
                    log_max_size=self.sandbox_log_max_size,
                    log_max_files=self.sandbox_log_max_files,
                ),
                "SLIPWAY_SANDBOX_*",
            )
        except ValueError as exc:
            raise ValueError(f"sandbox settings: {exc}") from exc

    @cached_property
    def pool_list(self) -> tuple[Pool, ...]:
        """``pools`` parsed: the declared pools, or the one catch-all default pool."""
        return parse_pools(self.pools, self.sandbox_base)

    @cached_property
    def blocked_networks(self) -> Networks:
        """``webhook_blocked_networks`` parsed."""
        return parse_networks(self.webhook_blocked_networks)

    @cached_property
    def credentials(self) -> Credentials:
        """``auth_basic_users``, ``auth_api_keys`` and ``auth_scoped_keys`` parsed."""
        return Credentials(
            parse_basic_users(self.auth_basic_users),
            parse_api_keys(self.auth_api_keys),
            parse_scoped_keys(self.auth_scoped_keys),
        )

    @cached_property
    def gateway_authorizer(self) -> GatewayAuthorizer:
        """``api_authorizer`` parsed."""
        return parse_authorizer(self.api_authorizer)

    def pool_queue(self, pool: str) -> str:
        """The job queue of ``pool``; the default pool keeps the historic name."""
        if pool == "default":
            return self.job_queue
        return f"{self.stage}-slipway-jobs-pool-{_queue_name_part(pool)}"

    @property
    def job_dead_letter_queue(self) -> str:
        return f"{self.stage}-slipway-jobs-dlq"

    def control_queue(self, host: str) -> str:
        """The queue on which the runner of ``host`` receives stop requests."""
        return f"{self.stage}-slipway-control-{_queue_name_part(host)}"

    @property
    def notifications_queue(self) -> str:
        return f"{self.stage}-slipway-notifications"

    @property
    def notifications_dead_letter_queue(self) -> str:
        return f"{self.stage}-slipway-notifications-dlq"

    @property
    def logs_bucket(self) -> str:
        return f"{self.stage}-slipway-logs"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is None:
                continue
            if f.type == "int":
                values[f.name] = int(raw)
            elif f.type == "float":
                values[f.name] = float(raw)
            elif f.type == "bool":
                values[f.name] = raw.strip().lower() in ("1", "true", "yes", "on")
            elif f.type == "tuple[str, ...]":
                values[f.name] = _split_kept(raw) if f.name in _CASE_KEPT else _split_words(raw)
            else:
                values[f.name] = raw
        if "region" not in values:
            region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
            if region:
                values["region"] = region
        return cls(**values)  # type: ignore[arg-type]


def current_secret_env_words() -> tuple[str, ...]:
    """``secret_env_words`` as the environment says right now, without fixing the settings of
    the process (log redaction is installed before a process has set its environment up)."""
    raw = os.environ.get(ENV_PREFIX + "SECRET_ENV_WORDS")
    return _split_words(raw) if raw is not None else Settings.secret_env_words


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read from the environment once."""
    return Settings.from_env()


def _queue_name_part(text: str) -> str:
    """``text`` as SQS allows it in a queue name (letters, digits, ``-``, ``_``), shortened."""
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)[:40]
