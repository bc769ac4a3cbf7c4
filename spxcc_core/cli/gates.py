"""``spxcc gates run`` and ``spxcc gates report``: the release gate and its report.

``gates run`` exits 0 when the decision is ``promote``, 1 for ``reject`` or
``insufficient_evidence``, 2 for bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from spxcc_core.cli.parser import examples
from spxcc_core.cli.runargs import db_argument
from spxcc_core.errors import ConfigError

if TYPE_CHECKING:
    from spxcc_core.gates.rules import GateRules

__all__ = ["add_rule_args", "register", "rules_from_args"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("gates", help="release gates: candidate vs baseline profile, report",
                       description="Decide with bootstrap confidence intervals whether a "
                                   "candidate profile may replace the baseline "
                                   "(docs/release-gates.md).")
    gsub = p.add_subparsers(dest="gates_command", metavar="ACTION")
    gsub.required = True

    r = gsub.add_parser(
        "run", help="replay sessions under both profiles and write decision.json",
        description="Replay every session under the candidate and the baseline profile, "
                    "bootstrap the KPIs over whole sessions and write OUT/decision.json. "
                    "PROFILE: a TOML file, 'default', 'active' or a stored profile id. "
                    "Exit 0 promote, 1 reject or insufficient evidence, 2 bad input.",
        **examples('spxcc gates run --candidate candidate.toml --baseline active --sessions cache/* --out gate', 'spxcc gates run --candidate candidate.toml --baseline active --sessions cache/* --execute paper --seed 7 --out gate --json'))
    r.add_argument("--candidate", required=True, metavar="PROFILE")
    r.add_argument("--baseline", required=True, metavar="PROFILE")
    r.add_argument("--sessions", required=True, nargs="+", type=Path, metavar="DIR",
                   help="session caches, folders of flat files or websocket recordings")
    r.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    add_rule_args(r)
    r.add_argument("--execute", default=None, metavar="BROKER",
                   help="execute both profiles' setups on this broker in replay (paper): KPIs "
                        "from the executed round trips, R after slippage (default: the "
                        "setups' own outcomes)")
    r.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="replay sessions in N worker processes (default 1)")
    r.add_argument("--bars-cache", type=Path, default=None, metavar="DIR",
                   help="bars cache folder: each session's microbars are read from it, or "
                        "computed once and kept there (default: computed once per run, in "
                        "memory)")
    r.add_argument("--db", type=db_argument, default=None, metavar="PATH|URL",
                   help="profile store (an SQLite file or a postgresql:// URL), where both "
                        "profiles are recorded (default: $SPXCC_DB or the user data folder)")
    r.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    r.add_argument("--json", action="store_true", help="print decision.json to stdout")
    r.set_defaults(func=_run)

    rep = gsub.add_parser(
        "report", help="render a gate run's decision as HTML (and Markdown)",
        description="Render RUN_DIR/decision.json (and, for a run with --execute, each "
                    "profile's slippage records beside it) as a self-contained HTML page "
                    "(inline SVG, no network); --markdown also prints a Markdown summary for "
                    "CI logs. FILE never writes over the run's files (an earlier report "
                    "inside RUN_DIR is replaced). Slippage records that cannot belong to "
                    "the decision (another day, more entered trades than it counts) are "
                    "refused, exit 2.",
        **examples('spxcc gates report gate --html gate/report.html', 'spxcc gates report gate --html gate/report.html --markdown'))
    rep.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    rep.add_argument("--html", type=Path, required=True, metavar="FILE")
    rep.add_argument("--markdown", action="store_true", help="print Markdown to stdout")
    rep.set_defaults(func=_report)


def add_rule_args(p: argparse.ArgumentParser) -> None:
    """The bootstrap and rule options (``--resamples``, ``--confidence``, ``--min-trades``,
    ``--min-sessions``, ``--throughput-floor``), shared with ``spxcc optimize``."""
    p.add_argument("--resamples", type=int, default=None, metavar="N",
                   help="bootstrap resamples (default 2000)")
    p.add_argument("--confidence", type=float, default=0.95, metavar="LEVEL",
                   help="interval coverage in (0, 1) (default 0.95)")
    p.add_argument("--min-trades", type=int, default=None, metavar="N",
                   help="trades each profile needs (default 30)")
    p.add_argument("--min-sessions", type=int, default=None, metavar="N",
                   help="sessions the run needs (default 5)")
    p.add_argument("--throughput-floor", type=float, default=None, metavar="FRACTION",
                   help="candidate trades/session >= FRACTION x baseline's (default 0.5)")


def rules_from_args(args: argparse.Namespace) -> GateRules:
    """The rule's thresholds from the options (defaults where not given).

    :raises ConfigError: an out-of-range value, naming the option.
    """
    import attrs

    from spxcc_core.gates.rules import GateRules

    given = {}
    for option, name, lowest, highest in (("--min-trades", "min_trades", 1, None),
                                          ("--min-sessions", "min_sessions", 1, None),
                                          ("--throughput-floor", "throughput_floor", 0, 1)):
        value = getattr(args, name)
        if value is None:
            continue
        if value < lowest or (highest is not None and value > highest):
            where = f">= {lowest}" if highest is None else f"in [{lowest}, {highest}]"
            raise ConfigError(f"{option} must be {where}, got {value}")
        given[name] = value
    if not 0.0 < args.confidence < 1.0:
        raise ConfigError(f"--confidence must be in (0, 1), got {args.confidence}")
    return attrs.evolve(GateRules(), **given)


def _run(args: argparse.Namespace) -> int:
    from spxcc_core.clock import SystemClock
    from spxcc_core.contracts.gates import ReleaseDecision
    from spxcc_core.gates.runner import DEFAULT_RESAMPLES, run_gates
    from spxcc_core.plugins import get_plugin_manager
    from spxcc_core.run.profiles import named_profile, store_profile
    from spxcc_core.store.existing import StoreRef
    from spxcc_core.store.profiles import ProfileHistory
    from spxcc_core.store.sqlite import Store

    rules = rules_from_args(args)
    pm = get_plugin_manager()
    ref = StoreRef.of(args.db)
    # the profiles are only looked up here (a missing store file reads as empty and is not
    # created); the store is opened for writing once every argument and session has been
    # checked and the decision made, so bad input never leaves a new store behind
    with ref.open_or_empty() as store:
        history = ProfileHistory(store)
        candidate = named_profile(pm, args.candidate, history)
        baseline = named_profile(pm, args.baseline, history)

    def record(_: ReleaseDecision) -> None:
        with Store(ref.target) as db:  # created here if it was missing
            profiles = ProfileHistory(db)
            now = SystemClock().now_ms()
            store_profile(profiles, candidate, now)
            store_profile(profiles, baseline, now)

    run = run_gates(candidate=candidate, baseline=baseline, sessions=args.sessions,
                    seed=args.seed, confidence=args.confidence,
                    resamples=args.resamples if args.resamples is not None
                    else DEFAULT_RESAMPLES, rules=rules,
                    out_dir=args.out, pm=pm, jobs=args.jobs, bars_cache=args.bars_cache,
                    execute=args.execute, on_decided=record)
    d = run.decision
    if args.json:
        sys.stdout.buffer.write(run.document)
        sys.stdout.flush()
    else:
        print(f"decision: {d.decision} (candidate {d.candidate.id} vs baseline "
              f"{d.baseline.id}, {d.evidence.sessions} sessions, {d.resamples} resamples, "
              f"seed {d.seed})")
        for reason in d.reasons:
            print(f"  {reason.code}: {reason.message}")
        print(f"rollback after a promotion: {d.rollback_command}")
        print(f"decision -> {run.path}")
    return run.exit_code


def _report(args: argparse.Namespace) -> int:
    from spxcc_core.gates.report import (
        check_slippage,
        markdown_report,
        read_decision,
        read_slippage,
        report_inputs,
        write_html,
    )
    from spxcc_core.gates.trades import EXECUTION_SOURCE

    decision = read_decision(args.run_dir)
    slippage = (read_slippage(args.run_dir) if decision.trade_source == EXECUTION_SOURCE
                else None)
    if slippage is not None:
        check_slippage(decision, slippage, args.run_dir)
    write_html(decision, args.html, inputs=report_inputs(args.run_dir), slippage=slippage,
               run_dir=args.run_dir)
    if args.markdown:
        sys.stdout.write(markdown_report(decision, slippage))
    else:
        print(f"{decision.decision}: report -> {args.html}")
    return 0
