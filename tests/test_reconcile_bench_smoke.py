"""The reconciliation benchmark keeps working against the current API (its times are never
looked at here): a small account, one run, the planted differences all found."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.reconcile_bench import run_reconcile_bench  # noqa: E402


def test_reconcile_benchmark_finds_the_planted_differences() -> None:
    result = run_reconcile_bench(positions=20, orders=80, runs=1)
    # planted: 3 external positions + 1 external working order (unknown_at_broker) and the
    # fills of orders 7 and 1001 (only 7 exists among 80 orders): 3 + 1 + 1 = 5
    assert (result["positions"], result["orders"], result["differences"]) == (20, 80, 5)
    assert result["cpuMsMedian"] > 0
