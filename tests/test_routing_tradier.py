"""Routing worker against the Tradier adapter and the fake Tradier server (real HTTP): dropped
responses, unavailable broker, a crash between "tag persisted" and "ack recorded" in a child
process, and snapshot sync ages. Exactly one broker order per intent, always."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from clocks import ReadingClock
from fake_tradier import FakeTradier, Fault
from secret_tokens import TRADIER_TEST_TOKEN
from spxcc_tradier import TradierAdapter

from spxcc_core.broker import tag_for
from spxcc_core.broker.routing import RoutingLimits, RoutingWorker
from spxcc_core.broker.store import BrokerStore
from spxcc_core.broker.sync import SnapshotSync
from spxcc_core.contracts.broker import OrderIntent
from spxcc_core.store import Store

ACCOUNT = "VA00000001"
SYM = "SPXW261125C05900000"


@pytest.fixture
def fake() -> Iterator[FakeTradier]:
    with FakeTradier(TRADIER_TEST_TOKEN, accounts={ACCOUNT: "margin"}) as server:
        yield server


def adapter(fake: FakeTradier) -> TradierAdapter:
    return TradierAdapter(TRADIER_TEST_TOKEN, base_url=fake.url, account_id=ACCOUNT,
                          lookup_window_s=0.5, lookup_interval_s=0.05, backoff_s=0.01)


def intent(iid: str, limit: float = 1.25) -> OrderIntent:
    return OrderIntent(intent_id=iid, option_symbol=SYM, underlying="SPX", side="buy_to_open",
                       quantity=2, order_type="limit", limit_price=limit)


def test_dropped_response_after_order_created_gives_one_order(fake: FakeTradier,
                                                              tmp_path: Path) -> None:
    fake.inject(Fault("drop", method="POST", path="/orders", after=True))
    with Store(tmp_path / "r.sqlite3") as store, adapter(fake) as tradier:
        worker = RoutingWorker(tradier, BrokerStore(store))
        result = worker.route(intent("t-drop"))
        assert result.state == "acked" and result.ack is not None
        orders = fake.orders_with_tag(ACCOUNT, tag_for("t-drop"))
        assert [str(o.id) for o in orders] == [result.ack.broker_order_id]


def test_unavailable_broker_keeps_intent_queued_then_sends_once(fake: FakeTradier,
                                                                tmp_path: Path) -> None:
    now = [1_790_000_000_000]
    with Store(tmp_path / "r.sqlite3") as store, adapter(fake) as tradier:
        bstore = BrokerStore(store)
        worker = RoutingWorker(tradier, bstore, clock=ReadingClock(read_ms=lambda: now[0]),
                               limits=RoutingLimits(retry_after_ms=1_000))
        # the snapshot for the buying-power check goes through; every order POST fails with
        # 502 before anything is created
        fake.inject(Fault("status", method="POST", path="/orders", status=502, count=50))
        first = worker.route(intent("t-502"))
        assert first.state == "queued" and first.ack is None
        assert "502" in first.reasons[0]
        posts = sum(1 for m, p, _ in fake.requests if m == "POST" and p.endswith("/orders"))
        assert posts >= 1
        fake.faults.clear()
        assert worker.process() == 0  # within the retry delay: nothing sent
        assert sum(1 for m, p, _ in fake.requests
                   if m == "POST" and p.endswith("/orders")) == posts
        now[0] += 1_000
        assert worker.process() == 1
        rec = bstore.get("t-502")
        assert rec is not None and rec.state == "acked" and rec.last_error is None
        assert len(fake.orders_with_tag(ACCOUNT, tag_for("t-502"))) == 1
        kinds = [e.kind for e in bstore.events("t-502")]
        assert kinds == ["intent", "submit", "unavailable", "submit", "ack"]


CHILD = textwrap.dedent("""
    import os, sys
    from spxcc_core.store import Store
    from spxcc_core.broker.store import BrokerStore
    from spxcc_core.broker.routing import RoutingWorker
    from spxcc_core.contracts.broker import OrderIntent
    from spxcc_tradier import TradierAdapter

    url, token, db = sys.argv[1], sys.argv[2], sys.argv[3]

    class Crashing(TradierAdapter):
        def submit(self, intent, *, on_tag_assigned=None):
            super().submit(intent, on_tag_assigned=on_tag_assigned)
            os._exit(17)  # the order exists at the broker; the ack is never recorded

    store = Store(db)
    worker = RoutingWorker(Crashing(token, base_url=url, account_id="VA00000001"),
                           BrokerStore(store))
    worker.route(OrderIntent(intent_id="t-crash", option_symbol="SPXW261125C05900000",
                             underlying="SPX", side="buy_to_open", quantity=2,
                             order_type="limit", limit_price=1.25))
""")


def test_crash_between_tag_persisted_and_ack_recorded(fake: FakeTradier,
                                                      tmp_path: Path) -> None:
    db = tmp_path / "crash.sqlite3"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    proc = subprocess.run([sys.executable, str(script), fake.url, TRADIER_TEST_TOKEN, str(db)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 17, proc.stderr[-2000:]
    tag = tag_for("t-crash")
    assert len(fake.orders_with_tag(ACCOUNT, tag)) == 1
    with Store(db) as store, adapter(fake) as tradier:
        bstore = BrokerStore(store)
        rec = bstore.get("t-crash")
        assert rec is not None and (rec.state, rec.broker_order_id) == ("submitting", None)
        results = RoutingWorker(tradier, bstore).start()
        assert [(r.intent_id, r.state) for r in results] == [("t-crash", "acked")]
        orders = fake.orders_with_tag(ACCOUNT, tag)
        assert len(orders) == 1
        assert bstore.get("t-crash").broker_order_id == str(orders[0].id)  # type: ignore[union-attr]
        # the fill that happens later is recorded by polling
        worker = RoutingWorker(tradier, bstore)
        worker.start()
        fake.fill(ACCOUNT, str(orders[0].id), 1.20)
        worker.poll()
        rec = bstore.get("t-crash")
        assert rec is not None
        assert (rec.state, rec.filled_quantity, rec.avg_fill_price) == ("filled", 2.0, 1.2)


def test_snapshot_sync_ages_and_periodic_refresh(fake: FakeTradier, tmp_path: Path) -> None:
    now = [1_790_000_000_000]
    with Store(tmp_path / "s.sqlite3") as store, adapter(fake) as tradier:
        bstore = BrokerStore(store)
        sync = SnapshotSync(tradier, bstore, clock=ReadingClock(read_ms=lambda: now[0]))
        assert sync.latest(ACCOUNT) is None
        first = sync.fresh(ACCOUNT, 2_000)
        now[0] += 2_000
        assert sync.fresh(ACCOUNT, 2_000) is first  # exactly at the bound: reused
        assert first.age_ms(now[0]) == 2_000
        now[0] += 1
        second = sync.fresh(ACCOUNT, 2_000)
        assert second is not first and second.fetched_ms == now[0]
        assert bstore.snapshot_count("tradier", ACCOUNT) == 2
        # another process (a new SnapshotSync on the same store) sees the stored one
        other = SnapshotSync(tradier, bstore, clock=ReadingClock(read_ms=lambda: now[0]))
        latest = other.latest(ACCOUNT)
        assert latest is not None and latest.fetched_ms == second.fetched_ms
        assert latest.snapshot == second.snapshot

        stop = threading.Event()
        errors: list[tuple[str, Exception]] = []
        calls = {"n": 0}

        def on_error(account: str, exc: Exception) -> None:
            errors.append((account, exc))
            stop.set()

        orig = sync.refresh

        def counting(account: str):  # type: ignore[no-untyped-def]
            calls["n"] += 1
            if calls["n"] == 3:
                stop.set()
            return orig(account)

        sync.refresh = counting  # type: ignore[method-assign]
        sync.run_periodic([ACCOUNT], 0.01, stop, on_error=on_error)
        assert calls["n"] == 3 and errors == []
        assert bstore.snapshot_count("tradier", ACCOUNT) == 5


def test_routing_limits_validate() -> None:
    with pytest.raises(ValueError):
        RoutingLimits(max_contracts=0)
    with pytest.raises(ValueError):
        RoutingLimits(bp_buffer=2.0)
