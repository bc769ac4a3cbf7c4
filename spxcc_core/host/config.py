"""The host's configuration file (TOML): what :class:`~spxcc_core.host.app.Host` builds.

Every table and key is optional; an unknown key anywhere is an error naming it (the strict
converter of :mod:`spxcc_core.detect.strict`: no silent coercion, ``"5"`` is not a number).
Relative paths are relative to the folder of the configuration file. Example::

    db = "spxcc.sqlite3"              # or "postgresql://user@host/db"; none: in memory

    [hub]
    bind = "127.0.0.1:8765"           # port 0: any free port
    bind_any = false                  # true: allow a non-loopback address (needs a token hash)
    token_hash = "sha256:..."         # python -m spxcc_core.host.auth prints a token and hash
    allowed_origins = ["http://127.0.0.1:8765"]
    page = true                       # serve the command-center page at /
    v1_only = false

    [pipeline]
    profile = "profile.toml"          # none: the store's active profile, else the default
    detectors = ["orb_pullback"]      # none: every detector the profile enables

    [plugins]
    blocked = ["spxcc_gamma"]
    load_entrypoints = true

    [live]
    urls = ["wss://socket.massive.com/stocks"]
    subscribe = ["T.SPY", "Q.SPY"]
    api_key_env = "MASSIVE_API_KEY"   # else the vault's massive_api_key

    [replay]
    session = "recording.jsonl"
    speed = 60.0                      # event time x speed; 0: as fast as possible

    [routing]
    poll_interval_s = 1.0             # broker events and reconciliation, when a router is given

The hub token itself never appears in the file: only its hash (``hub.token_hash``) or the
name of an environment variable holding the hash (``hub.token_hash_env``).
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from pathlib import Path
from typing import Any

import attrs

from spxcc_core.detect import strict
from spxcc_core.errors import ConfigError

__all__ = [
    "DEFAULT_BIND",
    "HostConfig",
    "HubSection",
    "LiveSection",
    "PipelineSection",
    "PluginsSection",
    "ReplaySection",
    "RoutingSection",
    "is_loopback",
    "load_host_config",
    "parse_host_config",
]

#: Where the host listens unless told otherwise: loopback only.
DEFAULT_BIND = "127.0.0.1:8765"


def _non_negative(name: str) -> Any:
    def check(_: Any, __: Any, value: float) -> None:
        if not value >= 0:
            raise ValueError(f"{name} must be >= 0, got {value!r}")
    return check


def _positive_or_none(name: str) -> Any:
    def check(_: Any, __: Any, value: float | None) -> None:
        if value is not None and not value > 0:
            raise ValueError(f"{name} must be > 0 seconds, got {value!r}")
    return check


@attrs.frozen
class HubSection:
    """``[hub]``: where the websocket hub (and the page) listens and who may use it.

    ``bind`` ``HOST:PORT``; a host other than loopback needs ``bind_any = true`` and a token
    hash (:func:`~spxcc_core.host.app.check_bind`). ``token_hash`` ``sha256:<hex>`` of the
    account-channel token, or ``token_hash_env`` naming a variable that holds it (None: the
    account channels are off). ``page``: serve the command-center page at ``/``.
    """

    bind: str = DEFAULT_BIND
    bind_any: bool = False
    token_hash: str | None = None
    token_hash_env: str | None = None
    allowed_origins: list[str] = attrs.field(factory=list)
    page: bool = True
    v1_only: bool = False
    queue_size: int = 10_000
    queue_bytes: int = 8 * 1024 * 1024
    max_connections: int = 1000
    retain: int = 10_000


@attrs.frozen
class PipelineSection:
    """``[pipeline]``: the profile file (None: the store's active profile, else the default),
    the detectors to run (None: every one the profile enables) and an option-chain snapshot
    file for the gamma context (None: none)."""

    profile: str | None = None
    detectors: list[str] | None = None
    chain: str | None = None


@attrs.frozen
class PluginsSection:
    """``[plugins]``: plugin names never to register, and whether third-party entry points
    load (None: unless ``SPXCC_DISABLE_PLUGIN_AUTOLOAD`` is set)."""

    blocked: list[str] = attrs.field(factory=list)
    load_entrypoints: bool | None = None


@attrs.frozen
class LiveSection:
    """``[live]``: the Massive websocket URLs (one per cluster) and channels, the environment
    variable holding the API key (else the vault's ``massive_api_key``) and the session
    limits in seconds (None / absent: the ``spxcc live`` defaults)."""

    urls: list[str] = attrs.field(factory=list)
    subscribe: list[str] = attrs.field(factory=list)
    api_key_env: str = "MASSIVE_API_KEY"
    idle_timeout_s: float | None = attrs.field(default=60.0,
                                               validator=_positive_or_none("idle_timeout_s"))
    stall_timeout_s: float | None = attrs.field(default=15.0,
                                                validator=_positive_or_none("stall_timeout_s"))
    connect_timeout_s: float | None = attrs.field(
        default=30.0, validator=_positive_or_none("connect_timeout_s"))


@attrs.frozen
class ReplaySection:
    """``[replay]``: a recorded session (websocket ``.jsonl``) and the pace: event time runs
    ``speed`` times faster than the wall clock (0: as fast as possible)."""

    session: str | None = None
    speed: float = attrs.field(default=60.0, validator=_non_negative("speed"))


@attrs.frozen
class RoutingSection:
    """``[routing]``: seconds between two polls of the broker routing worker (broker events,
    periodic reconciliation), when the host has one."""

    poll_interval_s: float = attrs.field(default=1.0, validator=_positive_or_none(
        "poll_interval_s"))


@attrs.frozen
class HostConfig:
    """A host's whole configuration (module docstring). Build it in code or with
    :func:`load_host_config`; every section has defaults."""

    db: str | None = None
    hub: HubSection = attrs.field(factory=HubSection)
    pipeline: PipelineSection = attrs.field(factory=PipelineSection)
    plugins: PluginsSection = attrs.field(factory=PluginsSection)
    live: LiveSection = attrs.field(factory=LiveSection)
    replay: ReplaySection = attrs.field(factory=ReplaySection)
    routing: RoutingSection = attrs.field(factory=RoutingSection)


def parse_host_config(text: str, where: str = "<host config>", *,
                      base: Path | None = None) -> HostConfig:
    """Parse the TOML ``text`` (``where`` names it in errors); relative paths are resolved
    against ``base`` (None: left as they are).

    :raises ConfigError: invalid TOML, an unknown key (named), a value of the wrong type.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML ({exc})") from None
    try:
        config = strict.structure(raw, HostConfig)
    except ValueError as exc:  # StrictError included
        raise ConfigError(f"{where}: {exc}") from None
    return config if base is None else _resolved(config, base)


def load_host_config(path: str | os.PathLike[str]) -> HostConfig:
    """Read a host configuration file (module docstring).

    :raises ConfigError: unreadable file or invalid content.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"host config {p}: cannot read ({exc})") from None
    return parse_host_config(text, f"host config {p}", base=p.resolve().parent)


def _path(value: str | None, base: Path) -> str | None:
    if value is None or "://" in value or value == ":memory:":
        return value
    return str(base / value) if not Path(value).is_absolute() else value


def _resolved(config: HostConfig, base: Path) -> HostConfig:
    return attrs.evolve(
        config, db=_path(config.db, base),
        pipeline=attrs.evolve(config.pipeline, profile=_path(config.pipeline.profile, base),
                              chain=_path(config.pipeline.chain, base)),
        replay=attrs.evolve(config.replay, session=_path(config.replay.session, base)))


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (``127.0.0.0/8``, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
