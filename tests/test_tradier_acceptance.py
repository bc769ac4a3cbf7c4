"""The shared broker acceptance suite against the Tradier adapter and the fake Tradier server
(real HTTP on loopback)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from broker_acceptance import BrokerAcceptanceSuite
from fake_tradier import FakeTradier
from spxcc_tradier import TradierAdapter

ACCOUNT = "VA00000001"


@pytest.fixture
def fake() -> Iterator[FakeTradier]:
    with FakeTradier(accounts={ACCOUNT: "margin"}) as server:
        yield server


@pytest.fixture
def market(fake: FakeTradier) -> FakeTradier:
    return fake


@pytest.fixture
def account_id() -> str:
    return ACCOUNT


def _adapter(fake: FakeTradier) -> TradierAdapter:
    return TradierAdapter(fake.token, base_url=fake.url, account_id=ACCOUNT,
                          lookup_window_s=0.5, lookup_interval_s=0.05, backoff_s=0.01)


@pytest.fixture
def adapter(fake: FakeTradier) -> Iterator[TradierAdapter]:
    with _adapter(fake) as a:
        yield a


@pytest.fixture
def fresh_adapter(fake: FakeTradier) -> Iterator[TradierAdapter]:
    with _adapter(fake) as a:
        yield a


class TestTradierAcceptance(BrokerAcceptanceSuite):
    """Every acceptance test, Tradier flavour."""
