"""The domain: rules and values with no I/O (statuses, the job body, schedules, ids, pools...).

Imports only the standard library, pure libraries (croniter) and ``chalicelib.settings``:
never boto3, botocore, pynamodb, docker, nor ``chalicelib.adapters``/``services``/``api``
(``tests/unit/test_layers.py`` holds this).
"""
