"""``spxcc replay``: replay a session through the live pipeline and write its outputs."""

from __future__ import annotations

import argparse
from pathlib import Path

import msgspec

from spxcc_core.cli.parser import examples
from spxcc_core.cli.replay_many import (
    add_many_args,
    bars_cache_root,
    check_dependent_options,
    expand_sessions,
    run_many,
    wants_many,
)
from spxcc_core.cli.runargs import (
    DB_HELP,
    add_execute_args,
    add_selection_args,
    db_argument,
    detector_names,
    execute_options,
    run_profile,
    store_path,
)
from spxcc_core.contracts.execution import ExecutionReport

__all__ = ["execution_lines", "register"]


def execution_lines(e: ExecutionReport) -> list[str]:
    """The execution summary: orders, fills, realized P&L in dollars and R, slippage by
    time-of-day bucket."""
    exits = sum(e.exits.values())
    skipped = ", ".join(f"{k} {n}" for k, n in e.skipped.items()) or "none"
    lines = [f"  execution ({e.broker}): {e.setups} triggered setups, {e.entries} entries "
             f"(skipped: {skipped}), {exits} exits, {e.fills} fills "
             f"({e.filled_contracts:g} contracts), {e.open_positions} open positions",
             f"  realized P&L ${e.realized_pnl:,.2f} ({e.realized_r:+.2f}R)"]
    for name, b in e.slippage.items():
        lines.append(f"  slippage {name}: {b.fills} fills, {b.contracts:g} contracts, "
                     f"${b.mean_dollars:+.2f}/contract, {b.mean_ticks:+.2f} ticks")
    if e.slippage_unavailable:
        why = ", ".join(f"{k} {n}" for k, n in e.slippage_unavailable.items())
        lines.append(f"  fills without a slippage measurement: {why}")
    return lines


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "replay", help="replay a session: microbars, detectors, gating, outcomes, store",
        description="Replay SESSION (a session-cache folder, a folder of Massive flat files of "
                    "one day, or a websocket recording .jsonl) through the same pipeline as "
                    "live and write microbars.jsonl, setups.jsonl, gate_decisions.jsonl, "
                    "quarantine.jsonl and report.json to DIR. Outputs are byte-identical from "
                    "run to run. Several sessions (or a quoted glob), --jobs or --dask: one "
                    "folder per session under DIR, each session's microbars cached. "
                    "--bars-cache with --execute, and --jobs with --dask ADDRESS (not local), "
                    "would have no effect: they are refused (exit 2).",
        **examples('spxcc replay cache/2025-12-12 --out out/day', 'spxcc replay cache/2025-12-12 --out out/day --execute paper', "spxcc replay 'cache/*' --jobs 2 --out out/all"))
    p.add_argument("sessions", type=Path, nargs="+", metavar="SESSION")
    add_selection_args(p)
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="output folder (several sessions: DIR/NNN-<session name>/)")
    add_many_args(p)
    p.add_argument("--db", type=db_argument, default=None, metavar="PATH|URL",
                   help=f"{DB_HELP} (default: $SPXCC_DB, else DIR/spxcc.sqlite3)")
    p.add_argument("--step-ms", type=int, default=None, metavar="MS",
                   help="replay-clock step for a session cache, in ms of event time "
                        "(default 60000; outputs do not depend on it)")
    p.add_argument("--chain", type=Path, default=None, metavar="FILE.json",
                   help="option-chain snapshot (Massive snapshot JSON) for the gamma context; "
                        "replaces the session cache's own (default: the cache's, none for a "
                        "recording)")
    p.add_argument("--format", dest="fmt", choices=("jsonl", "parquet", "both"), default="jsonl",
                   help="output files: JSON Lines (default), Parquet instead (microbars, setups, "
                        "gate_decisions, quarantine .parquet; report.json either way) or both; "
                        "Parquet is deterministic too")
    add_execute_args(p, "also execute triggered setups on this broker (paper): the profile's "
                        "[execution] policy, the broker fed the session's option quotes in "
                        "event time; adds intents.jsonl, fills.jsonl, positions.jsonl and "
                        "slippage.jsonl (docs/execution.md)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from spxcc_core.replay.bars import BarsCache
    from spxcc_core.replay.engine import DB_NAME, DEFAULT_STEP_MS, replay_session

    check_dependent_options(args)  # before any session is looked at
    sessions = expand_sessions(args.sessions)
    if wants_many(args, sessions):
        return run_many(args, sessions)
    bars = bars_cache_root(args, many=False)
    detectors = detector_names(args.detectors)
    db = store_path(args.db, args.out / DB_NAME)
    options = execute_options(args.execute, args.execute_option)
    profile = run_profile(args.profile)  # --profile, else the store's active profile
    result = replay_session(sessions[0], detectors=detectors, profile=profile,
                            out_dir=args.out, store=db,
                            step_ms=args.step_ms if args.step_ms is not None else DEFAULT_STEP_MS,
                            progress=None, chain=args.chain, fmt=args.fmt,
                            execute=args.execute, execute_options=options,
                            bars_cache=None if bars is None else BarsCache(bars))
    r = result.report
    o = r.outcomes
    hit = "n/a" if o.t1_hit_rate is None else f"{o.t1_hit_rate:.1%}"
    gap = r.detection.expectancy_gap_r
    exp = "n/a" if o.expectancy_r is None else f"{o.expectancy_r:+.2f}R gross"
    if gap is not None:
        exp += f" ({gap:+.2f}R gap-aware)"
    print(f"session {result.session_date}: {r.aggregation.events_in:,} events, "
          f"{r.outputs['microbars.jsonl']:,} bars, {o.setups} setups "
          f"({o.triggered} triggered), T1 hit rate {hit}, expectancy {exp}")
    for kind, part in r.detection.by_instrument.items():
        gates = part.gates
        reasons: dict[str, int] = {}
        for g in gates.values():
            for gate, n in g.reasons.items():
                reasons[gate] = reasons.get(gate, 0) + n
        why = ", ".join(f"{gate} {n}" for gate, n in sorted(reasons.items())) or "none"
        names = ", ".join(part.detectors) or "none"
        print(f"  {'option contracts' if kind == 'option' else kind} (detectors: {names}): "
              f"{sum(g.evaluated for g in gates.values())} candidates, "
              f"{sum(g.blocked for g in gates.values())} blocked (failed gates: {why}), "
              f"{sum(part.setups_by_detector.values())} setups")
    if not isinstance(r.execution, msgspec.UnsetType):
        for line in execution_lines(r.execution):
            print(line)
    for e in r.plugin_errors:
        print(f"plugin error: {e.plugin} ({e.hook}): {e.error}")
    print(f"outputs -> {args.out}")
    return 0
