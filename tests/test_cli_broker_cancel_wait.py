"""``spxcc broker cancel`` of an intent the store does not know waits for the order to be final
on an injected clock: the fake Tradier server (real HTTP on loopback) leaves a canceled order
``pending`` for a while, and the server, the adapter and the wait share one manual clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from broker_cli_helpers import ACCOUNT, SYM
from clocks import RecordingClock
from fake_tradier import FakeTradier
from secret_tokens import TRADIER_TEST_TOKEN
from spxcc_tradier import TradierAdapter

from spxcc_core.cli.broker import _cancel_unrecorded
from spxcc_core.contracts.broker import OrderIntent


@pytest.fixture
def clock() -> RecordingClock:
    return RecordingClock()


@pytest.fixture
def adapter(clock: RecordingClock) -> Iterator[tuple[FakeTradier, TradierAdapter]]:
    with FakeTradier(TRADIER_TEST_TOKEN, accounts={ACCOUNT: "margin"}, clock=clock,
                     cancel_delay_ms=500) as fake:
        fake.set_quote(SYM, 3.00, 3.20)
        with TradierAdapter(TRADIER_TEST_TOKEN, base_url=fake.url, account_id=ACCOUNT,
                            clock=clock) as a:
            a.submit(OrderIntent(intent_id="far-1", option_symbol=SYM, underlying="SPX",
                                 side="buy_to_open", quantity=1, order_type="limit",
                                 limit_price=1.0))
            yield fake, a


def order_reads(fake: FakeTradier) -> int:
    """Reads of one order after the cancel request (the read before it not counted)."""
    after = 0
    for m, path, _ in fake.requests:
        if m == "DELETE":
            after = 0
        elif m == "GET" and "/orders/" in path:
            after += 1
    return after


def test_cancel_polls_every_0_2_s_until_the_order_is_final(
        adapter: tuple[FakeTradier, TradierAdapter], clock: RecordingClock) -> None:
    fake, a = adapter
    result = _cancel_unrecorded(a, ACCOUNT, "far-1", 2.0, clock)
    # canceled at t=0, final at t=0.5: reads at 0, 0.2, 0.4 (pending) and 0.6 (canceled)
    assert clock.slept == [0.2, 0.2, 0.2]
    assert order_reads(fake) == 4
    assert (result.state, result.requested) == ("canceled", True)
    assert result.message == f"order {result.broker_order_id} canceled"


def test_cancel_stops_waiting_after_wait_s(adapter: tuple[FakeTradier, TradierAdapter],
                                           clock: RecordingClock) -> None:
    fake, a = adapter
    result = _cancel_unrecorded(a, ACCOUNT, "far-1", 0.3, clock)
    # reads at 0 and 0.2 (pending), a last wait, a read at 0.4 (still pending): past 0.3 s
    assert clock.slept == [0.2, 0.2]
    assert order_reads(fake) == 3
    assert (result.state, result.requested) == ("pending", True)
    assert result.message == (f"cancel of order {result.broker_order_id} requested; the "
                              "broker reports it pending")


def test_no_wait_reads_the_order_once(adapter: tuple[FakeTradier, TradierAdapter],
                                      clock: RecordingClock) -> None:
    fake, a = adapter
    result = _cancel_unrecorded(a, ACCOUNT, "far-1", 0.0, clock)
    assert clock.slept == [] and order_reads(fake) == 1 and result.state == "pending"
