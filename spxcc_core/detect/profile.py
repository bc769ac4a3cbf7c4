"""Detector profiles: gating thresholds, outcome policy and per-detector parameters, from TOML.

A profile is human-written configuration, so unknown keys are errors naming the key (at every
level: top, ``[context]``, ``[gating]``, ``[outcome]``, ``[detectors.NAME]`` and its
``params``, ``[providers.NAME]``); tables become attrs classes through a strict cattrs
converter (:mod:`spxcc_core.detect.strict`: ``"5"`` is not a float, ``"false"`` not a bool).
:func:`default_profile` is the one default profile: :data:`DEFAULT_PROFILE_TOML` (name,
context, gating and outcome, shown in ``docs/detectors.md``) plus one ``[detectors.NAME]``
table per installed detector *derived from its* ``params_class`` *defaults* — core restates no
detector's numbers.

A detector missing from the profile runs with its parameter class's defaults (listed as
``defaultsUsed`` in the run report); ``enabled = false`` turns one off. ``version`` must equal
the installed detector's version, so a profile tuned for an older version is never applied
silently to a newer one. The profile hash is a SHA-256 over the *resolved* profile (every
parameter, defaults included) in canonical JSON, so formatting does not change it.

Context providers are configured by ``[providers.NAME]`` tables holding the provider's
parameters directly (e.g. ``[providers.gamma]`` with ``recompute_s``, ``call_sign``, ``rate``);
a provider without a table runs with its parameter class's defaults. Provider parameters enter
the profile hash only when the profile has at least one ``[providers.NAME]`` table, so the hash
of a profile without one is what it was before providers were configurable.

The ``[ev_floor]`` table (:class:`~spxcc_core.slippage.ev_floor.EvFloorConfig`, see
``docs/execution.md``) turns on the ``ev_floor`` gate; without it the gate is off
(``Profile.ev_floor`` is None) and the table does not enter the hash.

The ``[execution]`` table (:class:`~spxcc_core.execute.policy.ExecutionPolicy`, see
``docs/execution.md``) configures how triggered setups become option orders; it enters the hash
only when present (``Profile.execution`` is None without it: the executor uses the defaults).
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs
import msgspec

from spxcc_core.detect import strict
from spxcc_core.detect.base import ContextProvider, Detector
from spxcc_core.detect.gating import GatingProfile
from spxcc_core.errors import ConfigError
from spxcc_core.execute.policy import ExecutionPolicy
from spxcc_core.setups.lifecycle import OutcomePolicy
from spxcc_core.slippage.ev_floor import EvFloorConfig

__all__ = [
    "DEFAULT_PROFILE_TOML",
    "ContextConfig",
    "DetectorConfig",
    "Profile",
    "ResolvedDetector",
    "ResolvedProvider",
    "default_profile",
    "load_profile",
    "parse_profile",
    "resolve_detectors",
    "resolve_providers",
]

DEFAULT_PROFILE_TOML = """\
# spxcc default detector profile (documented in docs/detectors.md)
name = "default"
version = 1

[context]
window_bars = 300          # recent bars kept in ctx.bars

[gating]
long_max_ask_bid_size_ratio = 3.0    # long blocked above: heavy offer at the close
short_min_ask_bid_size_ratio = 0.33  # short blocked below: heavy bid at the close
long_min_bid_ask_imbalance = -0.5    # long blocked below (normalized, time-weighted)
short_max_bid_ask_imbalance = 0.5    # short blocked above
max_avg_spread_bps = 5.0             # blocked above
min_quote_coverage_pct = 80.0        # blocked below
missing = "block"                    # null input: "block" or "pass"

[outcome]
t1_fraction = 0.5          # share closed at T1
breakeven_after_t1 = true  # remainder's stop moves to the entry after T1

# [detectors.NAME] tables: one per installed detector, from its params_class defaults
"""


@attrs.frozen(kw_only=True)
class ContextConfig:
    """Context settings. ``window_bars``: recent bars kept in ``ctx.bars`` (>= 1)."""

    window_bars: int = attrs.field(default=300, validator=attrs.validators.ge(1))


@attrs.frozen(kw_only=True)
class DetectorConfig:
    """One ``[detectors.NAME]`` table: ``version`` must match the installed detector."""

    version: int
    enabled: bool = True
    params: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class _ProfileDoc:
    name: str
    version: int
    context: dict[str, Any] = attrs.field(factory=dict)
    gating: dict[str, Any] = attrs.field(factory=dict)
    outcome: dict[str, Any] = attrs.field(factory=dict)
    detectors: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    providers: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    ev_floor: dict[str, Any] | None = None
    execution: dict[str, Any] | None = None


@attrs.frozen(kw_only=True)
class Profile:
    """A parsed profile (detector and provider parameters stay raw until
    :func:`resolve_detectors` / :func:`resolve_providers`). ``providers``: provider name →
    its ``[providers.NAME]`` table (empty: every provider runs with its defaults).
    ``execution``: the ``[execution]`` table's policy, None when the profile has no such table
    (the executor then uses :class:`ExecutionPolicy`'s defaults)."""

    name: str
    version: int
    context: ContextConfig
    gating: GatingProfile
    outcome: OutcomePolicy
    detectors: Mapping[str, DetectorConfig]
    source: str = "<profile>"
    providers: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    #: the ``[ev_floor]`` gate's parameters; None (no table) turns the gate off
    ev_floor: EvFloorConfig | None = None
    execution: ExecutionPolicy | None = None


@attrs.frozen
class ResolvedDetector:
    """A detector class with its validated parameters (``from_profile``: False = defaults)."""

    cls: type[Detector[Any]]
    params: Any
    from_profile: bool


@attrs.frozen
class ResolvedProvider:
    """A context provider class with its validated parameters (``from_profile``: False =
    defaults, the profile has no table for it)."""

    cls: type[ContextProvider]
    params: Any
    from_profile: bool


T = TypeVar("T")


def structure_strict(values: Mapping[str, Any], cls: type[T], where: str) -> T:
    """Build attrs class ``cls`` from a table, rejecting unknown keys and wrong types.

    :raises ConfigError: naming ``where`` and the key or the problem.
    """
    known = {f.name for f in attrs.fields(cls)}  # type: ignore[arg-type]
    for key in values:
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(known))})")
    try:
        return strict.structure(values, cls)
    except (ValueError, TypeError) as exc:  # StrictError included
        raise ConfigError(f"{where}: {exc}") from None


def parse_profile(text: str, source: str = "<profile>") -> Profile:
    """Parse profile TOML text.

    :raises ConfigError: invalid TOML, an unknown key, a wrong type or an out-of-range value,
        naming ``source`` and the key.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"profile {source}: invalid TOML: {exc}") from None
    try:
        doc = strict.structure(raw, _ProfileDoc)
    except strict.StrictError as exc:
        raise ConfigError(f"profile {source}: {exc}") from None
    detectors: dict[str, DetectorConfig] = {}
    for name, table in doc.detectors.items():
        try:
            detectors[name] = strict.structure(table, DetectorConfig)
        except strict.StrictError as exc:
            raise ConfigError(f"profile {source} [detectors.{name}]: {exc}") from None
    return Profile(
        name=doc.name, version=doc.version,
        context=structure_strict(doc.context, ContextConfig, f"profile {source} [context]"),
        gating=structure_strict(doc.gating, GatingProfile, f"profile {source} [gating]"),
        outcome=structure_strict(doc.outcome, OutcomePolicy, f"profile {source} [outcome]"),
        detectors=detectors, source=source, providers=doc.providers,
        ev_floor=None if doc.ev_floor is None else structure_strict(
            doc.ev_floor, EvFloorConfig, f"profile {source} [ev_floor]"),
        execution=None if doc.execution is None else structure_strict(
            doc.execution, ExecutionPolicy, f"profile {source} [execution]"))


def load_profile(path: str | Path) -> Profile:
    """Read and parse a profile file.

    :raises ConfigError: unreadable file or invalid content (see :func:`parse_profile`).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"profile {p}: cannot read ({exc})") from None
    return parse_profile(text, str(p))


def default_profile(detectors: Iterable[type[Detector[Any]]] = ()) -> Profile:
    """The default profile: :data:`DEFAULT_PROFILE_TOML` with, for each of ``detectors``, an
    enabled ``[detectors.NAME]`` table of its version and its ``params_class`` defaults (so
    those detectors count as configured by the profile, not as ``defaultsUsed``)."""
    prof = parse_profile(DEFAULT_PROFILE_TOML, "<default>")
    tables = {cls.name: DetectorConfig(version=cls.version,
                                       params=attrs.asdict(cls.params_class()))
              for cls in detectors}
    return attrs.evolve(prof, detectors=tables) if tables else prof


def resolve_detectors(profile: Profile, classes: Sequence[type[Detector[Any]]], *,
                      strict: bool = True) -> list[ResolvedDetector]:
    """Match profile tables to installed detector classes, in the order of ``classes``.

    :param strict: a table for a detector that is not installed is an error (False: ignored,
        used for the embedded default profile, which names the built-ins).
    :raises ConfigError: the profile names a detector that is not installed (strict), its version
        differs from the installed one, or a parameter is unknown or invalid.
    """
    by_name = {c.name: c for c in classes}
    if strict:
        _require_installed(profile, "detector", profile.detectors, by_name)
    out: list[ResolvedDetector] = []
    for cls in classes:
        cfg = profile.detectors.get(cls.name)
        if cfg is None:
            out.append(ResolvedDetector(cls, cls.params_class(), False))
            continue
        if not cfg.enabled:
            continue
        if cfg.version != cls.version:
            raise ConfigError(f"profile {profile.source}: [detectors.{cls.name}] is for version "
                              f"{cfg.version}, the installed detector is version {cls.version}")
        params = structure_strict(cfg.params, cls.params_class,
                                  f"profile {profile.source} [detectors.{cls.name}.params]")
        out.append(ResolvedDetector(cls, params, True))
    return out


def _require_installed(profile: Profile, kind: str, named: Iterable[str],
                       installed: Mapping[str, object]) -> None:
    """Raise ConfigError for the first profile table naming a plugin that is not installed."""
    for name in named:
        if name not in installed:
            raise ConfigError(f"profile {profile.source}: {kind} {name!r} is not installed "
                              f"(installed: {', '.join(sorted(installed)) or 'none'})")


def resolve_providers(profile: Profile, classes: Sequence[type[ContextProvider]], *,
                      strict: bool = True) -> list[ResolvedProvider]:
    """Validate ``[providers.NAME]`` tables against installed provider classes, in the order
    of ``classes`` (every class is returned; one without a table gets its defaults).

    :param strict: a table for a provider that is not installed is an error (False: ignored).
    :raises ConfigError: the profile names a provider that is not installed (strict), or a
        parameter is unknown (the message names it and lists the known ones) or invalid.
    """
    by_name = {c.name: c for c in classes}
    if strict:
        _require_installed(profile, "provider", profile.providers, by_name)
    out: list[ResolvedProvider] = []
    for cls in classes:
        table = profile.providers.get(cls.name)
        if table is None:
            out.append(ResolvedProvider(cls, cls.params_class(), False))
            continue
        params = structure_strict(table, cls.params_class,
                                  f"profile {profile.source} [providers.{cls.name}]")
        out.append(ResolvedProvider(cls, params, True))
    return out


def profile_hash(profile: Profile, resolved: Sequence[ResolvedDetector],
                 providers: Sequence[ResolvedProvider] = ()) -> str:
    """SHA-256 (hex, first 16 characters) of the resolved profile in canonical JSON.

    ``providers`` (resolved provider parameters, defaults included) count only when the
    profile has a ``[providers.NAME]`` table; ``[ev_floor]`` only when present; the execution
    policy only when the profile has an ``[execution]`` table."""
    doc: dict[str, Any] = {
        "name": profile.name, "version": profile.version,
        "context": attrs.asdict(profile.context), "gating": attrs.asdict(profile.gating),
        "outcome": attrs.asdict(profile.outcome),
        "detectors": {r.cls.name: {"version": r.cls.version, "params": attrs.asdict(r.params)}
                      for r in resolved},
    }
    if profile.ev_floor is not None:
        doc["ev_floor"] = attrs.asdict(profile.ev_floor)
    if profile.providers:
        doc["providers"] = {r.cls.name: {"version": r.cls.version,
                                         "params": attrs.asdict(r.params)} for r in providers}
    if profile.execution is not None:
        doc["execution"] = attrs.asdict(profile.execution)
    return hashlib.sha256(msgspec.json.encode(doc, order="sorted")).hexdigest()[:16]
