"""End to end on flat files: ``spxcc bars`` on the sample's ``.csv.gz`` against the fast polars
pipeline (:mod:`benchmarks.polars_fast`) on the same files, same bars.

Both sides run as fresh processes (interpreter start, imports, reading, aggregating, writing the
bars as JSON Lines), interleaved, several times; the figures are the ratio of the best times and
the median of the per-round ratios, so a machine busy with other work shifts both sides alike.
The polars pipeline is also timed in this process (polars already imported) for the stricter
comparison. Lever variants of ``spxcc bars`` (Arrow's reader, stdlib zlib, no reader threads)
show what each change gives. Outputs are checked against the fast pipeline and the oracle.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.polars_fast import flat_file_bars
from benchmarks.polars_reference import (
    compare_bars,
    compare_reports,
    microbars,
    read_quotes_csv,
    read_trades_csv,
)
from benchmarks.registry import BenchContext, BenchResult, benchmark

_REPO = Path(__file__).resolve().parent.parent
_CLI = "from spxcc_core.cli import console_main; console_main()"  # as the spxcc script

#: ``spxcc bars`` variants: name → environment switches (see docs/performance.md, levers).
VARIANTS: dict[str, dict[str, str]] = {
    "spxcc bars": {},  # reader threads when the load average leaves a core free
    "spxcc bars, reader threads always": {"SPXCC_READ_THREADS": "1"},
    "spxcc bars, Arrow CSV reader + Arrow zlib, one thread": {
        "SPXCC_FLATFILE_READER": "arrow", "SPXCC_READ_THREADS": "0"},
    "spxcc bars, fast parser + stdlib zlib, one thread": {
        "SPXCC_INFLATE": "zlib", "SPXCC_READ_THREADS": "0"},
    "spxcc bars, fast parser + ISA-L, one thread": {"SPXCC_READ_THREADS": "0"},
}


def _children_cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def _process(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (all threads) and the last error line of a fresh process."""
    t0, c0 = time.perf_counter(), _children_cpu()
    proc = subprocess.run([sys.executable, *args], cwd=_REPO, capture_output=True, text=True,
                          check=False, env={**os.environ, **env})
    seconds, cpu = time.perf_counter() - t0, _children_cpu() - c0
    if proc.returncode != 0:
        return seconds, cpu, (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
    return seconds, cpu, ""


def _compile_bytecode() -> None:
    """Write the ``.pyc`` files of the checkout's packages, as ``pip install`` does for an
    installed package (polars' are there): where ``PYTHONDONTWRITEBYTECODE`` is set, an
    editable checkout would otherwise compile its sources in every process (0.15–0.25 s)."""
    import compileall

    for folder in ("spxcc_core", "plugins", "benchmarks"):
        compileall.compile_dir(_REPO / folder, quiet=1)


@benchmark("e2e", "spxcc bars on .csv.gz flat files vs the fast polars pipeline (ratios)")
def bench_e2e(ctx: BenchContext) -> BenchResult:
    from spxcc_core.sample import generate_session

    res = BenchResult("e2e")
    scale = 1.0 if ctx.quick else 3.0
    rounds = 2 if ctx.quick else 5
    t0 = time.perf_counter()
    session = generate_session(ctx.cache_dir, scale=scale)
    res.metric("sample files ready", time.perf_counter() - t0, "s",
               ("reused " if session.reused else "generated ") + str(session.root))
    tp = session.paths["us_stocks_sip/trades_v1"]
    qp = session.paths["us_stocks_sip/quotes_v1"]
    events = session.counts["us_stocks_sip/trades_v1"] + session.counts["us_stocks_sip/quotes_v1"]
    out, rep = ctx.workdir / "bars.jsonl", ctx.workdir / "report.json"
    files = ["--trades", str(tp), "--quotes", str(qp), "--ticker", "SPY"]
    ours = ["-c", _CLI, "bars", *files, "--out", str(out), "--report", str(rep)]
    polars_cmd = ["-m", "benchmarks.polars_fast", *files, "--out", str(ctx.workdir / "pl.jsonl")]
    variants = VARIANTS if not ctx.quick else {"spxcc bars": {}}

    _compile_bytecode()
    _process(ours, {})  # numba cache and page cache warm, outside the timing
    names = (*variants, "polars process", "polars in process")
    times: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(rounds):
        for name, env in variants.items():
            seconds, used, error = _process(ours, env)
            if error:
                res.notes.append(f"{name} failed: {error}")
                res.target("end-to-end >= 1.5x fast polars", None, "spxcc bars did not run")
                return res
            times[name].append(seconds)
            cpu[name].append(used)
        seconds, used, _ = _process(polars_cmd, {})
        times["polars process"].append(seconds)
        cpu["polars process"].append(used)
        t1, c1 = time.perf_counter(), time.process_time()
        fast = flat_file_bars(tp, qp, ticker="SPY")
        times["polars in process"].append(time.perf_counter() - t1)
        cpu["polars in process"].append(time.process_time() - c1)

    load = os.getloadavg()[0]
    res.metric("events", events, "events", f"{tp.stat().st_size + qp.stat().st_size:,} gz bytes")
    best = {name: min(v) for name, v in times.items()}
    for name in times:
        res.metric(name, events / best[name], "events/s",
                   f"best {best[name]:.2f} s of {rounds}; CPU {min(cpu[name]):.2f} s")
    ratios = [p / o for p, o in zip(times["polars process"], times["spxcc bars"], strict=True)]
    ratio_best = best["polars process"] / best["spxcc bars"]
    res.metric("fast polars process / spxcc bars (best)", ratio_best, "x",
               f"median of rounds {statistics.median(ratios):.2f}x; load avg {load:.1f} "
               f"on {os.cpu_count()} CPUs")
    res.metric("fast polars process / spxcc bars (CPU seconds)",
               min(cpu["polars process"]) / min(cpu["spxcc bars"]), "x",
               "least CPU time of each, all threads: less sensitive to other load")
    res.metric("fast polars in process / spxcc bars (best)",
               best["polars in process"] / best["spxcc bars"], "x",
               "polars already imported: no interpreter start or import on its side")
    for name in variants:
        if name != "spxcc bars":
            res.metric(f"speed-up over '{name}'", best[name] / best["spxcc bars"], "x")
    res.target("end-to-end >= 1.5x fast polars", ratio_best >= 1.5, f"{ratio_best:.2f}x")

    bars = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    report = json.loads(rep.read_text())
    res.disagreements += compare_bars(fast.bars, bars)
    res.disagreements += compare_reports(fast.report, report)
    if not ctx.quick:  # the oracle: agreement only, its time says nothing about speed
        t2 = time.perf_counter()
        oracle = microbars(read_trades_csv(tp, "SPY"), read_quotes_csv(qp, "SPY"), ticker="SPY")
        res.metric("oracle (polars_reference), not a speed anchor",
                   events / (time.perf_counter() - t2), "events/s")
        res.disagreements += compare_bars(oracle.bars, bars)
        res.disagreements += compare_reports(oracle.report, report)
    return res
