"""Submit cost without giving up "never two orders per intent": the routing worker's first send
skips the tag lookup (``known_unsubmitted``), every re-send looks first, and tag lookups read
the day's order list incrementally through the Tradier adapter's tag index.

Everything runs against the fake Tradier server over real loopback HTTP; requests are counted
on the server. Crash recovery uses a child process and a real SQLite file."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from clocks import ReadingClock
from fake_tradier import FakeTradier, Fault
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from secret_tokens import TRADIER_TEST_TOKEN
from spxcc_paper import PaperBroker
from spxcc_tradier import TradierAdapter

from spxcc_core.broker import accepts_known_unsubmitted, tag_for
from spxcc_core.broker.routing import RoutingLimits, RoutingWorker
from spxcc_core.broker.store import BrokerStore
from spxcc_core.contracts.broker import OrderAck, OrderIntent
from spxcc_core.store import Store

ACCOUNT = "VA00000001"
SYM = "SPXW261125C05900000"
ORDERS = f"/accounts/{ACCOUNT}/orders"


@pytest.fixture
def fake() -> Iterator[FakeTradier]:
    with FakeTradier(TRADIER_TEST_TOKEN, accounts={ACCOUNT: "margin"},
                     auto_fill=False) as server:
        yield server


def adapter(fake: FakeTradier, **kw: object) -> TradierAdapter:
    opts: dict[str, object] = {"lookup_window_s": 0.1, "lookup_interval_s": 0.02,
                               "backoff_s": 0.01}
    opts.update(kw)
    return TradierAdapter(TRADIER_TEST_TOKEN, base_url=fake.url, account_id=ACCOUNT,
                          **opts)  # type: ignore[arg-type]


def intent(iid: str, side: str = "sell_to_open") -> OrderIntent:
    # sell_to_open: no buying-power snapshot, so a route() sends only what the test counts
    return OrderIntent(intent_id=iid, option_symbol=SYM, underlying="SPX", side=side,
                       quantity=1, order_type="limit", limit_price=2.0)


def calls(fake: FakeTradier, since: int) -> list[tuple[str, str]]:
    return [(m, p) for m, p, _ in fake.requests[since:]]


def place_raw(fake: FakeTradier, tag: str) -> str:
    """An order placed by someone else (another process): a plain form POST."""
    with httpx.Client(base_url=fake.url, headers={
            "Authorization": f"Bearer {fake.token}", "Accept": "application/json"}) as c:
        r = c.post(ORDERS, data={"class": "option", "symbol": "SPX", "option_symbol": SYM,
                                 "side": "sell_to_open", "quantity": "1", "type": "limit",
                                 "duration": "day", "price": "2", "tag": tag})
        r.raise_for_status()
        return str(r.json()["order"]["id"])


# --- the adapter: one request on the fast path ---------------------------------------------------

def test_known_unsubmitted_sends_exactly_one_request(fake: FakeTradier) -> None:
    for i in range(7):
        place_raw(fake, f"other-{i}")
    with adapter(fake) as tradier:
        n = len(fake.requests)
        ack = tradier.submit(intent("fast-1"), known_unsubmitted=True)
        assert calls(fake, n) == [("POST", ORDERS)]
        assert not ack.duplicate and len(fake.orders_with_tag(ACCOUNT, tag_for("fast-1"))) == 1
        # the default looks the tag up first: a full listing the first time (7 + 1 orders,
        # one page of 100), then the POST
        n = len(fake.requests)
        tradier.submit(intent("slow-1"))
        assert calls(fake, n) == [("GET", ORDERS), ("POST", ORDERS)]


def test_default_submit_still_finds_an_existing_order(fake: FakeTradier) -> None:
    with adapter(fake) as first:
        placed = first.submit(intent("dup-1"), known_unsubmitted=True)
    with adapter(fake) as restarted:  # another process: no in-memory ack
        n = len(fake.requests)
        again = restarted.submit(intent("dup-1"))
        assert (again.broker_order_id, again.duplicate) == (placed.broker_order_id, True)
        assert calls(fake, n) == [("GET", ORDERS)]  # looked up, nothing posted
    assert len(fake.orders_with_tag(ACCOUNT, tag_for("dup-1"))) == 1


# --- the routing worker: fast first send, careful re-sends ---------------------------------------

def worker(tradier: TradierAdapter, store: Store, **kw: object) -> RoutingWorker:
    return RoutingWorker(tradier, BrokerStore(store),
                         limits=RoutingLimits(check_market_hours=False), **kw)  # type: ignore[arg-type]


def test_routing_first_send_posts_without_lookup(fake: FakeTradier, tmp_path: Path) -> None:
    with Store(tmp_path / "r.sqlite3") as store, adapter(fake) as tradier:
        w = worker(tradier, store)
        w.start()
        n = len(fake.requests)
        result = w.route(intent("route-1"))
        assert result.state == "acked"
        # the POST, then the poll that collects events: no tag lookup before the POST
        assert calls(fake, n) == [("POST", ORDERS), ("GET", ORDERS)]
        # routing the same intent again sends nothing
        n = len(fake.requests)
        again = w.route(intent("route-1"))
        assert again.ack is not None and again.ack.broker_order_id == result.ack.broker_order_id  # type: ignore[union-attr]
        assert calls(fake, n) == []  # answered from the store
    assert len(fake.orders_with_tag(ACCOUNT, tag_for("route-1"))) == 1


def test_resend_after_unavailable_looks_tag_up_first(fake: FakeTradier,
                                                     tmp_path: Path) -> None:
    now = [1_790_000_000_000]
    with Store(tmp_path / "r.sqlite3") as store, adapter(fake) as tradier:
        w = worker(tradier, store, clock=ReadingClock(read_ms=lambda: now[0]))
        # every POST is refused with a 429 quota violation: certainly not placed
        fake.inject(Fault("quota", method="POST", path="/orders", count=2))
        first = w.route(intent("resend-1"))
        assert first.state == "queued" and first.ack is None
        # both attempts posted without a lookup (first send); then route()'s event poll
        assert [m for m, p in calls(fake, 0) if p == ORDERS] == ["POST", "POST", "GET"]
        now[0] += 60_000
        n = len(fake.requests)
        assert w.process() == 1
        sent = [m for m, p in calls(fake, n) if p == ORDERS]
        assert sent == ["GET", "POST"]  # the re-send looked the tag up before posting
        kinds = [e.kind for e in BrokerStore(store).events("resend-1")]
        assert kinds == ["intent", "submit", "unavailable", "submit", "ack"]
    assert len(fake.orders_with_tag(ACCOUNT, tag_for("resend-1"))) == 1


CHILD = textwrap.dedent("""
    import os, sys
    from spxcc_core.store import Store
    from spxcc_core.broker.store import BrokerStore
    from spxcc_core.broker.routing import RoutingLimits, RoutingWorker
    from spxcc_core.contracts.broker import OrderIntent
    from spxcc_tradier import TradierAdapter

    url, token, db = sys.argv[1], sys.argv[2], sys.argv[3]
    seen = []

    class Crashing(TradierAdapter):
        def submit(self, intent, *, on_tag_assigned=None, known_unsubmitted=False):
            seen.append(known_unsubmitted)
            super().submit(intent, on_tag_assigned=on_tag_assigned,
                           known_unsubmitted=known_unsubmitted)
            os._exit(17 if seen == [True] else 18)  # the order exists; its ack is never stored

    store = Store(db)
    worker = RoutingWorker(Crashing(token, base_url=url, account_id="VA00000001"),
                           BrokerStore(store), limits=RoutingLimits(check_market_hours=False))
    worker.route(OrderIntent(intent_id="crash-1", option_symbol="SPXW261125C05900000",
                             underlying="SPX", side="sell_to_open", quantity=1,
                             order_type="limit", limit_price=2.0))
""")


def test_crash_after_submitting_finds_the_order_no_duplicate(fake: FakeTradier,
                                                             tmp_path: Path) -> None:
    db = tmp_path / "crash.sqlite3"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    proc = subprocess.run([sys.executable, str(script), fake.url, TRADIER_TEST_TOKEN, str(db)],
                          capture_output=True, text=True, timeout=120)
    # 17: the child's first send used the fast path
    assert proc.returncode == 17, proc.stderr[-2000:]
    assert calls(fake, 0) == [("POST", ORDERS)]  # one request: no lookup before the POST
    tag = tag_for("crash-1")
    [order] = fake.orders_with_tag(ACCOUNT, tag)
    with Store(db) as store, adapter(fake) as tradier:
        bstore = BrokerStore(store)
        rec = bstore.get("crash-1")
        assert rec is not None and (rec.state, rec.broker_order_id) == ("submitting", None)
        n = len(fake.requests)
        results = worker(tradier, store).start()
        assert [(r.intent_id, r.state) for r in results] == [("crash-1", "acked")]
        assert "POST" not in [m for m, _ in calls(fake, n)]
        assert calls(fake, n)[0] == ("GET", ORDERS)  # the tag lookup comes first
        rec = bstore.get("crash-1")
        assert rec is not None and rec.broker_order_id == str(order.id)
        # running the intent again (the CLI re-run) returns the same order and sends nothing
        n = len(fake.requests)
        again = worker(tradier, store).route(intent("crash-1"))
        assert again.ack is not None and again.ack.broker_order_id == str(order.id)
        assert "POST" not in [m for m, _ in calls(fake, n)]
    assert len(fake.orders_with_tag(ACCOUNT, tag)) == 1


def test_claim_is_first_only_once(tmp_path: Path) -> None:
    with Store(tmp_path / "c.sqlite3") as store:
        bstore = BrokerStore(store)
        i = intent("claim-1")
        bstore.insert_intent(i, broker="paper", account_id="A", tag=tag_for("claim-1"),
                             state="queued", now_ms=1)
        assert bstore.claim_submission("claim-1", now_ms=2) == (True, True)
        assert bstore.claim_submission("claim-1", now_ms=3) == (False, False)  # submitting
        bstore.transition("claim-1", "queued", now_ms=4, kind="unavailable")
        assert bstore.claim_submission("claim-1", now_ms=5) == (True, False)
        assert bstore.ever_submitted("claim-1")
        with pytest.raises(KeyError):
            bstore.claim_submission("nope", now_ms=6)


def test_another_writer_moved_the_intent_nothing_is_sent(tmp_path: Path) -> None:
    db = tmp_path / "two.sqlite3"
    with Store(db) as store_a, Store(db) as store_b:
        paper = PaperBroker(account_id="A", clock=None)
        a = RoutingWorker(paper, BrokerStore(store_a))
        b = RoutingWorker(paper, BrokerStore(store_b))
        a.start()
        b.start()
        queued = a.enqueue(intent("two-1", side="buy_to_open"))
        assert queued.state == "queued"
        # b loads the queued intent too and sends it
        assert [(r.intent_id, r.state) for r in b.start()] == [("two-1", "acked")]
        assert a.process() == 1  # a's claim fails: it adopts b's state and sends nothing
        assert len([o for o in paper.orders("A") if o.tag == tag_for("two-1")]) == 1
        assert BrokerStore(store_a).get("two-1").state == "acked"  # type: ignore[union-attr]
        # one submit, by b; a's attempt left no trace (the paper broker would have answered
        # a second submit with the same order, so the event log is what proves it)
        assert [e.kind for e in BrokerStore(store_a).events("two-1")] == [
            "intent", "submit", "ack"]
        assert a.result("two-1").state == "acked"


def test_old_signature_adapters_are_called_without_the_flag() -> None:
    class Old(PaperBroker):
        def submit(self, intent: OrderIntent, *,  # type: ignore[override]
                   on_tag_assigned: object = None) -> OrderAck:
            return super().submit(intent)

    assert accepts_known_unsubmitted(PaperBroker(account_id="A"))
    assert not accepts_known_unsubmitted(Old(account_id="A"))


# --- the tag index ------------------------------------------------------------------------------

def test_index_reads_only_from_the_last_indexed_page(fake: FakeTradier) -> None:
    ids = [place_raw(fake, f"t-{i}") for i in range(7)]
    with adapter(fake, orders_page_size=3) as tradier:
        n = len(fake.requests)
        assert tradier.find_by_tag(ACCOUNT, "t-5").broker_order_id == ids[5]  # type: ignore[union-attr]
        assert len(calls(fake, n)) == 3  # first lookup: full listing, pages 1..3 (3 + 3 + 1)
        n = len(fake.requests)
        assert tradier.find_by_tag(ACCOUNT, "missing") is None
        assert [p["page"] for _, _, p in fake.requests[n:]] == ["3"]  # holds order 7 of 7
        ids.append(place_raw(fake, "t-7"))
        ids.append(place_raw(fake, "t-8"))  # 9 orders: page 3 is now full
        n = len(fake.requests)
        assert tradier.find_by_tag(ACCOUNT, "t-8").broker_order_id == ids[8]  # type: ignore[union-attr]
        assert [p["page"] for _, _, p in fake.requests[n:]] == ["3", "4"]
        n = len(fake.requests)
        assert tradier.find_by_tag(ACCOUNT, "t-0").broker_order_id == ids[0]  # type: ignore[union-attr]
        assert [p["page"] for _, _, p in fake.requests[n:]] == ["3", "4"]


def test_index_rebuilds_when_the_list_is_not_append_only(fake: FakeTradier) -> None:
    for i in range(4):
        place_raw(fake, f"r-{i}")
    with adapter(fake, orders_page_size=2) as tradier:
        assert tradier.find_by_tag(ACCOUNT, "r-3") is not None
        newest = place_raw(fake, "r-new")
        with fake.lock:  # a broker listing newest first: the new order shows up on page 1
            orders = fake.accounts[ACCOUNT].orders
            orders.insert(0, orders.pop())
        found = tradier.find_by_tag(ACCOUNT, "r-new")
        assert found is not None and found.broker_order_id == newest
        fake.rollover()  # the day's list empties: yesterday's tags are gone
        assert tradier.find_by_tag(ACCOUNT, "r-3") is None
        again = place_raw(fake, "r-3")
        assert tradier.find_by_tag(ACCOUNT, "r-3").broker_order_id == again  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def shared_fake() -> Iterator[FakeTradier]:
    with FakeTradier(TRADIER_TEST_TOKEN, accounts={ACCOUNT: "margin"},
                     auto_fill=False) as server:
        yield server


OPS = st.lists(st.one_of(
    st.tuples(st.just("place"), st.sampled_from(["a", "b", "c", "d"])),
    st.tuples(st.just("find"), st.sampled_from(["a", "b", "c", "d", "e"])),
    st.tuples(st.just("front"), st.just("")),   # move the newest order to the list's front
    st.tuples(st.just("rollover"), st.just("")),
), min_size=1, max_size=14)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS, page_size=st.integers(1, 4))
def test_index_agrees_with_a_full_listing(shared_fake: FakeTradier, ops: list[tuple[str, str]],
                                          page_size: int) -> None:
    fake = shared_fake
    fake.rollover()
    with adapter(fake, orders_page_size=page_size) as tradier:
        for op, tag in ops:
            if op == "place":
                place_raw(fake, tag)
            elif op == "front":
                with fake.lock:
                    orders = fake.accounts[ACCOUNT].orders
                    if orders:
                        orders.insert(0, orders.pop())
            elif op == "rollover":
                fake.rollover()
            else:
                truth = fake.orders_with_tag(ACCOUNT, tag)
                found = tradier.find_by_tag(ACCOUNT, tag)
                if not truth:
                    assert found is None
                else:  # the first listed order carrying the tag
                    assert found is not None and found.broker_order_id == str(truth[0].id)
