"""Services: the use cases (enqueue, dispatch, retry, stop, reap, queries, notifications, live
logs, farm status, health), composed of domain rules and adapters. Never import the API."""
