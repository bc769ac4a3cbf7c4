"""Reconciliation properties (hypothesis): fills reach our store shuffled, duplicated and
dropped, and reconciliation runs against broker snapshots of any moments (shuffled, duplicated,
dropped, stale) before one of the present. After that last run our quantity of every symbol is
the broker's; reopening the SQLite file and reconciling again applies nothing twice; and no
difference is silently dropped."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
from hypothesis import given
from hypothesis import strategies as st
from scripted_broker import ScriptedBroker
from spxcc_reconcile import OrderReconciler, PositionReconciler

from spxcc_core.broker import tag_for
from spxcc_core.broker.reconcile import ReconcilePolicy, ReconcileStore
from spxcc_core.broker.routing import RoutingWorker
from spxcc_core.broker.store import BrokerStore
from spxcc_core.clock import ManualClock
from spxcc_core.contracts.broker import BrokerOrder, Fill, OrderAck, OrderIntent, Position
from spxcc_core.store import Store

SYMBOLS = ("SPXW261125C05900000", "SPXW261125P05800000", "SPXW261125C05950000")
ACCOUNT = "A"
ALL_ADOPT = ReconcilePolicy(actions={k: "adopt" for k in (
    "missing_at_broker", "unknown_at_broker", "quantity_mismatch", "cost_basis_mismatch",
    "stuck_order", "unrecorded_fill")})


@attrs.frozen
class Order:
    """One of our orders: its fills are cumulative marks 1..quantity (prices per mark)."""

    oid: str
    symbol: str
    side: str
    marks: tuple[int, ...]  # cumulative filled after each execution, increasing to quantity
    prices: tuple[float, ...]

    @property
    def quantity(self) -> int:
        return self.marks[-1]

    @property
    def sign(self) -> int:
        return 1 if self.side.startswith("buy") else -1


@st.composite
def orders(draw: st.DrawFn) -> list[Order]:
    out = []
    for n in range(draw(st.integers(1, 4))):
        qty = draw(st.integers(1, 5))
        cuts = sorted(draw(st.sets(st.integers(1, qty - 1), max_size=2))) if qty > 1 else []
        marks = (*cuts, qty)
        prices = tuple(draw(st.sampled_from((1.0, 1.25, 2.5, 3.05))) for _ in marks)
        out.append(Order(f"o{n}", draw(st.sampled_from(SYMBOLS)),
                         draw(st.sampled_from(("buy_to_open", "sell_to_open"))), marks, prices))
    return out


def executions(book: list[Order]) -> list[tuple[Order, int]]:
    """Every execution in true order: (order, index of its mark)."""
    return [(o, i) for o in book for i in range(len(o.marks))]


def fill_event(o: Order, i: int) -> Fill:
    prev = o.marks[i - 1] if i else 0
    return Fill(fill_id=f"{o.oid}-{o.marks[i]}", broker_order_id=o.oid, symbol=o.symbol,
                side=o.side, quantity=float(o.marks[i] - prev), price=o.prices[i],
                tag=tag_for(o.oid), intent_id=o.oid, account_id=ACCOUNT)


def broker_at(broker: ScriptedBroker, book: list[Order], moment: int) -> dict[str, float]:
    """Set the broker's state after the first ``moment`` executions; returns its positions."""
    done = executions(book)[:moment]
    filled: dict[str, int] = {}
    notional: dict[str, float] = {}
    for o, i in done:
        prev = o.marks[i - 1] if i else 0
        filled[o.oid] = o.marks[i]
        notional[o.oid] = notional.get(o.oid, 0.0) + (o.marks[i] - prev) * o.prices[i]
    broker.order_list = []
    for o in book:
        f = filled.get(o.oid, 0)
        status = "filled" if f == o.quantity else "partially_filled" if f else "open"
        broker.order_list.append(BrokerOrder(
            id=o.oid, status=status, tag=tag_for(o.oid), symbol=o.symbol, side=o.side,
            quantity=float(o.quantity), filled_quantity=float(f),
            avg_fill_price=round(notional[o.oid] / f, 10) if f else None))
    held: dict[str, float] = {}
    for o in book:
        held[o.symbol] = held.get(o.symbol, 0.0) + o.sign * filled.get(o.oid, 0)
    broker.positions = [Position(symbol=s, quantity=q) for s, q in sorted(held.items()) if q]
    return {s: q for s, q in held.items() if q}


@contextmanager
def worker_on(path: Path, broker: ScriptedBroker, clock: ManualClock
              ) -> Iterator[tuple[RoutingWorker, BrokerStore]]:
    with Store(path) as store:
        bstore = BrokerStore(store)
        yield RoutingWorker(broker, bstore, clock=clock, reconcile_policy=ALL_ADOPT,
                            reconcilers=[OrderReconciler, PositionReconciler]), bstore


def record_intents(bstore: BrokerStore, book: list[Order], now_ms: int) -> None:
    for o in book:
        intent = OrderIntent(intent_id=o.oid, option_symbol=o.symbol, underlying="SPX",
                             side=o.side, quantity=o.quantity, order_type="limit",  # type: ignore[arg-type]
                             limit_price=5.0)
        bstore.insert_intent(intent, broker="scripted", account_id=ACCOUNT, tag=tag_for(o.oid),
                             state="queued", now_ms=now_ms)
        bstore.record_ack(OrderAck(intent_id=o.oid, broker_order_id=o.oid, status="open",
                                   tag=tag_for(o.oid), account_id=ACCOUNT), now_ms=now_ms)


def our_quantities(bstore: BrokerStore) -> dict[str, float]:
    book = ReconcileStore(bstore).book("scripted", ACCOUNT)
    return {s: p.quantity for s, p in book.positions.items()}


def counts(bstore: BrokerStore) -> tuple[int, int]:
    fills = bstore.conn.execute("SELECT COUNT(*) FROM spx_broker_fills").fetchone()[0]
    adoptions = bstore.conn.execute("SELECT COUNT(*) FROM spx_reconcile_adoptions").fetchone()[0]
    return fills, adoptions


Op = tuple[str, int]


@st.composite
def scenario(draw: st.DrawFn) -> tuple[list[Order], list[Op]]:
    book = draw(orders())
    n = len(executions(book))
    ops = draw(st.lists(st.one_of(st.tuples(st.just("fill"), st.integers(0, n - 1)),
                                  st.tuples(st.just("snap"), st.integers(0, n))), max_size=14))
    return book, ops


@given(scenario())
def test_after_reconciling_our_quantity_is_the_brokers_and_nothing_applies_twice(
        case: tuple[list[Order], list[Op]]) -> None:
    book, ops = case
    execs = executions(book)
    clock = ManualClock(start_ms=1_790_000_000_000)
    broker = ScriptedBroker(ACCOUNT)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.sqlite3"
        with worker_on(path, broker, clock) as (worker, bstore):
            record_intents(bstore, book, clock.now_ms())
            for op, arg in ops:  # deliveries shuffled, duplicated, dropped; stale snapshots
                clock.advance(1.0)
                if op == "fill":
                    worker.on_event(fill_event(*execs[arg]))
                else:
                    broker_at(broker, book, arg)
                    worker.reconcile(ACCOUNT)
            truth = broker_at(broker, book, len(execs))  # the present
            clock.advance(1.0)
            worker.reconcile(ACCOUNT)
            assert our_quantities(bstore) == truth
            settled = counts(bstore)
        # restart: a new process on the same file reconciles against the same broker state
        clock.advance(1.0)
        with worker_on(path, broker, clock) as (worker, bstore):
            run = worker.reconcile(ACCOUNT)
            assert run is not None and run.status == "clean", run
            assert counts(bstore) == settled
            assert our_quantities(bstore) == truth


@given(orders(), st.data())
def test_no_difference_is_silently_dropped(book: list[Order], data: st.DataObject) -> None:
    """One reconciliation after lossy delivery: every symbol whose delivered fills do not add
    up to the broker's position is reported (as an unrecorded fill of one of its orders or a
    position difference), under the default policy and when everything is adopted."""
    execs = executions(book)
    delivered = data.draw(st.lists(st.integers(0, len(execs) - 1)))
    policy = data.draw(st.sampled_from((ReconcilePolicy(), ALL_ADOPT)))
    clock = ManualClock(start_ms=1_790_000_000_000)
    broker = ScriptedBroker(ACCOUNT)
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "r.sqlite3") as store:
        bstore = BrokerStore(store)
        worker = RoutingWorker(broker, bstore, clock=clock, reconcile_policy=policy,
                               reconcilers=[OrderReconciler, PositionReconciler])
        record_intents(bstore, book, clock.now_ms())
        for k in delivered:
            worker.on_event(fill_event(*execs[k]))
        truth = broker_at(broker, book, len(execs))
        # what reached us, summed by hand from the distinct delivered executions
        ours: dict[str, float] = {}
        for k in set(delivered):
            o, i = execs[k]
            prev = o.marks[i - 1] if i else 0
            ours[o.symbol] = ours.get(o.symbol, 0.0) + o.sign * (o.marks[i] - prev)
        off = {s for s in set(ours) | set(truth) if ours.get(s, 0.0) != truth.get(s, 0.0)}
        run = worker.reconcile(ACCOUNT)
        assert run is not None
        reported = {d.symbol for d in run.differences}
        assert off <= reported
        assert (run.status == "clean") == (not run.differences)
        if set(delivered) == set(range(len(execs))):  # nothing lost: nothing to report
            assert run.status == "clean", run
        else:  # every lost execution is reported on its order
            lost = {execs[k][0].oid for k in set(range(len(execs))) - set(delivered)}
            unrecorded = {d.internal.intent_id for d in run.differences
                          if d.kind == "unrecorded_fill"}
            assert lost == unrecorded


@given(orders(), st.data())
def test_default_policy_recovers_lost_fills_without_halting(book: list[Order],
                                                            data: st.DataObject) -> None:
    """Under the default policy (only ``unrecorded_fill`` adopts), fills lost, repeated or
    reordered on the way to us are recovered from the broker's order totals: one run, no
    halt, and our quantities are the broker's."""
    execs = executions(book)
    delivered = data.draw(st.lists(st.integers(0, len(execs) - 1)))
    clock = ManualClock(start_ms=1_790_000_000_000)
    broker = ScriptedBroker(ACCOUNT)
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "r.sqlite3") as store:
        bstore = BrokerStore(store)
        worker = RoutingWorker(broker, bstore, clock=clock,
                               reconcilers=[OrderReconciler, PositionReconciler])
        record_intents(bstore, book, clock.now_ms())
        for k in delivered:
            worker.on_event(fill_event(*execs[k]))
        truth = broker_at(broker, book, len(execs))
        run = worker.reconcile(ACCOUNT)
        assert run is not None and not run.halted
        assert {d.kind for d in run.differences} <= {"unrecorded_fill"}
        assert all(d.applied for d in run.differences)
        assert our_quantities(bstore) == truth
