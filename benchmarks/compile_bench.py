"""First-call compile time of the aggregation kernel (empty numba cache) vs a cached load.

Two fresh subprocesses share a new ``NUMBA_CACHE_DIR``: the first compiles and writes the
cache, the second loads it. Each reports the time of its first tiny aggregation call (import
included).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.registry import BenchContext, BenchResult, benchmark

_REPO = Path(__file__).resolve().parent.parent
_PROBE = """
import json, time
t0 = time.perf_counter()
from spxcc_core.aggregate import aggregate_events
from spxcc_core.contracts.market import Quote, Trade
aggregate_events([Trade(symbol="X", ts=1_000_000, price=10.0, size=1.0)],
                 [Quote(symbol="X", ts=0, bid=9.99, bid_size=1.0, ask=10.01, ask_size=1.0)])
print(json.dumps({"seconds": time.perf_counter() - t0}))
"""


def _probe(cache: str) -> float | str:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    proc = subprocess.run([sys.executable, "-c", _PROBE], cwd=_REPO, env=env,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return (proc.stderr.strip().splitlines() or ["failed"])[-1]
    return float(json.loads(proc.stdout.strip().splitlines()[-1])["seconds"])


@benchmark("compile", "kernel first-call compile time vs cached load (fresh processes)")
def bench_compile(ctx: BenchContext) -> BenchResult:
    res = BenchResult("compile")
    with tempfile.TemporaryDirectory(prefix="spxcc-numba-") as cache:
        cold = _probe(cache)
        warm = _probe(cache)
    for label, value in (("first call, empty cache", cold), ("first call, cached", warm)):
        if isinstance(value, str):
            res.notes.append(f"{label}: {value}")
            res.metric(label, None, "s")
        else:
            res.metric(label, value, "s", "import + first tiny aggregation")
    return res
