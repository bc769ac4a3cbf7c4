"""``spxcc demo``: generate (or reuse) the seeded sample session, summarise its microbars and
replay it end to end.

Steps, each a function so later issues can extend the demo:
:func:`prepare_session` → :func:`aggregate_spy` and :func:`aggregate_options` (the SPXW 0DTE
contracts: quote coverage of wings where nobody bids, ``spec/microbar.md`` revision 2026-12-06)
→ :func:`replay_demo` (session cache, the full
replay pipeline: aggregation, detectors, gating, outcomes, SQLite store) →
:func:`store_summary` (read back from the embedded store) → :func:`render` /
:func:`render_replay`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import msgspec

from spxcc_core.cli.runargs import db_argument
from spxcc_core.contracts.execution import SlippageBucket
from spxcc_core.contracts.replay import DetectionReport
from spxcc_core.errors import ConfigError
from spxcc_core.replay.wire import ReplayReport, ReplayResult
from spxcc_core.sample import DEFAULT_DATE, DEFAULT_SEED, SampleSession, generate_session
from spxcc_core.sample.summary import BarSummary, summarize_bars

__all__ = [
    "ExecutionSummary",
    "GammaAtClose",
    "InstrumentSummary",
    "ReplaySummary",
    "aggregate_options",
    "aggregate_spy",
    "execution_summary",
    "gamma_at_close",
    "prepare_session",
    "register",
    "render",
    "render_options",
    "render_replay",
    "replay_demo",
    "store_summary",
]

TICKER = "SPY"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="generate a sample session and summarise its microbars",
                       description="Generate (or reuse) a seeded SPY / I:SPX / SPXW 0DTE "
                       "session as Massive flat files and summarise its SPY microbars.")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="generator seed (default 14)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="event density: 1 ≈ 1 M events (default), 10 ≈ 10 M")
    p.add_argument("--date", type=_date, default=DEFAULT_DATE,
                   help=f"session date, YYYY-MM-DD (default {DEFAULT_DATE})")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="folder for generated sessions (default: the user cache folder)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--db", type=db_argument, default=None, metavar="PATH|URL",
                   help="store of the replay, an SQLite file or a postgresql:// URL "
                        "(default: spxcc.sqlite3 in the replay output folder next to the "
                        "session)")
    p.add_argument("--no-replay", action="store_true",
                   help="only summarise the SPY microbars (skip the replay)")
    p.add_argument("--no-execute", action="store_true",
                   help="replay without executing (by default the replay executes triggered "
                        "setups on the paper broker: orders, fills, P&L, slippage)")
    p.set_defaults(func=_run)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from None


def prepare_session(seed: int, scale: float, date: dt.date,
                    cache_dir: Path | None) -> SampleSession:
    """The sample session on disk (generated once, then reused)."""
    return generate_session(cache_dir, seed=seed, date=date, scale=scale)


def aggregate_spy(session: SampleSession) -> BarSummary:
    """SPY microbars of ``session`` (batch engine, default config), summarised."""
    return _aggregate(session, "us_stocks_sip", TICKER)


def aggregate_options(session: SampleSession) -> BarSummary:
    """Microbars of every SPXW 0DTE contract of ``session`` (batch engine, default config),
    summarised. Far out of the money nobody bids (Massive writes bid ``0 × 0``): those quotes
    are one-sided and count in ``quoteCoveragePct`` like any valid quote."""
    return _aggregate(session, "us_options_opra", None)


def _aggregate(session: SampleSession, market: str, ticker: str | None) -> BarSummary:
    from spxcc_core.aggregate import AggregatorConfig, aggregate_columns
    from spxcc_core.aggregate.columns import ConditionTable, SymbolTable
    from spxcc_core.massive import open_quotes, open_trades

    symbols, conditions = SymbolTable(), ConditionTable()
    trades = open_trades(session.paths[f"{market}/trades_v1"], ticker=ticker,
                         symbols=symbols, conditions=conditions)
    quotes = open_quotes(session.paths[f"{market}/quotes_v1"], ticker=ticker, symbols=symbols)
    result = aggregate_columns(trades, quotes, symbols=symbols, conditions=conditions,
                               config=AggregatorConfig(ticker=ticker), engine="batch")
    r = result.report
    return summarize_bars(result.bars, events_in=r.events_in, applied=r.applied,
                          quarantined=r.quarantined, duplicates=r.duplicates)


class GammaAtClose(msgspec.Struct, kw_only=True, frozen=True, rename="camel"):
    """The gamma context at the close: ``underlying`` and ``spot`` (index points), ``as_of_ms``
    (epoch ms), ``net_gex`` (Σ GEX over strikes, dollars per 1% move), the strike with the
    largest ``|net GEX|`` and that GEX, the ``source`` (``oi_baseline`` or
    ``oi_baseline+flow_proxy``) and the ``sign_convention``; ``symbol`` is the bar stream it
    was published on (``SPY``)."""

    symbol: str
    underlying: str
    spot: float
    as_of_ms: int
    net_gex: float
    max_strike: float | None
    max_strike_gex: float | None
    source: str
    sign_convention: str


class InstrumentSummary(msgspec.Struct, kw_only=True, frozen=True, rename="camel"):
    """Setups and gate blocks of one instrument kind (``underlying`` or ``option``), from the
    replay report's ``detection.byInstrument``: the ``detectors`` that run on that kind (the
    built-ins run on the underlying only), candidates ``evaluated`` and ``blocked``,
    ``gate_blocks`` (detector → gate → candidates), setups by detector, ``triggered``, the T1
    hit rate and the gross and gap-aware expectancy (None when nothing closed)."""

    detectors: list[str]
    evaluated: int
    blocked: int
    gate_blocks: dict[str, dict[str, int]]
    setups_by_detector: dict[str, int]
    triggered: int
    t1_hit_rate: float | None
    expectancy_r: float | None
    expectancy_gap_r: float | None


class ReplaySummary(msgspec.Struct, kw_only=True, frozen=True, rename="camel"):
    """What the demo reports about its replay.

    ``bars`` are the microbars of every symbol; ``setups_by_detector``, ``statuses``,
    ``t1_hit_rate`` (T1 reached / triggered, None when nothing triggered) and ``expectancy_r``
    (mean realized R over closed triggered setups, None when none) are read back from the
    SQLite store. ``expectancy_r`` is **gross**: fills exactly at the entry and the stop;
    ``expectancy_gap_r`` is the same mean with fills at a bar's open when it gapped past the
    entry or the stop (from the report; see :mod:`spxcc_core.setups.lifecycle`).
    ``gate_blocks`` maps detector → gate → candidates blocked (from the report);
    ``by_instrument`` splits setups and blocks between the ``underlying`` and ``option``
    contracts. ``out_dir`` and ``db`` are where the outputs and the store are. ``gamma`` is
    the gamma context at the RTH close (the ``gamma`` provider's session-end value; None
    without a chain snapshot).
    """

    session_id: str
    bars: int
    setups_by_detector: dict[str, int]
    statuses: dict[str, int]
    triggered: int
    t1_hits: int
    t1_hit_rate: float | None
    expectancy_r: float | None
    expectancy_gap_r: float | None
    gate_blocks: dict[str, dict[str, int]]
    by_instrument: dict[str, InstrumentSummary]
    plugin_errors: list[str]
    out_dir: str
    db: str
    gamma: GammaAtClose | None = None
    execution: ExecutionSummary | None = None


class ExecutionSummary(msgspec.Struct, kw_only=True, frozen=True, rename="camel"):
    """What the demo's paper execution did (from the report's ``execution`` section):
    ``orders`` intents sent (entries + exits), ``fills`` and ``filled_contracts``,
    ``realized_pnl`` dollars and ``realized_r`` (sum of the closed entries' R),
    ``open_positions`` in the end-of-session book, ``skipped`` triggered setups without an
    entry by reason, ``slippage`` by time-of-day bucket (mean dollars and ticks per contract,
    positive a cost)."""

    broker: str
    orders: int
    entries: int
    exits: int
    fills: int
    filled_contracts: float
    realized_pnl: float
    realized_r: float
    open_positions: int
    skipped: dict[str, int]
    slippage: dict[str, SlippageBucket]


def execution_summary(report: ReplayReport) -> ExecutionSummary | None:
    """The execution part of the demo summary (None for a replay that did not execute)."""
    e = report.execution
    if isinstance(e, msgspec.UnsetType):
        return None
    exits = sum(e.exits.values())
    return ExecutionSummary(broker=e.broker, orders=e.entries + exits, entries=e.entries,
                            exits=exits, fills=e.fills, filled_contracts=e.filled_contracts,
                            realized_pnl=e.realized_pnl, realized_r=e.realized_r,
                            open_positions=e.open_positions, skipped=dict(e.skipped),
                            slippage=dict(e.slippage))


def instrument_summaries(detection: DetectionReport) -> dict[str, InstrumentSummary]:
    """``detection.byInstrument`` of a replay report as :class:`InstrumentSummary` values."""
    out: dict[str, InstrumentSummary] = {}
    for kind, part in detection.by_instrument.items():
        gates = part.gates
        out[kind] = InstrumentSummary(
            detectors=list(part.detectors),
            evaluated=sum(g.evaluated for g in gates.values()),
            blocked=sum(g.blocked for g in gates.values()),
            gate_blocks={n: dict(g.reasons) for n, g in gates.items() if g.reasons},
            setups_by_detector=dict(part.setups_by_detector),
            triggered=part.stats.triggered, t1_hit_rate=part.stats.t1_hit_rate,
            expectancy_r=part.stats.expectancy_r, expectancy_gap_r=part.expectancy_gap_r)
    return out


def gamma_at_close(report: ReplayReport) -> GammaAtClose | None:
    """The first ``gamma`` session-end value of the replay report (None when there is none)."""
    for symbols in (report.detection.session_end or {}).values():
        for symbol, values in symbols.items():
            g = values.get("gamma")
            if not isinstance(g, dict):
                continue
            strikes = g.get("strikes") or []
            top = max(strikes, key=lambda s: abs(s["netGex"])) if strikes else None
            return GammaAtClose(
                symbol=symbol, underlying=g["underlying"], spot=g["spot"],
                as_of_ms=g["asOfMs"], net_gex=g["totalGex"],
                max_strike=None if top is None else top["strike"],
                max_strike_gex=None if top is None else top["netGex"], source=g["source"],
                sign_convention=g["signConvention"])
    return None


def replay_demo(session: SampleSession, db: str | Path | None, *,
                execute: str | None = "paper") -> tuple[ReplayResult, Path, str | Path]:
    """Ingest the session into its cache (once) and replay it end to end, executing on the
    ``execute`` broker (None: detect only).

    The cache is ``<cache root>/cache-<session folder>`` (ingested again when the session has
    a chain snapshot the cache lacks), outputs go to ``<cache root>/replay-<session folder>``;
    the store is ``db`` or ``spxcc.sqlite3`` there.
    :returns: the replay result, the output folder and the store (file or URL).
    """
    from spxcc_core.outputs import MARKER, check_paths, mark_owned
    from spxcc_core.replay.cache import ingest, is_session_cache, open_cache
    from spxcc_core.replay.engine import DB_NAME, replay_session
    from spxcc_core.store.target import store_file

    root = session.root.parent
    cache = root / f"cache-{session.root.name}"
    out = root / f"replay-{session.root.name}"
    store = db if db is not None else out / DB_NAME
    check_paths({"--db": store_file(store)},
                {"sample session": session.root, "session cache": cache})
    if not is_session_cache(cache) or (
            session.chain is not None and open_cache(cache).manifest.chain_snapshot is None):
        if is_session_cache(cache) and not (cache / MARKER).exists():
            mark_owned(cache, "session cache")  # the demo's own cache, made before marking
        ingest(session.root, cache)
    result = replay_session(cache, out_dir=out, store=store, progress=None, execute=execute)
    return result, out, store


def store_summary(result: ReplayResult, out_dir: Path, db: str | Path) -> ReplaySummary:
    """Setup counts and outcomes of the replayed session as stored in the SQLite store (rows
    of this session and profile only), plus bars and gate-block reasons from the report."""
    from spxcc_core.store.sqlite import Store

    report = result.report
    session_id = result.session_date
    profile_hash = report.detection.profile.hash
    where = "WHERE session_id = ? AND profile_hash = ?"
    args = (session_id, profile_hash)
    with Store(db) as store:
        conn, location = store.conn, store.location
        by_detector = {r[0]: r[1] for r in conn.execute(
            f"SELECT detector, COUNT(*) FROM spx_setup_instances {where} "
            "GROUP BY detector ORDER BY detector", args)}
        statuses = {r[0]: r[1] for r in conn.execute(
            f"SELECT status, COUNT(*) FROM spx_setup_instances {where} "
            "GROUP BY status ORDER BY status", args)}
        triggered, t1_hits, expectancy = conn.execute(
            "SELECT COUNT(*), COUNT(t1_ms), AVG(CASE WHEN closed_ms IS NOT NULL "
            "THEN realized_r END) FROM spx_setup_instances "
            f"{where} AND triggered_ms IS NOT NULL", args).fetchone()
    blocks = {name: dict(g.reasons) for name, g in report.detection.gates.items() if g.reasons}
    return ReplaySummary(
        session_id=session_id, bars=report.outputs["microbars.jsonl"],
        setups_by_detector=by_detector, statuses=statuses, triggered=triggered,
        t1_hits=t1_hits, t1_hit_rate=t1_hits / triggered if triggered else None,
        expectancy_r=expectancy, expectancy_gap_r=report.detection.expectancy_gap_r,
        gate_blocks=blocks, by_instrument=instrument_summaries(report.detection),
        plugin_errors=[f"{e.plugin} ({e.hook}): {e.error}" for e in report.plugin_errors],
        out_dir=str(out_dir), db=location, gamma=gamma_at_close(report),
        execution=execution_summary(report))


def render_replay(summary: ReplaySummary) -> None:
    """Print the replay summary with ``rich``."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"Replay — session {summary.session_id} (all symbols, default "
                        "profile)", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("microbars (all symbols)", f"{summary.bars:,}")
    for name, n in summary.setups_by_detector.items():
        table.add_row(f"setups: {name}", f"{n:,}")
    if not summary.setups_by_detector:
        table.add_row("setups", "0")
    if not summary.by_instrument:  # a report without the split (older runs)
        for name, gates in summary.gate_blocks.items():
            for gate, n in gates.items():
                table.add_row(f"blocked: {name} / {gate}", f"{n:,}")
    for status, n in summary.statuses.items():
        table.add_row(f"outcome: {status}", f"{n:,}")
    table.add_row("triggered / T1 reached", f"{summary.triggered:,} / {summary.t1_hits:,}")
    table.add_row("T1 hit rate", _fmt(summary.t1_hit_rate, ".1%"))
    table.add_row("expectancy (R), gross", _fmt(summary.expectancy_r, "+.2f"))
    table.add_row("expectancy (R), gap-aware", _fmt(summary.expectancy_gap_r, "+.2f"))
    for kind, part in summary.by_instrument.items():
        label = "option contracts" if kind == "option" else kind
        setups = sum(part.setups_by_detector.values())
        table.add_row(f"{label}: detectors", ", ".join(part.detectors) or "none (by default)")
        table.add_row(f"{label}: candidates / blocked / setups",
                      f"{part.evaluated:,} / {part.blocked:,} / {setups:,}")
        for name, gates in part.gate_blocks.items():
            for gate, n in gates.items():
                table.add_row(f"{label}: blocked {name} / {gate}", f"{n:,}")
        table.add_row(f"{label}: expectancy (R), gross / gap-aware",
                      f"{_fmt(part.expectancy_r, '+.2f')} / {_fmt(part.expectancy_gap_r, '+.2f')}")
    g = summary.gamma
    if g is None:
        table.add_row("gamma at close", "— (no chain snapshot)")
    else:
        table.add_row(f"gamma at close: {g.underlying} spot", f"{g.spot:,.2f}")
        table.add_row("gamma at close: net GEX ($ per 1% move)", f"{g.net_gex:+,.0f}")
        table.add_row("gamma at close: largest |GEX| strike",
                      "—" if g.max_strike is None or g.max_strike_gex is None else
                      f"{g.max_strike:,.0f} ({g.max_strike_gex:+,.0f})")
        table.add_row("gamma at close: source", g.source)
    x = summary.execution
    if x is not None:
        table.add_row(f"execution ({x.broker}): orders (entries / exits)",
                      f"{x.orders:,} ({x.entries:,} / {x.exits:,})")
        table.add_row("execution: fills (contracts)", f"{x.fills:,} ({x.filled_contracts:g})")
        table.add_row("execution: realized P&L", f"${x.realized_pnl:+,.2f} ({x.realized_r:+.2f}R)")
        table.add_row("execution: open positions at the end", f"{x.open_positions:,}")
        for why, n in x.skipped.items():
            table.add_row(f"execution: no entry, {why}", f"{n:,}")
        for name, b in x.slippage.items():
            value = f"${b.mean_dollars:+.2f} / {b.mean_ticks:+.2f} ticks"
            table.add_row(f"slippage per contract, {name} ({b.fills} fills)", value)
    console.print(table)
    console.print("Expectancy: gross = fills exactly at the entry and the stop; gap-aware = "
                  "fills at a bar's open when it gapped past them (no slippage, no fees).",
                  highlight=False)
    for line in summary.plugin_errors:
        console.print(f"plugin error: {line}", highlight=False)
    console.print(f"Replay outputs in {summary.out_dir}; store {summary.db}", highlight=False,
                  soft_wrap=True)


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def render_options(summary: BarSummary) -> None:
    """Print the SPXW option microbar summary with ``rich``."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="SPXW 0DTE option microbars (all contracts)", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("bars (1 s)", f"{summary.bars:,}")
    table.add_row("mean quote coverage", f"{summary.mean_quote_coverage_pct:.1f} %")
    table.add_row("mean spread (two-sided time)", _fmt(summary.mean_spread_bps, ",.0f") + " bps")
    table.add_row("events in / applied", f"{summary.events_in:,} / {summary.applied:,}")
    for reason, n in summary.quarantined.items():
        table.add_row(f"quarantined: {reason}", f"{n:,}")
    Console().print(table)


def render(session: SampleSession, summary: BarSummary, seconds: float) -> None:
    """Print the summary table and the file locations with ``rich``."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"SPY microbars — {session.date} (seed {session.seed}, "
                        f"scale {session.scale:g})", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("bars (1 s)", f"{summary.bars:,}"),
        ("volume (shares)", f"{summary.volume:,.0f}"),
        ("session VWAP", _fmt(summary.vwap, ",.4f")),
        ("delta volume (shares)", f"{summary.delta_volume:+,.0f}"),
        ("mean quote coverage", f"{summary.mean_quote_coverage_pct:.1f} %"),
        ("mean spread", _fmt(summary.mean_spread_bps, ".3f") + " bps"),
        ("askBidSizeRatio > 3 (heavy offer)", f"{summary.heavy_offer_share:.1%}"),
        ("askBidSizeRatio < 0.33 (heavy bid)", f"{summary.heavy_bid_share:.1%}"),
        ("events in / applied", f"{summary.events_in:,} / {summary.applied:,}"),
    ]
    for k, v in rows:
        table.add_row(k, v)
    for reason, n in summary.quarantined.items():
        table.add_row(f"quarantined: {reason}", f"{n:,}")
    console.print(table)
    verb = "reused" if session.reused else "generated"
    console.print(f"Session {verb} in {session.root} ({session.total_events:,} events, "
                  f"{seconds:.1f} s total):")
    for dataset, path in session.paths.items():
        console.print(f"  {dataset:27} {session.counts[dataset]:>10,} rows  {path}",
                      highlight=False, soft_wrap=True)


def _run(args: argparse.Namespace) -> int:
    if args.cache_dir is not None and args.cache_dir.exists() and not args.cache_dir.is_dir():
        raise ConfigError(f"--cache-dir {args.cache_dir}: not a folder")
    if isinstance(args.db, Path) and not args.no_replay:
        from spxcc_core.store.sqlite import check_file

        check_file(args.db)  # a foreign or damaged store fails before the session is built
    start = time.perf_counter()
    session = prepare_session(args.seed, args.scale, args.date, args.cache_dir)
    summary = aggregate_spy(session)
    options = aggregate_options(session)
    replay: ReplaySummary | None = None
    if not args.no_replay:
        result, out_dir, db = replay_demo(session, args.db,
                                          execute=None if args.no_execute else "paper")
        replay = store_summary(result, out_dir, db)
    if args.json:
        out = {"session": {"root": str(session.root), "seed": session.seed,
                           "date": session.date.isoformat(), "scale": session.scale,
                           "reused": session.reused, "counts": session.counts,
                           "paths": {k: str(p) for k, p in session.paths.items()}},
               "summary": msgspec.to_builtins(summary),
               "options": msgspec.to_builtins(options),
               "replay": None if replay is None else msgspec.to_builtins(replay)}
        sys.stdout.write(msgspec.json.encode(out).decode() + "\n")
    else:
        render(session, summary, time.perf_counter() - start)
        render_options(options)
        if replay is not None:
            render_replay(replay)
    return 0
