"""A broker adapter whose account the test scripts: it answers ``snapshot`` and ``orders``
with what the test set (or fails on demand) and supports nothing else. For unit and property
tests of reconciliation; the integration tests use the paper broker and the fake Tradier
server."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, ClassVar, Self

from spxcc_core.broker import BrokerAdapter, BrokerUnavailable, TagCallback
from spxcc_core.broker.interface import AdapterConfig
from spxcc_core.contracts.broker import (
    BrokerOrder,
    BrokerQuote,
    MarketClock,
    OrderAck,
    OrderIntent,
    OrderPreview,
    PortfolioSnapshot,
    Position,
)

__all__ = ["ScriptedBroker"]


class ScriptedBroker(BrokerAdapter):
    """``positions`` and ``order_list`` are what the broker reports; ``fail`` makes every read
    raise :class:`BrokerUnavailable`; ``reads`` counts snapshot and order reads."""

    name: ClassVar[str] = "scripted"

    def __init__(self, account_id: str = "A") -> None:
        super().__init__(account_id=account_id)
        self.positions: list[Position] = []
        self.order_list: list[BrokerOrder] = []
        self.fail = False
        self.reads = 0

    @classmethod
    def from_config(cls, config: AdapterConfig | Mapping[str, Any]) -> Self:
        return cls(AdapterConfig.of(config).account_id or "A")

    def _read(self) -> None:
        self.reads += 1
        if self.fail:
            raise BrokerUnavailable("scripted broker is down")

    def snapshot(self, account_id: str) -> PortfolioSnapshot:
        self._read()
        return PortfolioSnapshot(
            account_id=account_id, account_type="margin", option_buying_power=1e6,
            stock_buying_power=2e6, day_trade_buying_power=None, cash_available=None,
            total_equity=1e6, positions=tuple(self.positions),
            open_orders=tuple(o for o in self.order_list
                              if o.status not in ("filled", "canceled", "expired", "rejected")),
            broker=self.name)

    def orders(self, account_id: str) -> list[BrokerOrder]:
        self._read()
        return list(self.order_list)

    def order(self, account_id: str, order_id: str) -> BrokerOrder:
        return next(o for o in self.order_list if o.id == order_id)

    def submit(self, intent: OrderIntent, *, on_tag_assigned: TagCallback | None = None,
               known_unsubmitted: bool = False) -> OrderAck:
        raise NotImplementedError

    def find_by_tag(self, account_id: str, tag: str) -> OrderAck | None:
        return None

    def cancel(self, account_id: str, order_id: str) -> None:
        raise NotImplementedError

    def modify(self, account_id: str, order_id: str, *, order_type: str | None = None,
               limit_price: float | None = None, duration: str | None = None) -> None:
        raise NotImplementedError

    def preview(self, intent: OrderIntent) -> OrderPreview:
        raise NotImplementedError

    def market_clock(self) -> MarketClock:
        return MarketClock(state="open", is_open=True)

    def quotes(self, symbols: Sequence[str]) -> list[BrokerQuote]:
        return []

    def option_expirations(self, underlying: str) -> list[date]:
        return []

    def option_chain(self, underlying: str, expiration: date) -> list[BrokerQuote]:
        return []

    def poll_events(self, account_id: str) -> list[Any]:
        return []
