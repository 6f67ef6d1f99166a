"""Fixtures of the deployment tests: the CDK CLI (installed by infra/cdk/setup.sh), and the stack
synthesized offline, once per session, in two shapes:

- ``synthesized``: the real app (repository root) through the CDK CLI, ``cdk synth``;
- ``ws_synthesized``: a small Chalice app that declares WebSocket handlers, with a custom domain
  and an extra model carrying a TTL attribute and a local index, so the code paths the real app
  does not use yet are synthesized too.

No AWS account is reached: the CLI gets no credentials, no instance metadata and no notices.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.infra.support import (
    CDK_DIR,
    CONTEXT,
    ROOT,
    STAGE,
    WS_API_STAGE,
    WS_DOMAIN,
    WS_ECR_REPOSITORY,
    WS_STAGE,
    Synthesis,
    run,
    tool_env,
)


@pytest.fixture(scope="session")
def cdk_cli() -> Path:
    """The CDK CLI pinned in infra/cdk/package.json (installed on first use)."""
    result = subprocess.run(
        ["bash", str(CDK_DIR / "setup.sh")], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    cli = Path(result.stdout.strip().splitlines()[-1])
    version = subprocess.run([str(cli), "--version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith("2."), f"the CDK CLI must be v2 to read aws-cdk-lib 2 assemblies, got {version}"
    return cli


@pytest.fixture(scope="session")
def synthesized(cdk_cli: Path, tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    """`cdk synth` of the real app, run from a scratch directory (chalice.out goes there)."""
    work = tmp_path_factory.mktemp("cdk-synth")
    (work / "cdk.json").write_text((CDK_DIR / "cdk.json").read_text())
    out = work / "cdk.out"
    app = f"{shlex.quote(sys.executable)} {shlex.quote(str(CDK_DIR / 'app.py'))}"
    command = [str(cdk_cli), "synth", "--app", app, "--output", str(out), "--quiet"]
    command += ["--no-notices", "--no-version-reporting", "--no-lookups"]
    for key, value in CONTEXT.items():
        command += ["--context", f"{key}={value}"]
    started = time.monotonic()
    result = run(command, cwd=work, env=tool_env(work), timeout=600)
    seconds = time.monotonic() - started
    path = out / f"{STAGE}.template.json"
    print(f"\ncdk synth took {seconds:.1f} s")
    return Synthesis(json.loads(path.read_text()), path, seconds, STAGE, result.stdout + result.stderr)


WS_APP = """
from chalice import Chalice

app = Chalice(app_name="slipway")
app.experimental_feature_flags.update(["WEBSOCKETS"])


@app.route("/healthcheck")
def healthcheck():
    return {"ok": True}


@app.on_ws_connect()
def connect(event):
    return None


@app.on_ws_message()
def message(event):
    return None


@app.on_ws_disconnect()
def disconnect(event):
    return None
"""

WS_SYNTH = """
import sys
from pathlib import Path

sys.path.insert(0, {root!r})
import aws_cdk as cdk
from infra.cdk.config import apply_to_environ, load_config

context = {context!r}
app = cdk.App(outdir={out!r})
config = load_config(context.get, {{}})
apply_to_environ(config.settings)

from pynamodb.attributes import TTLAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection, LocalSecondaryIndex
from pynamodb.models import Model

from chalicelib.adapters.models import ALL_MODELS
from infra.cdk.stack import SlipwayStack


class SessionsByUser(GlobalSecondaryIndex["SessionModel"]):
    class Meta:
        index_name = "by-user"
        projection = AllProjection()

    user = UnicodeAttribute(hash_key=True)


class SessionsByKind(LocalSecondaryIndex["SessionModel"]):
    class Meta:
        index_name = "by-kind"
        projection = IncludeProjection(["user"])

    connection_id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute(range_key=True)


class SessionModel(Model):
    class Meta:
        table_name = "{stage}-slipway-sessions"
        billing_mode = "PAY_PER_REQUEST"

    connection_id = UnicodeAttribute(hash_key=True)
    opened_at = UnicodeAttribute(range_key=True)
    user = UnicodeAttribute()
    kind = UnicodeAttribute()
    expires = TTLAttribute()
    by_user = SessionsByUser()
    by_kind = SessionsByKind()


SlipwayStack(app, config=config, project_dir=Path({project!r}), models=(*ALL_MODELS, SessionModel))
app.synth()
"""


@pytest.fixture(scope="session")
def ws_synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesis:
    """The stack of a Chalice app with WebSocket handlers, a custom domain and a TTL table."""
    work = tmp_path_factory.mktemp("cdk-ws")
    project = work / "project"
    (project / ".chalice").mkdir(parents=True)
    (project / "app.py").write_text(WS_APP)
    (project / "requirements.txt").write_text("")
    chalice_config = {
        "version": "2.0",
        "app_name": "slipway",
        "stages": {WS_STAGE: {"api_gateway_stage": WS_API_STAGE}},
    }
    (project / ".chalice" / "config.json").write_text(json.dumps(chalice_config))
    out = work / "cdk.out"
    context = {
        "stage": WS_STAGE,
        "domain_name": WS_DOMAIN,
        "certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000",
        "hosted_zone_id": "Z0000000000000000000",
        "hosted_zone_name": "example.com",
        "retain_data": "true",
        # No authentication: allowed by the loud flag only (the warning is checked in test_api_exposure.py).
        "i_understand_this_api_is_public": "true",
        "ecr_repositories": f"team/*, {WS_ECR_REPOSITORY}",
    }
    script = WS_SYNTH.format(root=str(ROOT), context=context, out=str(out), project=str(project), stage=WS_STAGE)
    started = time.monotonic()
    result = run([sys.executable, "-c", textwrap.dedent(script)], cwd=work, env=tool_env(work), timeout=600)
    path = out / f"{WS_STAGE}.template.json"
    output = result.stdout + result.stderr
    return Synthesis(json.loads(path.read_text()), path, time.monotonic() - started, WS_STAGE, output)
