"""``spxcc bars``: aggregate Massive trades and quotes into microbars (JSON Lines).

Writes one bar per line (wire names of ``--schema-version``, ordered by symbol then ``startMs``),
optionally the run report (one JSON object) and the quarantine (JSON Lines). Outputs are written
to temporary files next to their targets and renamed only when the whole run succeeded, so a
failed run leaves no partial output (:class:`spxcc_core.outputs.AtomicFiles`). An output that
is, contains or lies inside an input (or another output) is refused before anything is read
or written. Input errors stop the run with one line and exit code 2.

Start-up order matters for speed: the inputs are opened (their reader threads start inflating
and parsing) before the aggregation kernel, numba and the plugins are imported, so reading
overlaps those imports; the cyclic garbage collector is paused for the run.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import sys
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import msgspec

from spxcc_core.aggregate.config import ENGINES, AggregatorConfig
from spxcc_core.contracts.microbar import MICROBAR_VERSIONS
from spxcc_core.errors import ConfigError
from spxcc_core.outputs import AtomicFiles, check_paths

if TYPE_CHECKING:
    from spxcc_core.aggregate.columns import QuoteColumns, TradeColumns
    from spxcc_core.aggregate.report import RunReport
    from spxcc_core.contracts.microbar import MicrobarV2
    from spxcc_core.plugins import PluginFailure

__all__ = ["register"]

_ENCODER = msgspec.json.Encoder()
#: Events per batch handed to the batch engine when a websocket recording is read.
_WS_BATCH_EVENTS = 65_536


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("bars", help="aggregate trades and quotes into microbars (JSON Lines)",
                       description="Aggregate Massive trades and quotes into microbars.")
    p.add_argument("--trades", metavar="PATH", help="trades: flat file (.csv/.csv.gz) or REST "
                   "v3 pages (.json); omit to run without a trades feed")
    p.add_argument("--quotes", metavar="PATH", help="quotes: flat file or REST v3 pages; omit "
                   "to run without a quotes feed")
    p.add_argument("--ws", metavar="PATH", help="recorded websocket frames (one JSON array per "
                   "line, T and Q mixed) instead of --trades/--quotes")
    p.add_argument("--ticker", metavar="T", help="only this ticker's rows are events")
    p.add_argument("--interval-ms", default="1000", metavar="MS", help="bar length (default 1000)")
    p.add_argument("--stale-ms", default="2000", metavar="MS",
                   help="quote freshness window (default 2000)")
    p.add_argument("--lateness-ms", default="0", metavar="MS",
                   help="allowed lateness per feed (default 0)")
    p.add_argument("--engine", default="batch", metavar="batch|stream",
                   help="aggregation engine (same output; default batch)")
    p.add_argument("--schema-version", default="2", metavar="2|1",
                   help="microbar version written (default 2)")
    p.add_argument("--out", metavar="PATH", help="microbar JSON Lines output (required)")
    p.add_argument("--report", metavar="PATH", help="run report JSON output")
    p.add_argument("--quarantine", metavar="PATH", help="quarantined events JSON Lines output")
    p.set_defaults(func=_run)


def _int_option(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {text!r}") from None


def _config(args: argparse.Namespace) -> AggregatorConfig:
    ticker = args.ticker
    if ticker is not None and not ticker.strip():
        raise ConfigError("--ticker must not be empty")
    try:
        return AggregatorConfig(interval_ms=_int_option("--interval-ms", args.interval_ms),
                                stale_ms=_int_option("--stale-ms", args.stale_ms),
                                lateness_ms=_int_option("--lateness-ms", args.lateness_ms),
                                ticker=ticker)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("interval_ms", "--interval-ms")
                          .replace("stale_ms", "--stale-ms")
                          .replace("lateness_ms", "--lateness-ms")) from None


def _coalesce(frames: Iterator[tuple[TradeColumns, QuoteColumns]],
              ) -> Iterator[tuple[TradeColumns | None, QuoteColumns | None]]:
    """Websocket frames grouped into batches of about :data:`_WS_BATCH_EVENTS` events."""
    from spxcc_core.aggregate.columns import QuoteColumns, TradeColumns

    tparts: list[TradeColumns] = []
    qparts: list[QuoteColumns] = []
    n = 0
    for t, q in frames:
        if len(t):
            tparts.append(t)
        if len(q):
            qparts.append(q)
        n += len(t) + len(q)
        if n >= _WS_BATCH_EVENTS:
            yield (TradeColumns.concat(tparts) if tparts else None,
                   QuoteColumns.concat(qparts) if qparts else None)
            tparts, qparts, n = [], [], 0
    if tparts or qparts:
        yield (TradeColumns.concat(tparts) if tparts else None,
               QuoteColumns.concat(qparts) if qparts else None)


def _run(args: argparse.Namespace) -> int:
    with _no_cyclic_gc():
        return _bars(args)


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """The cyclic garbage collector paused inside (restored after). A run imports numba,
    pyarrow and the plugins — hundreds of thousands of long-lived objects that every collection
    would scan again (0.1–0.2 s of CPU) — and then makes no reference cycles of its own (bars,
    reports and arrays are freed by reference counting); compiling the kernel on a cold cache
    makes some, collected when the run ends (+60 MB peak memory on that first run)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _bars(args: argparse.Namespace) -> int:
    config = _config(args)
    engine = args.engine
    if engine not in ENGINES:
        raise ConfigError(f"--engine must be batch or stream, got {engine!r}")
    version = _int_option("--schema-version", args.schema_version)
    if version not in MICROBAR_VERSIONS:
        raise ConfigError(f"--schema-version must be 2 or 1, got {args.schema_version!r}")
    if args.ws and (args.trades or args.quotes):
        raise ConfigError("--ws cannot be combined with --trades or --quotes")
    if not (args.ws or args.trades or args.quotes):
        raise ConfigError("give --trades and/or --quotes, or --ws")
    if not args.out:
        raise ConfigError("--out is required")
    check_paths({"--out": args.out, "--report": args.report, "--quarantine": args.quarantine},
                {"--trades": args.trades, "--quotes": args.quotes, "--ws": args.ws})

    from spxcc_core import massive
    from spxcc_core.aggregate.columns import ConditionTable, SymbolTable

    symbols = SymbolTable()
    conditions = ConditionTable()
    ticker = config.ticker
    # Opening a flat file starts its reader threads: everything imported below overlaps them.
    if args.ws:
        feeds: tuple[str, ...] = ("trades", "quotes")
        frames = massive.iter_ws_frames(args.ws, ticker=ticker, symbols=symbols,
                                        conditions=conditions)
        batches: Any = frames if engine == "stream" else _coalesce(frames)
    else:
        t_iter = (massive.open_trades(args.trades, ticker=ticker, symbols=symbols,
                                      conditions=conditions) if args.trades else None)
        q_iter = (massive.open_quotes(args.quotes, ticker=ticker, symbols=symbols)
                  if args.quotes else None)
        feeds = tuple(f for f, it in (("trades", t_iter), ("quotes", q_iter)) if it is not None)
        batches = None

    from spxcc_core.aggregate.engine import aggregate_batches, interleave
    from spxcc_core.plugins import PluginFailures, get_plugin_manager
    from spxcc_core.registry import PluginRegistry

    if batches is None:
        batches = interleave(t_iter, q_iter)
    registry = PluginRegistry(get_plugin_manager(), PluginFailures())  # failures listed
    context = {"run_id": uuid.uuid4().hex, "engine": engine, "interval_ms": config.interval_ms}
    observe = registry.caller("spxcc_on_microbar")  # built once: it is called per bar

    def on_bar(bar: MicrobarV2) -> None:
        observe(bar=bar, context=context)

    targets = [args.out] + [p for p in (args.report, args.quarantine) if p]
    outputs = AtomicFiles(targets)
    try:
        result = aggregate_batches(batches, feeds=feeds, symbols=symbols, conditions=conditions,
                                   config=config, engine=engine, on_bar=on_bar)
        report = _with_errors(result.report, list(registry.failures))
        lines = registry.call("spxcc_on_run_end", report=msgspec.to_builtins(report),
                              context=context)
        report = _with_errors(result.report, list(registry.failures))
        bars: list[Any] = result.bars
        if version == 1:
            from spxcc_core.run.views import to_v1

            bars = [to_v1(b) for b in bars]
        files = iter(outputs.files)
        next(files).write(_ENCODER.encode_lines(bars))
        if args.report:
            next(files).write(_ENCODER.encode(report) + b"\n")
        if args.quarantine:
            next(files).write(_ENCODER.encode_lines(result.quarantine))
        outputs.commit()
    except BaseException:
        outputs.discard()
        raise
    print(f"spxcc bars: {report.bars_out} bars from {report.events_in} events "
          f"({report.applied} applied, {sum(report.quarantined.values())} quarantined, "
          f"{report.duplicates} duplicates) -> {args.out}", file=sys.stderr)
    for group in lines:
        for line in group:
            print(f"  {line}", file=sys.stderr)
    return 0


def _with_errors(report: RunReport, failures: list[PluginFailure]) -> RunReport:
    from spxcc_core.aggregate.report import PluginErrorRecord

    if not failures:
        return report
    return msgspec.structs.replace(report, plugin_errors=[
        PluginErrorRecord(plugin=f.plugin, hook=f.hook, error=f.error) for f in failures])
