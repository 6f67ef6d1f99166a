"""What one deployment is made of: the service's ``Settings`` plus the few deploy-only options.

Every key is read from one place, in this order (first found wins):

1. CDK context: ``cdk deploy -c stage=prod -c runner_concurrency=8 -c log_expiry_days=90``
   (the keys are the ``Settings`` field names, plus the deploy options below);
2. the environment: ``SLIPWAY_<KEY>`` in upper case (``SLIPWAY_STAGE=prod``), as the service reads it;
3. the defaults of ``chalicelib.settings.Settings`` and of ``DeployOptions``.

``apply_to_environ`` then exports the service settings as ``SLIPWAY_*`` variables, so that the
Chalice app, which ``chalice package`` imports in a child process, sees exactly the deployment
being synthesized: Chalice declares a route's authorizer with the route, at import.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field, fields
from typing import Any

from chalicelib.settings import ENV_PREFIX, Settings

ContextReader = Callable[[str], Any]

# Settings that make no sense in a deployed environment: the runner's host name, pool and port
# are each host's own (set on the host), and the region is the one the stack is deployed to.
_NOT_EXPORTED = frozenset({"runner_host", "runner_pool", "runner_port", "region"})


@dataclass(frozen=True)
class DeployOptions:
    """Options of the AWS deployment that the service code never reads."""

    # Days after which execution logs (stdout/stderr objects) expire from the log bucket.
    log_expiry_days: int = 30
    # Keep tables and the log bucket when the stack is deleted ("auto": only for stage prod).
    retain_data: str = "auto"
    # Optional custom domain of the CloudFront front door, with its ACM certificate (us-east-1).
    domain_name: str = ""
    certificate_arn: str = ""
    # Optional Route 53 hosted zone in which an alias record for domain_name is made.
    hosted_zone_id: str = ""
    hosted_zone_name: str = ""
    # CloudFront price class: 100, 200 or All.
    price_class: str = "100"
    # The endpoint of the local AWS emulator the stack is deployed onto (``python -m
    # infra.local.deployed``); empty for AWS. See infra/cdk/local_emulator.py for what it changes.
    local_emulator: str = ""
    # "true": synthesize a stage whose API takes callers without credentials (no keys, no Basic
    # users, no gateway authorizer). Refused otherwise: see ``public_api_warning``.
    i_understand_this_api_is_public: str = ""
    # "true": the execute-api endpoints answer only requests that came through CloudFront (which
    # adds a secret header, generated in Secrets Manager; the app checks it).
    front_door_only: str = ""
    # API Gateway throttling of the REST stage (requests per second, burst), and of each key of
    # the usage plan (gateway_usage_plan_keys) with an optional daily quota (0: none).
    api_rate_limit: int = 50
    api_burst_limit: int = 100
    api_daily_quota: int = 0
    # An address the alarms (dead-letter queues, Lambda errors) are e-mailed to (an SNS topic is
    # made either way).
    alarm_email: str = ""
    # The ECR repositories the runners may pull from, comma-separated: ARNs (wildcards allowed),
    # or names and name patterns (``team/*``) in the stack's account and region. Empty: any.
    ecr_repositories: str = ""


@dataclass(frozen=True)
class DeployConfig:
    settings: Settings
    options: DeployOptions = field(default_factory=DeployOptions)

    @property
    def stage(self) -> str:
        return self.settings.stage

    @property
    def stack_name(self) -> str:
        return f"slipway-{self.settings.stage}"

    @property
    def retain_data(self) -> bool:
        value = self.options.retain_data.strip().lower()
        if value == "auto":
            return self.settings.stage == "prod"
        return value in ("1", "true", "yes", "retain")

    @property
    def front_door_only(self) -> bool:
        return _truthy(self.options.front_door_only)

    @property
    def log_expiry_days(self) -> int:
        # A future Settings.log_expiry_days (read by the service too) takes over from the option.
        return int(getattr(self.settings, "log_expiry_days", self.options.log_expiry_days))


PUBLIC_FLAG = "i_understand_this_api_is_public"


class PublicApiRefused(ValueError):
    """A stage with no authentication, and no explicit word from the operator that it is meant."""


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes")


def public_api_warning(config: DeployConfig) -> str | None:
    """None when the stage authenticates its callers (API keys, scoped keys, Basic users or a
    gateway authorizer); the warning to print when it does not and the operator passed
    ``-c i_understand_this_api_is_public=true``; PublicApiRefused otherwise. A stage deployed onto
    the local emulator is not on the Internet: it gets the warning without the flag."""
    settings = config.settings
    if settings.credentials.enabled or settings.gateway_authorizer.kind:
        return None
    warning = (
        f"WARNING: stage {config.stage!r} has NO AUTHENTICATION: anyone who finds its URL can run any image "
        "on your Docker hosts. Set auth_api_keys, auth_scoped_keys, auth_basic_users or api_authorizer."
    )
    if _truthy(config.options.i_understand_this_api_is_public) or config.options.local_emulator:
        return warning
    raise PublicApiRefused(
        f"refusing to synthesize stage {config.stage!r}: its API would take callers without credentials. "
        "Configure auth_api_keys, auth_scoped_keys, auth_basic_users or api_authorizer, "
        f"or pass -c {PUBLIC_FLAG}=true if a public API is really what you want."
    )


def _as_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _lookup(name: str, context: ContextReader, environ: Mapping[str, str]) -> str | None:
    value = context(name)
    if value is not None:
        return _as_text(value)
    return environ.get(ENV_PREFIX + name.upper())


def load_config(context: ContextReader, environ: Mapping[str, str] | None = None) -> DeployConfig:
    """The deployment described by CDK context ``context`` and the environment ``environ``."""
    env = os.environ if environ is None else environ
    raw: dict[str, str] = {}
    for f in fields(Settings):
        value = _lookup(f.name, context, env)
        if value is not None:
            raw[ENV_PREFIX + f.name.upper()] = value
    settings = Settings.from_env(raw)
    options: dict[str, Any] = {}
    for f in fields(DeployOptions):
        value = _lookup(f.name, context, env)
        if value is not None:
            options[f.name] = int(value) if f.type == "int" else value
    return DeployConfig(settings=settings, options=DeployOptions(**options))


def settings_environment(settings: Settings) -> dict[str, str]:
    """``SLIPWAY_*`` variables that reproduce ``settings`` in another process.

    Only the stage and the values that differ from the defaults are written, so a deployed
    function shows what is special about its stage and picks up new defaults on redeploy.
    """
    defaults = Settings(stage=settings.stage)
    env = {ENV_PREFIX + "STAGE": settings.stage}
    for f in fields(Settings):
        if f.name in _NOT_EXPORTED or f.name == "stage":
            continue
        value = getattr(settings, f.name)
        if value != getattr(defaults, f.name):
            env[ENV_PREFIX + f.name.upper()] = _as_text(value)
    return env


def apply_to_environ(settings: Settings, environ: MutableMapping[str, str] | None = None) -> None:
    """Export ``settings`` so that modules reading ``get_settings()`` see the same deployment."""
    env = os.environ if environ is None else environ
    env.update(settings_environment(settings))
    if env is os.environ:
        from chalicelib.settings import get_settings

        get_settings.cache_clear()
