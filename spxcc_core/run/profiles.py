"""Profiles by name for runs and gates: files, the built-in default, stored ids, the active one.

A *profile argument* (``--profile``, ``--candidate``, ``--baseline``) is, in this order: an
existing TOML file; ``default`` (the built-in default profile of the installed detectors);
``active`` (the store's active profile, the built-in default when none was ever promoted); or
the id of a stored profile (its hash, or a unique prefix of at least 4 hex digits).

A profile's **id** is its hash (:func:`~spxcc_core.detect.profile.profile_hash` over the
resolved profile, as the detector runner computes it for the run report), so the same
parameters have the same id whatever the file's formatting.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import attrs
import pluggy

from spxcc_core.detect.profile import (
    DEFAULT_PROFILE_TOML,
    Profile,
    default_profile,
    parse_profile,
)
from spxcc_core.detect.runner import DETECTORS, DetectorRunner
from spxcc_core.errors import ConfigError
from spxcc_core.registry import PluginRegistry, as_registry
from spxcc_core.store.existing import missing_store_file
from spxcc_core.store.profiles import ProfileHistory, StoredProfile
from spxcc_core.store.sqlite import Store

__all__ = ["NamedProfile", "active_profile", "default_profile_toml", "named_profile",
           "profile_from_text", "profile_id", "store_profile", "toml_value"]


@attrs.frozen(eq=False)
class NamedProfile:
    """A profile with its exact TOML text, its id and ``source`` (the argument given)."""

    profile: Profile
    toml: str
    id: str
    source: str


def profile_id(pm: pluggy.PluginManager | PluginRegistry, profile: Profile) -> str:
    """The profile's id: its hash over the installed detectors and providers.

    :raises ConfigError: the profile does not fit the installed plugins.
    """
    return DetectorRunner(as_registry(pm), profile).profile_hash


def toml_value(v: Any) -> str:
    """A TOML value's text: a bool, int, float, string or list of them.

    :raises ConfigError: any other type.
    """
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise ConfigError(f"cannot write {type(v).__name__} value {v!r} as TOML")


def default_profile_toml(pm: pluggy.PluginManager | PluginRegistry) -> str:
    """The built-in default profile as TOML text: :data:`DEFAULT_PROFILE_TOML` followed by
    one ``[detectors.NAME]`` table per installed detector with its parameter defaults (the
    text parses to a profile of the same id as :func:`default_profile`)."""
    prof = default_profile(as_registry(pm).classes(DETECTORS))
    lines = [DEFAULT_PROFILE_TOML.rstrip("\n")]
    for name, cfg in sorted(prof.detectors.items()):
        lines += ["", f"[detectors.{name}]", f"version = {cfg.version}", "enabled = true",
                  f"[detectors.{name}.params]"]
        lines += [f"{k} = {toml_value(v)}" for k, v in cfg.params.items()]
    return "\n".join(lines) + "\n"


def named_profile(pm: pluggy.PluginManager | PluginRegistry, arg: str | os.PathLike[str],
                  history: ProfileHistory | None = None) -> NamedProfile:
    """Resolve a profile argument (see the module docstring).

    :param history: the profile store, for ``active`` and stored ids (None: neither is
        available, ``active`` means the default).
    :raises ConfigError: an unreadable or invalid file, or an unknown id.
    """
    text = os.fspath(arg)
    path = Path(text)
    if path.is_file():
        try:
            toml = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"profile {path}: cannot read ({exc})") from None
        return profile_from_text(pm, toml, text, text)
    if text == "active" and history is not None and (act := history.active()) is not None:
        stored = history.get(act.profile_id)
        assert stored is not None
        return profile_from_text(pm, stored.toml, f"profile {stored.id}", "active")
    if text in ("default", "active"):
        return profile_from_text(pm, default_profile_toml(pm), "<default>", text)
    if history is None or path.suffix.lower() == ".toml" or os.sep in text:
        raise ConfigError(f"profile {text}: no such file")
    stored = history.find(text)
    return profile_from_text(pm, stored.toml, f"profile {stored.id}", text)


def profile_from_text(pm: pluggy.PluginManager | PluginRegistry, toml: str, where: str,
                      source: str) -> NamedProfile:
    """Parse ``toml`` (errors name ``where``) into a :class:`NamedProfile` whose ``source`` is
    ``source``.

    :raises ConfigError: invalid text, or a profile that does not fit the installed plugins.
    """
    prof = parse_profile(toml, where)
    return NamedProfile(profile=prof, toml=toml, id=profile_id(pm, prof), source=source)


def store_profile(history: ProfileHistory, named: NamedProfile, at_ms: int) -> StoredProfile:
    """Store ``named`` (kept as it is when its id is stored already)."""
    return history.add(StoredProfile(id=named.id, name=named.profile.name,
                                     version=named.profile.version, toml=named.toml,
                                     source=named.source, added_ms=at_ms))


def active_profile(store: str | os.PathLike[str]) -> Profile | None:
    """The active profile of the store ``store`` (a file or a PostgreSQL URL), parsed; None
    when the file does not exist (it is not created) or no profile was ever made active."""
    if missing_store_file(store) is not None:
        return None
    with Store(store) as db:
        history = ProfileHistory(db)
        act = history.active()
        if act is None:
            return None
        stored = history.get(act.profile_id)
    assert stored is not None
    return parse_profile(stored.toml, f"active profile {stored.id}")
