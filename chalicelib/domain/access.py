"""What an authenticated caller may do: scoped API keys (pure: parsing and decisions only).

A scoped key is limited to the tasks whose id its ``tasks`` pattern matches whole (a regular
expression: ``producta-.*``) and to some of three verbs:

- ``read``: listings, details, logs, live logs (GET, and WebSocket connects);
- ``write``: enqueue, replace, stop, retry (POST, PUT on a task's routes);
- ``admin``: what concerns the whole farm: ``/status/`` and the host blacklist.

Keys of ``auth_api_keys`` and Basic users have every verb on every task (``FULL``).

An entry may name a ``principal`` instead of a ``key``: a pattern matched whole against the
identity API Gateway's authorizer established (``iam``: the caller's ARN; ``cognito``:
``user:<username>`` and ``group:<group>`` of each of its groups), so IAM and Cognito callers
are scoped the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from chalicelib.domain.errors import SlipwayError
from chalicelib.domain.task_prefixes import search_prefixes

READ, WRITE, ADMIN = "read", "write", "admin"
VERBS = (READ, WRITE, ADMIN)


class Forbidden(SlipwayError):
    """The caller is known but its scope does not cover the request (403, with the reason)."""

    status_code = 403


@dataclass(frozen=True)
class Scope:
    """The tasks (a pattern matched whole) and verbs a caller is allowed."""

    tasks: str = ".*"
    verbs: frozenset[str] = frozenset(VERBS)

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(self.tasks)

    @property
    def unlimited(self) -> bool:
        return self.tasks == ".*" and self.verbs == frozenset(VERBS)

    @property
    def every_task(self) -> bool:
        """Whether it covers every task (whatever its verbs): a listing by it is everyone's."""
        return self.tasks == ".*"

    @property
    def task_prefixes(self) -> tuple[str, ...] | None:
        """The id prefixes every task it covers starts with (one per top-level alternative of
        its pattern), or None when its pattern forces none (``.*-x``): what a listing by this
        scope looks ids up by (``domain/task_prefixes.py``)."""
        return search_prefixes(self.tasks)

    def covers_task(self, task_id: str) -> bool:
        return self.pattern.fullmatch(task_id) is not None

    def check(self, verb: str, task_id: str | None, who: str) -> None:
        """Raise Forbidden unless ``who`` may ``verb`` (on ``task_id``, when the request names one)."""
        if verb not in self.verbs:
            raise Forbidden(f"{who} may not {verb} (it may {', '.join(sorted(self.verbs)) or 'nothing'})", verb=verb)
        if task_id is not None and not self.covers_task(task_id):
            message = f"{who} may not reach task {task_id!r} (only tasks matching {self.tasks!r})"
            raise Forbidden(message, taskId=task_id)


FULL = Scope()


@dataclass(frozen=True)
class ScopedKey:
    name: str
    # The key, or its ``sha256:<hex>`` digest ("" for a principal's entry).
    secret: str
    scope: Scope
    # A pattern of gateway-authenticated principals ("" for a key's entry).
    principal: str = ""

    def matches_principal(self, principals: tuple[str, ...]) -> bool:
        return bool(self.principal) and any(re.fullmatch(self.principal, each) for each in principals)


def parse_scoped_keys(raw: str) -> tuple[ScopedKey, ...]:
    """``auth_scoped_keys`` (JSON, see settings.py) parsed; a bad entry stops the process at start."""
    if not raw.strip():
        return ()
    try:
        entries = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"SLIPWAY_AUTH_SCOPED_KEYS must be a JSON list ({exc})") from exc
    if not isinstance(entries, list):
        raise ValueError("SLIPWAY_AUTH_SCOPED_KEYS must be a JSON list of objects")
    keys = [_scoped_key(entry, index) for index, entry in enumerate(entries)]
    names = [key.name for key in keys]
    if len(set(names)) != len(names):
        raise ValueError("SLIPWAY_AUTH_SCOPED_KEYS: every key needs a name of its own")
    return tuple(keys)


def _scoped_key(entry: object, index: int) -> ScopedKey:
    where = f"SLIPWAY_AUTH_SCOPED_KEYS[{index}]"
    if not isinstance(entry, dict) or set(entry) - {"name", "key", "principal", "tasks", "verbs"}:
        raise ValueError(f"{where} must be an object of name, key (or principal), tasks and verbs")
    name, secret, principal = entry.get("name"), entry.get("key", ""), entry.get("principal", "")
    if not isinstance(name, str) or not name or not isinstance(secret, str) or not isinstance(principal, str):
        raise ValueError(f"{where} needs a non-empty name and key")
    if bool(secret) == bool(principal):
        raise ValueError(f"{where} needs a non-empty name and key (or a principal instead of the key)")
    try:
        re.compile(principal)
    except re.error as exc:
        raise ValueError(f"{where}.principal is not a regular expression ({exc})") from exc
    tasks = entry.get("tasks", ".*")
    if not isinstance(tasks, str):
        raise ValueError(f"{where}.tasks must be a regular expression")
    try:
        re.compile(tasks)
    except re.error as exc:
        raise ValueError(f"{where}.tasks is not a regular expression ({exc})") from exc
    verbs = entry.get("verbs", list(VERBS))
    if not isinstance(verbs, list) or not verbs or any(verb not in VERBS for verb in verbs):
        raise ValueError(f"{where}.verbs must be a non-empty list of {', '.join(VERBS)}")
    return ScopedKey(name, secret, Scope(tasks, frozenset(verbs)), principal)


def gateway_principals(context: Mapping[str, object]) -> tuple[str, ...]:
    """The principals API Gateway's authorizer established for a request (its ``requestContext``):
    the IAM caller's ARN, or a Cognito user's ``user:<name>`` and ``group:<group>``s."""
    found: list[str] = []
    identity = context.get("identity")
    if isinstance(identity, Mapping) and isinstance(identity.get("userArn"), str) and identity["userArn"]:
        found.append(str(identity["userArn"]))
    authorizer = context.get("authorizer")
    claims = authorizer.get("claims") if isinstance(authorizer, Mapping) else None
    if isinstance(claims, Mapping):
        if isinstance(claims.get("cognito:username"), str):
            found.append(f"user:{claims['cognito:username']}")
        groups = claims.get("cognito:groups")
        names = groups if isinstance(groups, list) else str(groups or "").strip("[]").replace(",", " ").split()
        found.extend(f"group:{group}" for group in names)
    return tuple(found)


def visible_tasks(scope: Scope, task_ids: Iterable[str]) -> list[str]:
    """The ids of ``task_ids`` that ``scope`` covers, in their order."""
    return [task_id for task_id in task_ids if scope.covers_task(task_id)]
