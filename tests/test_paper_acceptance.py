"""The shared broker acceptance suite against the paper adapter (store-backed, so a second
adapter instance on the same SQLite file plays the restarted process)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from broker_acceptance import BrokerAcceptanceSuite
from spxcc_paper import PaperBroker

from spxcc_core.store import Store

ACCOUNT = "PAPER-1"


class PaperMarket:
    """Drives the paper adapters' quotes (``MarketControl`` of the suite)."""

    def __init__(self) -> None:
        self.adapters: list[PaperBroker] = []

    def set_quote(self, symbol: str, bid: float, ask: float) -> None:
        for a in self.adapters:
            a.on_quote(symbol, time.time_ns(), bid, 500, ask, 500)

    def fill(self, account_id: str, order_id: str, price: float | None = None) -> None:
        a = self.adapters[0]
        o = a.order(account_id, order_id)
        px = price if price is not None else o.limit_price
        assert px is not None and o.symbol is not None
        if o.side is not None and o.side.startswith("buy"):
            a.on_quote(o.symbol, time.time_ns(), round(px - 0.05, 2), 500, px, 500)
        else:
            a.on_quote(o.symbol, time.time_ns(), px, 500, round(px + 0.05, 2), 500)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "paper.sqlite3"


@pytest.fixture
def market() -> PaperMarket:
    return PaperMarket()


@pytest.fixture
def account_id() -> str:
    return ACCOUNT


def _adapter(db: Path, market: PaperMarket) -> Iterator[PaperBroker]:
    store = Store(db)
    a = PaperBroker(account_id=ACCOUNT, store=store)
    market.adapters.append(a)
    yield a
    a.close()
    store.close()


@pytest.fixture
def adapter(db: Path, market: PaperMarket) -> Iterator[PaperBroker]:
    yield from _adapter(db, market)


@pytest.fixture
def fresh_adapter(db: Path, market: PaperMarket, adapter: PaperBroker) -> Iterator[PaperBroker]:
    yield from _adapter(db, market)


class TestPaperAcceptance(BrokerAcceptanceSuite):
    """Every acceptance test, paper flavour."""
