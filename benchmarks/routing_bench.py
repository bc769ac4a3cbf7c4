"""Routing throughput with the paper broker on a real SQLite file (WAL).

Each intent goes the whole way: pre-trade checks (market clock, max contracts, buying power
from a fresh-enough snapshot minus reservations, open risk), intent + tag persisted, request,
ack, fill and state changes recorded. Entries and exits alternate per symbol, so every exit
waits for (and follows) its entry's fill.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from spxcc_core.broker.routing import RoutingLimits, RoutingWorker
from spxcc_core.broker.store import BrokerStore
from spxcc_core.contracts.broker import OrderIntent
from spxcc_core.store import Store

__all__ = ["run_routing_bench"]

_SYMBOLS = [f"SPXW261125C0{5900 + 5 * i:04d}000" for i in range(8)]


def run_routing_bench(intents: int = 4000) -> dict[str, Any]:
    """Route ``intents`` intents (half entries, half exits) and report the throughput.

    :returns: ``{"intents", "seconds", "intentsPerSecond", "cpuSeconds", "intentsPerCpuSecond",
        "commitsPerIntent", "orders", "fills", "events", "states"}`` (wall time is inflated on
        a shared machine; CPU time is not).
    """
    from spxcc_paper import PaperBroker

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.sqlite3")
        try:
            paper = PaperBroker(account_id="BENCH", cash=10_000_000.0, clock=None)
            t0 = 1_790_000_000 * 10**9
            for i, sym in enumerate(_SYMBOLS):
                paper.on_quote(sym, t0 + i, 0.95, 1_000_000, 1.00, 1_000_000)
            worker = RoutingWorker(paper, BrokerStore(store), limits=RoutingLimits(
                max_contracts=10, max_open_risk=1_000_000.0, max_snapshot_age_ms=5_000))
            worker.start()
            commits = [0]

            def trace(sql: str) -> None:
                if sql == "COMMIT":
                    commits[0] += 1

            store.conn.set_trace_callback(trace)
            start = time.perf_counter()
            cpu_start = time.process_time()
            for n in range(intents):
                sym = _SYMBOLS[(n // 2) % len(_SYMBOLS)]
                entry = n % 2 == 0
                worker.route(OrderIntent(
                    intent_id=f"bench-{n}", option_symbol=sym, underlying="SPX",
                    side="buy_to_open" if entry else "sell_to_close", quantity=1,
                    order_type="limit", limit_price=1.00 if entry else 0.95,
                    stop_premium=0.50 if entry else None))
            seconds = time.perf_counter() - start
            cpu = time.process_time() - cpu_start
            conn = store.conn
            states = dict(conn.execute("SELECT state, COUNT(*) FROM spx_broker_intents "
                                       "GROUP BY state").fetchall())
            fills = conn.execute("SELECT COUNT(*) FROM spx_broker_fills").fetchone()[0]
            events = conn.execute("SELECT COUNT(*) FROM spx_broker_events").fetchone()[0]
        finally:
            store.close()
    return {"intents": intents, "seconds": round(seconds, 3),
            "intentsPerSecond": round(intents / seconds, 1),
            "cpuSeconds": round(cpu, 3), "intentsPerCpuSecond": round(intents / cpu, 1),
            "commitsPerIntent": round(commits[0] / intents, 2),
            "orders": len(paper.orders("BENCH")), "fills": fills, "events": events,
            "states": states}


if __name__ == "__main__":  # pragma: no cover
    print(run_routing_bench())
