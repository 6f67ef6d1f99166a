"""``slipway``: the command line of the Slipway API (run a job and follow it to its end, list,
inspect, stop, retry, suspend and resume jobs, read the farm, explain a cron).

It speaks only the public REST and WebSocket API, so it works the same against the local stack
and a deployed stage; ``config.py`` says where the base URL and the API key come from.
"""
