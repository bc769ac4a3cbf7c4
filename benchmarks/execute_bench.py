"""Execution benchmark: ``replay --execute paper`` against the plain replay of the same session.

``run_execute_bench()`` generates (or reuses) the seeded sample session at ``scale`` (1 ≈ 1 M
events, option quotes about every 2 s per contract, so the default policy places orders),
ingests it once, replays it from the cache without and with execution (outputs computed, not
written), ``repeats`` times each after a warm-up, and reports the best time of each and their
ratio (target ≤ 1.25, issue 11). It prints and returns the figures; it never asserts on a time.

Run: ``python -m benchmarks --only execute`` or ``python -m benchmarks.execute_bench [--quick]``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import msgspec

from spxcc_core.replay.cache import ingest, is_session_cache
from spxcc_core.replay.engine import replay_session
from spxcc_core.sample import default_cache_root, generate_session

__all__ = ["run_execute_bench"]


def run_execute_bench(*, scale: float = 1.0, repeats: int = 3,
                      root: Path | None = None) -> dict[str, Any]:
    """Best-of-``repeats`` seconds of the plain and the executing replay, and their ratio."""
    base = Path(root) if root is not None else default_cache_root()
    sample = generate_session(base, seed=14, scale=scale)
    cache = base / f"cache-{sample.root.name}"
    if not is_session_cache(cache):
        ingest(sample.root, cache)
    replay_session(cache, execute="paper")  # warm-up: imports, numba, calendar
    best: dict[str, float] = {}
    orders = fills = 0
    for mode in ("plain", "execute"):
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            result = replay_session(cache, execute="paper" if mode == "execute" else None)
            times.append(time.perf_counter() - t)
            e = result.report.execution
            if not isinstance(e, msgspec.UnsetType):
                orders, fills = e.entries + sum(e.exits.values()), e.fills
        best[mode] = min(times)
    ratio = best["execute"] / best["plain"]
    figures = {"scale": scale, "events": result.report.aggregation.events_in,
               "plain_s": round(best["plain"], 3), "execute_s": round(best["execute"], 3),
               "ratio": round(ratio, 3), "orders": orders, "fills": fills,
               "target_ratio_met": ratio <= 1.25}
    print(f"replay {figures['events']:,} events: plain {best['plain']:.2f} s, "
          f"--execute paper {best['execute']:.2f} s ({orders} orders, {fills} fills), "
          f"ratio {ratio:.3f}x (target <= 1.25x)")
    return figures


if __name__ == "__main__":
    quick = "--quick" in sys.argv[1:]
    run_execute_bench(scale=0.2 if quick else 1.0, repeats=1 if quick else 3)
