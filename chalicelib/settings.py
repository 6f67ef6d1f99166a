"""Every tunable fact of the service, in one place.

Values come from environment variables named ``SLIPWAY_<FIELD>`` (upper case); the defaults
below are what a fresh deployment gets. Resource names are derived from ``stage`` so that several
stacks (tests, a developer's, production) can share one AWS account or one emulator. The AWS
endpoints themselves are *not* settings: boto3 reads the standard ``AWS_ENDPOINT_URL*``
variables, so the same code talks to AWS, LocalStack or a moto server.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field, fields
from functools import lru_cache

ENV_PREFIX = "SLIPWAY_"


def _split_words(raw: str) -> tuple[str, ...]:
    return tuple(word.strip().lower() for word in raw.split(",") if word.strip())


@dataclass(frozen=True)
class Settings:
    # Prefix of every table, queue and bucket name of one deployment.
    stage: str = "dev"
    # AWS region used when the environment names none.
    region: str = "us-east-1"
    # Absolute base of the URLs in API responses; empty = derived from the request's Host.
    public_url: str = ""
    # Jobs listed per page in GET /tasks/ and /search/.
    tasks_per_page: int = 10
    # Executions listed per page in the job details.
    executions_per_page: int = 20
    # The longest a container may run, whatever the job asks (seconds).
    hard_timeout_seconds: int = 1800
    # Env var names containing one of these words are shown as *** in responses.
    secret_env_words: tuple[str, ...] = ("password", "key", "secret", "client_id")
    # stdout/stderr kept inline on the execution item (bytes); all of it always goes to S3.
    inline_output_bytes: int = 64 * 1024
    # Largest log body served directly; above it the client is redirected to S3 (Lambda caps at 6 MB).
    max_response_body_bytes: int = 5 * 1024 * 1024
    # Largest request body accepted (bytes).
    max_request_body_bytes: int = 256 * 1024
    # Identity of this runner's Docker host in the farm (defaults to the machine's name).
    runner_host: str = field(default_factory=socket.gethostname)
    # Containers one runner runs at once.
    runner_concurrency: int = 4
    # SQS visibility timeout given to a message while its execution runs; extended by heartbeats.
    runner_visibility_seconds: int = 60
    # Long-poll wait of the runner's ReceiveMessage (seconds, ≤ 20); also the longest a warm stop waits for it.
    runner_poll_seconds: int = 5
    # How far ahead the dispatcher creates scheduled executions (seconds; SQS delays them the rest).
    # Above the dispatcher's period (1 minute in AWS), so no due instant falls between two ticks.
    dispatch_lookahead_seconds: int = 70
    # Seconds between dispatcher ticks of the local stack (EventBridge runs it each minute in AWS).
    dispatch_interval_seconds: float = 1.0
    # An execution still unclaimed this long after it was due had its message lost: send it again.
    reconcile_after_seconds: int = 30
    # Longest wait between two retries (ms): SQS delays a message 15 minutes at most.
    retry_max_delay_ms: int = 900_000
    # Prefix of the labels put on every container the runner starts.
    container_label_prefix: str = "slipway"
    # HTTP Basic credentials accepted by the API, "user:password,user2:password2"; empty = off.
    # A password written "sha256:<64 hex digits>" is compared as that digest of the password sent.
    auth_basic_users: str = ""
    # API keys accepted (header X-Api-Key or Authorization: Bearer), comma-separated; empty = off.
    # A key written "sha256:<64 hex digits>" is compared as that digest of the key sent.
    auth_api_keys: str = ""
    # An API Gateway authorizer on every route but the health check and /openapi.json (AWS only;
    # the local stack ignores it): "" = none, "iam" (SigV4-signed callers), or
    # "cognito:<user pool ARN>[,<user pool ARN>...]" (a Cognito ID token in Authorization).
    api_authorizer: str = ""
    # How long a POST's Idempotency-Key is remembered: a repeat within it answers the first response.
    idempotency_expiry_seconds: int = 24 * 3600
    # Origins allowed by CORS ("https://a.example,https://b.example", or "*"); empty = no CORS headers.
    cors_origins: tuple[str, ...] = ()
    # How long a browser may cache a CORS preflight answer (seconds).
    cors_max_age_seconds: int = 600
    # Responses at least this large are gzipped for clients that accept it (API Gateway's
    # minimumCompressionSize; the local front door does the same); -1 = never.
    gzip_min_bytes: int = 1024

    @property
    def tasks_table(self) -> str:
        return f"{self.stage}-slipway-tasks"

    @property
    def jobs_table(self) -> str:
        return f"{self.stage}-slipway-jobs"

    @property
    def executions_table(self) -> str:
        return f"{self.stage}-slipway-executions"

    @property
    def counters_table(self) -> str:
        return f"{self.stage}-slipway-counters"

    @property
    def idempotency_table(self) -> str:
        return f"{self.stage}-slipway-idempotency"

    @property
    def job_queue(self) -> str:
        return f"{self.stage}-slipway-jobs"

    @property
    def job_dead_letter_queue(self) -> str:
        return f"{self.stage}-slipway-jobs-dlq"

    def control_queue(self, host: str) -> str:
        """The queue on which the runner of ``host`` receives stop requests."""
        safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in host)[:40]
        return f"{self.stage}-slipway-control-{safe}"

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
            elif f.type == "tuple[str, ...]":
                values[f.name] = _split_words(raw)
            else:
                values[f.name] = raw
        if "region" not in values:
            region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
            if region:
                values["region"] = region
        return cls(**values)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read from the environment once."""
    return Settings.from_env()
