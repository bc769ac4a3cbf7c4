"""Tradier's JSON quirks and error shapes, from the reference payloads (tradier.md §2–§6)."""

from __future__ import annotations

import msgspec
import pytest
from spxcc_tradier import normalize as N
from spxcc_tradier.ratelimit import group_for, parse_expiry_ms
from spxcc_tradier.transport import Transient, interpret

from spxcc_core.broker import BrokerAuthError, BrokerRejected, UnknownOrderError


def j(text: str) -> object:
    return msgspec.json.decode(text.encode())


@pytest.mark.parametrize("doc", ['{"orders":"null"}', '{"orders":null}', '{"orders":{}}',
                                 '{"orders":[]}', '{}', '{"orders":{"order":"null"}}',
                                 '{"orders":{"order":[]}}'])
def test_every_empty_shape_is_no_items(doc: str) -> None:
    assert N.items(N.section(j(doc), "orders"), "order") == []


def test_one_item_object_and_list_alike() -> None:
    one = j('{"orders":{"order":{"id":1,"status":"open"}}}')
    many = j('{"orders":{"order":[{"id":1,"status":"open"},{"id":2,"status":"filled"}]}}')
    assert [o["id"] for o in N.items(N.section(one, "orders"), "order")] == [1]
    assert [o["id"] for o in N.items(N.section(many, "orders"), "order")] == [1, 2]
    assert N.items(j('{"date":"2026-09-02"}'), "date") == ["2026-09-02"]


@pytest.mark.parametrize(("raw", "expected"), [
    ("17798.360000000000000000000000", 17798.36), ("1.00000000", 1.0), ("1.95546E-10", 1.95546e-10),
    ("0", 0.0), ('"281.85"', 281.85), ("null", None), ('"null"', None), ('""', None),
    ('"abc"', None), ("true", None)])
def test_numbers(raw: str, expected: float | None) -> None:
    assert N.num(j(raw)) == expected


def test_epoch_seconds_vs_ms_and_iso_times() -> None:
    assert N.epoch_ms(1557156988) == 1_557_156_988_000
    assert N.epoch_ms(1705075482942) == 1_705_075_482_942
    assert N.epoch_ms(0) is None  # trade_date 0 = never traded
    assert N.iso_ms("2018-06-01T12:02:29.682Z") == 1_527_854_549_682
    assert N.iso_ms("2019-05-14T15:56:47.371") == 1_557_849_407_371  # no zone → UTC
    assert N.iso_ms("2019-08-29 14:59:08") == 1_567_090_748_000
    assert N.iso_ms("garbage") is None and N.iso_ms(None) is None


def test_margin_balances_from_reference_sample() -> None:
    doc = j('{"balances":{"option_short_value":0,"total_equity":17798.360000000000000000000000,'
            '"account_number":"VA00000000","account_type":"margin","total_cash":6363.860000000000000000000000,'
            '"market_value":11434.50000000000000000000,"pending_orders_count":0,'
            '"margin":{"fed_call":0,"maintenance_call":0,"option_buying_power":6363.860000000000000000000000,'
            '"stock_buying_power":12727.7200000000000000,"stock_short_value":0,"sweep":0}}}')
    b = N.balances_from(doc, "VA00000000", 5)
    assert (b.account_type, b.total_equity, b.option_buying_power, b.stock_buying_power) == (
        "margin", 17798.36, 6363.86, 12727.72)
    assert b.cash_available is None and b.day_trade_buying_power is None
    assert b.pending_orders_count == 0 and b.as_of_ms == 5


def test_cash_and_pdt_balances() -> None:
    cash = N.balances_from(j('{"balances":{"account_type":"cash","total_equity":5000,'
                             '"cash":{"cash_available":4343.38000000,"sweep":0,'
                             '"unsettled_funds":1310.00000000}}}'), "VA1", None)
    assert (cash.cash_available, cash.unsettled_funds, cash.option_buying_power) == (
        4343.38, 1310.0, None)
    pdt = N.balances_from(j('{"balances":{"account_type":"pdt","pdt":{"option_buying_power":10,'
                            '"stock_buying_power":20,"day_trade_buying_power":80}}}'), "VA2", None)
    assert (pdt.option_buying_power, pdt.stock_buying_power, pdt.day_trade_buying_power) == (
        10.0, 20.0, 80.0)
    assert pdt.account_id == "VA2"


def test_option_order_maps_contract_and_underlying() -> None:
    o = N.order_from(j('{"id":229065,"type":"limit","symbol":"SPXW","side":"buy_to_open",'
                       '"quantity":1.00000000,"status":"open","duration":"day","price":3.2,'
                       '"avg_fill_price":0.00,"exec_quantity":0.00000000,"last_fill_price":0.00000000,'
                       '"remaining_quantity":1.00000000,"create_date":"2018-06-12T21:13:36.076Z",'
                       '"transaction_date":"2018-06-12T21:18:41.604Z","class":"option",'
                       '"option_symbol":"SPXW261125C05900000","tag":"spxcc-a"}'))
    assert (o.id, o.symbol, o.underlying, o.limit_price, o.avg_fill_price, o.tag) == (
        "229065", "SPXW261125C05900000", "SPXW", 3.2, None, "spxcc-a")
    assert (o.filled_quantity, o.remaining_quantity) == (0.0, 1.0)
    assert o.created_at_ms == 1_528_838_016_076


def test_oco_parent_reads_its_legs() -> None:
    o = N.order_from(j('{"id":5,"class":"oco","status":"filled","tag":"t","leg":[{"id":6,'
                       '"type":"limit","symbol":"SPY","option_symbol":"SPY190605C00282000",'
                       '"side":"sell_to_close","quantity":1.0,"duration":"gtc"},{"id":7,"type":"stop"}]}'))
    assert (o.symbol, o.side, o.quantity, o.order_type, o.duration) == (
        "SPY190605C00282000", "sell_to_close", 1.0, "limit", "gtc")


def test_quote_with_greeks_falls_back_to_smv_vol() -> None:
    q = N.quote_from(j('{"symbol":"VXX190517P00016000","last":null,"bid":0.0,"ask":0.01,'
                       '"underlying":"VXX","strike":16.0,"trade_date":0,"bidsize":0,"asksize":611,'
                       '"bid_date":1557171657000,"open_interest":10,"option_type":"put",'
                       '"expiration_date":"2019-05-17","greeks":{"delta":1.0,"gamma":1.95546E-10,'
                       '"mid_iv":0.0,"smv_vol":0.380002}}'))
    assert q is not None
    assert (q.bid, q.ask, q.last, q.iv, q.gamma, q.trade_at_ms) == (
        0.0, 0.01, None, 0.380002, 1.95546e-10, None)
    assert N.quote_from(j('{"symbol":"X","greeks":null}')).delta is None  # type: ignore[union-attr]


def test_clock_next_change_in_new_york() -> None:
    c = N.clock_from(j('{"clock":{"date":"2019-05-06","state":"open","timestamp":1557156988,'
                       '"next_change":"16:00","next_state":"postmarket"}}'))
    # 2019-05-06 16:00 EDT = 20:00 UTC
    assert (c.is_open, c.next_state, c.next_change_ms, c.as_of_ms) == (
        True, "postmarket", 1_557_172_800_000, 1_557_156_988_000)
    closed = N.clock_from(j('{"clock":{"date":"2019-05-06","state":"closed","timestamp":'
                            '1557187200,"next_change":"07:00","next_state":"premarket"}}'))
    # 20:00 EDT already past 07:00 → next day 07:00 EDT = 11:00 UTC 2019-05-07
    assert (closed.is_open, closed.next_change_ms) == (False, 1_557_226_800_000)


def test_error_messages_list_string_nested() -> None:
    assert N.error_messages(j('{"errors":{"error":["Backoffice rejected override of the order.",'
                              '"DayTradingBuyingPowerExceeded"]}}')) == [
        "Backoffice rejected override of the order.", "DayTradingBuyingPowerExceeded"]
    assert N.error_messages(j('{"errors":{"error":"MarketOrderIsGtc"}}')) == ["MarketOrderIsGtc"]
    assert N.error_messages(j('{"order":{"errors":"You do not have enough buying power"}}')) == [
        "You do not have enough buying power"]
    assert N.error_messages(j('{"order":{"id":1}}')) == []


def _interp(status: int, body: bytes, path: str = "/accounts/VA1/orders") -> object:
    return interpret(status, {}, body, path=path, now_ms=1_700_000_000_000)


def test_interpret_success_and_rejections() -> None:
    assert _interp(200, b'{"order":{"id":1,"status":"ok"}}') == {"order": {"id": 1, "status": "ok"}}
    with pytest.raises(BrokerRejected) as info:
        _interp(200, b'{"errors":{"error":["A","B"]}}')
    assert info.value.codes == ("A", "B") and info.value.reason == "A; B"
    with pytest.raises(BrokerRejected, match="Invalid parameter, tag: contains invalid"):
        _interp(400, b"Invalid parameter, tag: contains invalid characters.")
    with pytest.raises(BrokerRejected, match="finalized state: filled"):
        _interp(400, b"order already in finalized state: filled", "/accounts/VA1/orders/5")


def test_interpret_401_unknown_order_vs_auth() -> None:
    with pytest.raises(UnknownOrderError) as info:
        _interp(401, b"Unauthorized Account: VA1", "/accounts/VA1/orders/9999999999999999")
    assert info.value.order_id == "9999999999999999"
    with pytest.raises(BrokerAuthError):
        _interp(401, b"Unauthorized Account: VA1", "/accounts/VA1/balances")
    with pytest.raises(BrokerAuthError, match="Access Token expired"):
        _interp(401, b'{"fault":{"faultstring":"Access Token expired","detail":{"errorcode":'
                     b'"keymanagement.service.access_token_expired"}}}')


@pytest.mark.parametrize(("status", "body"), [
    (200, b""), (200, b"   "), (200, b"<!DOCTYPE html><html><title>Tradier API</title></html>"),
    (502, b"Bad Gateway"), (503, b""), (404, b""),
    (500, b'{"fault":{"faultstring":"Datastore Error","detail":{"errorcode":'
          b'"steps.servicecallout.ExecutionFailed"}}}'),
])
def test_interpret_transient_shapes(status: int, body: bytes) -> None:
    with pytest.raises(Transient) as info:
        _interp(status, body)
    assert not info.value.quota


def test_interpret_quota_violation_reads_expiry() -> None:
    with pytest.raises(Transient) as info:
        _interp(429, b"Quota Violation 1700000002500")
    assert info.value.quota and info.value.retry_after_s == 2.5
    with pytest.raises(Transient) as seconds:
        _interp(429, b"Quota Violation, retry after 1700000003")  # epoch seconds
    assert seconds.value.retry_after_s == 3.0
    with pytest.raises(Transient) as past:
        _interp(429, b"Quota Violation 1699999999000")
    assert past.value.retry_after_s == 0.0


def test_rate_groups_and_expiry_units() -> None:
    assert group_for("GET", "/markets/quotes") == "market"
    assert group_for("POST", "/markets/quotes") == "market"
    assert group_for("GET", "/accounts/VA1/orders") == "standard"
    assert group_for("POST", "/accounts/VA1/orders") == "trading"
    assert group_for("DELETE", "/accounts/VA1/orders/5") == "trading"
    assert group_for("GET", "/user/profile") == "standard"
    assert parse_expiry_ms("1369168800001") == 1369168800001
    assert parse_expiry_ms("1369168800") == 1369168800000
    assert parse_expiry_ms(" 1369168800.5 ") == 1369168800500
    assert parse_expiry_ms("x") is None
    assert parse_expiry_ms("0") is None and parse_expiry_ms("-5") is None
    assert parse_expiry_ms("nan") is None and parse_expiry_ms("inf") is None
