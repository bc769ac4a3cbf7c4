"""Property: under random fault sequences on submit, no intent ever makes two broker orders and
every intent ends in a known state (acked with the one order's id, or a typed error).

The server and every adapter share one manual clock (lookup windows, visibility delays and
quota waits advance it instead of sleeping); only the ``delay`` fault's socket timeout is real
time, and the fake holds that answer until released, so the timeout always fires.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from clocks import RecordingClock
from fake_tradier import FakeTradier, Fault
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spxcc_tradier import TradierAdapter

from spxcc_core.broker import (
    AmbiguousOrderError,
    BrokerRejected,
    BrokerUnavailable,
    tag_for,
)
from spxcc_core.contracts.broker import OrderIntent

ACCT = "VA00000001"
SYM = "SPXW261125C05900000"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTradier]:
    with FakeTradier(accounts={ACCT: "margin"}, clock=RecordingClock()) as server:
        server.set_quote(SYM, 3.0, 3.2)
        yield server


def _fault(kind: str, after: bool) -> Fault:
    if kind == "status":
        return Fault("status", method="POST", status=502, after=after)
    if kind == "delay":
        return Fault("delay", method="POST", delay_ms=30_000)  # held until released
    if kind == "quota":
        return Fault("quota", method="POST", delay_ms=50)
    if kind == "errors":
        return Fault("errors", method="POST", body="OmsUnavailable")
    return Fault(kind, method="POST", after=after)


post_faults = st.lists(
    st.builds(_fault, st.sampled_from(["drop", "status", "html", "empty", "delay", "quota",
                                       "errors"]), st.booleans()),
    max_size=3)
get_faults = st.lists(
    st.builds(lambda kind, skip: Fault(kind, method="GET", path=r"/orders$", skip=skip),
              st.sampled_from(["html", "empty", "drop"]), st.integers(0, 3)),
    max_size=3)


@settings(max_examples=30, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(posts=post_faults, gets=get_faults, visibility_ms=st.sampled_from([0, 50, 150]))
def test_at_most_one_order_per_intent_and_a_known_outcome(
        fake: FakeTradier, posts: list[Fault], gets: list[Fault], visibility_ms: int) -> None:
    fake.faults.clear()
    fake.visibility_delay_ms = visibility_ms
    fake.inject(*posts, *gets)
    adapter = TradierAdapter(fake.token, base_url=fake.url, account_id=ACCT, timeout_s=0.25,
                             lookup_window_s=0.5, lookup_interval_s=0.125, read_retries=1,
                             clock=fake.clock)
    intent_id = f"prop-{uuid.uuid4()}"
    intent = OrderIntent(intent_id=intent_id, option_symbol=SYM, underlying="SPX",
                         side="buy_to_open", quantity=1, order_type="limit", limit_price=1.0)
    tag = tag_for(intent_id)
    persisted: list[str] = []
    try:
        try:
            ack = adapter.submit(intent, on_tag_assigned=lambda i, t: persisted.append(t))
        except (BrokerRejected, AmbiguousOrderError, BrokerUnavailable) as exc:
            outcome: object = exc
        else:
            outcome = ack
        assert persisted == [tag]  # the tag was handed out before anything was sent
        fake.release()  # a timed-out request's held answer goes out (to a closed socket)
        orders = fake.orders_with_tag(ACCT, tag)
        assert len(orders) <= 1, f"duplicate orders for one intent: {orders}"
        if not isinstance(outcome, Exception):
            assert len(orders) == 1 and outcome.broker_order_id == str(orders[0].id)
            assert outcome.tag == tag
        elif isinstance(outcome, BrokerRejected):
            assert orders == []
        elif isinstance(outcome, BrokerUnavailable) and not isinstance(
                outcome, AmbiguousOrderError):
            assert orders == [], "unavailable must mean not placed"
        # whatever happened, resubmitting the intent on a healthy server converges to one order
        fake.faults.clear()
        if isinstance(outcome, BrokerRejected):
            return
        final = adapter.submit(intent)
        orders = fake.orders_with_tag(ACCT, tag)
        assert len(orders) == 1 and final.broker_order_id == str(orders[0].id)
    finally:
        adapter.close()
        fake.faults.clear()
        fake.release()
