"""The pure pre-trade checks (``spxcc_core.broker.checks``), each with hand-worked values and
its boundaries; and the in-memory intent book's reservations."""

from __future__ import annotations

from typing import get_args

import pytest

from spxcc_core.broker import checks
from spxcc_core.broker.book import IntentBook, LiveIntent
from spxcc_core.broker.store import FINAL_STATES, OPEN_STATES, IntentState
from spxcc_core.contracts.broker import MarketClock, OrderIntent

SYM = "SPXW261125C05900000"


def intent(*, side: str = "buy_to_open", qty: int = 1, limit: float | None = 3.0,
           ask: float | None = None, iid: str = "i1") -> OrderIntent:
    return OrderIntent(intent_id=iid, option_symbol=SYM, underlying="SPX", side=side,
                       quantity=qty, order_type="limit" if limit is not None else "market",
                       limit_price=limit, arrival_ask=ask)


def test_states_literal_is_exactly_open_plus_final() -> None:
    assert set(get_args(IntentState)) == OPEN_STATES | FINAL_STATES
    assert not OPEN_STATES & FINAL_STATES


@pytest.mark.parametrize(("qty", "limit", "reason"), [
    (5, None, None),  # no limit
    (4, 5, None),
    (5, 5, None),  # equal passes
    (6, 5, "quantity 6 > max contracts 5"),
])
def test_max_contracts(qty: int, limit: int | None, reason: str | None) -> None:
    assert checks.max_contracts_reason(qty, limit) == reason


def test_market_hours() -> None:
    assert checks.market_hours_reason(MarketClock(state="open", is_open=True)) is None
    assert checks.market_hours_reason(MarketClock(state="postmarket", is_open=False)) == (
        "market is not open (broker clock state postmarket)")


@pytest.mark.parametrize(("now", "ttl", "nxt", "until"), [
    (1_000, 500, None, 1_500),
    (1_000, 500, 1_200, 1_200),  # the clock changes first
    (1_000, 500, 1_500, 1_500),
    (1_000, 500, 9_000, 1_500),
    (1_000, 0, None, 1_000),  # ttl 0: expired at once
])
def test_clock_valid_until(now: int, ttl: int, nxt: int | None, until: int) -> None:
    assert checks.clock_valid_until_ms(now, ttl, nxt) == until


def test_order_price_is_limit_else_arrival_ask() -> None:
    assert checks.order_price(intent(limit=3.0, ask=3.2)) == 3.0
    assert checks.order_price(intent(limit=None, ask=3.2)) == 3.2
    assert checks.order_price(intent(limit=None, ask=None)) is None


@pytest.mark.parametrize(("price", "qty", "buffer", "cost"), [
    (3.00, 2, 0.0, 600.00),  # 3 × 2 × 100
    (3.00, 2, 0.10, 660.00),  # + 10 %
    (1.05, 3, 0.0, 315.00),  # float 1.05 × 300 = 315.00000000000006 → cents
    (0.05, 1, 1.0, 10.00),  # buffer upper bound doubles it
])
def test_estimated_cost(price: float, qty: int, buffer: float, cost: float) -> None:
    assert checks.estimated_cost(price, qty, buffer) == cost


@pytest.mark.parametrize(("cost", "bp", "held", "reason"), [
    (600.0, 1_000.0, 0.0, None),
    (600.0, 1_000.0, 400.0, None),  # exactly all of it passes
    (600.0, 1_000.0, 400.01, "insufficient buying power: needs 600.00, option_buying_power "
                             "1000.00 minus 400.01 reserved in flight"),
    (600.0, 599.99, 0.0, "insufficient buying power: needs 600.00, option_buying_power "
                         "599.99 minus 0.00 reserved in flight"),
    (600.0, None, 0.0, "buying power unknown: option_buying_power is null in the snapshot"),
])
def test_buying_power(cost: float, bp: float | None, held: float, reason: str | None) -> None:
    assert checks.buying_power_reason(cost, bp, "option_buying_power", held) == reason


def test_float_sums_at_the_boundary_pass() -> None:
    # 0.1 + 0.2 = 0.30000000000000004: a cost of 0.30 fits 0.1 + 0.2 of buying power
    assert checks.buying_power_reason(0.30, 0.1 + 0.2, "cash", 0.0) is None
    assert checks.open_risk_reason(0.1, 0.2, 0.3, True) is None


@pytest.mark.parametrize(("price", "stop", "qty", "risk"), [
    (3.00, 2.00, 2, 200.00),  # (3 − 2) × 2 × 100
    (3.00, None, 1, 300.00),  # no stop: the whole premium
    (3.00, 3.00, 1, 300.00),  # stop not below the price: the whole premium
    (3.00, 3.50, 1, 300.00),
    (3.00, 0.0, 1, 300.00),
    (None, 2.00, 1, 0.0),  # no price: nothing measurable
])
def test_entry_risk(price: float | None, stop: float | None, qty: int, risk: float) -> None:
    assert checks.entry_risk(price, stop, qty) == risk


@pytest.mark.parametrize(("open_risk", "risk", "cap", "has_price", "reason"), [
    (100.0, 200.0, 300.0, True, None),  # equal passes
    (100.0, 200.01, 300.0, True, "open risk 100.00 + 200.01 > max open risk 300.00"),
    (0.0, 0.0, 0.0, True, None),
    (0.0, 0.0, 1_000.0, False, "entry without a price: cannot measure its risk"),
])
def test_open_risk(open_risk: float, risk: float, cap: float, has_price: bool,
                   reason: str | None) -> None:
    assert checks.open_risk_reason(open_risk, risk, cap, has_price) == reason


def test_entry_reference() -> None:
    ok = {"recorded": True, "is_entry": True, "same_account": True, "account_id": "A",
          "broker": "paper"}
    assert checks.entry_reference_reason("e1", **ok) is None  # type: ignore[arg-type]
    assert checks.entry_reference_reason(
        "e1", **{**ok, "recorded": False}) == "entry intent 'e1' is not recorded"  # type: ignore[arg-type]
    wrong = "entry intent 'e1' is not an entry of account A at paper"
    assert checks.entry_reference_reason("e1", **{**ok, "is_entry": False}) == wrong  # type: ignore[arg-type]
    assert checks.entry_reference_reason("e1", **{**ok, "same_account": False}) == wrong  # type: ignore[arg-type]


@pytest.mark.parametrize(("state", "filled", "final", "gate"), [
    ("filled", 2.0, True, "send"),
    ("partially_filled", 2.0, False, "send"),  # filled the exit's 2: enough
    ("partially_filled", 1.0, False, "wait"),
    ("acked", 0.0, False, "wait"),
    ("canceled", 1.0, True,
     "entry intent 'e1' ended canceled with 1 filled, less than the exit's 2"),
])
def test_entry_gate(state: str, filled: float, final: bool, gate: str) -> None:
    assert checks.entry_gate("e1", entry_state=state, entry_filled=filled, exit_quantity=2,
                             entry_final=final) == gate


def _live(iid: str, reserved: float, changed_ms: int | None = None) -> LiveIntent:
    return LiveIntent(intent=intent(iid=iid), account_id="A", tag=f"t-{iid}", state="queued",
                      reserved=reserved, risk=0.0, entry_id=None, changed_ms=changed_ms)


def test_book_counts_only_holds_a_snapshot_cannot_reflect() -> None:
    book = IntentBook()
    a, b = _live("a", 300.0), _live("b", 200.0, changed_ms=1_000)
    book.add(a)
    book.add(b)
    assert book.reserved("A", 900) == 500.0  # b changed after the snapshot: still held
    assert book.reserved("A", 1_000) == 500.0  # at the same ms: not reflected yet
    assert book.reserved("A", 1_001) == 300.0  # b's change is in the snapshot
    book.finish(a, 2_000)  # a ended at 2 000: snapshots before that still show it held
    assert "a" not in book
    assert book.reserved("A", 1_500) == 300.0
    assert book.reserved("A", 2_001) == 0.0  # forgotten once a later snapshot reflects it
    assert book.reserved("A", 1_500) == 0.0  # (forgotten for good)
    assert book.reserved("B", 0) == 0.0


def test_book_queues_and_accounts() -> None:
    book = IntentBook()
    book.add(_live("a", 0.0))
    book.enqueue("A", "a")
    book.enqueue("A", "b")
    queue = book.queue("A")
    assert queue is not None and list(queue) == ["a", "b"]
    assert book.queued_accounts() == ["A"] and book.accounts() == ["A"]
    assert book.queue("B") is None
    assert book.cached_risk("A") is None
    book.set_risk("A", 125.0)
    assert book.cached_risk("A") == 125.0
