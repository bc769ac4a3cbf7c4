"""Tradier adapter against the fake Tradier server over real loopback HTTP: quirks, faults,
rate limits, auth and secrecy."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date

import httpx
import pytest
from fake_tradier import FakeTradier, Fault
from secret_tokens import TRADIER_TEST_TOKEN
from spxcc_tradier import SANDBOX_URL, TradierAdapter
from spxcc_tradier.ratelimit import RateLimiter

from spxcc_core.broker import (
    AmbiguousOrderError,
    BrokerAuthError,
    BrokerRejected,
    BrokerUnavailable,
    broker_adapters,
    tag_for,
)
from spxcc_core.contracts.broker import OrderIntent
from spxcc_core.errors import ConfigError
from spxcc_core.plugins import get_plugin_manager

ACCT = "VA00000001"
SYM = "SPXW261125C05900000"
TOKEN = TRADIER_TEST_TOKEN


@pytest.fixture
def fake() -> Iterator[FakeTradier]:
    with FakeTradier(TOKEN, accounts={ACCT: "margin", "VA00000002": "cash",
                                      "VA00000003": "pdt"}) as server:
        server.set_quote(SYM, 3.0, 3.2)
        yield server


def make(fake: FakeTradier, **kw: object) -> TradierAdapter:
    opts: dict[str, object] = {"lookup_window_s": 0.4, "lookup_interval_s": 0.05,
                               "backoff_s": 0.01}
    opts.update(kw)
    return TradierAdapter(fake.token, base_url=fake.url, account_id=ACCT, **opts)  # type: ignore[arg-type]


@pytest.fixture
def adapter(fake: FakeTradier) -> Iterator[TradierAdapter]:
    with make(fake) as a:
        yield a


def intent(intent_id: str, **kw: object) -> OrderIntent:
    fields: dict[str, object] = {"intent_id": intent_id, "option_symbol": SYM,
                                 "underlying": "SPX", "side": "buy_to_open", "quantity": 1,
                                 "order_type": "limit", "limit_price": 1.0}
    fields.update(kw)
    return OrderIntent(**fields)  # type: ignore[arg-type]


def placed(fake: FakeTradier, intent_id: str) -> int:
    return len(fake.orders_with_tag(ACCT, tag_for(intent_id)))


# --- plugin and configuration -------------------------------------------------------------------


def test_registered_through_spxcc_register_brokers() -> None:
    pm = get_plugin_manager(load_entrypoints=False)
    results = pm.hook.spxcc_register_brokers()
    assert [TradierAdapter] in results
    assert broker_adapters(pm)["tradier"] is TradierAdapter


def test_from_config() -> None:
    a = TradierAdapter.from_config({"token": TOKEN, "sandbox": "True", "account_id": "VA1",
                                    "lookup_window_s": "2.5"})
    assert a.base_url == SANDBOX_URL and a.default_account_id == "VA1"
    assert a.lookup_window_s == 2.5
    assert TradierAdapter.from_config({"token": TOKEN}).base_url == "https://api.tradier.com/v1"
    with pytest.raises(ConfigError, match="'token'"):
        TradierAdapter.from_config({})
    with pytest.raises(ConfigError, match="lookup_window_s: 'soon' is not a number"):
        TradierAdapter.from_config({"token": TOKEN, "lookup_window_s": "soon"})
    with pytest.raises(ConfigError, match="must start with http"):
        TradierAdapter.from_config({"token": TOKEN, "base_url": "api.tradier.com"})


def test_token_never_in_repr_or_errors(fake: FakeTradier) -> None:
    a = make(fake)
    assert TOKEN not in repr(a) and TOKEN not in repr(a.transport)
    fake.inject(Fault("status", path="balances", status=400, body=f"bad header Bearer {TOKEN}"))
    with pytest.raises(BrokerRejected) as info:
        a.balances(ACCT)
    assert TOKEN not in str(info.value) and TOKEN not in info.value.reason
    assert "***" in str(info.value)
    wrong = TradierAdapter("wrong-" + TOKEN, base_url=fake.url)
    with pytest.raises(BrokerAuthError) as auth:
        wrong.snapshot(ACCT)
    assert "Invalid Access Token" in str(auth.value) and TOKEN not in str(auth.value)


def test_expired_token_fault_is_auth_error_without_retry(fake: FakeTradier,
                                                         adapter: TradierAdapter) -> None:
    fake.inject(Fault("fault", path="balances", status=401, body="Access Token expired"))
    before = adapter.transport.requests
    with pytest.raises(BrokerAuthError, match="Access Token expired"):
        adapter.balances(ACCT)
    assert adapter.transport.requests - before == 1


# --- wire format ---------------------------------------------------------------------------------


def test_order_is_sent_as_form_fields(fake: FakeTradier, adapter: TradierAdapter) -> None:
    adapter.submit(intent("form-1", option_symbol="O:" + SYM, limit_price=3.25, quantity=2))
    posts = [p for m, path, p in fake.requests if m == "POST"]
    assert posts == [{"class": "option", "symbol": "SPX", "option_symbol": SYM,
                      "side": "buy_to_open", "quantity": "2", "type": "limit",
                      "duration": "day", "price": "3.25", "tag": tag_for("form-1")}]
    gets = [p for m, path, p in fake.requests if m == "GET" and path.endswith("/orders")]
    assert gets and all(p["includeTags"] == "true" for p in gets)


def test_fake_answers_xml_without_accept_json(fake: FakeTradier) -> None:
    r = httpx.get(fake.url + "/markets/clock", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.headers["content-type"] == "application/xml"
    assert r.text.startswith("<?xml") and "<state>open</state>" in r.text


def test_snapshot_per_account_type(fake: FakeTradier, adapter: TradierAdapter) -> None:
    cash = adapter.snapshot("VA00000002")
    assert (cash.account_type, cash.cash_available, cash.option_buying_power) == (
        "cash", 100_000.0, None)
    pdt = adapter.snapshot("VA00000003")
    assert (pdt.account_type, pdt.option_buying_power, pdt.stock_buying_power,
            pdt.day_trade_buying_power) == ("pdt", 100_000.0, 200_000.0, 400_000.0)


def test_positions_null_one_and_many(fake: FakeTradier, adapter: TradierAdapter) -> None:
    assert adapter.positions(ACCT) == []
    fake.add_position(ACCT, "SPY", 10, 4000.0)
    assert [(p.symbol, p.quantity, p.cost_basis) for p in adapter.positions(ACCT)] == [
        ("SPY", 10.0, 4000.0)]
    fake.add_position(ACCT, "DELL140118C00015000", -1, -2.0)
    assert [(p.symbol, p.quantity) for p in adapter.positions(ACCT)] == [
        ("DELL140118C00015000", -1.0), ("SPY", 10.0)]


def test_orders_are_paged_and_rollover_empties(fake: FakeTradier) -> None:
    a = make(fake, orders_page_size=25)
    ids = [a.submit(intent(f"page-{i}", limit_price=0.5), ).broker_order_id for i in range(60)]
    listed = [o.id for o in a.orders(ACCT)]
    assert listed == ids
    gets = [p for m, path, p in fake.requests if m == "GET" and path.endswith("/orders")]
    assert [p["page"] for p in gets[-3:]] == ["1", "2", "3"]
    fake.rollover()
    assert a.orders(ACCT) == []


def test_expirations_and_chain(fake: FakeTradier, adapter: TradierAdapter) -> None:
    fake.expirations["SPX"] = ["2026-11-25"]
    fake.set_quote("SPXW261125P05800000", 2.0, 2.2)
    assert adapter.option_expirations("SPX") == [date(2026, 11, 25)]
    assert adapter.option_expirations("NOPE") == []
    chain = adapter.option_chain("SPX", date(2026, 11, 25))
    assert [(q.symbol, q.option_type, q.strike) for q in chain] == [
        ("SPXW261125C05900000", "call", 5900.0), ("SPXW261125P05800000", "put", 5800.0)]
    assert adapter.option_chain("SPX", date(2026, 11, 26)) == []


def test_quotes_keep_request_order_and_skip_unknown(fake: FakeTradier,
                                                    adapter: TradierAdapter) -> None:
    fake.set_quote("SPY", 500.0, 500.1)
    assert [q.symbol for q in adapter.quotes(["SPY", "NOPE", SYM])] == ["SPY", SYM]
    many = [f"SPXW261125C0{5000 + i:04d}000" for i in range(60)]
    assert [(q.symbol, q.bid, q.ask) for q in adapter.quotes([*many, SYM])] == [(SYM, 3.0, 3.2)]
    assert fake.requests[-1][0] == "POST"  # > 50 symbols go as a form POST


# --- rejections ---------------------------------------------------------------------------------


def test_rejection_with_200_errors(fake: FakeTradier, adapter: TradierAdapter) -> None:
    with pytest.raises(BrokerRejected) as info:
        adapter.submit(intent("rej-1", order_type="market", limit_price=None, duration="gtc"))
    assert info.value.reason == "MarketOrderIsGtc"
    assert placed(fake, "rej-1") == 0


def test_cancel_twice_gives_finalized_state(fake: FakeTradier, adapter: TradierAdapter) -> None:
    ack = adapter.submit(intent("cx-1"))
    adapter.cancel(ACCT, ack.broker_order_id)
    with pytest.raises(BrokerRejected, match="order already in finalized state: canceled"):
        adapter.cancel(ACCT, ack.broker_order_id)


# --- ambiguous outcomes never duplicate -----------------------------------------------------------


@pytest.mark.parametrize("fault", [
    Fault("drop", method="POST", after=True),
    Fault("status", method="POST", after=True, status=502, body="<html>Bad Gateway</html>"),
    Fault("status", method="POST", after=True, status=504),
    Fault("html", method="POST", after=True),
    Fault("empty", method="POST", after=True),
], ids=["drop", "502", "504", "html", "empty"])
def test_ambiguous_after_create_finds_the_order(fake: FakeTradier, adapter: TradierAdapter,
                                                fault: Fault) -> None:
    fake.visibility_delay_ms = 150  # the order shows up in lists a moment later
    fake.inject(fault)
    ack = adapter.submit(intent("amb-1"))
    assert placed(fake, "amb-1") == 1
    assert ack.broker_order_id == str(fake.orders_with_tag(ACCT, tag_for("amb-1"))[0].id)
    assert not ack.duplicate and ack.intent_id == "amb-1"


@pytest.mark.parametrize("fault", [
    Fault("drop", method="POST"),
    Fault("status", method="POST", status=502),
    Fault("html", method="POST"),
], ids=["drop", "502", "html"])
def test_ambiguous_before_create_places_once_after_lookup(fake: FakeTradier,
                                                          adapter: TradierAdapter,
                                                          fault: Fault) -> None:
    fake.inject(fault)
    t0 = time.monotonic()
    ack = adapter.submit(intent("amb-2"))
    assert time.monotonic() - t0 >= 0.4  # waited the whole lookup window before resubmitting
    assert placed(fake, "amb-2") == 1
    assert ack.broker_order_id == str(fake.orders_with_tag(ACCT, tag_for("amb-2"))[0].id)


def test_timeout_is_ambiguous_and_resolved_by_lookup(fake: FakeTradier) -> None:
    a = make(fake, timeout_s=0.2)
    fake.inject(Fault("delay", method="POST", delay_ms=600))
    ack = a.submit(intent("slow-1"))
    time.sleep(0.5)
    assert placed(fake, "slow-1") == 1
    assert ack.broker_order_id == str(fake.orders_with_tag(ACCT, tag_for("slow-1"))[0].id)


def test_unresolvable_outcome_raises_ambiguous_then_resubmit_is_safe(
        fake: FakeTradier, adapter: TradierAdapter) -> None:
    fake.inject(Fault("drop", method="POST", after=True),
                Fault("html", method="GET", path=r"/orders$", count=1000, skip=1))
    with pytest.raises(AmbiguousOrderError) as info:
        adapter.submit(intent("lost-1"))
    assert info.value.tag == tag_for("lost-1") and info.value.intent_id == "lost-1"
    fake.faults.clear()
    again = make(fake).submit(intent("lost-1"))  # e.g. after a restart
    assert again.duplicate
    assert placed(fake, "lost-1") == 1


def test_every_attempt_failing_before_create_is_unavailable_not_ambiguous(
        fake: FakeTradier, adapter: TradierAdapter) -> None:
    fake.inject(Fault("status", method="POST", status=503, count=2))
    with pytest.raises(BrokerUnavailable) as info:
        adapter.submit(intent("down-1"))
    assert not isinstance(info.value, AmbiguousOrderError)
    assert placed(fake, "down-1") == 0
    assert adapter.submit(intent("down-1")).broker_order_id  # later retry places it once
    assert placed(fake, "down-1") == 1


def test_rejection_fault_places_nothing(fake: FakeTradier, adapter: TradierAdapter) -> None:
    fake.inject(Fault("errors", method="POST", body="OmsUnavailable"))
    with pytest.raises(BrokerRejected, match="OmsUnavailable"):
        adapter.submit(intent("oms-1"))
    assert placed(fake, "oms-1") == 0


# --- reads retry, rate limits ---------------------------------------------------------------------


def test_reads_retry_transient_shapes(fake: FakeTradier, adapter: TradierAdapter) -> None:
    fake.inject(Fault("status", path="balances", status=502),
                Fault("html", path="balances"),
                Fault("fault", path="balances", body="Datastore Error"))
    assert adapter.balances(ACCT).option_buying_power == 100_000.0
    fake.inject(Fault("empty", path="positions", count=10))
    with pytest.raises(BrokerUnavailable, match="empty body"):
        adapter.positions(ACCT)


def test_quota_violation_waits_for_expiry(fake: FakeTradier, adapter: TradierAdapter) -> None:
    fake.inject(Fault("quota", path="clock", delay_ms=300))
    t0 = time.monotonic()
    assert adapter.market_clock().state == "open"
    assert time.monotonic() - t0 >= 0.25
    assert adapter.transport.limiter.waits == 1


def test_headers_drive_the_limiter(fake: FakeTradier) -> None:
    fake.rate_limits["trading"] = 2
    fake.window_s = 0.6
    a = make(fake)
    t0 = time.monotonic()
    acks = [a.submit(intent(f"rl-{i}")) for i in range(3)]
    assert time.monotonic() - t0 >= 0.3  # the third order waited for the window to expire
    assert a.transport.limiter.waits >= 1
    assert len({x.broker_order_id for x in acks}) == 3
    # waited instead of hitting a 429: exactly one POST per order reached the server
    assert sum(1 for r in fake.requests if r[0] == "POST") == 3


def test_limiter_refuses_an_overlong_wait() -> None:
    lim = RateLimiter(max_wait_s=5.0, clock=lambda: 1_700_000_000.0, sleep=lambda s: None)
    # expiry in ms, 60 s after the clock
    lim.update("market", {"x-ratelimit-available": "0", "x-ratelimit-expiry": "1700000060000"})
    with pytest.raises(BrokerUnavailable) as info:
        lim.acquire("market")
    assert info.value.retry_after_s == pytest.approx(60.0)
    lim.acquire("standard")  # other groups unaffected
