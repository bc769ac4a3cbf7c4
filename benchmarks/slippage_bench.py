"""Slippage costs per fill: the pure ledger, the rolling-statistics update (early against late
in a long run: the update must not grow with the number of fills), and the store write.

Figures are CPU microseconds per fill; ``lateOverEarly`` is the rolling update's cost over the
last ``probe`` fills divided by its cost over the first ``probe`` fills of a full window (≈ 1
means O(1) in the number of fills seen).
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import Any

from spxcc_core.contracts.broker import Fill, OrderIntent
from spxcc_core.contracts.slippage import SlippageRecord
from spxcc_core.slippage.ledger import slippage_record
from spxcc_core.slippage.rolling import RollingConfig, RollingSlippage
from spxcc_core.slippage.store import SlippageStore
from spxcc_core.store import Store

__all__ = ["run_slippage_bench"]

_SYMBOL = "SPXW261125C05900000"
_T0_MS = 1_790_000_000_000  # 2026-09-21 10:13 New York


def _pairs(n: int, seed: int = 11) -> list[tuple[OrderIntent, Fill]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        bid = rng.choice((0.5, 1.2, 2.4, 3.5, 6.0))
        ask = round(bid + rng.choice((0.05, 0.10, 0.20, 0.50)), 2)
        buy = i % 2 == 0
        side = "buy_to_open" if buy else "sell_to_close"
        intent = OrderIntent(intent_id=f"i{i}", option_symbol=_SYMBOL, underlying="SPX",
                             side=side, quantity=1, order_type="market", arrival_bid=bid,
                             arrival_ask=ask)
        fill = Fill(fill_id=f"f{i}", broker_order_id=f"o{i}", symbol=_SYMBOL, side=side,
                    quantity=1.0, price=ask if buy else bid, intent_id=f"i{i}",
                    at_ms=_T0_MS + 7_000 * i)
        out.append((intent, fill))
    return out


def _update_cpu_us(rolling: RollingSlippage, records: list[SlippageRecord]) -> float:
    start = time.process_time()
    for r in records:
        rolling.update(r)
    return (time.process_time() - start) / len(records) * 1e6


def run_slippage_bench(fills: int = 100_000, probe: int = 5_000,
                       stored: int = 5_000) -> dict[str, Any]:
    """Measure the per-fill costs on ``fills`` synthetic fills (8 detectors).

    :returns: ``{"fills", "ledgerUsPerFill", "rollingEarlyUsPerFill", "rollingLateUsPerFill",
        "lateOverEarly", "storeUsPerFill"}`` (CPU microseconds).
    """
    pairs = _pairs(fills)
    start = time.process_time()
    records = []
    for n, (intent, fill) in enumerate(pairs):
        r = slippage_record(intent, fill, source="broker" if n % 3 else "paper",
                            detector=f"d{n % 8}")
        assert isinstance(r, SlippageRecord)
        records.append(r)
    ledger_us = (time.process_time() - start) / fills * 1e6
    rolling = RollingSlippage(RollingConfig())
    # warm every bucket's window to full size first, then time early against late
    warm = RollingConfig().window * 8 * 3 * 5
    for r in records[:warm]:
        rolling.update(r)
    early = _update_cpu_us(rolling, records[warm:warm + probe])
    for r in records[warm + probe:fills - probe]:
        rolling.update(r)
    late = _update_cpu_us(rolling, records[fills - probe:])
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.sqlite3") as store:
        slip = SlippageStore(store)
        start = time.process_time()
        for r in records[:stored]:
            slip.record(r)
        store_us = (time.process_time() - start) / stored * 1e6
    return {"fills": fills, "ledgerUsPerFill": round(ledger_us, 2),
            "rollingEarlyUsPerFill": round(early, 2), "rollingLateUsPerFill": round(late, 2),
            "lateOverEarly": round(late / early, 2), "storeUsPerFill": round(store_us, 2)}


if __name__ == "__main__":  # pragma: no cover
    print(run_slippage_bench())
