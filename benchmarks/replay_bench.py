"""Replay benchmark: a full synthetic session from the session cache, and ten sessions on a
two-worker executor against one after another.

``run_replay_bench()`` generates (or reuses) the seeded sample session at ``scale`` (10 ≈ 8 M
SPY quotes + 2 M SPY trades + SPXW options + I:SPX values), ingests it once into a session cache
(timed separately) and times :func:`~spxcc_core.replay.engine.replay_session` from the cache:
aggregation, ``spxcc_on_microbar`` observers, the three built-in detectors, gating, outcome
tracking and the SQLite store, outputs computed (not written). A warm-up replay of a small session
runs first so numba's compile is not counted. Then ``sessions`` sample sessions (seeds 1..N, at
``many_scale``) are replayed one after another and through :func:`replay_many` on a two-worker
process pool. It prints and returns the figures; it never asserts on a time.

Run: ``python -m benchmarks.replay_bench [--quick]``.
"""

from __future__ import annotations

import concurrent.futures
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from spxcc_core.replay.cache import ingest, is_session_cache, open_cache
from spxcc_core.replay.engine import replay_session
from spxcc_core.replay.executor import replay_many
from spxcc_core.sample import default_cache_root, generate_session

__all__ = ["run_replay_bench"]


def _cache_for(root: Path, seed: int, scale: float) -> Path:
    sample = generate_session(root, seed=seed, scale=scale)
    cache = root / f"cache-{sample.root.name}"
    if not is_session_cache(cache):
        ingest(sample.root, cache)
    return cache


def run_replay_bench(*, scale: float = 10.0, sessions: int = 10, many_scale: float = 1.0,
                     workers: int = 2, root: Path | None = None) -> dict[str, Any]:
    """Measure replay throughput and scale-out; returns the figures (seconds, events, ratios)."""
    base = Path(root) if root is not None else default_cache_root()
    figures: dict[str, Any] = {"scale": scale, "sessions": sessions, "many_scale": many_scale,
                               "workers": workers}
    warm = str(_cache_for(base, 3, 0.01))
    replay_session(warm)  # warm-up: imports, numba, calendar

    t = time.perf_counter()
    sample = generate_session(base, seed=14, scale=scale)
    figures["generate_s"] = time.perf_counter() - t
    cache_path = base / f"cache-{sample.root.name}"
    t = time.perf_counter()
    ingest(sample.root, cache_path)
    figures["ingest_s"] = time.perf_counter() - t
    cache = open_cache(cache_path)
    figures["events"] = cache.total_events
    with tempfile.TemporaryDirectory(prefix="spxcc-replay-bench-") as tmp:
        t = time.perf_counter()
        result = replay_session(cache, store=Path(tmp) / "bench.sqlite3")
        figures["replay_s"] = time.perf_counter() - t
    figures["events_per_s"] = figures["events"] / figures["replay_s"]
    figures["bars"] = result.report.outputs["microbars.jsonl"]
    figures["setups"] = result.report.outcomes.setups
    figures["replay_target_2s_met"] = figures["replay_s"] < 2.0

    caches = [str(_cache_for(base, seed, many_scale)) for seed in range(1, sessions + 1)]
    t = time.perf_counter()
    one_by_one = [replay_session(c).digests for c in caches]
    figures["sequential_s"] = time.perf_counter() - t
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
        # start the workers and warm them (imports, numba, calendar) outside the timing
        replay_many([warm] * (2 * workers), executor=pool)
        t = time.perf_counter()
        parallel = replay_many(caches, executor=pool)
        figures["parallel_s"] = time.perf_counter() - t
    figures["parallel_ratio"] = figures["parallel_s"] / figures["sequential_s"]
    figures["parallel_target_0.6_met"] = figures["parallel_ratio"] <= 0.6
    figures["parallel_identical"] = [r.digests for r in parallel] == one_by_one
    return figures


def main(argv: list[str] | None = None) -> int:
    """Print the figures (``--quick``: scale 1 and three sessions at scale 0.2)."""
    args = sys.argv[1:] if argv is None else argv
    quick = "--quick" in args
    figures = run_replay_bench(scale=1.0, sessions=3, many_scale=0.2) if quick else \
        run_replay_bench()
    for key, value in figures.items():
        print(f"{key:>24}: {value:.3f}" if isinstance(value, float) else f"{key:>24}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
