"""One botocore session per process: every client and every table shares it, and the memory a
runner spends on its AWS clients stays a few MB instead of ~10 MB per table.

The memory is measured in a fresh interpreter (``/proc/self/status``), as the runner starts:
the imports first, then ``warm_up()``, which makes every client and table connection.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from chalicelib.adapters import aws
from chalicelib.adapters.models import ALL_MODELS
from infra.local.harness import ROOT
from infra.local.stack import FAKE_CREDENTIALS

# What the clients of a runner may add to its resident memory. With a session per table
# connection it was ~120 MB (10 tables x ~10 MB of DynamoDB service data, plus S3 and SQS).
WARM_UP_BUDGET_MB = 40

_MEASURE = """
import json
def rss_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS:"))
import runner.worker
from chalicelib.adapters import warm_up, aws
before = rss_mb()
warm_up.warm_up()
aws.client("apigatewaymanagementapi", endpoint_url="http://127.0.0.1:9", live=True)
print(json.dumps({"before": before, "after": rss_mb()}))
"""


def test_every_model_uses_the_process_connection() -> None:
    shared = aws.connection()
    connections = {id(model._get_connection().connection) for model in ALL_MODELS}
    assert connections == {id(shared)}
    # ... and it knows every table's keys (PynamoDB looks them up per call).
    for model in ALL_MODELS:
        assert shared.get_meta_table(model.Meta.table_name).table_name == model.Meta.table_name


def test_clients_and_the_connection_share_one_botocore_session() -> None:
    session = aws.botocore_session()
    assert aws.connection().session is session
    # A client made on that session shares its loader: the service models are loaded once.
    sqs, s3 = aws.client("sqs"), aws.client("s3")
    assert sqs._loader is session.get_component("data_loader")
    assert s3._loader is session.get_component("data_loader")
    assert aws.connection().client._loader is session.get_component("data_loader")


def test_forget_clients_makes_new_ones() -> None:
    before = (aws.client("sqs"), aws.connection(), aws.botocore_session())
    aws.forget_clients()
    after = (aws.client("sqs"), aws.connection(), aws.botocore_session())
    assert all(old is not new for old, new in zip(before, after, strict=True))
    # The models follow the new connection at their next call.
    assert ALL_MODELS[0]._get_connection().connection is after[1]


def test_every_client_of_a_runner_costs_little_memory() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "SLIPWAY_"))}
    env.update(FAKE_CREDENTIALS, AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL="http://127.0.0.1:9")
    env["SLIPWAY_STAGE"] = "memory"
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    grown = measured["after"] - measured["before"]
    print(f"runner clients: {measured['before']:.0f} MB after the imports, +{grown:.0f} MB for the clients")
    assert grown < WARM_UP_BUDGET_MB, measured
