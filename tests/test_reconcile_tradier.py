"""Reconciliation against the Tradier adapter and the fake Tradier server (real HTTP over
loopback): an external position is ``unknown_at_broker``; a fill the broker reports that we
never saw is ``unrecorded_fill``, adopted once (across a restart too); a failed or empty
broker answer is never read as flat."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from broker_cli_helpers import run
from fake_tradier import FakeTradier, Fault
from secret_tokens import TRADIER_TEST_TOKEN
from spxcc_reconcile import OrderReconciler, PositionReconciler
from spxcc_tradier import TradierAdapter

from spxcc_core.broker.reconcile import ReconcileStore
from spxcc_core.broker.routing import RoutingWorker
from spxcc_core.broker.store import BrokerStore
from spxcc_core.clock import ManualClock
from spxcc_core.contracts.broker import OrderIntent
from spxcc_core.store import Store

ACCOUNT = "VA00000001"
SYM = "SPXW991218C05900000"
OUTSIDE = "SPXW991218P05700000"
RECONCILERS = [OrderReconciler, PositionReconciler]


@pytest.fixture
def fake() -> Iterator[FakeTradier]:
    with FakeTradier(TRADIER_TEST_TOKEN, accounts={ACCOUNT: "margin"},
                     auto_fill=False) as server:
        yield server


def adapter(fake: FakeTradier) -> TradierAdapter:
    return TradierAdapter(TRADIER_TEST_TOKEN, base_url=fake.url, account_id=ACCOUNT,
                          lookup_window_s=0.5, lookup_interval_s=0.05, backoff_s=0.01)


def worker_on(tradier: TradierAdapter, store: Store, clock: ManualClock) -> RoutingWorker:
    return RoutingWorker(tradier, BrokerStore(store), clock=clock, reconcilers=RECONCILERS)


def entry(iid: str, qty: int = 2) -> OrderIntent:
    return OrderIntent(intent_id=iid, option_symbol=SYM, underlying="SPX", side="buy_to_open",
                       quantity=qty, order_type="limit", limit_price=1.25)


def test_external_position_is_unknown_at_broker(fake: FakeTradier, tmp_path: Path) -> None:
    fake.add_position(ACCOUNT, OUTSIDE, 3, 960.0)
    clock = ManualClock(start_ms=1_790_000_000_000)
    with Store(tmp_path / "t.sqlite3") as store, adapter(fake) as tradier:
        run = worker_on(tradier, store, clock).reconcile(ACCOUNT)
    assert run is not None and run.status == "differences"
    [d] = run.differences
    assert (d.kind, d.symbol, d.action, d.severity) == (
        "unknown_at_broker", OUTSIDE, "alert", "warning")
    assert (d.broker.quantity, d.broker.cost_basis, d.internal.present) == (3.0, 960.0, False)


def test_fill_we_never_saw_is_adopted_once_across_a_restart(fake: FakeTradier,
                                                            tmp_path: Path) -> None:
    clock = ManualClock(start_ms=1_790_000_000_000)
    db = tmp_path / "t.sqlite3"
    with Store(db) as store, adapter(fake) as tradier:
        worker = worker_on(tradier, store, clock)
        worker.start(ACCOUNT)
        routed = worker.route(entry("t-1"))
        assert routed.state == "acked" and routed.ack is not None
        order_id = routed.ack.broker_order_id
        fake.fill(ACCOUNT, order_id, 1.20)  # executed at the broker; we do not poll
        clock.advance(1.0)
        run = worker.reconcile(ACCOUNT)
        assert run is not None
        [d] = run.differences
        assert (d.kind, d.symbol, d.action, d.applied) == ("unrecorded_fill", SYM, "adopt", True)
        assert (d.internal.filled_quantity, d.broker.filled_quantity) == (0.0, 2.0)
        assert d.internal.intent_id == "t-1" and d.broker.order_id == order_id
        rec = BrokerStore(store).get("t-1")
        assert rec is not None and (rec.state, rec.filled_quantity, rec.avg_fill_price) == (
            "filled", 2.0, 1.2)
        clock.advance(1.0)
        again = worker.reconcile(ACCOUNT)
        assert again is not None and again.status == "clean"
    with Store(db) as store, adapter(fake) as tradier:  # a new process on the same file
        worker = worker_on(tradier, store, clock)
        worker.start(ACCOUNT)  # start-up reconciliation, then polling
        runs = ReconcileStore(BrokerStore(store)).runs("tradier", ACCOUNT)
        assert [(r.trigger, r.status) for r in runs] == [
            ("startup", "clean"), ("manual", "differences"), ("manual", "clean"),
            ("startup", "clean")]
        assert BrokerStore(store).fills("t-1") == [(f"{ACCOUNT}/{order_id}-2", 2.0, 1.2)]
        # our position is the broker's: 2 contracts at $1.20 = $240
        book = ReconcileStore(BrokerStore(store)).book("tradier", ACCOUNT)
        assert (book.positions[SYM].quantity, book.positions[SYM].cost_basis) == (2.0, 240.0)


def test_failed_broker_answer_is_not_flat_and_opens_no_risk(fake: FakeTradier,
                                                            tmp_path: Path) -> None:
    clock = ManualClock(start_ms=1_790_000_000_000)
    with Store(tmp_path / "t.sqlite3") as store, adapter(fake) as tradier:
        fake.inject(Fault("status", method="GET", path="/positions", status=503, count=50))
        worker = worker_on(tradier, store, clock)
        worker.start(ACCOUNT)
        [run] = ReconcileStore(BrokerStore(store)).runs("tradier", ACCOUNT)
        assert (run.status, run.differences, run.trigger) == ("failed", (), "startup")
        assert run.error is not None and "nothing compared" in run.error
        fake.faults.clear()  # the broker answers again, but no run has passed yet
        refused = worker.route(entry("t-2"))
        assert refused.state == "refused"
        assert any("reconciliation has not passed" in r for r in refused.reasons)
        clock.advance(60.0)  # the periodic run is due: it passes, entries open again
        worker.poll()
        assert ReconcileStore(BrokerStore(store)).latest_run("tradier", ACCOUNT).status == (  # type: ignore[union-attr]
            "clean")
        assert worker.route(entry("t-3")).state == "acked"


def test_empty_answer_is_confirmed_before_it_counts(fake: FakeTradier, tmp_path: Path) -> None:
    clock = ManualClock(start_ms=1_790_000_000_000)
    with Store(tmp_path / "t.sqlite3") as store, adapter(fake) as tradier:
        worker = worker_on(tradier, store, clock)
        worker.start(ACCOUNT)
        routed = worker.route(entry("t-1"))
        assert routed.ack is not None
        fake.fill(ACCOUNT, routed.ack.broker_order_id, 1.20)
        worker.poll()
        assert BrokerStore(store).get("t-1").state == "filled"  # type: ignore[union-attr]
        fake.rollover()  # the day's orders are gone...
        fake.accounts[ACCOUNT].positions.clear()  # ...and the broker answers with nothing
        first = worker.reconcile(ACCOUNT)
        assert first is not None and first.status == "differences" and not first.halted
        assert [(d.kind, d.action) for d in first.differences] == [
            ("missing_at_broker", "pending")]
        assert "no position and no order at all" in first.differences[0].detail
        second = worker.reconcile(ACCOUNT)
        assert second is not None and (second.status, second.halted) == ("halted", True)
        assert [(d.kind, d.action, d.seen_runs) for d in second.differences] == [
            ("missing_at_broker", "halt", 2)]


def test_cli_broker_failure_exits_2_with_one_line(fake: FakeTradier, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SPXCC_TRADIER_TOKEN", TRADIER_TEST_TOKEN)
    fake.inject(Fault("status", method="GET", path="/balances", status=503, count=50))
    Store(tmp_path / "c.sqlite3").close()  # reconcile compares a store; it never creates one
    code, out, err = run(capsys, "reconcile", "--broker", "tradier", "--account", ACCOUNT,
                         "--base-url", fake.url, "--db", str(tmp_path / "c.sqlite3"), "--json")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "nothing compared" in err
    assert TRADIER_TEST_TOKEN not in err
