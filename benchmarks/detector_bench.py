"""Detector benchmark: the three built-in detectors + gating + lifecycle over synthetic bars.

``run_detector_bench()`` builds a deterministic synthetic RTH session of 1-second ``microbar@2``
bars (random walk with volume bursts, seeded) and times :class:`DetectorRunner` over them on one
core. It prints and returns figures; it never asserts on a time.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from typing import Any

from spxcc_detectors import BUILTIN_DETECTORS

from spxcc_core.contracts.microbar import MicrobarV2
from spxcc_core.detect.runner import DetectorRunner
from spxcc_core.session import get_calendar

__all__ = ["run_detector_bench", "synthetic_session"]


def synthetic_session(session_id: str = "2024-03-11", *, seed: int = 7, symbol: str = "SPY",
                      price: float = 510.0) -> list[MicrobarV2]:
    """One bar per second of the session's RTH, deterministic for a given seed."""
    day = get_calendar().session(session_id)
    if day.open_ms is None or day.close_ms is None:
        raise ValueError(f"{session_id} is not a session")
    rng = random.Random(seed)
    bars: list[MicrobarV2] = []
    p = price
    for start in range(day.open_ms, day.close_ms, 1000):
        drift = rng.gauss(0.0, 0.02)
        o = p
        c = round(p + drift, 2)
        h = round(max(o, c) + abs(rng.gauss(0, 0.01)), 2)
        lo = round(min(o, c) - abs(rng.gauss(0, 0.01)), 2)
        vol = float(rng.randint(100, 800) * (10 if rng.random() < 0.005 else 1))
        delta = vol * max(-1.0, min(1.0, drift / 0.02 * 0.5))
        bid_sz = float(rng.randint(1, 20))
        ask_sz = float(rng.randint(1, 20))
        bars.append(MicrobarV2(
            symbol=symbol, start_ms=start, interval_ms=1000, open=o, high=h, low=lo, close=c,
            volume=vol, trade_count=rng.randint(1, 30), vwap=round((h + lo + c) / 3, 4),
            delta_volume=round(delta, 1),
            bid_ask_imbalance=(bid_sz - ask_sz) / (bid_sz + ask_sz),
            ask_bid_size_ratio=ask_sz / bid_sz, quote_coverage_pct=100.0,
            avg_spread_bps=0.2, bid_size_at_close=bid_sz, ask_size_at_close=ask_sz,
            quote_count=rng.randint(1, 40)))
        p = c
    return bars


def run_detector_bench(sessions: int = 2) -> dict[str, Any]:
    """Time the runner (3 detectors + gating + lifecycle) over ``sessions`` synthetic days."""
    start_day = dt.date(2024, 3, 11)
    cal = get_calendar()
    bars: list[MicrobarV2] = []
    d = start_day
    made = 0
    while made < sessions:
        if cal.day(d).is_session:
            bars.extend(synthetic_session(d.isoformat(), seed=made))
            made += 1
        d += dt.timedelta(days=1)
    runner = DetectorRunner(BUILTIN_DETECTORS)
    t0 = time.perf_counter()
    outputs = 0
    for bar in bars:
        outputs += len(runner.on_bar(bar))
    outputs += len(runner.finish())
    elapsed = time.perf_counter() - t0
    report = runner.report()
    result = {
        "bars": len(bars),
        "seconds": round(elapsed, 4),
        "bars_per_s": round(len(bars) / elapsed),
        "outputs": outputs,
        "setups": report.stats.setups,
        "gates": {k: v.evaluated for k, v in report.gates.items()},
    }
    print(f"detector bench: {result['bars']} bars in {result['seconds']} s = "
          f"{result['bars_per_s']:,} bars/s (3 detectors + gating + lifecycle), "
          f"{result['outputs']} outputs, {result['setups']} setups")
    return result


if __name__ == "__main__":
    run_detector_bench()
