"""Paper broker: fill models, spread gate, partial fills, latency, buying power, positions,
persistence. Every expected number is worked out by hand in the comment next to it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from spxcc_paper import FillModel, PaperBroker

from spxcc_core.aggregate.columns import QuoteColumns, SymbolTable
from spxcc_core.broker import BrokerRejected, tag_for
from spxcc_core.contracts.broker import Fill, OrderIntent, OrderUpdate
from spxcc_core.errors import ConfigError
from spxcc_core.store import Store

SYM = "SPXW261125C05900000"
S = 1_000_000_000  # one second in ns
T0 = 1_790_000_000 * S


def intent(iid: str, *, side: str = "buy_to_open", qty: int = 1,
           limit: float | None = None) -> OrderIntent:
    return OrderIntent(intent_id=iid, option_symbol=SYM, underlying="SPX", side=side,
                       quantity=qty, order_type="limit" if limit is not None else "market",
                       limit_price=limit, arrival_ask=None)


def broker(**kw: object) -> PaperBroker:
    kw.setdefault("account_id", "A")
    kw.setdefault("clock", None)
    return PaperBroker(**kw)  # type: ignore[arg-type]


def fills(b: PaperBroker) -> list[tuple[float, float]]:
    return [(e.quantity, e.price) for e in b.poll_events("A") if isinstance(e, Fill)]


# --- fill models ------------------------------------------------------------------------------

@pytest.mark.parametrize("model, buy_px, sell_px", [
    (FillModel(kind="touch"), 3.20, 3.00),
    (FillModel(kind="mid"), 3.10, 3.10),                      # (3.00 + 3.20) / 2
    (FillModel(kind="touch_ticks", ticks=2, tick=0.05), 3.30, 2.90),  # ask + 0.10 / bid - 0.10
])
def test_fill_price_per_model(model: FillModel, buy_px: float, sell_px: float) -> None:
    b = broker(model=model, allow_short=True)
    b.on_quote(SYM, T0, 3.00, 10, 3.20, 10)
    b.submit(intent("b1", qty=1))
    b.submit(intent("s1", side="sell_to_open", qty=1))
    assert fills(b) == [(1.0, buy_px), (1.0, sell_px)]


def test_limit_not_marketable_rests_then_fills_at_model_price() -> None:
    b = broker()
    b.on_quote(SYM, T0, 3.00, 10, 3.20, 10)
    ack = b.submit(intent("b1", qty=2, limit=3.10))
    assert fills(b) == []
    assert b.order("A", ack.broker_order_id).status == "open"
    b.on_quote(SYM, T0 + S, 2.95, 10, 3.05, 10)  # ask 3.05 <= limit 3.10: fills at 3.05
    assert fills(b) == [(2.0, 3.05)]


def test_spread_gate_refuses_wide_market() -> None:
    b = broker(model=FillModel(kind="touch", max_spread=0.30))
    b.on_quote(SYM, T0, 3.00, 10, 3.40, 10)  # spread 0.40 > 0.30: no fill
    ack = b.submit(intent("b1"))
    assert fills(b) == []
    b.on_quote(SYM, T0 + S, 3.10, 10, 3.30, 10)  # spread 0.20: fills at the ask
    assert fills(b) == [(1.0, 3.30)]
    assert b.order("A", ack.broker_order_id).status == "filled"


def test_spread_gate_in_percent_of_mid() -> None:
    b = broker(model=FillModel(kind="mid", max_spread_pct=5.0))
    b.on_quote(SYM, T0, 1.90, 10, 2.10, 10)  # spread 0.20 / mid 2.00 = 10 % > 5 %
    b.submit(intent("b1"))
    assert fills(b) == []
    b.on_quote(SYM, T0 + S, 1.95, 10, 2.05, 10)  # 0.10 / 2.00 = 5 %: allowed, mid 2.00
    assert fills(b) == [(1.0, 2.00)]


def test_partial_fills_bounded_by_displayed_size() -> None:
    b = broker()
    b.on_quote(SYM, T0, 3.00, 10, 3.20, 3)  # 3 offered
    ack = b.submit(intent("b1", qty=5))
    assert fills(b) == [(3.0, 3.20)]
    assert b.order("A", ack.broker_order_id).status == "partially_filled"
    b.submit(intent("b2", qty=1))  # the 3 shown are taken: nothing left on this quote
    assert fills(b) == []
    b.on_quote(SYM, T0 + S, 3.00, 10, 3.25, 4)  # 2 for b1 (first in), 1 for b2... 4 shown
    assert fills(b) == [(2.0, 3.25), (1.0, 3.25)]
    o = b.order("A", ack.broker_order_id)
    # avg (3 × 3.20 + 2 × 3.25) / 5 = (9.60 + 6.50) / 5 = 3.22
    assert (o.status, o.filled_quantity, o.avg_fill_price) == ("filled", 5.0, 3.22)


def test_latency_ignores_quotes_replaced_before_arrival() -> None:
    b = broker(model=FillModel(latency_ns=100_000_000))  # 100 ms
    b.on_quote(SYM, T0, 3.00, 10, 3.20, 10)
    b.submit(intent("b1"))  # submitted at T0, active at T0 + 100 ms
    assert fills(b) == []
    b.on_quote(SYM, T0 + 50_000_000, 2.00, 10, 2.10, 10)  # replaced before arrival
    b.on_quote(SYM, T0 + 80_000_000, 3.40, 10, 3.50, 10)  # in force at T0 + 100 ms
    b.on_quote(SYM, T0 + 150_000_000, 1.00, 10, 1.10, 10)
    assert fills(b) == [(1.0, 3.50)]


def test_latency_fills_on_first_quote_at_arrival_time() -> None:
    b = broker(model=FillModel(latency_ns=100_000_000))
    b.advance_to(T0)
    b.submit(intent("b1"))  # no quote yet
    b.on_quote(SYM, T0 + 100_000_000, 3.00, 10, 3.20, 10)  # exactly at arrival
    assert fills(b) == [(1.0, 3.20)]


def test_crossed_and_one_sided_quotes_do_not_fill() -> None:
    b = broker()
    b.submit(intent("b1"))
    b.on_quote(SYM, T0, 3.30, 10, 3.20, 10)  # crossed
    b.on_quote(SYM, T0 + S, 3.00, 10, 0.0, 0)  # no offer
    assert fills(b) == []


# --- accounts, positions, buying power --------------------------------------------------------

def test_margin_buying_power_reduced_by_long_premium_and_holds() -> None:
    b = broker(cash=10_000.0)
    b.on_quote(SYM, T0, 3.00, 10, 3.20, 10)
    b.submit(intent("b1", qty=2))  # fills 2 × 3.20 × 100 = 640
    b.submit(intent("b2", qty=3, limit=1.00))  # rests, holds 3 × 1.00 × 100 = 300
    snap = b.snapshot("A")
    assert snap.account_type == "margin"
    assert snap.option_buying_power == 9_060.0  # 10000 − 640 − 300
    assert snap.stock_buying_power == 18_120.0
    assert snap.cash_available is None and snap.day_trade_buying_power is None
    assert snap.total_equity == 9_980.0  # cash 9360 + 2 × mid 3.10 × 100 = 9360 + 620
    assert [(p.symbol, p.quantity, p.cost_basis) for p in snap.positions] == [(SYM, 2.0, 640.0)]
    assert [(o.quantity, o.limit_price, o.tag) for o in snap.open_orders] == [
        (3.0, 1.00, tag_for("b2"))]


def test_cash_and_pdt_account_shapes() -> None:
    cash = broker(account_type="cash", cash=5_000.0).snapshot("A")
    assert (cash.cash_available, cash.option_buying_power, cash.stock_buying_power) == (
        5_000.0, None, None)
    pdt = broker(account_type="pdt", cash=5_000.0).snapshot("A")
    assert (pdt.option_buying_power, pdt.stock_buying_power, pdt.day_trade_buying_power,
            pdt.cash_available) == (5_000.0, 10_000.0, 20_000.0, None)


def test_insufficient_buying_power_is_rejected() -> None:
    b = broker(cash=1_000.0)
    with pytest.raises(BrokerRejected, match=r"needs 1050\.00, optionBuyingPower 1000\.00"):
        b.submit(intent("b1", qty=3, limit=3.50))  # 3 × 3.50 × 100 = 1050 > 1000
    assert b.find_by_tag("A", tag_for("b1")) is None and b.orders("A") == []


def test_close_reduces_position_and_cost_basis_proportionally() -> None:
    b = broker(cash=10_000.0)
    b.on_quote(SYM, T0, 3.00, 10, 3.20, 10)
    b.submit(intent("b1", qty=3))  # cost 960.00
    b.submit(intent("s1", side="sell_to_close", qty=1))  # sells 1 at 3.00 → cash +300
    snap = b.snapshot("A")
    assert [(p.quantity, p.cost_basis) for p in snap.positions] == [(2.0, 640.0)]  # 960 × 2/3
    assert snap.option_buying_power == 9_340.0  # 10000 − 960 + 300
    with pytest.raises(BrokerRejected, match="UnexpectedSellOrderOption"):
        b.submit(intent("s2", side="sell_to_close", qty=3))


def test_short_denied_unless_allowed() -> None:
    b = broker()
    with pytest.raises(BrokerRejected, match="ShortOptionTradingDeniedForAccount"):
        b.submit(intent("s1", side="sell_to_open"))


def test_market_buy_without_quote_rejected_at_fill_when_cash_short() -> None:
    b = broker(cash=100.0)
    ack = b.submit(intent("b1", qty=1))  # no quote: nothing held, accepted
    b.on_quote(SYM, T0, 3.00, 10, 3.20, 10)  # costs 320 > 100 cash
    o = b.order("A", ack.broker_order_id)
    assert (o.status, o.reason) == ("rejected", "insufficient buying power at fill")


def test_events_stream_order() -> None:
    b = broker()
    b.on_quote(SYM, T0, 3.00, 10, 3.20, 1)
    b.submit(intent("b1", qty=2))
    b.on_quote(SYM, T0 + S, 3.00, 10, 3.20, 5)
    kinds = [(type(e).__name__, getattr(e, "status", None), getattr(e, "quantity", None))
             for e in b.poll_events("A")]
    assert kinds == [("OrderUpdate", "open", 2.0), ("Fill", None, 1.0),
                     ("OrderUpdate", "partially_filled", 2.0), ("Fill", None, 1.0),
                     ("OrderUpdate", "filled", 2.0)]


def test_quote_columns_batch_feed() -> None:
    table = SymbolTable()
    sid = table.intern("O:" + SYM)  # the Massive form maps to the same contract
    b = broker()
    b.submit(intent("b1", qty=4, limit=3.10))
    batch = QuoteColumns(ts=np.array([T0, T0 + S, T0 + 2 * S]), symbol=np.full(3, sid),
                         seq=np.full(3, -1), bid=np.array([3.0, 3.0, 2.9]),
                         bid_size=np.full(3, 10.0), ask=np.array([3.2, 3.1, 3.05]),
                         ask_size=np.array([10.0, 1.0, 10.0]), line=np.arange(1, 4))
    b.on_quotes(batch, table)
    assert fills(b) == [(1.0, 3.10), (3.0, 3.05)]


def test_store_backed_state_survives_restart(tmp_path: Path) -> None:
    db = tmp_path / "paper.sqlite3"
    with Store(db) as store:
        b = broker(store=store, cash=10_000.0)
        b.on_quote(SYM, T0, 3.00, 10, 3.20, 10)
        b.submit(intent("b1", qty=2))
        rest = b.submit(intent("b2", qty=1, limit=1.00))
    with Store(db) as store:
        again = broker(store=store, cash=1.0)  # cash option ignored: the account exists
        snap = again.snapshot("A")
        assert snap.option_buying_power == 9_260.0  # 10000 − 640 − 100 held
        assert [o.id for o in snap.open_orders] == [rest.broker_order_id]
        dup = again.submit(intent("b2", qty=1, limit=1.00))
        assert dup.duplicate and dup.broker_order_id == rest.broker_order_id


def test_bad_options_are_config_errors() -> None:
    with pytest.raises(ConfigError,
                       match="paper option fill: 'vwap' is not one of mid, touch, touch_ticks"):
        PaperBroker.from_config({"fill": "vwap"})
    with pytest.raises(ConfigError, match="unknown option"):
        PaperBroker.from_config({"colour": "red"})
    with pytest.raises(ConfigError, match="latency_ms"):
        PaperBroker.from_config({"latency_ms": "soon"})


# --- properties -------------------------------------------------------------------------------

quotes = st.lists(st.tuples(st.integers(1, 400), st.integers(0, 8), st.integers(1, 30)),
                  min_size=1, max_size=25)


@settings(max_examples=60)
@given(qs=quotes, qty=st.integers(1, 20), limit=st.integers(100, 400))
def test_fills_never_exceed_order_or_displayed_size_and_respect_limit(
        qs: list[tuple[int, int, int]], qty: int, limit: int) -> None:
    b = broker(cash=1e9)
    ack = b.submit(intent("b1", qty=qty, limit=limit / 100))
    events = []
    for i, (bid_c, width, size) in enumerate(qs):
        b.on_quote(SYM, T0 + i * S, bid_c / 100, 5, (bid_c + width) / 100, size)
        fs = [e for e in b.poll_events("A") if isinstance(e, Fill)]
        assert sum(f.quantity for f in fs) <= size
        events.extend(fs)
    assert sum(f.quantity for f in events) <= qty
    assert all(f.price <= limit / 100 + 1e-9 for f in events)
    o = b.order("A", ack.broker_order_id)
    assert o.filled_quantity == sum(f.quantity for f in events)
    assert (o.status == "filled") == (o.filled_quantity == qty)
    # cash conservation: what left the account is exactly the fills' notional
    spent = round(sum(f.quantity * f.price * 100 for f in events), 2)
    snap = b.snapshot("A")
    held = 0.0 if o.status == "filled" else round((qty - o.filled_quantity) * limit, 2)
    assert snap.option_buying_power == pytest.approx(1e9 - spent - held, abs=0.011)
    assert not [e for e in b.poll_events("A") if isinstance(e, OrderUpdate)]
