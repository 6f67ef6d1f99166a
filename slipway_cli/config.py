"""Where the CLI finds the API: flags first, then the environment, then a named profile.

The profile file is TOML (``$XDG_CONFIG_HOME/slipway/config.toml``, by default
``~/.config/slipway/config.toml``; ``SLIPWAY_CONFIG`` names another), one table per profile::

    [default]
    url = "http://localhost:10000"

    [staging]
    url = "https://slipway.example.com"
    api_key = "…"

The profile is ``--profile``, else ``SLIPWAY_PROFILE``, else ``default``. Naming a profile the
file lacks is an error; the ``default`` one may be absent (the local stack's URL is used).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_URL = "http://localhost:10000"
DEFAULT_PROFILE = "default"
ENV_URL = "SLIPWAY_URL"
ENV_API_KEY = "SLIPWAY_API_KEY"
ENV_PROFILE = "SLIPWAY_PROFILE"
ENV_CONFIG = "SLIPWAY_CONFIG"


class ConfigError(Exception):
    """The configuration cannot be used (an unreadable file, an unknown profile)."""


@dataclass(frozen=True)
class Config:
    url: str
    api_key: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        """The headers every request carries: the API key as the API reads it (``X-Api-Key``)."""
        return {"X-Api-Key": self.api_key} if self.api_key else {}


def config_path(environ: Mapping[str, str]) -> Path:
    if environ.get(ENV_CONFIG):
        return Path(environ[ENV_CONFIG]).expanduser()
    base = Path(environ["XDG_CONFIG_HOME"]) if environ.get("XDG_CONFIG_HOME") else Path.home() / ".config"
    return base / "slipway" / "config.toml"


def read_profiles(path: Path) -> dict[str, dict[str, object]]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the profiles in {path}: {exc}") from exc
    return {name: table for name, table in data.items() if isinstance(table, dict)}


def resolve(
    url: str | None = None,
    api_key: str | None = None,
    profile: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """The configuration in force: each value from the flag, else the environment, else the profile."""
    environ = os.environ if environ is None else environ
    name = profile or environ.get(ENV_PROFILE) or DEFAULT_PROFILE
    path = config_path(environ)
    profiles = read_profiles(path)
    if name not in profiles and name != DEFAULT_PROFILE:
        known = ", ".join(sorted(profiles)) or "none"
        raise ConfigError(f"no profile {name!r} in {path} (profiles there: {known})")
    chosen = profiles.get(name, {})
    final_url = url or environ.get(ENV_URL) or _text(chosen, "url", path) or DEFAULT_URL
    final_key = api_key or environ.get(ENV_API_KEY) or _text(chosen, "api_key", path)
    return Config(url=final_url.rstrip("/"), api_key=final_key or None)


def _text(table: Mapping[str, object], key: str, path: Path) -> str | None:
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{key} must be a string in {path}")
    return value
