"""Crash recovery of the routing worker with a real SQLite file: a child process is killed
(``os._exit``) around the order request, then a new worker reconciles by tag before it
resubmits anything. Exactly one broker order per intent must result."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from spxcc_paper import PaperBroker

from spxcc_core.broker import tag_for
from spxcc_core.broker.routing import RoutingWorker
from spxcc_core.broker.store import BrokerStore
from spxcc_core.store import Store

CHILD = textwrap.dedent("""
    import os, sys
    from spxcc_core.store import Store
    from spxcc_core.broker.store import BrokerStore
    from spxcc_core.broker.routing import RoutingWorker
    from spxcc_core.contracts.broker import OrderIntent
    from spxcc_paper import PaperBroker

    mode, db = sys.argv[1], sys.argv[2]

    class Crashing(PaperBroker):
        def submit(self, intent, *, on_tag_assigned=None):
            if mode == "before-request":
                os._exit(17)              # tag persisted, request never sent
            ack = super().submit(intent, on_tag_assigned=on_tag_assigned)
            os._exit(17)                  # order placed, ack never recorded

    store = Store(db)
    paper = Crashing(account_id="A", store=store)
    worker = RoutingWorker(paper, BrokerStore(store))
    worker.route(OrderIntent(intent_id="i-crash", option_symbol="SPXW991218C05900000",
                             underlying="SPX", side="buy_to_open", quantity=2,
                             order_type="limit", limit_price=1.25))
    sys.exit(0)
""")


def crash(tmp_path: Path, mode: str) -> Path:
    db = tmp_path / "crash.sqlite3"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    proc = subprocess.run([sys.executable, str(script), mode, str(db)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 17, proc.stderr
    return db


@pytest.mark.parametrize("mode, placed_before_crash", [("before-request", False),
                                                       ("after-request", True)])
def test_restart_reconciles_by_tag_then_places_exactly_one_order(
        tmp_path: Path, mode: str, placed_before_crash: bool) -> None:
    db = crash(tmp_path, mode)
    tag = tag_for("i-crash")
    with Store(db) as store:
        bstore = BrokerStore(store)
        rec = bstore.get("i-crash")
        assert rec is not None and rec.state == "submitting" and rec.tag == tag
        assert rec.broker_order_id is None  # the ack never made it to the store
        paper = PaperBroker(account_id="A", store=store)
        assert (paper.find_by_tag("A", tag) is not None) == placed_before_crash

        results = RoutingWorker(paper, bstore).start()

        assert [(r.intent_id, r.state) for r in results] == [("i-crash", "acked")]
        orders = [o for o in paper.orders("A") if o.tag == tag]
        assert len(orders) == 1
        assert (orders[0].quantity, orders[0].limit_price) == (2.0, 1.25)
        rec = bstore.get("i-crash")
        assert rec is not None and rec.broker_order_id == orders[0].id
        kinds = [e.kind for e in bstore.events("i-crash")]
        if placed_before_crash:  # found by tag: acked without a second request
            assert kinds == ["intent", "submit", "ack"]
        else:  # not at the broker: back to queued, then submitted once
            assert kinds == ["intent", "submit", "reconcile", "submit", "ack"]
        # a further restart changes nothing
        RoutingWorker(PaperBroker(account_id="A", store=store), bstore).start()
        assert len([o for o in paper.orders("A") if o.tag == tag]) == 1


def test_restart_records_fills_missed_while_down(tmp_path: Path) -> None:
    db = crash(tmp_path, "after-request")
    with Store(db) as store:
        paper = PaperBroker(account_id="A", store=store, clock=None)
        paper.on_quote("SPXW991218C05900000", 1_790_000_000 * 10**9, 1.10, 5, 1.20, 5)
        # the order (limit 1.25) filled at 1.20 while no worker was running
        bstore = BrokerStore(store)
        fresh = PaperBroker(account_id="A", store=store)  # a new process: no events queued
        RoutingWorker(fresh, bstore).start()
        rec = bstore.get("i-crash")
        assert rec is not None
        assert (rec.state, rec.filled_quantity, rec.avg_fill_price) == ("filled", 2.0, 1.2)
        assert [(q, p) for _, q, p in bstore.fills("i-crash")] == [(2.0, 1.2)]
