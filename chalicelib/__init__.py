"""Slipway's code shared by the Lambdas and the runner, in layers: ``domain`` (pure rules),
``adapters`` (AWS and the outside world), ``services`` (the use cases), ``api`` (the HTTP edge);
settings and resource definitions at the root (docs/architecture.md)."""
