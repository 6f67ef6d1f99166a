"""Which registry an image comes from, and whether its pool lets it in (pure).

A pool's ``registries`` (in ``SLIPWAY_POOLS``) lists the registries its containers may come
from; an empty list lets any in. Docker Hub is ``docker.io`` whichever way it is spelled
(``busybox``, ``library/busybox``, ``index.docker.io/…``, ``registry-1.docker.io/…``).
"""

from __future__ import annotations

import re

from chalicelib.domain.errors import ValidationError
from chalicelib.domain.image_refs import parse_image

DOCKER_HUB = "docker.io"
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_REGISTRY = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:]+\](:[0-9]{1,5})?$")


class RegistryConfigError(ValueError):
    """A pool's ``registries`` is not a list of registry hosts."""


def canonical_registry(domain: str) -> str:
    """``domain`` as the allow-lists and the credentials name it (``""`` is Docker Hub)."""
    lowered = domain.lower()
    return DOCKER_HUB if not lowered or lowered in _HUB_ALIASES else lowered


def registry_of(image: str) -> str:
    """The registry ``image`` is pulled from (a ValidationError when Docker would refuse the name)."""
    return canonical_registry(parse_image(image).domain)


def parse_registries(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) and _REGISTRY.fullmatch(item) for item in value):
        raise RegistryConfigError(f'{where} must be a list of registry hosts such as "ghcr.io" or "localhost:5000"')
    return tuple(canonical_registry(item) for item in value)


def refuse_unlisted(image: str, registries: tuple[str, ...], pool: str) -> None:
    """A ValidationError (field ``image``) when ``image`` comes from a registry ``registries``
    does not list; an empty list lets every registry in."""
    if not registries:
        return
    registry = registry_of(image)
    if registry not in registries:
        raise ValidationError(
            f"image {image!r} comes from registry {registry!r}, which pool {pool!r} does not allow "
            f"(allowed: {', '.join(registries)})",
            field="image",
        )
