"""Broker contracts: wire names, validation at the edge, two-step event decoding, tags."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spxcc_core.broker import is_valid_tag, tag_for
from spxcc_core.contracts.broker import (
    BrokerOrder,
    Fill,
    OrderAck,
    OrderIntent,
    OrderRejected,
    OrderUpdate,
    PortfolioSnapshot,
    Position,
    UnknownBrokerEvent,
    decode_broker_event,
    decode_intent,
    encode_broker_event,
    encode_intent,
)
from spxcc_core.contracts.registry import all_contracts
from spxcc_core.errors import InputError

INTENT_JSON = (b'{"intentId":"s-1","optionSymbol":"SPXW261125C05900000","underlying":"SPX",'
               b'"side":"buy_to_open","quantity":2,"orderType":"limit","limitPrice":3.2,'
               b'"arrivalBid":3.1,"arrivalAsk":3.3,"createdAtMs":1764000000000}')


def test_intent_wire_is_camel_case_and_round_trips() -> None:
    intent = decode_intent(INTENT_JSON)
    assert (intent.intent_id, intent.quantity, intent.limit_price, intent.duration) == (
        "s-1", 2, 3.2, "day")
    assert intent.account_id is None and intent.stop_premium is None
    wire = msgspec.json.decode(encode_intent(intent))
    assert wire["optionSymbol"] == "SPXW261125C05900000"
    assert wire["limitPrice"] == 3.2 and wire["createdAtMs"] == 1764000000000
    assert decode_intent(encode_intent(intent)) == intent


@pytest.mark.parametrize(("patch", "problem"), [
    ((b'"quantity":2', b'"quantity":0'), "Expected `int` >= 1 - at `$.quantity`"),
    ((b'"quantity":2', b'"quantity":-1'), "Expected `int` >= 1 - at `$.quantity`"),
    ((b'"quantity":2', b'"quantity":1.5'), "Expected `int`"),
    ((b'"buy_to_open"', b'"buy"'), "OrderIntent.side: 'buy' is not one of"),
    ((b'"orderType":"limit"', b'"orderType":"stop"'), "OrderIntent.orderType: 'stop'"),
    ((b'"limitPrice":3.2', b'"limitPrice":null'), "limitPrice: is required for a limit"),
    ((b'"limitPrice":3.2', b'"limitPrice":-1'), "limitPrice: must be a finite number > 0"),
    ((b'"orderType":"limit"', b'"orderType":"market"'), "must be null for a market order"),
    ((b'SPXW261125C05900000', b'SPXW261131C05900000'), "OrderIntent.optionSymbol"),
    ((b'"intentId":"s-1"', b'"intentId":""'), "OrderIntent.intentId"),
    ((b'"arrivalBid":3.1', b'"arrivalBid":-3.1'), "arrivalBid"),
])
def test_invalid_intents_are_refused_with_the_field_named(patch: tuple[bytes, bytes],
                                                          problem: str) -> None:
    bad = INTENT_JSON.replace(*patch)
    assert bad != INTENT_JSON
    with pytest.raises(InputError) as info:
        decode_intent(bad, "intents.jsonl, line 7")
    assert str(info.value).startswith("intents.jsonl, line 7: ")
    assert problem in str(info.value)


def test_duration_gtc_accepted_and_unknown_refused() -> None:
    assert decode_intent(INTENT_JSON[:-1] + b',"duration":"gtc"}').duration == "gtc"
    with pytest.raises(InputError, match="duration: 'ioc'"):
        decode_intent(INTENT_JSON[:-1] + b',"duration":"ioc"}')


def test_construction_in_code_validates_too() -> None:
    with pytest.raises(ValueError, match="quantity"):
        OrderIntent(intent_id="x", option_symbol="SPXW261125C05900000", underlying="SPX",
                    side="sell_to_close", quantity=0, order_type="market")


EVENTS = [
    OrderAck(intent_id="i", broker_order_id="7", status="ok", tag=tag_for("i")),
    OrderUpdate(broker_order_id="7", status="partially_filled", filled_quantity=1.0,
                remaining_quantity=1.0, quantity=2.0, avg_fill_price=3.2),
    Fill(fill_id="7-1", broker_order_id="7", symbol="SPXW261125C05900000", side="buy_to_open",
         quantity=1.0, price=3.2),
    OrderRejected(intent_id="i", reason="DayTradingBuyingPowerExceeded"),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_events_round_trip_with_kind(event: object) -> None:
    data = encode_broker_event(event)  # type: ignore[arg-type]
    kind = msgspec.json.decode(data)["kind"]
    assert kind == {"OrderAck": "ack", "OrderUpdate": "update", "Fill": "fill",
                    "OrderRejected": "rejected"}[type(event).__name__]
    assert decode_broker_event(data) == event


def test_unknown_kind_is_returned_raw_not_rejected() -> None:
    raw = b'{"kind":"assignment","brokerOrderId":"7","contracts":1}'
    event = decode_broker_event(raw)
    assert event == UnknownBrokerEvent(kind="assignment", raw=raw)


def test_newer_fields_are_skipped_by_this_reader() -> None:
    raw = b'{"kind":"fill","fillId":"7-1","brokerOrderId":"7","symbol":"S","side":"buy",' \
          b'"quantity":1,"price":2.5,"venue":"CBOE"}'
    fill = decode_broker_event(raw)
    assert isinstance(fill, Fill) and fill.price == 2.5


@pytest.mark.parametrize(("raw", "problem"), [
    (b"[1,2]", "not a broker event"),
    (b"{not json", "not a broker event"),
    (b'{"kind":"fill","fillId":"x"}', "invalid 'fill' event"),
])
def test_garbage_events_raise_input_error(raw: bytes, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        decode_broker_event(raw, "events.jsonl")


def test_snapshot_nulls_stay_null_on_the_wire() -> None:
    snap = PortfolioSnapshot(account_id="VA1", account_type="cash", option_buying_power=None,
                             stock_buying_power=None, day_trade_buying_power=None,
                             cash_available=4343.38, total_equity=5000.0,
                             positions=(Position(symbol="SPY", quantity=-1.0, cost_basis=-2.0),),
                             open_orders=(BrokerOrder(id="1", status="open", tag="spxcc-x"),))
    wire = msgspec.json.decode(msgspec.json.encode(snap))
    assert wire["optionBuyingPower"] is None and wire["cashAvailable"] == 4343.38
    assert wire["positions"] == [{"symbol": "SPY", "quantity": -1.0, "costBasis": -2.0,
                                  "acquiredAtMs": None}]
    assert wire["openOrders"][0]["id"] == "1" and wire["openOrders"][0]["tag"] == "spxcc-x"


def test_contracts_registered() -> None:
    names = {name for name, _ in all_contracts()}
    assert {"order_intent", "order_ack", "order_update", "fill", "order_rejected",
            "broker_order", "position", "balances", "portfolio_snapshot", "order_preview",
            "broker_quote", "market_clock"} <= names


def test_tag_is_fixed_uuid5() -> None:
    # pinned value: changing the namespace would orphan every live order's tag
    assert tag_for("intent-1") == "spxcc-f43c6c30-7fd2-598e-9949-7005e6ecbaa9"
    assert tag_for("intent-1") != tag_for("intent-2")


@given(st.text(min_size=1, max_size=300))
def test_tags_are_always_valid(intent_id: str) -> None:
    tag = tag_for(intent_id)
    assert is_valid_tag(tag) and len(tag) == 42 and tag.startswith("spxcc-")


@pytest.mark.parametrize("tag", ["", "a b", "a_b", "a.b", "a:b", "x" * 256])
def test_invalid_tags(tag: str) -> None:
    assert not is_valid_tag(tag)
