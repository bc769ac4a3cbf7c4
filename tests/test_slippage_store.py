"""The slippage tables on a real SQLite file, and slippage recorded where the routing worker
records fills: the paper broker (``paper``) and the fake Tradier server over HTTP (``broker``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from clocks import ReadingClock
from fake_tradier import FakeTradier
from hypothesis import given
from hypothesis import strategies as st
from prices import px
from secret_tokens import TRADIER_TEST_TOKEN
from spxcc_paper import PaperBroker
from spxcc_tradier import TradierAdapter

from spxcc_core.broker.routing import RoutingWorker
from spxcc_core.broker.store import BrokerStore
from spxcc_core.contracts.broker import Fill, OrderIntent
from spxcc_core.contracts.slippage import SlippageRecord, SlippageUnavailable
from spxcc_core.slippage import slippage_record
from spxcc_core.slippage.rolling import RollingConfig, RollingSlippage
from spxcc_core.slippage.store import IntentOrigin, SlippageStore
from spxcc_core.store import Store

SYM = "SPXW261125C05900000"
S = 1_000_000_000
T0 = 1_790_000_000 * S  # 2026-09-21 14:13:20 UTC = 10:13:20 New York (EDT)
ACCOUNT = "VA00000001"


@pytest.fixture
def store(store_target: str | Path) -> Iterator[Store]:
    with Store(store_target) as s:
        yield s


def _intent(iid: str, *, bid: float | None = 2.90, ask: float | None = 3.00,
            limit: float = 3.00, qty: int = 2) -> OrderIntent:
    return OrderIntent(intent_id=iid, option_symbol=SYM, underlying="SPX", side="buy_to_open",
                       quantity=qty, order_type="limit", limit_price=limit, arrival_bid=bid,
                       arrival_ask=ask, created_at_ms=T0 // 1_000_000)


def _record(fill_id: str, detector: str, price: float, at_ms: int) -> SlippageRecord:
    fill = Fill(fill_id=fill_id, broker_order_id="o", symbol=SYM, side="buy_to_open",
                quantity=1.0, price=price, at_ms=at_ms)
    out = slippage_record(_intent("i-" + fill_id), fill, source="broker", detector=detector)
    assert isinstance(out, SlippageRecord)
    return out


def test_the_store_records_a_fill_once_and_reads_it_back_by_bucket(store: Store) -> None:
    slip = SlippageStore(store)
    assert store.schema_versions()["slippage"] == 1
    first = _record("f1", "orb", 3.00, 1_790_000_100_000)
    assert slip.record(first) is True
    assert slip.record(first) is False                      # the same fill again: nothing new
    changed = msgspec.structs.replace(first, slippage_dollars=99.0)
    assert slip.record(changed) is False                    # and the first record stands
    slip.record(_record("f0", "vwap", 2.95, 1_790_000_000_000))
    assert slip.count() == 2 and slip.count("paper") == 0
    assert [r.fill_id for r in slip.records()] == ["f0", "f1"]       # oldest first
    (orb,) = slip.records(source="broker", detector="orb", time_bucket="morning",
                          spread_regime="normal")
    assert orb == first and orb.slippage_dollars == px(5.0)          # (3.00 − 2.95) × 100
    assert list(slip.records(detector="orb", time_bucket="open")) == []


def test_an_unmeasurable_fill_is_stored_with_its_reason(store: Store) -> None:
    slip = SlippageStore(store)
    fill = Fill(fill_id="f9", broker_order_id="o", symbol=SYM, side="buy_to_open",
                quantity=1.0, price=3.0, at_ms=1)
    out = slippage_record(_intent("i9", bid=None), fill, source="paper")
    assert isinstance(out, SlippageUnavailable)
    assert slip.record(out) is True and slip.record(out) is False
    assert [(u.fill_id, u.reason) for u in slip.unavailable()] == [("f9", "no_arrival_quote")]
    assert slip.unavailable(source="broker") == []


def test_the_first_origin_of_an_intent_stands(store: Store) -> None:
    slip = SlippageStore(store)
    assert slip.origin("i1") == IntentOrigin()
    assert slip.record_origin("i1", IntentOrigin("s1", "orb", 5_905.0)) is True
    assert slip.record_origin("i1", IntentOrigin("s2", "vwap", None)) is False
    assert slip.origin("i1") == IntentOrigin("s1", "orb", 5_905.0)


def test_routing_a_paper_fill_records_its_slippage_once(store: Store) -> None:
    bstore, slip = BrokerStore(store), SlippageStore(store)
    slip.record_origin("e1", IntentOrigin(setup_id="setup-1", detector="orb",
                                          underlying_price=5_890.0))
    paper = PaperBroker(account_id="A", cash=10_000.0, hours="always", clock=None)
    rolling = RollingSlippage(RollingConfig(min_samples=1))
    worker = RoutingWorker(paper, bstore, clock=ReadingClock(read_ms=lambda: T0 // 1_000_000),
                           on_slippage=rolling.update)
    paper.on_quote(SYM, T0, 2.90, 10, 3.00, 10)
    assert worker.route(_intent("e1")).state == "filled"
    (rec,) = slip.records()
    live = rolling.estimate("paper", "orb", "morning", "normal")  # fed as the fill was stored
    assert (live.bucket.level, live.count, live.ewma) == ("detector_time_spread", 1, px(5.0))
    assert (rec.source, rec.setup_id, rec.detector, rec.quantity) == ("paper", "setup-1", "orb",
                                                                      2.0)
    assert rec.fill_price == 3.0                    # the paper broker fills a buy at the ask
    assert rec.slippage_dollars == px(5.0)          # (3.00 − 2.95) × 100
    assert rec.slippage_ticks == px(1.0)            # 0.05 / 0.05
    assert rec.otm_points == px(10.0)               # call 5900 − 5890
    assert rec.time_bucket == "morning"             # 10:13 New York
    assert rec.dte == 65                            # 2026-09-21 → 2026-11-25
    fill = Fill(fill_id=rec.fill_id, broker_order_id="1", symbol=SYM, side="buy_to_open",
                quantity=2.0, price=3.0, intent_id="e1", account_id="A")
    assert worker.on_event(fill) == 0               # re-polled: neither fill nor slippage again
    assert slip.count() == 1
    assert rolling.estimate("paper", "orb", "morning", "normal").count == 1  # nor the callback


def test_routing_an_intent_without_arrival_quote_records_the_reason(store: Store) -> None:
    paper = PaperBroker(account_id="A", cash=10_000.0, hours="always", clock=None)
    worker = RoutingWorker(paper, BrokerStore(store),
                           clock=ReadingClock(read_ms=lambda: T0 // 1_000_000))
    paper.on_quote(SYM, T0, 2.90, 10, 3.00, 10)
    assert worker.route(_intent("e2", bid=None, ask=None)).state == "filled"
    slip = SlippageStore(store)
    assert slip.count() == 0
    assert [(u.intent_id, u.reason, u.source) for u in slip.unavailable()] == [
        ("e2", "no_arrival_quote", "paper")]


def test_a_tradier_fill_is_recorded_as_broker_slippage(tmp_path: Path) -> None:
    with FakeTradier(TRADIER_TEST_TOKEN, accounts={ACCOUNT: "margin"}) as fake, \
            Store(tmp_path / "t.sqlite3") as store, \
            TradierAdapter(TRADIER_TEST_TOKEN, base_url=fake.url, account_id=ACCOUNT,
                           lookup_window_s=0.5, lookup_interval_s=0.05,
                           backoff_s=0.01) as tradier:
        worker = RoutingWorker(tradier, BrokerStore(store))
        intent = OrderIntent(intent_id="t1", option_symbol=SYM, underlying="SPX",
                             side="sell_to_open", quantity=1, order_type="limit",
                             limit_price=1.20, arrival_bid=1.20, arrival_ask=1.40,
                             created_at_ms=T0 // 1_000_000)
        result = worker.route(intent)
        assert result.ack is not None
        fake.fill(ACCOUNT, result.ack.broker_order_id, 1.20)
        worker.poll()
        (rec,) = SlippageStore(store).records()
        assert rec.source == "broker"
        assert rec.slippage_dollars == px(10.0)          # sell: (1.30 − 1.20) × 100
        assert rec.slippage_spread_fraction == px(0.5)   # 0.10 / 0.20
        assert (rec.setup_id, rec.detector) == (None, None)   # no recorded origin


@given(order=st.lists(st.integers(min_value=0, max_value=7), min_size=1, max_size=40))
def test_shuffled_and_duplicated_fills_are_recorded_once_each_first_one_standing(
        order: list[int]) -> None:
    with Store(":memory:") as store:
        slip = SlippageStore(store)
        written = [slip.record(msgspec.structs.replace(
            _record(f"f{k}", "orb", 3.00, 1_790_000_000_000 + k), slippage_dollars=float(n)))
            for n, k in enumerate(order)]
        firsts = {k: n for n, k in reversed(list(enumerate(order)))}
        assert written == [firsts[k] == n for n, k in enumerate(order)]
        stored = {r.fill_id: r.slippage_dollars for r in slip.records()}
        assert stored == {f"f{k}": float(n) for k, n in firsts.items()}
