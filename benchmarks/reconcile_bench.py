"""Reconciliation cost: an account with 500 positions and 2,000 orders, on a real SQLite file.

Our side: 2,000 intents (4 per symbol over 500 symbols, each acknowledged and filled) in the
broker tables. The broker's side: the matching 500 positions and 2,000 filled orders, with a few
differences planted (external positions, fills we never recorded, an external working order) so
every step runs. The broker's answer is prepared beforehand (a paper broker whose reads return
it), so the figures are our own CPU time: building the internal book from the store, every
reconciler, deciding, adopting and storing the run. Target (issue 11): under 100 ms per run.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from spxcc_core.broker import tag_for
from spxcc_core.broker.reconcile import Reconciliation, reconciler_classes
from spxcc_core.broker.store import BrokerStore
from spxcc_core.contracts.broker import (
    BrokerOrder,
    Fill,
    OrderAck,
    OrderIntent,
    PortfolioSnapshot,
    Position,
)
from spxcc_core.plugins import get_plugin_manager
from spxcc_core.store import Store

__all__ = ["run_reconcile_bench"]

_ACCOUNT = "BENCH"
_T0_MS = 1_790_000_000_000


def _symbol(i: int) -> str:
    return f"SPXW991218{'C' if i % 2 else 'P'}0{5000 + 5 * i:04d}000"


def _fill_store(bstore: BrokerStore, positions: int, per_symbol: int,
                unrecorded: set[int]) -> list[BrokerOrder]:
    orders: list[BrokerOrder] = []
    with bstore.batch():
        for n in range(positions * per_symbol):
            sym, iid = _symbol(n // per_symbol), f"bench-{n}"
            tag, oid = tag_for(iid), str(100_000 + n)
            intent = OrderIntent(intent_id=iid, option_symbol=sym, underlying="SPX",
                                 side="buy_to_open", quantity=1, order_type="limit",
                                 limit_price=2.0)
            bstore.insert_intent(intent, broker="paper", account_id=_ACCOUNT, tag=tag,
                                 state="queued", now_ms=_T0_MS)
            bstore.record_ack(OrderAck(intent_id=iid, broker_order_id=oid, status="ok", tag=tag,
                                       account_id=_ACCOUNT), now_ms=_T0_MS)
            if n not in unrecorded:
                bstore.record_fill(Fill(fill_id=f"{oid}-1", broker_order_id=oid, symbol=sym,
                                        side="buy_to_open", quantity=1.0, price=2.0, tag=tag,
                                        intent_id=iid, account_id=_ACCOUNT), intent_id=iid,
                                   now_ms=_T0_MS)
                bstore.transition(iid, "filled", now_ms=_T0_MS, kind="fill",
                                  filled_quantity=1.0, avg_fill_price=2.0)
            orders.append(BrokerOrder(id=oid, status="filled", tag=tag, symbol=sym,
                                      side="buy_to_open", quantity=1.0, filled_quantity=1.0,
                                      avg_fill_price=2.0, order_type="limit", limit_price=2.0))
    return orders


def run_reconcile_bench(positions: int = 500, orders: int = 2_000,
                        runs: int = 7) -> dict[str, Any]:
    """Reconcile the account ``runs`` times and report our CPU time per run.

    :returns: ``{"positions", "orders", "differences", "cpuMsMedian", "cpuMsMax",
        "wallMsMedian", "targetCpuMs", "targetMet"}``.
    """
    from spxcc_paper import PaperBroker

    per_symbol = orders // positions
    unrecorded = {7, 1_001}  # fills the broker reports that we never recorded
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.sqlite3")
        try:
            bstore = BrokerStore(store)
            broker_orders = _fill_store(bstore, positions, per_symbol, unrecorded)
            external = BrokerOrder(id="900001", status="open", symbol=_symbol(positions + 1),
                                   side="buy_to_open", quantity=5.0, filled_quantity=0.0)
            held = [Position(symbol=_symbol(i), quantity=float(per_symbol),
                             cost_basis=per_symbol * 200.0) for i in range(positions)]
            held += [Position(symbol=_symbol(positions + 10 + i), quantity=1.0, cost_basis=150.0)
                     for i in range(3)]  # external positions
            snapshot = PortfolioSnapshot(
                account_id=_ACCOUNT, account_type="margin", option_buying_power=1e6,
                stock_buying_power=2e6, day_trade_buying_power=None, cash_available=None,
                total_equity=1e6, positions=tuple(held), open_orders=(external,))
            day_orders = [*broker_orders, external]

            class Prepared(PaperBroker):
                """A paper broker whose reads return the prepared answer (no broker cost)."""

                def snapshot(self, account_id: str) -> PortfolioSnapshot:
                    return snapshot

                def orders(self, account_id: str) -> list[BrokerOrder]:
                    return day_orders

            engine = Reconciliation(
                Prepared(account_id=_ACCOUNT), bstore,
                reconciler_classes(get_plugin_manager()), lambda event: 0)
            cpu: list[float] = []
            wall: list[float] = []
            differences = 0
            for _ in range(runs):
                c0, w0 = time.process_time(), time.perf_counter()
                run = engine.run(_ACCOUNT, trigger="bench")
                cpu.append((time.process_time() - c0) * 1000)
                wall.append((time.perf_counter() - w0) * 1000)
                differences = len(run.differences)
        finally:
            store.close()
    median = statistics.median(cpu)
    return {"positions": positions, "orders": orders, "differences": differences,
            "cpuMsMedian": round(median, 2), "cpuMsMax": round(max(cpu), 2),
            "wallMsMedian": round(statistics.median(wall), 2), "targetCpuMs": 100,
            "targetMet": median < 100}


if __name__ == "__main__":  # pragma: no cover
    print(run_reconcile_bench())
