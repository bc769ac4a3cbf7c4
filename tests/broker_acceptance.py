"""Shared acceptance suite every broker adapter must pass (LEAN ``BrokerageTests`` idea).

Subclass :class:`BrokerAcceptanceSuite` in an adapter's test module and provide four fixtures:

- ``adapter`` — a :class:`~spxcc_core.broker.BrokerAdapter` on a clean account (function
  scope recommended);
- ``account_id`` — that account's id (the adapter's default account too);
- ``market`` — a :class:`MarketControl` that sets quotes and fills working orders;
- ``fresh_adapter`` — a second adapter instance on the same broker state (a process restart).

The account starts flat with at least $10,000 of option buying power. ``SYMBOL`` quotes are set
by each test through ``market``. Fills may be asynchronous: tests poll up to ``WAIT_S``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

import pytest

from spxcc_core.broker import (
    BrokerAdapter,
    BrokerRejected,
    UnknownOrderError,
    is_valid_tag,
    tag_for,
)
from spxcc_core.contracts.broker import (
    ACCOUNT_TYPES,
    OPEN_STATUSES,
    TERMINAL_STATUSES,
    BrokerOrder,
    Fill,
    MarketClock,
    OrderIntent,
    OrderUpdate,
    PortfolioSnapshot,
)

__all__ = ["BrokerAcceptanceSuite", "MarketControl"]


class MarketControl(Protocol):
    """What the suite needs from the simulated market behind an adapter."""

    def set_quote(self, symbol: str, bid: float, ask: float) -> None:
        """Make ``symbol`` quoted at bid/ask (market orders then fill at the touch)."""

    def fill(self, account_id: str, order_id: str, price: float | None = None) -> None:
        """Fill a working order completely at ``price`` (default its limit price)."""


class BrokerAcceptanceSuite:
    """The contract tests. Class attributes may be overridden by a subclass."""

    #: A contract that is not expired at any date the suite runs (paper refuses expired ones).
    SYMBOL: ClassVar[str] = "SPXW991218C05900000"
    UNDERLYING: ClassVar[str] = "SPX"
    WAIT_S: ClassVar[float] = 5.0

    # --- helpers -----------------------------------------------------------------------------

    def intent(self, intent_id: str, **kw: Any) -> OrderIntent:
        fields: dict[str, Any] = {
            "intent_id": intent_id, "option_symbol": self.SYMBOL, "underlying": self.UNDERLYING,
            "side": "buy_to_open", "quantity": 1, "order_type": "limit", "limit_price": 1.00}
        fields.update(kw)
        if fields["order_type"] == "market":
            fields["limit_price"] = None
        return OrderIntent(**fields)

    def wait_for(self, adapter: BrokerAdapter, account_id: str, order_id: str,
                 done: Callable[[BrokerOrder], bool]) -> BrokerOrder:
        deadline = time.monotonic() + self.WAIT_S
        while True:
            order = adapter.order(account_id, order_id)
            if done(order) or time.monotonic() > deadline:
                return order
            time.sleep(0.05)

    # --- snapshot ----------------------------------------------------------------------------

    def test_snapshot_shape(self, adapter: BrokerAdapter, account_id: str) -> None:
        snap = adapter.snapshot(account_id)
        assert isinstance(snap, PortfolioSnapshot)
        assert snap.account_id == account_id
        assert snap.account_type in ACCOUNT_TYPES
        assert snap.positions == ()
        assert snap.open_orders == ()
        for value in (snap.option_buying_power, snap.stock_buying_power,
                      snap.day_trade_buying_power, snap.cash_available, snap.total_equity):
            assert value is None or isinstance(value, float)
        spendable = (snap.option_buying_power if snap.account_type != "cash"
                     else snap.cash_available)
        assert spendable is not None and spendable >= 10_000
        assert snap.as_of_ms is not None and snap.as_of_ms > 1_600_000_000_000

    # --- submit ------------------------------------------------------------------------------

    def test_limit_order_rests_open_with_tag(self, adapter: BrokerAdapter, account_id: str,
                                             market: MarketControl) -> None:
        market.set_quote(self.SYMBOL, 3.00, 3.20)
        ack = adapter.submit(self.intent("acc-limit-1", limit_price=1.00))
        assert ack.intent_id == "acc-limit-1"
        assert ack.tag == tag_for("acc-limit-1") and is_valid_tag(ack.tag)
        assert ack.broker_order_id and not ack.duplicate
        order = self.wait_for(adapter, account_id, ack.broker_order_id,
                              lambda o: o.status in OPEN_STATUSES)
        assert order.status in OPEN_STATUSES
        assert order.tag == ack.tag
        assert order.symbol == self.SYMBOL
        assert order.side == "buy_to_open" and order.quantity == 1
        assert order.limit_price == 1.00
        snap = adapter.snapshot(account_id)
        assert [o.id for o in snap.open_orders] == [ack.broker_order_id]
        assert snap.open_orders[0].tag == ack.tag

    def test_market_order_fills_and_makes_position(self, adapter: BrokerAdapter,
                                                   account_id: str,
                                                   market: MarketControl) -> None:
        market.set_quote(self.SYMBOL, 3.00, 3.20)
        ack = adapter.submit(self.intent("acc-mkt-1", order_type="market", quantity=2))
        order = self.wait_for(adapter, account_id, ack.broker_order_id,
                              lambda o: o.status in TERMINAL_STATUSES)
        assert order.status == "filled"
        assert order.filled_quantity == 2
        assert order.avg_fill_price == pytest.approx(3.20)  # a buy fills at the ask
        snap = adapter.snapshot(account_id)
        assert [(p.symbol, p.quantity) for p in snap.positions] == [(self.SYMBOL, 2)]
        assert snap.positions[0].cost_basis == pytest.approx(640.0)  # 2 × 3.20 × 100
        assert snap.open_orders == ()

    def test_resubmit_same_intent_returns_same_order(self, adapter: BrokerAdapter,
                                                     account_id: str,
                                                     market: MarketControl) -> None:
        market.set_quote(self.SYMBOL, 3.00, 3.20)
        intent = self.intent("acc-idem-1")
        first = adapter.submit(intent)
        second = adapter.submit(intent)
        assert second.broker_order_id == first.broker_order_id
        assert second.duplicate
        tagged = [o for o in adapter.orders(account_id) if o.tag == first.tag]
        assert len(tagged) == 1

    def test_resubmit_after_restart_returns_same_order(self, adapter: BrokerAdapter,
                                                       fresh_adapter: BrokerAdapter,
                                                       account_id: str,
                                                       market: MarketControl) -> None:
        market.set_quote(self.SYMBOL, 3.00, 3.20)
        intent = self.intent("acc-idem-2")
        first = adapter.submit(intent)
        again = fresh_adapter.submit(intent)
        assert again.broker_order_id == first.broker_order_id
        assert again.duplicate
        assert len([o for o in fresh_adapter.orders(account_id) if o.tag == first.tag]) == 1

    def test_tag_callback_runs_before_the_order_exists(self, adapter: BrokerAdapter,
                                                       account_id: str,
                                                       market: MarketControl) -> None:
        market.set_quote(self.SYMBOL, 3.00, 3.20)
        seen: list[tuple[str, str, bool]] = []

        def persist(intent: OrderIntent, tag: str) -> None:
            exists = adapter.find_by_tag(account_id, tag) is not None
            seen.append((intent.intent_id, tag, exists))

        ack = adapter.submit(self.intent("acc-cb-1"), on_tag_assigned=persist)
        assert seen == [("acc-cb-1", tag_for("acc-cb-1"), False)]
        assert ack.tag == tag_for("acc-cb-1")

    def test_failing_tag_callback_places_nothing(self, adapter: BrokerAdapter,
                                                 account_id: str,
                                                 market: MarketControl) -> None:
        market.set_quote(self.SYMBOL, 3.00, 3.20)

        def fail(intent: OrderIntent, tag: str) -> None:
            raise OSError("disk full")

        with pytest.raises(OSError, match="disk full"):
            adapter.submit(self.intent("acc-cb-2"), on_tag_assigned=fail)
        assert adapter.find_by_tag(account_id, tag_for("acc-cb-2")) is None

    def test_find_by_tag(self, adapter: BrokerAdapter, account_id: str,
                         market: MarketControl) -> None:
        market.set_quote(self.SYMBOL, 3.00, 3.20)
        assert adapter.find_by_tag(account_id, tag_for("acc-find-1")) is None
        ack = adapter.submit(self.intent("acc-find-1"))
        found = adapter.find_by_tag(account_id, ack.tag)
        assert found is not None and found.broker_order_id == ack.broker_order_id

    def test_rejection_raises_broker_rejected(self, adapter: BrokerAdapter, account_id: str,
                                              market: MarketControl) -> None:
        market.set_quote(self.SYMBOL, 3.00, 3.20)
        # 1,000,000 contracts × 50.00 × 100 = $5bn: beyond any test account's buying power
        with pytest.raises(BrokerRejected) as info:
            adapter.submit(self.intent("acc-rej-1", quantity=1_000_000, limit_price=50.0))
        assert info.value.reason.strip()
        assert adapter.find_by_tag(account_id, tag_for("acc-rej-1")) is None or \
            adapter.find_by_tag(account_id, tag_for("acc-rej-1")).status == "rejected"  # type: ignore[union-attr]

    def test_intent_account_defaults_to_adapter_account(self, adapter: BrokerAdapter,
                                                        account_id: str,
                                                        market: MarketControl) -> None:
        market.set_quote(self.SYMBOL, 3.00, 3.20)
        ack = adapter.submit(self.intent("acc-acct-1", account_id=None))
        assert ack.account_id in (None, account_id)
        assert adapter.order(account_id, ack.broker_order_id).tag == ack.tag

    # --- cancel / modify ---------------------------------------------------------------------

    def test_cancel_open_order(self, adapter: BrokerAdapter, account_id: str,
                               market: MarketControl) -> None:
        market.set_quote(self.SYMBOL, 3.00, 3.20)
        ack = adapter.submit(self.intent("acc-cancel-1", limit_price=1.00))
        adapter.cancel(account_id, ack.broker_order_id)
        order = self.wait_for(adapter, account_id, ack.broker_order_id,
                              lambda o: o.status in TERMINAL_STATUSES)
        assert order.status == "canceled"
        assert adapter.snapshot(account_id).open_orders == ()

    def test_cancel_unknown_order(self, adapter: BrokerAdapter, account_id: str) -> None:
        with pytest.raises(UnknownOrderError):
            adapter.cancel(account_id, "9999999999999999")

    def test_cancel_filled_order_is_rejected(self, adapter: BrokerAdapter, account_id: str,
                                             market: MarketControl) -> None:
        market.set_quote(self.SYMBOL, 3.00, 3.20)
        ack = adapter.submit(self.intent("acc-cancel-2", order_type="market"))
        self.wait_for(adapter, account_id, ack.broker_order_id,
                      lambda o: o.status in TERMINAL_STATUSES)
        with pytest.raises(BrokerRejected) as info:
            adapter.cancel(account_id, ack.broker_order_id)
        assert not isinstance(info.value, UnknownOrderError)
        assert "filled" in info.value.reason

    def test_modify_limit_price(self, adapter: BrokerAdapter, account_id: str,
                                market: MarketControl) -> None:
        market.set_quote(self.SYMBOL, 3.00, 3.20)
        ack = adapter.submit(self.intent("acc-mod-1", limit_price=1.00))
        adapter.modify(account_id, ack.broker_order_id, limit_price=1.25)
        order = self.wait_for(adapter, account_id, ack.broker_order_id,
                              lambda o: o.limit_price == 1.25)
        assert order.limit_price == 1.25
        assert order.status in OPEN_STATUSES

    def test_fill_of_resting_order(self, adapter: BrokerAdapter, account_id: str,
                                   market: MarketControl) -> None:
        market.set_quote(self.SYMBOL, 3.00, 3.20)
        ack = adapter.submit(self.intent("acc-fill-1", limit_price=2.50, quantity=3))
        market.fill(account_id, ack.broker_order_id, 2.50)
        order = self.wait_for(adapter, account_id, ack.broker_order_id,
                              lambda o: o.status in TERMINAL_STATUSES)
        assert (order.status, order.filled_quantity, order.avg_fill_price) == ("filled", 3, 2.5)
        snap = adapter.snapshot(account_id)
        assert [(p.symbol, p.quantity, p.cost_basis) for p in snap.positions] == [
            (self.SYMBOL, 3, pytest.approx(750.0))]  # 3 × 2.50 × 100

    # --- preview / events / market -----------------------------------------------------------

    def test_preview_places_nothing(self, adapter: BrokerAdapter, account_id: str,
                                    market: MarketControl) -> None:
        market.set_quote(self.SYMBOL, 3.00, 3.20)
        preview = adapter.preview(self.intent("acc-prev-1", limit_price=2.00, quantity=2))
        assert preview.ok and preview.messages == ()
        assert preview.intent_id == "acc-prev-1"
        assert adapter.orders(account_id) == []
        bad = adapter.preview(self.intent("acc-prev-2", quantity=1_000_000, limit_price=50.0))
        assert not bad.ok and bad.messages

    def test_poll_events_reports_fill_once(self, adapter: BrokerAdapter, account_id: str,
                                           market: MarketControl) -> None:
        market.set_quote(self.SYMBOL, 3.00, 3.20)
        ack = adapter.submit(self.intent("acc-ev-1", order_type="market", quantity=2))
        self.wait_for(adapter, account_id, ack.broker_order_id,
                      lambda o: o.status in TERMINAL_STATUSES)
        events = adapter.poll_events(account_id)
        fills = [e for e in events if isinstance(e, Fill)]
        assert [(f.broker_order_id, f.quantity, f.price, f.intent_id) for f in fills] == [
            (ack.broker_order_id, 2, pytest.approx(3.20), "acc-ev-1")]
        updates = [e for e in events if isinstance(e, OrderUpdate)]
        assert updates[-1].status == "filled"
        assert adapter.poll_events(account_id) == []

    def test_market_clock(self, adapter: BrokerAdapter) -> None:
        clock = adapter.market_clock()
        assert isinstance(clock, MarketClock)
        assert clock.state in ("premarket", "open", "postmarket", "closed")
        assert clock.is_open == (clock.state == "open")

    def test_quotes(self, adapter: BrokerAdapter, market: MarketControl) -> None:
        market.set_quote(self.SYMBOL, 3.00, 3.20)
        quotes = adapter.quotes([self.SYMBOL])
        assert [(q.symbol, q.bid, q.ask) for q in quotes] == [(self.SYMBOL, 3.0, 3.2)]
