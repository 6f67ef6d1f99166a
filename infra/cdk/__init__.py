"""The AWS deployment of Slipway: a CDK v2 app (app.py), its stack (stack.py) and settings (config.py)."""
