"""Routing worker against the paper broker and a real store (SQLite and PostgreSQL): pre-trade checks,
reservations, entry/exit sequencing, the recorded history, idempotency."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from clocks import ReadingClock
from spxcc_paper import PaperBroker

from spxcc_core.broker.routing import RoutingLimits, RoutingWorker
from spxcc_core.broker.store import BrokerStore
from spxcc_core.contracts.broker import OrderIntent
from spxcc_core.errors import InputError
from spxcc_core.store import Store

SYM = "SPXW261125C05900000"
SYM2 = "SPXW261125P05800000"
S = 1_000_000_000
T0 = 1_790_000_000 * S


class Clock:
    """Epoch-ms clock the test moves by hand."""

    def __init__(self) -> None:
        self.ms = 1_790_000_000_000

    def __call__(self) -> int:
        return self.ms


def intent(iid: str, *, side: str = "buy_to_open", qty: int = 1, limit: float | None = 3.00,
           stop: float | None = None, symbol: str = SYM, ask: float | None = None
           ) -> OrderIntent:
    return OrderIntent(intent_id=iid, option_symbol=symbol, underlying="SPX", side=side,
                       quantity=qty, order_type="limit" if limit is not None else "market",
                       limit_price=limit, stop_premium=stop, arrival_ask=ask)


@pytest.fixture
def store(store_target: str | Path) -> Iterator[BrokerStore]:
    with Store(store_target) as s:
        yield BrokerStore(s)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make(store: BrokerStore, clock: Clock, *, cash: float = 10_000.0, hours: str = "always",
         **limits: object) -> tuple[PaperBroker, RoutingWorker]:
    paper = PaperBroker(account_id="A", cash=cash, hours=hours, clock=None)
    worker = RoutingWorker(paper, store, limits=RoutingLimits(**limits),  # type: ignore[arg-type]
                           clock=ReadingClock(read_ms=clock))
    return paper, worker


def history(store: BrokerStore, iid: str) -> list[tuple[str, str]]:
    return [(e.kind, e.state) for e in store.events(iid)]


def test_entry_fills_and_every_state_change_is_recorded(store: BrokerStore,
                                                        clock: Clock) -> None:
    paper, worker = make(store, clock)
    paper.on_quote(SYM, T0, 2.90, 10, 3.00, 10)
    r = worker.route(intent("e1", qty=2))
    assert r.state == "filled" and r.ack is not None and not r.ack.duplicate
    assert history(store, "e1") == [("intent", "queued"), ("submit", "submitting"),
                                    ("ack", "acked"), ("fill", "filled")]
    rec = store.get("e1")
    assert rec is not None
    assert (rec.filled_quantity, rec.avg_fill_price, rec.broker_order_id) == (2.0, 3.0, "1")
    assert store.fills("e1") == [("A/1-2", 2.0, 3.0)]


def test_same_intent_twice_places_one_order(store: BrokerStore, clock: Clock) -> None:
    paper, worker = make(store, clock)
    first = worker.route(intent("e1", limit=1.00))
    again = worker.route(intent("e1", limit=1.00))
    assert first.ack is not None and again.ack is not None
    assert again.ack.broker_order_id == first.ack.broker_order_id and again.ack.duplicate
    assert len(paper.orders("A")) == 1
    with pytest.raises(InputError, match="already recorded with different content"):
        worker.route(intent("e1", limit=1.05))


def test_max_contracts_and_market_clock(store: BrokerStore, clock: Clock) -> None:
    _, worker = make(store, clock, hours="closed", max_contracts=2)
    r = worker.route(intent("e1", qty=3))
    assert r.state == "refused"
    assert r.reasons == ("quantity 3 > max contracts 2",
                         "market is not open (broker clock state closed)")
    assert history(store, "e1") == [("intent", "refused")]


def test_reservation_stops_double_spending(store: BrokerStore, clock: Clock) -> None:
    paper, worker = make(store, clock, cash=1_000.0)
    a = worker.route(intent("a", qty=3, limit=3.00))  # rests (no quote), reserves 900
    assert a.state == "acked"
    clock.ms += 1
    b = worker.route(intent("b", qty=2, limit=3.00))  # needs 600; 1000 − 900 reserved = 100
    assert b.state == "refused"
    assert b.reasons == ("insufficient buying power: needs 600.00, optionBuyingPower 1000.00 "
                         "minus 900.00 reserved in flight",)
    clock.ms += 10_000  # snapshot now stale: a fresh one shows the broker's own hold
    c = worker.route(intent("c", qty=2, limit=3.00))
    assert c.reasons == ("insufficient buying power: needs 600.00, optionBuyingPower 100.00 "
                         "minus 0.00 reserved in flight",)
    assert store.snapshot_count("paper", "A") == 2
    d = worker.route(intent("d", qty=1, limit=0.95))  # 95 <= 100
    assert d.state == "acked"
    assert [o.tag is not None for o in paper.orders("A")] == [True, True]


def test_buying_power_buffer(store: BrokerStore, clock: Clock) -> None:
    _, worker = make(store, clock, cash=1_000.0, bp_buffer=0.05)
    # 1000 / (3.00 × 100 × 1.05 = 315) → 3 contracts fit (945), 4 do not (1260)
    assert worker.route(intent("a", qty=4, limit=3.00)).state == "refused"
    assert worker.route(intent("b", qty=3, limit=3.00)).state == "acked"


def test_market_buy_needs_arrival_ask(store: BrokerStore, clock: Clock) -> None:
    paper, worker = make(store, clock)
    r = worker.route(intent("m1", limit=None))
    assert r.reasons == ("market buy without arrivalAsk: cannot estimate its cost",)
    paper.on_quote(SYM, T0, 2.90, 10, 3.00, 10)
    assert worker.route(intent("m2", limit=None, ask=3.00)).state == "filled"


def test_max_open_risk_released_when_exit_fills(store: BrokerStore, clock: Clock) -> None:
    paper, worker = make(store, clock, max_open_risk=300.0)
    paper.on_quote(SYM, T0, 2.90, 10, 3.00, 10)
    # risk (3.00 − 2.00) × 2 × 100 = 200
    assert worker.route(intent("e1", qty=2, stop=2.00)).state == "filled"
    r = worker.route(intent("e2", qty=2, stop=2.00, symbol=SYM2))
    assert r.reasons == ("open risk 200.00 + 200.00 > max open risk 300.00",)
    assert worker.route(intent("x1", side="sell_to_close", qty=2, limit=2.90)).state == "filled"
    assert store.get("e1").closed_ms is not None  # type: ignore[union-attr]
    assert worker.route(intent("e3", qty=2, stop=2.00, symbol=SYM2)).state == "acked"


def test_risk_without_stop_is_the_whole_premium(store: BrokerStore, clock: Clock) -> None:
    _, worker = make(store, clock, max_open_risk=500.0)
    r = worker.route(intent("e1", qty=2, limit=3.00))  # 2 × 3.00 × 100 = 600 > 500
    assert r.reasons == ("open risk 0.00 + 600.00 > max open risk 500.00",)


def test_exit_waits_for_its_entry_fill(store: BrokerStore, clock: Clock) -> None:
    paper, worker = make(store, clock)
    paper.on_quote(SYM, T0, 2.80, 10, 3.10, 10)
    entry = worker.route(intent("e1", qty=2, limit=3.00))  # rests below the 3.10 ask
    assert entry.state == "acked"
    exit_ = worker.route(intent("x1", side="sell_to_close", qty=2, limit=2.50))
    assert exit_.state == "queued" and exit_.ack is None
    assert [o.side for o in paper.orders("A")] == ["buy_to_open"]  # the exit is held back
    paper.on_quote(SYM, T0 + S, 2.95, 10, 3.00, 10)  # entry fills at 3.00
    worker.poll()
    assert store.get("e1").state == "filled"  # type: ignore[union-attr]
    assert store.get("x1").state == "filled"  # type: ignore[union-attr]  (bid 2.95 >= 2.50)
    entry_fill = next(e.seq for e in store.events("e1") if e.kind == "fill")
    exit_submit = next(e.seq for e in store.events("x1") if e.kind == "submit")
    assert exit_submit > entry_fill
    assert store.get("x1").entry_intent_id == "e1"  # type: ignore[union-attr]


def test_exit_refused_when_entry_ends_unfilled(store: BrokerStore, clock: Clock) -> None:
    paper, worker = make(store, clock)
    entry = worker.route(intent("e1", qty=1, limit=1.00))
    worker.route(intent("x1", side="sell_to_close", qty=1, limit=2.00), entry_intent_id="e1")
    assert entry.ack is not None
    paper.cancel("A", entry.ack.broker_order_id)
    worker.poll()
    x = store.get("x1")
    assert x is not None and x.state == "refused"
    assert x.last_error == ("entry intent 'e1' ended canceled with 0 filled, less than the "
                            "exit's 1")
    assert [o.side for o in paper.orders("A")] == ["buy_to_open"]


def test_broker_rejection_recorded(store: BrokerStore, clock: Clock) -> None:
    _, worker = make(store, clock)
    r = worker.route(intent("x1", side="sell_to_close", qty=1, limit=2.00))  # no position
    assert r.state == "rejected"
    assert r.reasons[0].startswith("UnexpectedSellOrderOption")
    assert history(store, "x1")[-1] == ("rejected", "rejected")


def test_fresh_snapshot_bound(store: BrokerStore, clock: Clock) -> None:
    _, worker = make(store, clock, max_snapshot_age_ms=1_000)
    worker.route(intent("a", limit=0.10))
    clock.ms += 1_000  # exactly the bound: still fresh
    worker.route(intent("b", limit=0.10))
    assert store.snapshot_count("paper", "A") == 1
    clock.ms += 1  # 1001 ms old: refetched
    worker.route(intent("c", limit=0.10))
    assert store.snapshot_count("paper", "A") == 2
