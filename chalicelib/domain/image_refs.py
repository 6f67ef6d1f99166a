"""Docker image references, by the grammar Docker itself parses them with (pure).

A name Docker would refuse is refused when the job is submitted (a 400 naming the rule), not
found out by a runner as a failed container creation. The grammar (distribution's
``reference`` package)::

    reference  := name [ ":" tag ] [ "@" digest ]
    name       := [ domain "/" ] path-component [ "/" path-component ]*     (at most 255 characters)
    domain     := host [ ":" port ]        the first component, when it has "." or ":" or is "localhost"
    path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
    tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
    digest     := algorithm ":" hex        algorithm [A-Za-z][A-Za-z0-9]*([+._-][A-Za-z][A-Za-z0-9]*)*, hex ≥ 32
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chalicelib.domain.errors import ValidationError

MAX_NAME_LENGTH = 255

_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"^(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9A-Fa-f:]+\])(?::[0-9]+)?$")
_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$")


@dataclass(frozen=True)
class ImageRef:
    # The registry ("" for Docker Hub), the repository path, and the tag and digest if given.
    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        return f"{self.domain}/{self.path}" if self.domain else self.path

    @property
    def pull_tag(self) -> str:
        """What to ask the Engine for besides the name: the digest, else the tag, else latest."""
        return self.digest or self.tag or "latest"


def _refuse(text: str, why: str) -> ValidationError:
    return ValidationError(f"image {text!r} is not a valid image reference: {why}", field="image")


def parse_image(text: str) -> ImageRef:
    """``text`` as Docker reads it, or a ValidationError saying which rule it breaks."""
    rest, digest = text, None
    if "@" in rest:
        rest, _, digest = rest.partition("@")
        if not _DIGEST.fullmatch(digest):
            raise _refuse(text, "a digest is <algorithm>:<at least 32 hex digits>, e.g. sha256:…")
    tag = None
    last_slash = rest.rfind("/")
    if ":" in rest[last_slash + 1 :]:
        rest, _, tag = rest.rpartition(":")
        if not _TAG.fullmatch(tag):
            raise _refuse(text, "a tag is up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'")
    if not rest:
        raise _refuse(text, "the name is empty")
    if len(rest) > MAX_NAME_LENGTH:
        raise _refuse(text, f"the name is longer than {MAX_NAME_LENGTH} characters")
    components = rest.split("/")
    domain = ""
    first = components[0]
    if len(components) > 1 and ("." in first or ":" in first or first == "localhost"):
        if not _DOMAIN.fullmatch(first):
            raise _refuse(text, f"{first!r} is not a registry host[:port]")
        domain, components = first, components[1:]
    for component in components:
        if not _PATH_COMPONENT.fullmatch(component):
            why = "must be lowercase" if component.lower() != component else "is not lowercase letters and digits"
            raise _refuse(text, f"the repository path component {component!r} {why}, separated by '.', '_' or '-'")
    return ImageRef(domain, "/".join(components), tag, digest)
