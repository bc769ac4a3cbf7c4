"""``spxcc slippage report``: realized slippage per bucket from the store, paper and broker
fills apart, and a histogram of realized against the paper fill model's predicted slippage.

Prints a table per bucket (``rich``), or with ``--json`` one ``slippage_report@1`` object.
``--plot FILE.svg|FILE.png`` also writes the histogram (never over the store file). The store
must exist: a report never creates one. Formulas: ``docs/execution.md``.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import msgspec

from spxcc_core.cli.parser import examples
from spxcc_core.contracts.slippage import SlippageReport
from spxcc_core.errors import ConfigError
from spxcc_core.outputs import atomic_write, check_paths
from spxcc_core.slippage.model import FILL_KINDS
from spxcc_core.slippage.plot import histogram_scene, render_png, render_svg
from spxcc_core.slippage.report import MIN_BIN_DOLLARS, build_report
from spxcc_core.slippage.rolling import RollingConfig
from spxcc_core.slippage.store import SlippageStore
from spxcc_core.store import Store
from spxcc_core.store.existing import StoreRef
from spxcc_core.store.target import db_argument, store_file

__all__ = ["register"]

_encoder = msgspec.json.Encoder()
_PLOT_SUFFIXES = (".svg", ".png")
#: Short level names for the table (the JSON carries the full ones).
_SHORT_LEVEL = {"detector_time_spread": "d×t×s", "detector_time": "d×t", "detector": "d",
                "all": "all"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("slippage", help="realized slippage against the arrival quote",
                       description="Slippage of recorded fills against their arrival quote.")
    ssub = p.add_subparsers(dest="slippage_command", metavar="ACTION")
    ssub.required = True
    r = ssub.add_parser("report", help="rolling slippage per bucket, paper vs broker, histogram",
                        description="Rolling slippage (EWMA, p50, p90; dollars per contract, "
                                    "positive = cost) per bucket detector x time of day x "
                                    "spread regime and coarser, paper and broker fills apart.",
        **examples('spxcc slippage report --db trading.sqlite3', 'spxcc slippage report --db trading.sqlite3 --json --plot slippage.svg'))
    r.add_argument("--db", type=db_argument, default=None, metavar="PATH|URL",
                   help="store: an SQLite file or a postgresql:// URL (default: $SPXCC_DB or "
                        "the user data folder)")
    r.add_argument("--json", action="store_true", help="print one slippage_report@1 object")
    r.add_argument("--plot", type=Path, default=None, metavar="FILE",
                   help="write the histogram to FILE.svg or FILE.png")
    r.add_argument("--model", choices=FILL_KINDS, default="touch",
                   help="paper fill model kind for the predicted series (default touch, the "
                        "paper broker's default)")
    r.add_argument("--model-ticks", type=int, default=0, metavar="N",
                   help="ticks beyond the touch for --model touch_ticks (default 0)")
    r.add_argument("--model-tick", type=float, default=0.05, metavar="D",
                   help="the paper model's tick in dollars (default 0.05)")
    r.add_argument("--window", type=int, default=200, metavar="N",
                   help="fills per bucket for p50/p90 (default 200)")
    r.add_argument("--halflife", type=float, default=20.0, metavar="N",
                   help="EWMA half-life in fills (default 20)")
    r.add_argument("--bin-dollars", type=float, default=2.5, metavar="D",
                   help="histogram bin width in dollars per contract (default 2.5; doubled "
                        "until at most 60 bins)")
    r.set_defaults(func=_run_report)


def _config(args: argparse.Namespace) -> RollingConfig:
    try:
        return RollingConfig(window=args.window, halflife_fills=args.halflife, min_samples=1)
    except ValueError as exc:
        raise ConfigError(f"--window/--halflife: {exc}") from None


def _check_options(args: argparse.Namespace) -> None:
    if args.model_ticks < 0:
        raise ConfigError(f"--model-ticks: must be >= 0, got {args.model_ticks}")
    if not (math.isfinite(args.model_tick) and args.model_tick > 0):
        raise ConfigError(f"--model-tick: must be a finite number > 0, got {args.model_tick}")
    if not (math.isfinite(args.bin_dollars) and args.bin_dollars >= MIN_BIN_DOLLARS):
        raise ConfigError(f"--bin-dollars: must be a finite number >= {MIN_BIN_DOLLARS} (a "
                          f"hundredth of a cent per contract), got {args.bin_dollars}")
    if args.plot is not None and args.plot.suffix.lower() not in _PLOT_SUFFIXES:
        raise ConfigError(f"--plot {args.plot}: must end in .svg or .png")


def _run_report(args: argparse.Namespace) -> int:
    config = _config(args)
    _check_options(args)
    ref = StoreRef.of(args.db)
    ref.require("a report never creates one")
    db = ref.target
    if args.plot is not None:
        check_paths({"--plot": args.plot}, {"--db": store_file(db)})
    with Store(db) as store:
        slip = SlippageStore(store)
        report = build_report(list(slip.records()), slip.unavailable(), config=config,
                              model_kind=args.model, model_ticks=args.model_ticks,
                              model_tick=args.model_tick, bin_dollars=args.bin_dollars)
    if args.plot is not None:
        scene = histogram_scene(report.histogram, "Realized vs predicted slippage per fill")
        image = (render_png(scene) if args.plot.suffix.lower() == ".png"
                 else render_svg(scene))
        atomic_write({args.plot: image})
    if args.json:
        sys.stdout.write(_encoder.encode(report).decode() + "\n")
    else:
        _render(report, args.plot)
    return 0


def _money(value: float | None) -> str:
    return "—" if value is None else f"{value:+,.2f}"


def _render(report: SlippageReport, plot: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"Slippage per bucket — {report.fills_broker:,} broker and "
                        f"{report.fills_paper:,} paper fills (dollars per contract, + = cost; "
                        f"EWMA half-life {report.halflife_fills:g} fills, p50/p90 of the last "
                        f"{report.window:,})", title_justify="left")
    for name, justify in (("source", "left"), ("level", "left"), ("bucket", "left"),
                          ("fills", "right"), ("EWMA $", "right"), ("p50 $", "right"),
                          ("p90 $", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for b in report.buckets:
        table.add_row(b.source, _SHORT_LEVEL.get(b.level, b.level), b.label, f"{b.count:,}", _money(b.ewma_dollars),
                      _money(b.p50_dollars), _money(b.p90_dollars))
    if not report.buckets:
        table.add_row("—", "—", "no fills recorded", "0", "—", "—", "—")
    console.print(table)
    console.print("levels: d×t×s = detector × time of day × spread regime, d×t = detector × "
                  "time of day, d = detector, all = every fill of the source", soft_wrap=True)
    if report.fill_realism:
        realism = Table(title="Fill realism: broker EWMA − paper EWMA (+ = real fills cost more)",
                        title_justify="left")
        for name in ("level", "bucket", "broker fills", "paper fills", "broker $", "paper $",
                     "difference $"):
            realism.add_column(name, justify="left" if name in ("level", "bucket")
                               else "right")
        for f in report.fill_realism:
            realism.add_row(_SHORT_LEVEL.get(f.level, f.level), f.label, f"{f.broker_count:,}", f"{f.paper_count:,}",
                            _money(f.broker_ewma_dollars), _money(f.paper_ewma_dollars),
                            _money(f.difference_dollars))
        console.print(realism)
    for u in report.unavailable:
        console.print(f"not measured: {u.count:,} {u.source} fill(s), {u.reason}",
                      soft_wrap=True)
    h = report.histogram
    if h.unpredicted:
        console.print(f"the paper model ({h.model_kind}) could not fill {h.unpredicted:,} "
                      "of the arrival quotes (left out of the predicted series)", soft_wrap=True)
    if plot is not None:
        console.print(f"histogram written to {plot}", soft_wrap=True, highlight=False)
