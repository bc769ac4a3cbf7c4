"""Promotion and rollback of the active profile, each recorded in the profile store.

:func:`promote` makes a candidate active only with a gate decision that says ``promote`` for
that very candidate against the profile active now (fail-closed); ``force=True`` skips the
check and is recorded as forced. :func:`revert` undoes the last promotion that is not undone
yet (or makes a named profile active) in one step, itself recorded; repeated reverts walk back
through the history (:func:`undo_stack`). While no profile was ever promoted, the active profile
is the built-in default (:func:`effective_active_id`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import attrs
import pluggy

from spxcc_core.clock import Clock
from spxcc_core.errors import ConfigError, InputError
from spxcc_core.gates.report import read_decision
from spxcc_core.run.profiles import named_profile, store_profile
from spxcc_core.store.profiles import Activation, ProfileHistory

__all__ = ["Undoable", "decision_id", "effective_active_id", "promote", "revert",
           "undo_stack"]


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


@attrs.frozen
class Undoable:
    """A change of the active profile that a plain revert can still undo: the ``activation``
    and the id of the profile that was active just before it (``before``)."""

    activation: Activation
    before: str


def undo_stack(activations: Sequence[Activation], initial: str) -> list[Undoable]:
    """The changes a plain revert can still undo, oldest first (the last one is undone next).

    Walks ``activations`` (oldest first) from ``initial``, the profile active before the first
    of them (the built-in default): a promotion is pushed with the profile it replaced; a
    revert to the profile that the nearest pushed change replaced undoes that change and every
    later one (they are popped: a plain revert, or ``--to`` a profile further back on the same
    path); a revert to any other profile is a change of its own and is pushed like a
    promotion. Pure: reads nothing, writes nothing.
    """
    stack: list[Undoable] = []
    current = initial
    for a in activations:
        back = None
        if a.action == "revert":
            back = next((i for i in range(len(stack) - 1, -1, -1)
                         if stack[i].before == a.profile_id), None)
        if back is None:
            stack.append(Undoable(activation=a, before=current))
        else:
            del stack[back:]
        current = a.profile_id
    return stack


def revert(pm: pluggy.PluginManager, history: ProfileHistory, *, to: str | None,
           clock: Clock) -> Activation:
    """Undo the last promotion not undone yet: make the profile that was active before it
    active again (``to``: that stored id instead); recorded as a ``revert``. Repeated calls walk
    further back through the history (:func:`undo_stack`), down to the built-in default.

    :raises ConfigError: nothing to revert (no promotion, or every one undone already), an
        unknown id, or ``to`` is active already.
    """
    current = effective_active_id(pm, history)
    if to is not None:
        target = history.find(to).id
    else:
        acts = history.activations()
        if not acts:
            raise ConfigError("revert: no profile was ever promoted; the built-in default "
                              "is active")
        default = named_profile(pm, "default")
        stack = undo_stack(acts, default.id)
        if not stack:
            raise ConfigError(f"revert: nothing left to revert: every promotion has been "
                              f"undone (profile {current} is active; --to ID makes another "
                              "one active)")
        target = stack[-1].before
        if target == default.id:
            store_profile(history, default, clock.now_ms())
    if target == current:
        raise ConfigError(f"revert: profile {target} is already the active profile")
    return history.activate(target, at_ms=clock.now_ms(), action="revert", forced=False,
                            decision_id=None, reason=f"revert to {target} (was {current})")
