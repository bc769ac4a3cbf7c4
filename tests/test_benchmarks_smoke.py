"""The benchmark modules keep working against the current API (the suite never looks at their
times; this runs the cheapest one on one synthetic day and checks its result's shape)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.detector_bench import run_detector_bench  # noqa: E402


def test_detector_benchmark_reads_the_typed_runner_report() -> None:
    result = run_detector_bench(sessions=1)
    assert result["bars"] > 0 and result["setups"] >= 0
    assert result["gates"] and all(isinstance(v, int) for v in result["gates"].values())


def test_gate_benchmark_runs_against_the_current_api(tmp_path: Path) -> None:
    from benchmarks.gates_bench import run_gates_bench

    result = run_gates_bench(sessions=2, resamples=20, scale=0.01, jobs=1, root=tmp_path)
    assert result["decision"] == "insufficient_evidence"  # two sessions are never enough
    assert result["bootstrap_s"] >= 0 and result["gate_run_s"] > 0


def test_optimize_benchmark_runs_against_the_current_api(tmp_path: Path) -> None:
    from benchmarks.optimize_bench import run_optimize_bench

    result = run_optimize_bench(sessions=2, trials=3, reference_trials=2, scale=0.01,
                                jobs=(1,), end_to_end=False, root=tmp_path)
    assert result["jobs1_profile_sessions_per_s"] > 0
    assert result["projected_1000x20_s"] > 0
    assert result["agree"] is True and result["mismatches"] == 0
