"""Peak RSS and memory flatness of the engine from 1 M to 20 M events, one subprocess per size.

Each probe builds one synthetic day (≈ 1 M SPY events), then streams N events by replaying that
day on consecutive dates through the engine in 250,000-event batches, discarding bars as they
are emitted (a consumer that writes them out). RSS is sampled (psutil) after every batch; the
input never exceeds one day, so growth is the engine's own state. (``ru_maxrss`` is not used:
on Linux a child inherits the parent's high-water mark across fork/exec.)
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
from pathlib import Path

from benchmarks.registry import BenchContext, BenchResult, benchmark, rss_mb

_REPO = Path(__file__).resolve().parent.parent


def probe(events: int) -> dict[str, float]:
    """Run one probe in this process (see the module docstring)."""
    from benchmarks.data import build_workload, iter_repeated
    from spxcc_core.aggregate import AggregatorConfig, StreamingAggregator

    work = build_workload(1.0)
    gc.collect()
    baseline = rss_mb()
    agg = StreamingAggregator(AggregatorConfig(), symbols=work.symbols,
                              conditions=work.conditions)
    peak, bars = baseline, 0
    for t, q in iter_repeated(work, events, 250_000):
        bars += len(agg.push_events(t, q))
        peak = max(peak, rss_mb())
    bars += len(agg.close())
    peak = max(peak, rss_mb())
    return {"events": events, "baseline_mb": baseline, "peak_mb": peak,
            "growth_mb": peak - baseline, "bars": bars}


@benchmark("memory", "peak RSS and flatness from 1 M to 20 M events (subprocess per size)")
def bench_memory(ctx: BenchContext) -> BenchResult:
    res = BenchResult("memory")
    sizes = [1_000_000, 2_000_000, 5_000_000] if ctx.quick else \
        [1_000_000, 2_000_000, 5_000_000, 10_000_000, 20_000_000]
    peaks = []
    for n in sizes:
        proc = subprocess.run([sys.executable, "-m", "benchmarks.memory_bench", "--probe", str(n)],
                              cwd=_REPO, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            res.notes.append(f"{n:,} events: probe failed (exit {proc.returncode}): {tail[0]}")
            continue
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        peaks.append(out["peak_mb"])
        res.metric(f"peak RSS, {n / 1e6:g} M events", out["peak_mb"], "MiB",
                   f"baseline {out['baseline_mb']:.0f} MiB (one day of input), "
                   f"growth {out['growth_mb']:.1f} MiB, {out['bars']:,} bars")
    if len(peaks) == len(sizes):
        spread = (max(peaks) - min(peaks)) / min(peaks)
        res.metric("peak RSS spread", 100 * spread, "%")
        res.target("memory flat within 20%", spread <= 0.20, f"{100 * spread:.1f}%")
    else:
        res.target("memory flat within 20%", None, "not all probes ran")
    return res


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--probe", type=int, required=True)
    args = parser.parse_args()
    print(json.dumps(probe(args.probe)))


if __name__ == "__main__":
    main()
