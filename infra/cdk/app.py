"""CDK entry point: ``cdk synth`` / ``cdk deploy`` run this (see cdk.json and infra/README.md).

    cdk deploy -c stage=prod -c runner_concurrency=8 -c log_expiry_days=90

The stage and every setting are read by ``infra.cdk.config.load_config`` from CDK context, then
from ``SLIPWAY_*`` environment variables, then from the defaults of ``chalicelib.settings``.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

# `chalice package` imports the Chalice app as the module `app`: this file must not be found
# under that name first, so the repository root replaces this directory on the import path.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))


def main() -> None:
    import aws_cdk as cdk

    from infra.cdk.config import apply_to_environ, load_config

    app = cdk.App()
    config = load_config(app.node.try_get_context)
    # For `chalice package`, whose child process imports the app (routes and authorizer).
    apply_to_environ(config.settings)
    from infra.cdk.stack import SlipwayStack

    # Environment-agnostic: the account and region are those of the credentials `cdk deploy` uses.
    SlipwayStack(app, config=config, project_dir=ROOT)
    cdk.Tags.of(app).add("slipway:stage", config.stage)
    app.synth()


if __name__ == "__main__":
    main()
