"""Promotion and rollback of the active profile, each recorded in the profile store.

:func:`promote` makes a candidate active only with a gate decision that says ``promote`` for
that very candidate against the profile active now (fail-closed); ``force=True`` skips the
check and is recorded as forced. :func:`revert` makes the previous profile (or a named one)
active again in one step, itself recorded. While no profile was ever promoted, the active
profile is the built-in default (:func:`effective_active_id`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pluggy

from spxcc_core.clock import Clock
from spxcc_core.errors import ConfigError, InputError
from spxcc_core.gates.report import read_decision
from spxcc_core.run.profiles import named_profile, store_profile
from spxcc_core.store.profiles import Activation, ProfileHistory

__all__ = ["decision_id", "effective_active_id", "promote", "revert"]


def decision_id(path: str | os.PathLike[str]) -> str:
    """A decision record's id: the first 16 hex digits of the SHA-256 of its bytes.

    :raises InputError: the file cannot be read.
    """
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    except OSError as exc:
        raise InputError(str(path), f"cannot read ({exc.strerror or exc})") from None


def effective_active_id(pm: pluggy.PluginManager, history: ProfileHistory) -> str:
    """The id of the profile runs use when none is named: the latest activation's, else the
    built-in default's."""
    act = history.active()
    return act.profile_id if act is not None else named_profile(pm, "default").id


def promote(pm: pluggy.PluginManager, history: ProfileHistory, profile: str, *,
            decision: str | os.PathLike[str] | None, force: bool, clock: Clock,
            reason: str = "") -> Activation:
    """Make ``profile`` (a stored id, a TOML file or ``default``; stored if new) active.

    Without ``force`` the ``decision`` file (``release_decision@1``) must say ``promote``, name
    this profile as its candidate and the currently active profile as its baseline.

    :raises ConfigError: no or a refusing decision (without ``force``), the profile is active
        already, or an unknown profile.
    :raises InputError: the decision file cannot be read.
    """
    named = named_profile(pm, profile, history)
    current = effective_active_id(pm, history)
    if named.id == current:
        raise ConfigError(f"profile {named.id} is already the active profile")
    d_id = None
    if decision is not None:
        record = read_decision(decision)
        d_id = decision_id(decision)
        problems = []
        if record.decision != "promote":
            problems.append(f"its decision is {record.decision!r}, not 'promote'")
        if record.candidate.id != named.id:
            problems.append(f"its candidate is {record.candidate.id}, not {named.id}")
        if record.baseline.id != current:
            problems.append(f"its baseline {record.baseline.id} is not the active profile "
                            f"{current}")
        if problems and not force:
            raise ConfigError(f"promote {named.id}: refused, decision {decision}: "
                              + "; ".join(problems) + " (--force overrides, recorded as forced)")
    elif not force:
        raise ConfigError(f"promote {named.id}: refused without a 'promote' decision "
                          "(--decision FILE from `spxcc gates run`, or --force, recorded as "
                          "forced)")
    now = clock.now_ms()
    if history.active() is None:  # the built-in default was active: keep it revertable
        store_profile(history, named_profile(pm, "default"), now)
    store_profile(history, named, now)
    why = reason or ("forced" if force else f"gate decision {d_id}")
    return history.activate(named.id, at_ms=now, action="promote", forced=force,
                            decision_id=d_id, reason=why)


def revert(pm: pluggy.PluginManager, history: ProfileHistory, *, to: str | None,
           clock: Clock) -> Activation:
    """Make the profile active before the current one active again (``to``: that stored id
    instead); recorded as a ``revert``.

    :raises ConfigError: nothing to revert to, an unknown id, or ``to`` is active already.
    """
    current = effective_active_id(pm, history)
    if to is not None:
        target = history.find(to).id
    else:
        acts = history.activations()
        if not acts:
            raise ConfigError("revert: no profile was ever promoted; the built-in default "
                              "is active")
        earlier = [a.profile_id for a in acts[:-1] if a.profile_id != current]
        if earlier:
            target = earlier[-1]
        else:
            default = named_profile(pm, "default")
            store_profile(history, default, clock.now_ms())
            target = default.id
    if target == current:
        raise ConfigError(f"revert: profile {target} is already the active profile")
    return history.activate(target, at_ms=clock.now_ms(), action="revert", forced=False,
                            decision_id=None, reason=f"revert to {target} (was {current})")

