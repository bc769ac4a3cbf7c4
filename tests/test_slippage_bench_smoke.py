"""The slippage benchmark keeps working against the current API (its times are never looked
at here; only the shape of its result)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.slippage_bench import run_slippage_bench  # noqa: E402


def test_slippage_benchmark_returns_its_figures() -> None:
    result = run_slippage_bench(fills=24_200, probe=50, stored=20)
    assert result["fills"] == 24_200
    assert set(result) == {"fills", "ledgerUsPerFill", "rollingEarlyUsPerFill",
                           "rollingLateUsPerFill", "lateOverEarly", "storeUsPerFill"}
