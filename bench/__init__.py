"""Benchmarks of Slipway on the local stack (``python -m bench.<name>``)."""
