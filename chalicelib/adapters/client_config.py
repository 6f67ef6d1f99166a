"""The retries, timeouts and connection pool of every AWS client, stated once.

``aws.client`` builds the boto3 clients with these, and the PynamoDB models and connection
(``models.py``, ``aws.connection``) take the same numbers.
"""

from __future__ import annotations

from botocore.config import Config

# Every client's retries, timeouts and pool. The PynamoDB models read the same values (models.py).
MAX_ATTEMPTS = 4
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 30
MAX_POOL_CONNECTIONS = 32
CLIENT_CONFIG = Config(
    retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
    connect_timeout=CONNECT_TIMEOUT_SECONDS,
    read_timeout=READ_TIMEOUT_SECONDS,
    max_pool_connections=MAX_POOL_CONNECTIONS,
)
# Live-log posts: a viewer that does not answer fast is dropped, not waited for, and the runner
# posts to many viewers at once.
LIVE_CONFIG = CLIENT_CONFIG.merge(
    Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=2, read_timeout=5, max_pool_connections=64)
)
# The runner's metric sends (PutMetricData): a flush that cannot reach CloudWatch gives up soon
# and keeps its values for the next one, rather than holding the flusher (and a stopping runner)
# for the four 30 s attempts of CLIENT_CONFIG.
METRICS_CONFIG = CLIENT_CONFIG.merge(
    Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=2, read_timeout=10, max_pool_connections=2)
)
