"""``spxcc profile show|history|promote|revert``: the profile store and the active profile.

The store is ``--db`` (default ``$SPXCC_DB`` or the user data folder). ``show`` and ``history``
only read it: with no such store file they answer for an empty store (the built-in default
profile is active, nothing was promoted; a note on stderr names the file) and create nothing;
``show ID`` of a stored id refuses a missing file. ``promote`` refuses a
candidate without a ``promote`` gate decision unless ``--force`` (recorded as forced);
``revert`` undoes the last promotion (repeated: further back) in one command and is recorded
too. Bad input or a refusal: one line, exit 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from spxcc_core.cli.parser import examples
from spxcc_core.cli.runargs import db_argument
from spxcc_core.store.existing import StoreRef

if TYPE_CHECKING:
    from spxcc_core.store.sqlite import Store

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", type=db_argument, default=None, metavar="PATH|URL",
                        help="profile store, an SQLite file or a postgresql:// URL (default: "
                             "$SPXCC_DB or the user data folder)")
    p = sub.add_parser("profile", help="detector profiles: show, history, promote, revert",
                       description="The profile store: every profile, which one is active "
                                   "(what replay and live use without --profile), when and "
                                   "why.")
    psub = p.add_subparsers(dest="profile_command", metavar="ACTION")
    psub.required = True
    s = psub.add_parser("show", parents=[common], help="a profile's id, name and TOML",
                        description="Print a profile (default: the active one): id, name, "
                                    "version, whether it is active, and its TOML text.",
        **examples('spxcc profile show', 'spxcc profile show default --toml > candidate.toml'))
    s.add_argument("profile", nargs="?", default="active", metavar="ID",
                   help="stored id or unique prefix, a TOML file, 'default' or 'active' "
                        "(default)")
    s.add_argument("--toml", action="store_true",
                   help="print only the TOML text (e.g. to start a candidate from it)")
    s.set_defaults(func=_show)
    h = psub.add_parser("history", parents=[common], help="every change of the active profile",
                        description="List every promotion and revert, oldest first.",
        **examples('spxcc profile history', 'spxcc profile history --json'))
    h.add_argument("--json", action="store_true",
                   help="print one JSON object (profile_history@1)")
    h.set_defaults(func=_history)
    pr = psub.add_parser("promote", parents=[common], help="make a profile active",
                         description="Make ID active. Needs --decision FILE (a decision.json "
                                     "of `spxcc gates run` that says promote for ID against "
                                     "the active profile) unless --force (recorded as "
                                     "forced).",
        **examples('spxcc profile promote 110ef4f365ad4024 --decision gate/decision.json'))
    pr.add_argument("profile", metavar="ID", help="stored id or unique prefix, or a TOML file")
    pr.add_argument("--decision", type=Path, default=None, metavar="FILE")
    pr.add_argument("--force", action="store_true",
                    help="promote without a promote decision (recorded as forced)")
    pr.set_defaults(func=_promote)
    rv = psub.add_parser("revert", parents=[common], help="undo the last promotion",
                         description="Undo the last promotion that is not undone yet: make "
                                     "the profile that was active before it active again "
                                     "(or --to ID); recorded in the history. Repeated "
                                     "reverts walk further back; with nothing left to "
                                     "revert: one line, exit 2.",
        **examples('spxcc profile revert', 'spxcc profile revert --to e1a954d6a5628683'))
    rv.add_argument("--to", default=None, metavar="ID", help="stored id or unique prefix")
    rv.set_defaults(func=_revert)


def _store(args: argparse.Namespace) -> Store:
    """The store of ``--db`` for the commands that write (created when missing)."""
    from spxcc_core.store.sqlite import Store

    return Store(StoreRef.of(args.db).target)


def _note_missing(ref: StoreRef) -> None:
    """Say on stderr that the answer is the empty store's (a mistyped --db shows here)."""
    print(f"spxcc: note: {ref.label}: no such store file, so nothing was ever promoted there "
          "(none was created)", file=sys.stderr)


def _when(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _show(args: argparse.Namespace) -> int:
    from spxcc_core.gates.governance import effective_active_id
    from spxcc_core.plugins import get_plugin_manager
    from spxcc_core.run.profiles import named_profile
    from spxcc_core.store.profiles import ProfileHistory

    pm = get_plugin_manager()
    ref = StoreRef.of(args.db)
    if ref.missing:  # the built-in default is active; only a stored id needs the store
        arg = Path(args.profile)
        if not (args.profile in ("default", "active") or arg.is_file()
                or arg.suffix.lower() == ".toml" or os.sep in args.profile):
            ref.require(f"profile {args.profile} would be a stored id; spxcc profile show "
                        "never creates a store")
        named = named_profile(pm, args.profile, None)
        active = named_profile(pm, "default").id
        _note_missing(ref)
    else:
        with _store(args) as db:
            history = ProfileHistory(db)
            named = named_profile(pm, args.profile, history)
            active = effective_active_id(pm, history)
    state = "active" if named.id == active else "not active"
    if not args.toml:
        print(f"# profile {named.id}: {named.profile.name} v{named.profile.version} ({state})")
    print(named.toml, end="" if named.toml.endswith("\n") else "\n")
    return 0


def _history(args: argparse.Namespace) -> int:
    from spxcc_core.store.profiles import ProfileHistory

    ref = StoreRef.of(args.db)
    if ref.missing:  # no store: nothing was ever promoted
        acts, names = [], {}
        _note_missing(ref)
    else:
        with _store(args) as db:
            history = ProfileHistory(db)
            acts = history.activations()
            names = {a.profile_id: p.name for a in acts if (p := history.get(a.profile_id))}
    if args.json:
        import msgspec

        from spxcc_core.contracts.gates import ProfileActivationRecord, ProfileHistoryReport

        report = ProfileHistoryReport(
            active=acts[-1].profile_id if acts else None,  # the latest change is in force
            activations=tuple(ProfileActivationRecord(
                seq=a.seq, profile_id=a.profile_id, name=names.get(a.profile_id),
                activated_ms=a.activated_ms, action=a.action, forced=a.forced,
                decision_id=a.decision_id, reason=a.reason) for a in acts))
        print(msgspec.json.encode(report).decode())
        return 0
    if not acts:
        print("no profile was ever promoted: the built-in default profile is active")
        return 0
    for a in acts:
        mark = "*" if a is acts[-1] else " "
        forced = " FORCED" if a.forced else ""
        print(f"{mark} {a.seq:>3}  {_when(a.activated_ms)}  {a.action:<7} {a.profile_id} "
              f"({names.get(a.profile_id, '?')}){forced}  {a.reason}")
    return 0


def _promote(args: argparse.Namespace) -> int:
    from spxcc_core.clock import SystemClock
    from spxcc_core.gates.governance import promote
    from spxcc_core.plugins import get_plugin_manager
    from spxcc_core.store.profiles import ProfileHistory

    with _store(args) as db:
        act = promote(get_plugin_manager(), ProfileHistory(db), args.profile,
                      decision=args.decision, force=args.force, clock=SystemClock())
    print(f"promoted {act.profile_id} ({act.reason}); undo with: spxcc profile revert")
    return 0


def _revert(args: argparse.Namespace) -> int:
    from spxcc_core.clock import SystemClock
    from spxcc_core.gates.governance import revert
    from spxcc_core.plugins import get_plugin_manager
    from spxcc_core.store.profiles import ProfileHistory

    with _store(args) as db:
        act = revert(get_plugin_manager(), ProfileHistory(db), to=args.to, clock=SystemClock())
    print(f"active profile: {act.profile_id} ({act.reason})")
    return 0
