"""Reconciliation engine and built-in reconcilers, case by case (scripted broker answers, a real
SQLite store): discovery through ``spxcc_register_reconcilers``, the average-cost book worked by
hand, each difference kind, ambiguity and confirmation, acknowledgement by ``--clear``, a
reconciler that raises, the policy from TOML."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from scripted_broker import ScriptedBroker
from spxcc_reconcile import OrderReconciler, PositionReconciler

from spxcc_core.broker import tag_for
from spxcc_core.broker.reconcile import (
    Finding,
    ReconcileInput,
    ReconcilePolicy,
    Reconciler,
    ReconcileStore,
    reconciler_classes,
)
from spxcc_core.broker.routing import RoutingWorker
from spxcc_core.broker.store import BrokerStore
from spxcc_core.clock import ManualClock
from spxcc_core.contracts.broker import BrokerOrder, Fill, OrderAck, OrderIntent, Position
from spxcc_core.contracts.reconcile import ReconcileFacts
from spxcc_core.errors import ConfigError, PluginError
from spxcc_core.hookspecs import hookimpl
from spxcc_core.plugins import get_plugin_manager
from spxcc_core.registry import PluginRegistry
from spxcc_core.store import Store

SYM = "SPXW991218C05900000"
SYM2 = "SPXW991218P05800000"
ACCOUNT = "A"
T0 = 1_790_000_000_000


@pytest.fixture
def bstore(tmp_path: Path) -> Iterator[BrokerStore]:
    with Store(tmp_path / "e.sqlite3") as s:
        yield BrokerStore(s)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start_ms=T0)


def make(bstore: BrokerStore, clock: ManualClock, policy: ReconcilePolicy | None = None,
         reconcilers: list[type[Reconciler]] | None = None
         ) -> tuple[ScriptedBroker, RoutingWorker]:
    broker = ScriptedBroker(ACCOUNT)
    return broker, RoutingWorker(broker, bstore, clock=clock, reconcile_policy=policy,
                                 reconcilers=reconcilers or [OrderReconciler,
                                                             PositionReconciler])


def record(bstore: BrokerStore, iid: str, side: str, qty: int, *, state: str = "acked",
           symbol: str = SYM, now_ms: int = T0) -> str:
    """An intent acknowledged as order ``o-<iid>`` (``state`` submitting: never acked)."""
    intent = OrderIntent(intent_id=iid, option_symbol=symbol, underlying="SPX",
                         side=side, quantity=qty, order_type="limit",  # type: ignore[arg-type]
                         limit_price=5.0)
    bstore.insert_intent(intent, broker="scripted", account_id=ACCOUNT, tag=tag_for(iid),
                         state="queued", now_ms=now_ms)
    if state == "submitting":
        bstore.claim_submission(iid, now_ms=now_ms)
    else:
        bstore.record_ack(OrderAck(intent_id=iid, broker_order_id=f"o-{iid}", status="ok",
                                   tag=tag_for(iid), account_id=ACCOUNT), now_ms=now_ms)
    return f"o-{iid}"


def fill(worker: RoutingWorker, iid: str, side: str, cumulative: int, qty: int,
         price: float, symbol: str = SYM) -> None:
    worker.on_event(Fill(fill_id=f"o-{iid}-{cumulative}", broker_order_id=f"o-{iid}",
                         symbol=symbol, side=side, quantity=float(qty), price=price,
                         tag=tag_for(iid), intent_id=iid, account_id=ACCOUNT))


def order(iid: str, side: str, qty: int, filled: int, avg: float | None, status: str,
          symbol: str = SYM) -> BrokerOrder:
    return BrokerOrder(id=f"o-{iid}", status=status, tag=tag_for(iid), symbol=symbol, side=side,
                       quantity=float(qty), filled_quantity=float(filled), avg_fill_price=avg)


# --- discovery --------------------------------------------------------------------------------


def test_builtin_reconcilers_are_registered_through_the_hook() -> None:
    assert [c.name for c in reconciler_classes(get_plugin_manager())] == ["orders", "positions"]
    impls = get_plugin_manager().hook.spxcc_register_reconcilers.get_hookimpls()
    assert "spxcc_reconcile" in [i.plugin_name for i in impls]


def test_duplicate_reconciler_names_and_raising_hooks_are_plugin_errors() -> None:
    class Twin(Reconciler):
        name: ClassVar[str] = "orders"

        def check(self, data: ReconcileInput) -> list[Finding]:
            return []

    class TwinPlugin:
        @hookimpl
        def spxcc_register_reconcilers(self) -> list[type[Reconciler]]:
            return [Twin]

    class Raising:
        @hookimpl
        def spxcc_register_reconcilers(self) -> list[type[Reconciler]]:
            raise RuntimeError("broken plugin")

    pm = get_plugin_manager()
    pm.register(TwinPlugin(), name="twin")
    with pytest.raises(PluginError, match="two reconcilers are named 'orders'"):
        reconciler_classes(pm)
    pm = get_plugin_manager()
    pm.register(Raising(), name="raising")
    with pytest.raises(PluginError, match="'raising' failed in spxcc_register_reconcilers"):
        reconciler_classes(pm)
    registry = PluginRegistry(pm)  # with a registry: left out, listed in its failures
    assert [c.name for c in reconciler_classes(registry)] == ["orders", "positions"]
    assert [f.plugin for f in registry.failures] == ["raising"]


def test_a_raising_reconciler_fails_the_run_and_blocks_entries(bstore: BrokerStore,
                                                               clock: ManualClock) -> None:
    class Broken(Reconciler):
        name: ClassVar[str] = "broken"

        def check(self, data: ReconcileInput) -> list[Finding]:
            raise ValueError("bug")

    broker, worker = make(bstore, clock, reconcilers=[Broken, PositionReconciler])
    broker.positions = [Position(symbol=SYM, quantity=1.0)]
    run = worker.reconcile(ACCOUNT)
    assert run is not None and run.status == "failed"
    assert run.error == "reconciler broken failed: ValueError: bug"
    assert [d.kind for d in run.differences] == ["unknown_at_broker"]  # the others still run
    reason = worker.guard.block_reason(ACCOUNT)
    assert reason is not None and "has not passed" in reason


# --- the internal book (average cost), worked by hand ---------------------------------------


def test_book_is_average_cost_with_adjustments(bstore: BrokerStore, clock: ManualClock) -> None:
    _, worker = make(bstore, clock)
    record(bstore, "e1", "buy_to_open", 3)
    record(bstore, "x1", "sell_to_close", 2)
    fill(worker, "e1", "buy_to_open", 1, 1, 2.00)  # 1 @ 2.00 → $200
    fill(worker, "e1", "buy_to_open", 3, 2, 2.60)  # 2 @ 2.60 → $520; 3 held, $720
    fill(worker, "x1", "sell_to_close", 2, 2, 4.00)  # 2 of 3 sold: cost 720 × 1/3 = $240 left
    book = ReconcileStore(bstore).book("scripted", ACCOUNT)
    assert (book.positions[SYM].quantity, book.positions[SYM].cost_basis) == (1.0, 240.0)
    assert book.open_orders == {}  # both filled


# --- each kind ------------------------------------------------------------------------------


def test_quantity_and_cost_basis_mismatches(bstore: BrokerStore, clock: ManualClock) -> None:
    broker, worker = make(bstore, clock)
    record(bstore, "e1", "buy_to_open", 2)
    record(bstore, "e2", "buy_to_open", 1, symbol=SYM2)
    fill(worker, "e1", "buy_to_open", 2, 2, 3.00)  # $600
    fill(worker, "e2", "buy_to_open", 1, 1, 1.00, symbol=SYM2)  # $100
    broker.order_list = [order("e1", "buy_to_open", 2, 2, 3.00, "filled"),
                         order("e2", "buy_to_open", 1, 1, 1.00, "filled", SYM2)]
    # the broker: 2 of SYM at $601.50 (within $1? no: 1.50 > 1.00), 3 of SYM2
    broker.positions = [Position(symbol=SYM, quantity=2.0, cost_basis=601.50),
                        Position(symbol=SYM2, quantity=3.0, cost_basis=300.0)]
    run = worker.reconcile(ACCOUNT)
    assert run is not None and run.status == "halted"
    got = [(d.kind, d.symbol, d.severity, d.action) for d in run.differences]
    assert got == [("cost_basis_mismatch", SYM, "warning", "alert"),
                   ("quantity_mismatch", SYM2, "critical", "halt")]
    assert run.differences[0].detail == (
        f"{SYM}: cost basis $600.00 here, $601.50 at the broker (tolerance $1.00)")
    # a tolerance of $1.50 accepts it
    lenient = RoutingWorker(broker, bstore, clock=clock, reconcilers=[PositionReconciler],
                            reconcile_policy=ReconcilePolicy(cost_basis_tolerance=1.5))
    again = lenient.reconcile(ACCOUNT)
    assert again is not None and [d.kind for d in again.differences] == ["quantity_mismatch"]


def test_missing_position_and_missing_working_order(bstore: BrokerStore,
                                                    clock: ManualClock) -> None:
    broker, worker = make(bstore, clock, ReconcilePolicy(stuck_after_ms=60_000))
    record(bstore, "e1", "buy_to_open", 1)
    fill(worker, "e1", "buy_to_open", 1, 1, 2.00)
    record(bstore, "e2", "buy_to_open", 1, symbol=SYM2)  # working, never filled
    broker.order_list = [order("e1", "buy_to_open", 1, 1, 2.00, "filled")]  # e2 not there
    clock.advance(61.0)  # older than stuck_after: not a visibility delay any more
    run = worker.reconcile(ACCOUNT)
    assert run is not None
    assert [(d.kind, d.symbol, d.reconciler, d.action) for d in run.differences] == [
        ("missing_at_broker", SYM2, "orders", "halt"),
        ("missing_at_broker", SYM, "positions", "halt")]
    assert run.differences[0].internal.order_id == "o-e2" and run.halted


def test_stuck_in_flight_intent_is_ended_when_adopted(bstore: BrokerStore,
                                                      clock: ManualClock) -> None:
    _, worker = make(bstore, clock, ReconcilePolicy(
        stuck_after_ms=120_000, actions={"stuck_order": "adopt"}))
    record(bstore, "s1", "buy_to_open", 1, state="submitting")
    clock.advance(120.0)  # exactly the limit: still in flight, not a difference
    run = worker.reconcile(ACCOUNT)
    assert run is not None and run.status == "clean"
    clock.advance(0.001)
    run = worker.reconcile(ACCOUNT)  # the broker shows nothing at all: confirmed first
    assert run is not None
    assert [(d.kind, d.action) for d in run.differences] == [("stuck_order", "pending")]
    run = worker.reconcile(ACCOUNT)
    assert run is not None
    [d] = run.differences
    assert (d.kind, d.action, d.applied) == ("stuck_order", "adopt", True)
    assert "has no order with its tag" in d.detail
    rec = bstore.get("s1")
    assert rec is not None and rec.state == "canceled"
    again = worker.reconcile(ACCOUNT)
    assert again is not None and again.status == "clean"


def test_external_working_order_is_adopted_once(bstore: BrokerStore,
                                                clock: ManualClock) -> None:
    broker, worker = make(bstore, clock, ReconcilePolicy(actions={"unknown_at_broker": "adopt"}))
    broker.order_list = [BrokerOrder(id="99", status="open", tag="spxcc-elsewhere", symbol=SYM,
                                     side="buy_to_open", quantity=1.0, filled_quantity=0.0)]
    run = worker.reconcile(ACCOUNT)
    assert run is not None
    [d] = run.differences
    assert (d.kind, d.action, d.applied) == ("unknown_at_broker", "adopt", True)
    assert "carries an spxcc tag this store never recorded" in d.detail
    again = worker.reconcile(ACCOUNT)
    assert again is not None and again.status == "clean"


# --- ambiguity, confirmation, acknowledgement ----------------------------------------------


def test_difference_on_a_symbol_with_a_working_order_waits_for_confirmation(
        bstore: BrokerStore, clock: ManualClock) -> None:
    broker, worker = make(bstore, clock, ReconcilePolicy(confirm_runs=3))
    broker.positions = [Position(symbol=SYM, quantity=1.0)]
    broker.order_list = [BrokerOrder(id="77", status="open", symbol=SYM, side="buy_to_open",
                                     quantity=1.0, filled_quantity=0.0)]
    actions = []
    for _ in range(4):
        run = worker.reconcile(ACCOUNT)
        assert run is not None
        actions.append([(d.kind, d.action, d.seen_runs) for d in run.differences
                        if d.kind == "unknown_at_broker" and d.symbol == SYM
                        and d.reconciler == "positions"])
    assert actions == [[("unknown_at_broker", "pending", 1)],
                       [("unknown_at_broker", "pending", 2)],
                       [("unknown_at_broker", "alert", 3)],
                       [("unknown_at_broker", "alert", 4)]]


def test_keys_are_stable_and_clear_acknowledges_the_halting_difference(
        bstore: BrokerStore, clock: ManualClock) -> None:
    broker, worker = make(bstore, clock, ReconcilePolicy(actions={"unknown_at_broker": "halt"}))
    broker.positions = [Position(symbol=SYM, quantity=2.0, cost_basis=500.0)]
    first = worker.reconcile(ACCOUNT)
    clock.advance(5.0)
    second = worker.reconcile(ACCOUNT)
    assert first is not None and second is not None
    assert first.differences[0].key == second.differences[0].key
    assert first.differences[0].key.startswith("unknown_at_broker:")
    assert worker.guard.engine is not None and worker.guard.engine.clear(ACCOUNT) is True
    third = worker.reconcile(ACCOUNT)
    assert third is not None and (third.status, third.halted) == ("differences", False)
    assert (third.differences[0].action, third.differences[0].acknowledged) == ("alert", True)
    broker.positions = [Position(symbol=SYM, quantity=3.0, cost_basis=750.0)]  # it changed
    fourth = worker.reconcile(ACCOUNT)
    assert fourth is not None and fourth.status == "halted"


def test_failed_read_keeps_an_earlier_halt_and_stores_the_run(bstore: BrokerStore,
                                                              clock: ManualClock) -> None:
    broker, worker = make(bstore, clock)
    record(bstore, "e1", "buy_to_open", 1)
    fill(worker, "e1", "buy_to_open", 1, 1, 2.00)
    broker.order_list = [order("e1", "buy_to_open", 1, 1, 2.0, "filled")]
    halted = worker.reconcile(ACCOUNT)  # we hold 1, the broker shows none: halt
    assert halted is not None and halted.status == "halted"
    broker.fail = True
    failed = worker.reconcile(ACCOUNT)
    assert failed is not None and (failed.status, failed.halted) == ("failed", True)
    assert failed.error == ("broker answer unusable, nothing compared: scripted broker is "
                            "down")
    runs = ReconcileStore(bstore).runs("scripted", ACCOUNT)
    assert [r.status for r in runs] == ["halted", "failed"]


def test_periodic_runs_follow_the_injected_clock(bstore: BrokerStore,
                                                 clock: ManualClock) -> None:
    broker, worker = make(bstore, clock, ReconcilePolicy(interval_ms=30_000))
    worker.start(ACCOUNT)
    reads = broker.reads
    clock.advance(29.999)
    worker.poll()
    assert broker.reads == reads
    clock.advance(0.001)
    worker.poll()
    assert broker.reads == reads + 3  # orders, snapshot, orders
    triggers = [r.trigger for r in ReconcileStore(bstore).runs("scripted", ACCOUNT)]
    assert triggers == ["startup", "periodic"]


# --- policy --------------------------------------------------------------------------------


def test_policy_defaults_and_validation(tmp_path: Path) -> None:
    p = ReconcilePolicy()
    assert dict(p.actions) == {
        "missing_at_broker": "halt", "unknown_at_broker": "alert", "quantity_mismatch": "halt",
        "cost_basis_mismatch": "alert", "stuck_order": "alert", "unrecorded_fill": "adopt"}
    with pytest.raises(ConfigError, match="'pending' is not one of alert, adopt, halt"):
        ReconcilePolicy(actions={"stuck_order": "pending"})
    with pytest.raises(ConfigError, match="unknown key 'interval'"):
        ReconcilePolicy.from_mapping({"interval": 5})
    with pytest.raises(ConfigError, match="confirm_runs: must be an integer"):
        ReconcilePolicy.from_mapping({"confirm_runs": 1.5})
    with pytest.raises(ConfigError, match="interval_ms"):
        ReconcilePolicy.from_mapping({"interval_s": 0})
    path = tmp_path / "p.toml"
    path.write_text("[reconcile]\ninterval_s = 2.5\n[reconcile.actions]\nstuck_order = 'halt'\n")
    got = ReconcilePolicy.from_toml(path)
    assert (got.interval_ms, got.action("stuck_order")) == (2_500, "halt")


def test_facts_of_a_difference_are_what_each_side_says() -> None:
    facts = ReconcileFacts(present=True, quantity=2.0, cost_basis=-310.0)
    assert (facts.order_id, facts.status, facts.intent_id) == (None, None, None)


def test_two_processes_claim_different_run_numbers(tmp_path: Path, clock: ManualClock) -> None:
    with Store(tmp_path / "two.sqlite3") as a, Store(tmp_path / "two.sqlite3") as b:
        first, second = ReconcileStore(BrokerStore(a)), ReconcileStore(BrokerStore(b))
        ids = [first.claim_run("scripted", ACCOUNT, at_ms=T0, trigger="cli"),
               second.claim_run("scripted", ACCOUNT, at_ms=T0, trigger="periodic"),
               first.claim_run("scripted", ACCOUNT, at_ms=T0, trigger="cli")]
        assert ids == ["scripted:A:1", "scripted:A:2", "scripted:A:3"]
        # claimed but never finished (the process died): not a run anyone reads
        assert first.latest_run("scripted", ACCOUNT) is None and second.runs("scripted",
                                                                             ACCOUNT) == []
        broker = ScriptedBroker(ACCOUNT)
        worker = RoutingWorker(broker, BrokerStore(b), clock=clock,
                               reconcilers=[PositionReconciler])
        run = worker.reconcile(ACCOUNT)
        assert run is not None and run.run_id == "scripted:A:4"
        assert [r.run_id for r in first.runs("scripted", ACCOUNT)] == ["scripted:A:4"]


def test_an_expired_contract_missing_at_the_broker_says_so(bstore: BrokerStore,
                                                            clock: ManualClock) -> None:
    """T0 is 2026-09-21 (New York); a 2026-09-18 contract expired, a 2099 one did not."""
    expired = "SPXW260918C05900000"
    broker, worker = make(bstore, clock)
    record(bstore, "e1", "buy_to_open", 1, symbol=expired)
    record(bstore, "e2", "buy_to_open", 1)
    fill(worker, "e1", "buy_to_open", 1, 1, 2.00, symbol=expired)
    fill(worker, "e2", "buy_to_open", 1, 1, 2.00)
    broker.order_list = [order("e1", "buy_to_open", 1, 1, 2.0, "filled", expired),
                         order("e2", "buy_to_open", 1, 1, 2.0, "filled")]
    run = worker.reconcile(ACCOUNT)
    assert run is not None
    details = {d.symbol: d.detail for d in run.differences}
    assert details[expired].endswith("(the contract expired on 2026-09-18: settled at the "
                                     "broker; adopt to record that)")
    assert "expired" not in details[SYM]


def test_an_unrecorded_fill_without_a_price_is_never_recorded(bstore: BrokerStore,
                                                               clock: ManualClock) -> None:
    broker, worker = make(bstore, clock)
    record(bstore, "e1", "buy_to_open", 2)
    broker.order_list = [order("e1", "buy_to_open", 2, 2, None, "filled")]  # no price given
    broker.positions = [Position(symbol=SYM, quantity=2.0)]
    first, second = worker.reconcile(ACCOUNT), worker.reconcile(ACCOUNT)
    assert first is not None and second is not None
    assert [(d.kind, d.action) for d in first.differences] == [("unrecorded_fill", "pending")]
    assert [(d.kind, d.action) for d in second.differences] == [("unrecorded_fill", "alert")]
    assert "nothing safe to adopt" in second.differences[0].detail
    assert bstore.fills("e1") == []
    # the price arrives: 2 @ 1.35 recorded once
    broker.order_list = [order("e1", "buy_to_open", 2, 2, 1.35, "filled")]
    third = worker.reconcile(ACCOUNT)
    assert third is not None and [(d.action, d.applied) for d in third.differences] == [
        ("adopt", True)]
    assert bstore.fills("e1") == [(f"{ACCOUNT}/o-e1-2", 2.0, 1.35)]
