"""The layers of ``chalicelib`` and the one way imports may point (docs/architecture.md).

::

    app.py, chalicelib/api ──► chalicelib/services ──► chalicelib/adapters ──► chalicelib/domain
                                       └─────────────────────────────────────────►  ▲
    runner/ ──► services, domain, and the adapters' runner ports (below)            │
    chalicelib/{settings,resources,logs_setup}.py: the root, importable by all; it imports the domain only

Read from the source with ``ast`` (every import, lazy ones in functions included), so a
forbidden import fails here whether or not any test runs the line that makes it. Imports under
``if TYPE_CHECKING:`` cost nothing at run time and are allowed from the API to the adapters (the
models as annotations), nowhere else against the arrows.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("domain", "adapters", "services", "api")
# Modules that stay at the package's root: the settings and what is declared from them.
ROOT_MODULES = {"chalicelib", "chalicelib.settings", "chalicelib.resources", "chalicelib.logs_setup"}

# Which layers each layer may import (besides itself and the standard library).
ALLOWED: dict[str, set[str]] = {
    "root": {"root", "domain"},
    "domain": {"domain", "settings"},
    "adapters": {"adapters", "domain", "root"},
    "services": {"services", "adapters", "domain", "root"},
    "api": {"api", "services", "domain", "root"},
    "runner": {"runner", "services", "adapters", "domain", "root"},
}
# ... and only under ``if TYPE_CHECKING:``.
ALLOWED_FOR_TYPES: dict[str, set[str]] = {"api": {"adapters"}}

# Third-party (and standard) packages that do I/O, by layer: the domain is pure, and only the
# adapters (and the runner's Docker engine) talk to AWS or Docker.
_AWS = {"boto3", "botocore", "pynamodb"}
FORBIDDEN_PACKAGES: dict[str, set[str]] = {
    "domain": _AWS
    | {"docker", "aws_lambda_powertools", "chalice", "requests", "aiohttp", "smtplib", "socket", "http"}
    | {"urllib.request"},
    "root": _AWS | {"docker", "chalice"},
    "adapters": {"docker", "chalice"},
    "services": _AWS | {"docker", "chalice"},
    "api": _AWS | {"docker"},
    "runner": _AWS | {"chalice"},
}

# The adapters' public surface for the runner: the ports it drives itself (its queue, its control
# queue, its log uploads, its host item and slots, the live-log posts), and the types it holds.
# Everything else goes through a service. ``None``: any public name of the module.
RUNNER_ADAPTER_PORTS: dict[str, set[str] | None] = {
    "chalicelib.adapters.warm_up": {"warm_up"},
    "chalicelib.adapters.control": None,
    "chalicelib.adapters.job_queue": None,
    "chalicelib.adapters.log_store": {"object_key", "upload"},
    "chalicelib.adapters.host_registry": {"heartbeat", "leave"},
    "chalicelib.adapters.slots": None,
    "chalicelib.adapters.ws_api": {"send", "close", "ConnectionGone"},
    "chalicelib.adapters.connections": {"viewers"},
    # The secrets a job's env vars reference, read when its container is made (runner/secret_refs.py),
    # and private registries' credentials, read at pull time (runner/registry_auth.py).
    "chalicelib.adapters.secrets": {"read_secret", "read_file", "SecretUnavailable"},
    # ECR's short-lived registry tokens, fetched at pull time (runner/registry_auth.py).
    "chalicelib.adapters.registry_tokens": {"authorization_token", "RegistryToken"},
    "chalicelib.adapters.models": {"ExecutionModel", "JobModel"},
    # The execution's own state changes while the runner holds it; shrinks as services take them.
    "chalicelib.adapters.execution_repository": {
        "beat",
        "claim",
        "get_execution",
        "hand_back",
        "held_by",
        "mark_redispatched",
        "record_skipped_tick",
        "unclaim",
        "unfinished_executions",
        "update_execution",
    },
    # ... and the job of the run it holds.
    "chalicelib.adapters.job_repository": {"get_job"},
}


@dataclass(frozen=True)
class Import:
    source: str
    line: int
    target: str  # a module, or the package an external name was imported from
    names: tuple[str, ...]  # names taken from ``target`` (empty for ``import target``)
    for_types: bool


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> list[Path]:
    return sorted([*ROOT.glob("chalicelib/**/*.py"), ROOT / "app.py", *ROOT.glob("runner/*.py")])


def local_modules() -> set[str]:
    return {module_name(path) for path in source_files()}


def layer_of(module: str) -> str | None:
    """The layer of a local module (``None`` for a third-party or standard one)."""
    if module == "app":
        return "api"
    if module == "runner" or module.startswith("runner."):
        return "runner"
    if module in ROOT_MODULES:
        return "root"
    parts = module.split(".")
    if parts[0] == "chalicelib" and len(parts) > 1 and parts[1] in LAYERS:
        return parts[1]
    return None


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(source: str, text: str, modules: set[str]) -> list[Import]:
    tree = ast.parse(text)
    found: list[Import] = []

    def visit(node: ast.AST, for_types: bool) -> None:
        if isinstance(node, ast.If) and _type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, for_types)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(source, node.lineno, alias.name, (), for_types))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            plain = [alias.name for alias in node.names if f"{node.module}.{alias.name}" not in modules]
            for alias in node.names:
                if f"{node.module}.{alias.name}" in modules:
                    found.append(Import(source, node.lineno, f"{node.module}.{alias.name}", (), for_types))
            if plain:
                found.append(Import(source, node.lineno, node.module, tuple(plain), for_types))
        for child in ast.iter_child_nodes(node):
            visit(child, for_types)

    visit(tree, False)
    return found


def attribute_uses(text: str, aliases: dict[str, str]) -> list[tuple[int, str, str]]:
    """(line, module, attribute) of every ``alias.attribute`` whose alias names a module."""
    uses = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            uses.append((node.lineno, aliases[node.value.id], node.attr))
    return uses


def _package_matches(target: str, packages: set[str]) -> str | None:
    for package in packages:
        if target == package or target.startswith(package + "."):
            return package
    return None


def violations_of(source: str, text: str, modules: set[str]) -> list[str]:
    """Every broken rule of the module ``source`` whose code is ``text``."""
    layer = layer_of(source)
    if layer is None:
        return []
    problems: list[str] = []
    imports = imports_of(source, text, modules)
    for each in imports:
        where = f"{source}:{each.line}"
        target_layer = layer_of(each.target)
        if target_layer is None and each.target in modules:
            problems.append(f"{where} imports {each.target}, which is in no layer")
            continue
        if target_layer is None:
            banned = _package_matches(each.target, FORBIDDEN_PACKAGES[layer])
            if banned:
                problems.append(f"{where}: the {layer} layer must not import {banned}")
            continue
        allowed = set(ALLOWED[layer])
        if each.for_types:
            allowed |= ALLOWED_FOR_TYPES.get(layer, set())
        if layer == "domain" and target_layer == "root":
            target_layer = "settings" if each.target == "chalicelib.settings" else "root"
        if target_layer not in allowed:
            problems.append(f"{where}: {layer} must not import {each.target} ({target_layer})")
        if each.target != source and any(name.startswith("_") for name in each.names):
            problems.append(f"{where} imports a private name of {each.target}: {', '.join(each.names)}")
    if layer == "runner":
        problems += _runner_port_violations(source, text, imports)
    return problems


def _runner_port_violations(source: str, text: str, imports: list[Import]) -> list[str]:
    problems = []
    aliases: dict[str, str] = {}
    for each in imports:
        if layer_of(each.target) != "adapters":
            continue
        if each.target not in RUNNER_ADAPTER_PORTS:
            problems.append(f"{source}:{each.line}: the runner must not import {each.target} (not a runner port)")
            continue
        if each.names:
            taken = list(each.names)
        else:
            aliases[each.target.rsplit(".", 1)[1]] = each.target
            taken = []
        problems += _port_names(source, each.line, each.target, taken)
    for line, module, attribute in attribute_uses(text, aliases):
        problems += _port_names(source, line, module, [attribute])
    return problems


def _port_names(source: str, line: int, module: str, names: list[str]) -> list[str]:
    allowed = RUNNER_ADAPTER_PORTS[module]
    return [
        f"{source}:{line}: the runner uses {module}.{name}, which is not a runner port"
        for name in names
        if name.startswith("_") or (allowed is not None and name not in allowed)
    ]


def _all_violations() -> list[str]:
    modules = local_modules()
    problems = []
    for path in source_files():
        problems += violations_of(module_name(path), path.read_text(), modules)
    return problems


def test_every_module_is_in_a_layer() -> None:
    strays = sorted(m for m in local_modules() if m.startswith("chalicelib") and layer_of(m) is None)
    assert strays == []


def test_imports_point_one_way() -> None:
    problems = _all_violations()
    assert not problems, "\n".join(problems)


def test_no_import_cycle_between_modules() -> None:
    modules = local_modules()
    graph: dict[str, set[str]] = {}
    for path in source_files():
        source = module_name(path)
        if not source.startswith("chalicelib"):
            continue
        targets = {i.target for i in imports_of(source, path.read_text(), modules) if not i.for_types}
        graph[source] = {t for t in targets if t in modules and t != source and t.startswith("chalicelib.")}
    cycle = _find_cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


# -- the checker catches what it must (so a green run above means something) -------------------

MODULES = {
    "chalicelib.domain.pools",
    "chalicelib.adapters.execution_repository",
    "chalicelib.adapters.job_repository",
    "chalicelib.adapters.aws",
    "chalicelib.services.jobs",
    "chalicelib.api.auth",
    "chalicelib.settings",
}


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("chalicelib.domain.x", "import boto3\n"),
        ("chalicelib.domain.x", "def f():\n    from pynamodb.models import Model\n"),
        ("chalicelib.domain.x", "from chalicelib.adapters import execution_repository\n"),
        ("chalicelib.domain.x", "from chalicelib.resources import queue_specs\n"),
        ("chalicelib.domain.x", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import docker\n"),
        ("chalicelib.adapters.x", "from chalicelib.services import jobs\n"),
        ("chalicelib.adapters.x", "from chalicelib.api.auth import require\n"),
        ("chalicelib.services.x", "from chalicelib.api import auth\n"),
        ("chalicelib.services.x", "import botocore.exceptions\n"),
        ("chalicelib.api.x", "from chalicelib.adapters import execution_repository\n"),
        ("app", "from chalicelib.adapters.job_repository import get_job\n"),
        ("chalicelib.settings", "from chalicelib.services import jobs\n"),
        ("chalicelib.services.x", "from chalicelib.domain.pools import _pools_of\n"),
        ("runner.x", "from chalicelib.adapters.aws import client\n"),
        ("runner.x", "from chalicelib.adapters import execution_repository\nexecution_repository.finish_execution()\n"),
        ("runner.x", "from chalicelib.adapters import execution_repository\nexecution_repository._connection()\n"),
        ("runner.x", "from chalicelib.adapters import job_repository\njob_repository.save_job()\n"),
        ("runner.x", "import pynamodb\n"),
    ],
)
def test_a_forbidden_import_is_caught(source: str, text: str) -> None:
    assert violations_of(source, text, MODULES)


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("chalicelib.domain.x", "from chalicelib.settings import Settings\nimport re, croniter\n"),
        ("chalicelib.adapters.x", "import boto3\nfrom chalicelib.domain import pools\n"),
        (
            "chalicelib.services.x",
            "from chalicelib.adapters import execution_repository\nfrom chalicelib.domain import pools\n",
        ),
        (
            "chalicelib.api.x",
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from chalicelib.adapters import execution_repository\n",
        ),
        (
            "runner.x",
            "from chalicelib.adapters import execution_repository\nexecution_repository.claim()\nimport docker\n",
        ),
    ],
)
def test_an_allowed_import_passes(source: str, text: str) -> None:
    assert violations_of(source, text, MODULES) == []
