"""End to end on flat files: ``spxcc bars`` on the sample's ``.csv.gz`` (parsing and writing
included, a fresh process) vs polars reading the same files and aggregating (in process)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.polars_reference import (
    compare_bars,
    compare_reports,
    microbars,
    read_quotes_csv,
    read_trades_csv,
)
from benchmarks.registry import BenchContext, BenchResult, benchmark

_REPO = Path(__file__).resolve().parent.parent
_CLI = "import sys; from spxcc_core.cli import main; sys.exit(main())"


def _spxcc_bars(trades: Path, quotes: Path, out: Path, report: Path) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _CLI, "bars", "--trades", str(trades), "--quotes", str(quotes),
         "--ticker", "SPY", "--out", str(out), "--report", str(report)],
        cwd=_REPO, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        return seconds, (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
    return seconds, ""


@benchmark("e2e", "spxcc bars on .csv.gz flat files vs polars read + aggregate")
def bench_e2e(ctx: BenchContext) -> BenchResult:
    from spxcc_core.sample import generate_session

    res = BenchResult("e2e")
    scale = 1.0 if ctx.quick else 10.0
    t0 = time.perf_counter()
    session = generate_session(ctx.cache_dir, scale=scale)
    res.metric("sample files ready", time.perf_counter() - t0, "s",
               ("reused " if session.reused else "generated ") + str(session.root))
    tp = session.paths["us_stocks_sip/trades_v1"]
    qp = session.paths["us_stocks_sip/quotes_v1"]
    events = session.counts["us_stocks_sip/trades_v1"] + session.counts["us_stocks_sip/quotes_v1"]
    out, rep = ctx.workdir / "bars.jsonl", ctx.workdir / "report.json"
    runs = [_spxcc_bars(tp, qp, out, rep) for _ in range(1 if ctx.quick else 2)]
    errors = [e for _, e in runs if e]
    if errors:
        res.notes.append(f"spxcc bars failed: {errors[0]}")
        res.target("end-to-end >= polars", None, "spxcc bars did not run")
        return res
    t_cli = min(s for s, _ in runs)

    def polars_run() -> object:
        return microbars(read_trades_csv(tp, "SPY"), read_quotes_csv(qp, "SPY"), ticker="SPY")

    t1 = time.perf_counter()
    ref = polars_run()
    t_pl = time.perf_counter() - t1
    res.metric("events", events, "events", f"{tp.stat().st_size + qp.stat().st_size:,} gz bytes")
    res.metric("spxcc bars (process)", events / t_cli, "events/s", f"{t_cli:.2f} s wall")
    res.metric("polars read + aggregate", events / t_pl, "events/s", f"{t_pl:.2f} s")
    res.metric("spxcc bars / polars", t_pl / t_cli, "x")
    res.target("end-to-end >= polars", t_pl >= t_cli, f"{t_pl / t_cli:.2f}x")
    bars = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    res.disagreements += compare_bars(ref.bars, bars)  # type: ignore[attr-defined]
    res.disagreements += compare_reports(ref.report,  # type: ignore[attr-defined]
                                         json.loads(rep.read_text()))
    return res
