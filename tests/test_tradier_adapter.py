"""Tradier adapter against the fake Tradier server over real loopback HTTP: quirks, faults,
rate limits, auth and secrecy.

Time is faked, HTTP is not: the server and the adapter share one :class:`RecordingClock`, so
every wait (lookup polling, submit pauses, read backoff, rate-limit waits) advances the clock
instead of sleeping, and the tests assert the exact waits asked for. Lookup window 0.5 s and
interval 0.125 s are exact in binary, so the hand-worked poll times are exact too.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import date

import httpx
import pytest
from clocks import CLOCK_START_MS, RecordingClock
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


#: The lookup window and poll interval of :func:`make`: polls at 0, 0.125, 0.25, 0.375, 0.5 s.
WINDOW_S = 0.5
INTERVAL_S = 0.125
#: The first read backoff of :func:`make` (the adapter's default): 0.1, 0.2, 0.4 s.
BACKOFF_S = 0.1


@pytest.fixture
def clock() -> RecordingClock:
    return RecordingClock()


@pytest.fixture
def fake(clock: RecordingClock) -> Iterator[FakeTradier]:
    with FakeTradier(TOKEN, accounts={ACCT: "margin", "VA00000002": "cash",
                                      "VA00000003": "pdt"}, clock=clock) as server:
        server.set_quote(SYM, 3.0, 3.2)
        yield server


def make(fake: FakeTradier, **kw: object) -> TradierAdapter:
    """An adapter on the fake's clock (the same :class:`RecordingClock`)."""
    opts: dict[str, object] = {"lookup_window_s": WINDOW_S, "lookup_interval_s": INTERVAL_S,
                               "backoff_s": BACKOFF_S, "clock": fake.clock}
    opts.update(kw)
    return TradierAdapter(fake.token, base_url=fake.url, account_id=ACCT, **opts)  # type: ignore[arg-type]


def order_lists(fake: FakeTradier) -> int:
    """GET requests of the day's order list so far (one per page)."""
    return sum(1 for m, path, _ in fake.requests if m == "GET" and path.endswith("/orders"))


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
                                                clock: RecordingClock, fault: Fault) -> None:
    fake.visibility_delay_ms = 150  # the order shows up in lists 0.15 s after it is placed
    fake.inject(fault)
    ack = adapter.submit(intent("amb-1"))
    assert placed(fake, "amb-1") == 1
    assert ack.broker_order_id == str(fake.orders_with_tag(ACCT, tag_for("amb-1"))[0].id)
    assert not ack.duplicate and ack.intent_id == "amb-1"
    # placed at t=0; polls at 0 and 0.125 (hidden), 0.25 (found): two waits, one POST
    assert clock.slept == [INTERVAL_S, INTERVAL_S]
    assert order_lists(fake) == 1 + 3  # the lookup before placing, then three polls
    assert ack.at_ms == CLOCK_START_MS + 250


@pytest.mark.parametrize("fault", [
    Fault("drop", method="POST"),
    Fault("status", method="POST", status=502),
    Fault("html", method="POST"),
], ids=["drop", "502", "html"])
def test_ambiguous_before_create_places_once_after_lookup(fake: FakeTradier,
                                                          adapter: TradierAdapter,
                                                          clock: RecordingClock,
                                                          fault: Fault) -> None:
    fake.inject(fault)
    ack = adapter.submit(intent("amb-2"))
    assert placed(fake, "amb-2") == 1
    assert ack.broker_order_id == str(fake.orders_with_tag(ACCT, tag_for("amb-2"))[0].id)
    # the whole lookup window before placing again: polls at 0, .125, .25, .375 and .5 s
    assert clock.slept == [INTERVAL_S] * 4 and clock.monotonic() == WINDOW_S
    assert order_lists(fake) == 1 + 5
    posts = [path for m, path, _ in fake.requests if m == "POST"]
    assert len(posts) == 2  # the ambiguous one, then the one that placed the order


def test_lookup_window_ends_exactly_on_time_when_the_interval_does_not_divide_it(
        fake: FakeTradier, clock: RecordingClock) -> None:
    a = make(fake, lookup_window_s=0.75, lookup_interval_s=0.5)
    fake.inject(Fault("status", method="POST", status=502))
    a.submit(intent("amb-3"))
    assert clock.slept == [0.5, 0.25]  # polls at 0, 0.5 and 0.75 s: the last wait is cut short
    assert order_lists(fake) == 1 + 3


def test_timeout_is_ambiguous_and_resolved_by_lookup(fake: FakeTradier,
                                                     clock: RecordingClock) -> None:
    a = make(fake, timeout_s=0.2)
    # the answer is held (real time) until the fake stops: the 0.2 s socket timeout always fires
    fake.inject(Fault("delay", method="POST", delay_ms=30_000))
    ack = a.submit(intent("slow-1"))
    assert placed(fake, "slow-1") == 1
    assert ack.broker_order_id == str(fake.orders_with_tag(ACCT, tag_for("slow-1"))[0].id)
    assert clock.slept == []  # the order was listed at the first poll


def test_unsent_attempt_pauses_one_interval_before_the_next(clock: RecordingClock) -> None:
    with socket.socket() as s:  # a loopback port nobody listens on: every connect is refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    a = TradierAdapter(TOKEN, base_url=f"http://127.0.0.1:{port}/v1", account_id=ACCT,
                       lookup_interval_s=INTERVAL_S, connect_retries=0, clock=clock)
    with pytest.raises(BrokerUnavailable, match="was not placed: tradier unreachable") as info:
        a.submit(intent("unsent-1"), known_unsubmitted=True)
    assert not isinstance(info.value, AmbiguousOrderError)
    assert clock.slept == [INTERVAL_S]  # between the two attempts, none after the last


def test_unresolvable_outcome_raises_ambiguous_then_resubmit_is_safe(
        fake: FakeTradier, adapter: TradierAdapter, clock: RecordingClock) -> None:
    fake.inject(Fault("drop", method="POST", after=True),
                Fault("html", method="GET", path=r"/orders$", count=1000, skip=1))
    with pytest.raises(AmbiguousOrderError) as info:
        adapter.submit(intent("lost-1"))
    assert info.value.tag == tag_for("lost-1") and info.value.intent_id == "lost-1"
    # the first poll's read backs off 0.1 + 0.2 + 0.4 s and fails: 0.7 s > the 0.5 s window,
    # so that one failed poll is the whole lookup
    assert clock.slept == [0.1, 0.2, 0.4]
    fake.faults.clear()
    again = make(fake).submit(intent("lost-1"))  # e.g. after a restart
    assert again.duplicate
    assert placed(fake, "lost-1") == 1


def test_every_attempt_failing_before_create_is_unavailable_not_ambiguous(
        fake: FakeTradier, adapter: TradierAdapter, clock: RecordingClock) -> None:
    fake.inject(Fault("status", method="POST", status=503, count=2))
    with pytest.raises(BrokerUnavailable) as info:
        adapter.submit(intent("down-1"))
    assert not isinstance(info.value, AmbiguousOrderError)
    assert placed(fake, "down-1") == 0
    # a whole lookup window after each of the two ambiguous POSTs, and a last one before
    # declaring the order absent: 3 windows of 4 waits
    assert clock.slept == [INTERVAL_S] * 12 and order_lists(fake) == 1 + 3 * 5
    assert adapter.submit(intent("down-1")).broker_order_id  # later retry places it once
    assert placed(fake, "down-1") == 1


def test_rejection_fault_places_nothing(fake: FakeTradier, adapter: TradierAdapter) -> None:
    fake.inject(Fault("errors", method="POST", body="OmsUnavailable"))
    with pytest.raises(BrokerRejected, match="OmsUnavailable"):
        adapter.submit(intent("oms-1"))
    assert placed(fake, "oms-1") == 0


# --- reads retry, rate limits ---------------------------------------------------------------------


def test_reads_retry_transient_shapes(fake: FakeTradier, adapter: TradierAdapter,
                                      clock: RecordingClock) -> None:
    fake.inject(Fault("status", path="balances", status=502),
                Fault("html", path="balances"),
                Fault("fault", path="balances", body="Datastore Error"))
    assert adapter.balances(ACCT).option_buying_power == 100_000.0
    assert clock.slept == [0.1, 0.2, 0.4]  # backoff doubles from backoff_s
    fake.inject(Fault("empty", path="positions", count=10))
    with pytest.raises(BrokerUnavailable, match="empty body"):
        adapter.positions(ACCT)
    assert clock.slept == [0.1, 0.2, 0.4] * 2  # no wait after the last of 4 attempts
    assert adapter.transport.requests == 4 + 4


def test_read_backoff_is_capped(fake: FakeTradier, clock: RecordingClock) -> None:
    a = make(fake, backoff_s=0.75, read_retries=4)
    fake.inject(Fault("status", path="balances", status=503, count=4))
    assert a.balances(ACCT).option_buying_power == 100_000.0
    assert clock.slept == [0.75, 1.5, 2.0, 2.0]  # doubling, capped at max_backoff_s = 2 s


def test_quota_violation_waits_for_expiry(fake: FakeTradier, adapter: TradierAdapter,
                                          clock: RecordingClock) -> None:
    fake.inject(Fault("quota", path="clock", delay_ms=300))  # expires 300 ms from now
    assert adapter.market_clock().state == "open"
    assert clock.slept == [0.3]  # the limiter waited until the expiry; no read backoff
    assert adapter.transport.limiter.waits == 1
    assert adapter.transport.requests == 2


def test_headers_drive_the_limiter(fake: FakeTradier, clock: RecordingClock) -> None:
    fake.rate_limits["trading"] = 2
    fake.window_s = 0.6  # the trading window opens with the first POST at t=0
    a = make(fake)
    acks = [a.submit(intent(f"rl-{i}")) for i in range(3)]
    # the second POST left Available 0 until t=0.6: the third waited exactly that long
    assert clock.slept == [0.6]
    assert a.transport.limiter.waits == 1
    assert len({x.broker_order_id for x in acks}) == 3
    # waited instead of hitting a 429: exactly one POST per order reached the server
    assert sum(1 for r in fake.requests if r[0] == "POST") == 3


def test_limiter_refuses_an_overlong_wait(clock: RecordingClock) -> None:
    lim = RateLimiter(max_wait_s=5.0, clock=clock)
    # expiry in ms, 60 s after the clock
    lim.update("market", {"x-ratelimit-available": "0",
                          "x-ratelimit-expiry": str(CLOCK_START_MS + 60_000)})
    with pytest.raises(BrokerUnavailable) as info:
        lim.acquire("market")
    assert info.value.retry_after_s == 60.0
    lim.acquire("standard")  # other groups unaffected
    assert clock.slept == []


def test_limiter_waits_out_an_expiry_given_in_seconds(clock: RecordingClock) -> None:
    lim = RateLimiter(clock=clock)
    clock.advance(0.25)  # now = start + 250 ms; the expiry below is start + 2 s, in seconds
    lim.update("trading", {"x-ratelimit-available": "0",
                           "x-ratelimit-expiry": str(CLOCK_START_MS // 1000 + 2)})
    lim.acquire("trading")
    lim.acquire("trading")  # the window has expired: no second wait
    assert clock.slept == [1.75] and lim.waits == 1


def test_limiter_spaces_requests_by_min_interval(clock: RecordingClock) -> None:
    lim = RateLimiter(min_interval_s={"market": 0.25}, clock=clock)
    lim.acquire("market")  # the first request never waits
    lim.acquire("market")  # 0.25 s after the first
    clock.advance(0.125)
    lim.acquire("market")  # 0.125 s of the spacing already passed
    lim.acquire("standard")  # other groups are not spaced
    assert clock.slept == [0.25, 0.125] and clock.monotonic() == 0.5
