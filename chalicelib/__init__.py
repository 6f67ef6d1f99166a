"""Slipway: the domain and the AWS adapters shared by the Lambdas and the runner."""
