"""Release-gate benchmark: the bootstrap alone, and a whole gate run over generated sessions.

``run_gates_bench()`` first times :func:`~spxcc_core.gates.bootstrap.bootstrap` on synthetic
per-session sums (``sessions`` sessions, ``resamples`` resamples, both profiles and the paired
deltas) — the vectorised part. Then it generates (or reuses) ``sessions`` sample sessions on
consecutive dates at ``scale``, ingests each into a session cache once (timed separately:
the bars' raw input read once) and times :func:`~spxcc_core.gates.runner.run_gates` with the
default profile against a looser candidate, ``resamples`` resamples, ``jobs`` worker
processes. It prints and returns the figures; it never asserts on a time.

Target (issue 12): 20 sessions, two profiles, 2,000 resamples in under 60 s on the 2-core
machine. Run: ``python -m benchmarks.gates_bench [--quick]``.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from spxcc_core.gates.bootstrap import bootstrap, session_inputs
from spxcc_core.gates.rules import GateRules
from spxcc_core.gates.runner import run_gates
from spxcc_core.plugins import get_plugin_manager
from spxcc_core.replay.cache import ingest, is_session_cache
from spxcc_core.run.profiles import default_profile_toml, named_profile, profile_from_text
from spxcc_core.sample import default_cache_root, generate_session

__all__ = ["run_gates_bench"]

_FIRST_DAY = dt.date(2025, 11, 3)


def _caches(root: Path, sessions: int, scale: float) -> list[str]:
    out = []
    day = _FIRST_DAY
    for i in range(sessions):
        while day.weekday() >= 5:
            day += dt.timedelta(days=1)
        sample = generate_session(root, seed=200 + i, date=day, scale=scale)
        cache = root / f"gates-cache-{sample.root.name}"
        if not is_session_cache(cache):
            ingest(sample.root, cache)
        out.append(str(cache))
        day += dt.timedelta(days=1)
    return out


def run_gates_bench(*, sessions: int = 20, resamples: int = 2000, scale: float = 0.05,
                    jobs: int = 2, root: Path | None = None) -> dict[str, Any]:
    """Measure the bootstrap and a gate run; returns the figures (seconds, counts)."""
    figures: dict[str, Any] = {"sessions": sessions, "resamples": resamples, "scale": scale,
                               "jobs": jobs}
    rng = np.random.default_rng(1)
    days = [[(float(r), bool(r > 0)) for r in rng.normal(0.3, 1.0, 25)]
            for _ in range(sessions)]
    x = session_inputs(days)
    t = time.perf_counter()
    bootstrap(x, x, resamples=resamples, seed=0)
    figures["bootstrap_s"] = round(time.perf_counter() - t, 4)

    base = Path(root) if root is not None else default_cache_root()
    t = time.perf_counter()
    caches = _caches(base, sessions, scale)
    figures["prepare_s"] = round(time.perf_counter() - t, 2)
    pm = get_plugin_manager()
    baseline = named_profile(pm, "default")
    looser = default_profile_toml(pm).replace('name = "default"', 'name = "looser"') \
        .replace("spike_multiple = 4.0", "spike_multiple = 3.0")
    candidate = profile_from_text(pm, looser, "<bench>", "looser")
    t = time.perf_counter()
    run = run_gates(candidate=candidate, baseline=baseline, sessions=caches,
                    resamples=resamples, seed=0, rules=GateRules(), jobs=jobs, pm=pm)
    figures["gate_run_s"] = round(time.perf_counter() - t, 2)
    figures["decision"] = run.decision.decision
    figures["candidate_trades"] = run.decision.evidence.candidate_trades
    figures["baseline_trades"] = run.decision.evidence.baseline_trades
    figures["replays_per_s"] = round(2 * sessions / figures["gate_run_s"], 2)
    return figures


def main(argv: list[str] | None = None) -> int:
    quick = "--quick" in (argv if argv is not None else sys.argv[1:])
    figures = (run_gates_bench(sessions=4, resamples=500, scale=0.02) if quick
               else run_gates_bench())
    for k, v in figures.items():
        print(f"{k:>18}: {v}")
    print(f"{'target':>18}: 20 sessions, 2 profiles, 2000 resamples < 60 s "
          f"({'met' if figures['gate_run_s'] < 60 and not quick else 'see figures'})")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
