"""``python -m infra.local [--deployed] …``: the embedded stack (``stack.py``), or with
``--deployed`` the CDK app deployed onto the local AWS (``deployed.py``)."""

import sys

args = sys.argv[1:]
if "--deployed" in args:
    from infra.local.deployed import main as deployed_main

    args.remove("--deployed")
    sys.exit(deployed_main(args))

from infra.local.stack import main  # noqa: E402

sys.exit(main(args))
