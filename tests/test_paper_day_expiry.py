"""Paper day orders expire at the close of their regular session (XNYS via spxcc_core.session,
early closes and holidays included); gtc orders stay. Every instant is worked out by hand in
the comment next to it (New York is UTC−4 in summer, UTC−5 in winter)."""

from __future__ import annotations

from pathlib import Path

from clocks import ReadingClock
from spxcc_paper import FillModel, PaperBroker
from spxcc_paper.expiry import day_order_expiry_ms

from spxcc_core.broker.routing import RoutingLimits, RoutingWorker
from spxcc_core.broker.store import BrokerStore
from spxcc_core.contracts.broker import Fill, OrderIntent, OrderUpdate
from spxcc_core.store import Store

SYM = "SPXW261125C05900000"
MS = 1_000_000  # ns per ms
T0_MS = 1_790_000_000_000  # Mon 2026-09-21 14:13:20 UTC = 10:13:20 New York (EDT)
# 16:00 EDT = 20:00 UTC; 20:00:00 − 14:13:20 = 5 h 46 min 40 s = 20 800 s after T0
CLOSE_MS = 1_790_020_800_000
T0 = T0_MS * MS
CLOSE = CLOSE_MS * MS


def intent(iid: str, *, qty: int = 1, limit: float = 1.00, duration: str = "day",
           side: str = "buy_to_open") -> OrderIntent:
    return OrderIntent(intent_id=iid, option_symbol=SYM, underlying="SPX", side=side,
                       quantity=qty, order_type="limit", limit_price=limit, duration=duration)


def broker(**kw: object) -> PaperBroker:
    kw.setdefault("account_id", "A")
    kw.setdefault("clock", None)  # replay clock: time is what the quotes say
    kw.setdefault("cash", 10_000.0)
    return PaperBroker(**kw)  # type: ignore[arg-type]


def updates(b: PaperBroker) -> list[tuple[str, float | None, int | None, str | None]]:
    return [(e.status, e.filled_quantity, e.at_ms, e.reason) for e in b.poll_events("A")
            if isinstance(e, OrderUpdate)]


# --- the expiry instant -----------------------------------------------------------------------

def test_expiry_instants_worked_by_hand() -> None:
    assert day_order_expiry_ms(T0_MS) == CLOSE_MS
    assert day_order_expiry_ms(CLOSE_MS - 1) == CLOSE_MS
    # at the close itself the session is over: next session is Tue 2026-09-22, 20:00 UTC
    # = CLOSE + 86 400 s
    assert day_order_expiry_ms(CLOSE_MS) == CLOSE_MS + 86_400_000
    # Fri 2026-09-25 17:00 EDT = 21:00 UTC: 2026-09-21 00:00 UTC is 1 789 948 800 s;
    # + 4 days (345 600) + 21 h (75 600) = 1 790 370 000. Expires Mon 09-28 16:00 EDT
    # = 1 789 948 800 + 7 days (604 800) + 20 h (72 000) = 1 790 625 600
    assert day_order_expiry_ms(1_790_370_000_000) == 1_790_625_600_000
    # Fri 2026-07-03 is the Independence Day holiday (July 4 is a Saturday). Placed that day
    # at 12:00 EDT (16:00 UTC): 07-06 00:00 UTC = 1 789 948 800 − 77 days (6 652 800)
    # = 1 783 296 000; 07-03 16:00 UTC = that − 3 days (259 200) + 57 600 = 1 783 094 400.
    # Expires Mon 07-06 16:00 EDT = 1 783 296 000 + 72 000 = 1 783 368 000
    assert day_order_expiry_ms(1_783_094_400_000) == 1_783_368_000_000
    # Fri 2026-11-27 (after Thanksgiving) closes at 13:00 EST = 18:00 UTC:
    # 09-21 00:00 UTC + 67 days (9 + 31 + 27; 5 788 800 s) = 1 795 737 600; + 18 h (64 800)
    # = 1 795 802 400. Placed at 12:00 EST (17:00 UTC, 1 795 798 800)
    assert day_order_expiry_ms(1_795_798_800_000) == 1_795_802_400_000
    # outside the calendar (a replay clock never fed): never expires
    assert day_order_expiry_ms(0) is None


# --- the paper book ---------------------------------------------------------------------------

def test_day_order_expires_at_the_close_and_releases_its_hold() -> None:
    b = broker()
    b.on_quote(SYM, T0, 3.00, 10, 3.20, 10)
    ack = b.submit(intent("d1", qty=2, limit=1.00))  # rests, holds 2 × 1.00 × 100 = 200
    assert b.snapshot("A").option_buying_power == 9_800.0
    b.on_quote(SYM, CLOSE - MS, 3.00, 10, 3.20, 10)  # 15:59:59.999: still working
    assert b.order("A", ack.broker_order_id).status == "open"
    # a marketable quote exactly at 16:00: the order expired first, nothing fills
    b.on_quote(SYM, CLOSE, 0.80, 10, 0.90, 10)
    order = b.order("A", ack.broker_order_id)
    assert (order.status, order.filled_quantity, order.updated_at_ms) == ("expired", 0, CLOSE_MS)
    assert updates(b) == [
        ("open", 0.0, T0_MS, None),
        ("expired", 0.0, CLOSE_MS,
         "day order expired at the session close (2026-09-21 16:00 New York)")]
    snap = b.snapshot("A")
    assert snap.option_buying_power == 10_000.0 and snap.open_orders == ()
    assert snap.positions == ()


def test_gtc_order_stays_and_fills_the_next_day() -> None:
    b = broker()
    b.on_quote(SYM, T0, 3.00, 10, 3.20, 10)
    ack = b.submit(intent("g1", limit=1.00, duration="gtc"))
    next_morning = CLOSE + 17 * 3_600_000 * MS + 30 * 60_000 * MS  # Tue 09:30 EDT
    b.on_quote(SYM, next_morning, 0.90, 10, 0.95, 10)  # ask 0.95 <= 1.00: fills at 0.95
    assert b.order("A", ack.broker_order_id).status == "filled"
    assert [(e.quantity, e.price) for e in b.poll_events("A") if isinstance(e, Fill)] == [
        (1.0, 0.95)]


def test_partly_filled_day_order_keeps_its_fill() -> None:
    b = broker()
    b.on_quote(SYM, T0, 3.00, 10, 3.20, 1)  # 1 contract offered at 3.20
    ack = b.submit(intent("p1", qty=3, limit=3.20))  # fills 1, holds 2 × 3.20 × 100 = 640
    b.advance_to(CLOSE)
    order = b.order("A", ack.broker_order_id)
    assert (order.status, order.filled_quantity, order.remaining_quantity) == (
        "expired", 1, 2)
    snap = b.snapshot("A")
    # cash 10 000 − 320 (the fill); nothing held any more
    assert snap.option_buying_power == 9_680.0
    assert [(p.symbol, p.quantity) for p in snap.positions] == [(SYM, 1.0)]


def test_order_arriving_after_the_close_never_fills() -> None:
    b = broker(model=FillModel(latency_ns=100 * MS))
    b.on_quote(SYM, CLOSE - 50 * MS, 3.00, 10, 3.20, 10)
    ack = b.submit(intent("l1", limit=5.00))  # submitted 15:59:59.950, arrives 16:00:00.050
    b.on_quote(SYM, CLOSE + 60 * MS, 3.00, 10, 3.20, 10)
    order = b.order("A", ack.broker_order_id)
    assert (order.status, order.filled_quantity) == ("expired", 0)


def test_modify_duration_moves_the_expiry() -> None:
    b = broker()
    b.on_quote(SYM, T0, 3.00, 10, 3.20, 10)
    ack = b.submit(intent("m1", limit=1.00))
    b.modify("A", ack.broker_order_id, duration="gtc")
    b.advance_to(CLOSE)
    assert b.order("A", ack.broker_order_id).status == "open"
    b.modify("A", ack.broker_order_id, duration="day")  # from 16:00 Mon: Tue's close
    b.advance_to(CLOSE + 86_400_000 * MS - MS)
    assert b.order("A", ack.broker_order_id).status == "open"
    b.advance_to(CLOSE + 86_400_000 * MS)
    assert b.order("A", ack.broker_order_id).status == "expired"


def test_wall_clock_expiry_happens_on_the_next_read() -> None:
    now = [T0]
    b = broker(clock=lambda: now[0])
    ack = b.submit(intent("w1", limit=1.00))
    now[0] = CLOSE + 5_000 * MS  # nobody looked at the book until 16:00:05
    order = b.order("A", ack.broker_order_id)
    assert (order.status, order.updated_at_ms) == ("expired", CLOSE_MS)


def test_expiry_survives_a_restart_on_the_store(tmp_path: Path) -> None:
    with Store(tmp_path / "p.sqlite3") as store:
        first = broker(store=store)
        first.on_quote(SYM, T0, 3.00, 10, 3.20, 10)
        ack = first.submit(intent("s1", limit=1.00))
        again = broker(store=store)  # a new process: the order is restored from the store
        again.advance_to(CLOSE)
        assert again.order("A", ack.broker_order_id).status == "expired"


def test_routing_worker_records_the_expiry(tmp_path: Path) -> None:
    clock = [T0_MS]
    with Store(tmp_path / "r.sqlite3") as store:
        paper = broker()
        bstore = BrokerStore(store)
        worker = RoutingWorker(paper, bstore, clock=ReadingClock(read_ms=lambda: clock[0]),
                               limits=RoutingLimits(max_open_risk=1_000.0))
        paper.on_quote(SYM, T0, 3.00, 10, 3.20, 10)
        assert worker.route(intent("r1", qty=2, limit=1.00)).state == "acked"
        assert bstore.open_entry_risk("paper", "A") == 200.0  # 2 × 1.00 × 100, no stop
        paper.advance_to(CLOSE)
        clock[0] = CLOSE_MS
        worker.poll()
        rec = bstore.get("r1")
        assert rec is not None and rec.state == "expired"
        assert rec.last_error == "day order expired at the session close (2026-09-21 16:00 New York)"
        assert bstore.open_entry_risk("paper", "A") == 0.0  # nothing filled: risk released
