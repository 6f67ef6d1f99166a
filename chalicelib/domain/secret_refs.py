"""References to secrets in a job's env vars: ``{"DB_PASSWORD": {"secretRef": "<ARN>"}}``.

Only the reference is stored; the runner reads the value when it creates the container
(runner/secret_refs.py). A reference names a Secrets Manager secret
(``arn:aws:secretsmanager:<region>:<account>:secret:<name>``) or an SSM parameter
(``arn:aws:ssm:<region>:<account>:parameter/<name>``), and must match one of the service's
``env_secret_ref_patterns``, which are also what the runner role may read: a job cannot have a
runner read a secret the operator did not set aside for jobs.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.domain.errors import ValidationError
from chalicelib.domain.redaction import SECRET_REF

SECRETS_MANAGER, SSM = "secretsmanager", "ssm"


class SecretUnavailable(Exception):
    """A secret (an env var's, the SMTP password, a registry's credentials) could not be read or
    is not of the expected shape. The message says which secret and why, never its value: it
    ends up in an execution's ``error`` and in logs."""


_ARN = re.compile(
    r"^arn:(?P<partition>[a-z-]+):(?P<service>secretsmanager|ssm):(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"(?P<resource>secret:[A-Za-z0-9/_+=.@!-]+|parameter/[A-Za-z0-9/_.-]+)$"
)


@dataclass(frozen=True)
class SecretRef:
    arn: str
    service: str
    # The region and account the ARN names: the secret is read there, whatever the service's own.
    region: str
    account: str

    @property
    def parameter_name(self) -> str:
        """An SSM parameter's name as GetParameter takes it (``/slipway/db``)."""
        return "/" + self.arn.split(":parameter/", 1)[1]


def parse_ref(arn: str) -> SecretRef | None:
    match = _ARN.match(arn)
    if match is None:
        return None
    return SecretRef(arn, match["service"], match["region"], match["account"])


def references(envs: Mapping[str, object]) -> dict[str, str]:
    """Name → ARN of the env vars that reference a secret."""
    found = {}
    for name, value in envs.items():
        if isinstance(value, Mapping) and SECRET_REF in value:
            found[name] = str(value[SECRET_REF])
    return found


def refuse_unusable_refs(envs: Mapping[str, object], patterns: tuple[str, ...]) -> None:
    """400 for a reference that is no secret or parameter ARN, or one outside ``patterns``."""
    for name, arn in references(envs).items():
        if parse_ref(arn) is None:
            raise ValidationError(
                f"envs[{name!r}].secretRef {arn!r} is not the ARN of a Secrets Manager secret or an SSM parameter",
                field="envs",
            )
        if not any(fnmatch.fnmatchcase(arn, pattern) for pattern in patterns):
            raise ValidationError(
                f"envs[{name!r}].secretRef {arn!r} is not among the secrets jobs may use"
                f" ({', '.join(patterns) or 'none'})",
                field="envs",
            )
