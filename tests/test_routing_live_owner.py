"""A worker's start() must not take over an intent another LIVE process holds (recorded
``queued`` by it, or claimed ``submitting`` by it): only intents of a dead process, of this
process, or of no recorded owner (older stores) are reconciled and sent. Deterministic: the
other process is a recorded owner string whose liveness is either faked or a real child that
is kept waiting on its stdin (alive) and then reaped (dead)."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from spxcc_paper import PaperBroker

from spxcc_core.broker import owner as owner_mod
from spxcc_core.broker import tag_for
from spxcc_core.broker.owner import current_owner, owner_alive, parse_owner
from spxcc_core.broker.routing import RoutingWorker
from spxcc_core.broker.store import BrokerStore
from spxcc_core.contracts.broker import OrderIntent
from spxcc_core.store import Store

INTENT = OrderIntent(intent_id="i-b", option_symbol="SPXW991218C05900000", underlying="SPX",
                     side="buy_to_open", quantity=1, order_type="limit", limit_price=1.25)
#: The owner string of "process B", reported alive by the patched liveness check.
LIVE_B = f"{socket.gethostname()}:999999:12345"


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    """A real process that runs until its stdin is closed."""
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                            stdin=subprocess.PIPE)
    try:
        yield proc
    finally:
        if proc.stdin is not None and not proc.stdin.closed:
            proc.stdin.close()
        proc.wait(timeout=30)


def owner_of(pid: int) -> str:
    return f"{socket.gethostname()}:{pid}:{owner_mod._start_ticks(pid)}"


def stores(db: str | Path) -> tuple[Store, Store]:
    """Two connections to one store: process B's and process A's."""
    return Store(db), Store(db)


def record_by_b(store_b: Store, *, claim_owner: str | None) -> BrokerStore:
    """Process B records the intent (queued) and, with ``claim_owner``, claims it."""
    bstore = BrokerStore(store_b)
    worker_b = RoutingWorker(PaperBroker(account_id="A", store=store_b), bstore)
    assert worker_b.enqueue(INTENT).state == "queued"
    if claim_owner is not None:
        claimed, first = bstore.claim_submission(INTENT.intent_id, now_ms=1,
                                                 detail=tag_for(INTENT.intent_id),
                                                 owner=claim_owner)
        assert (claimed, first) == (True, True)
    return bstore


@pytest.mark.parametrize("claimed", [True, False], ids=["submitting", "queued"])
def test_start_leaves_alone_an_intent_a_live_process_holds(
        store_target: str | Path, monkeypatch: pytest.MonkeyPatch, claimed: bool) -> None:
    monkeypatch.setattr("spxcc_core.broker.routing.owner_alive", lambda o: o == LIVE_B)
    store_b, store_a = stores(store_target)
    with store_b, store_a:
        bstore_b = record_by_b(store_b, claim_owner=LIVE_B if claimed else None)
        if not claimed:  # recorded queued by B (not this test process)
            bstore_b.transition(INTENT.intent_id, "queued", now_ms=1, owner=LIVE_B)
        state = "submitting" if claimed else "queued"
        kinds_before = [e.kind for e in bstore_b.events(INTENT.intent_id)]

        paper_a = PaperBroker(account_id="A", store=store_a)
        results = RoutingWorker(paper_a, BrokerStore(store_a)).start()

        assert [(r.intent_id, r.state) for r in results] == [(INTENT.intent_id, state)]
        assert paper_a.find_by_tag("A", tag_for(INTENT.intent_id)) is None  # A sent nothing
        rec = bstore_b.get(INTENT.intent_id)
        assert rec is not None and rec.state == state
        assert [e.kind for e in bstore_b.events(INTENT.intent_id)] == kinds_before
        assert bstore_b.owner(INTENT.intent_id) == LIVE_B


def test_cancel_does_not_take_over_a_live_process_s_submission(
        store_target: str | Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("spxcc_core.broker.routing.owner_alive", lambda o: o == LIVE_B)
    store_b, store_a = stores(store_target)
    with store_b, store_a:
        bstore_b = record_by_b(store_b, claim_owner=LIVE_B)
        result = RoutingWorker(PaperBroker(account_id="A", store=store_a),
                               BrokerStore(store_a)).cancel(INTENT.intent_id)
        assert (result.state, result.requested) == ("submitting", False)
        rec = bstore_b.get(INTENT.intent_id)
        assert rec is not None and rec.state == "submitting"


def test_start_reconciles_an_intent_of_a_dead_process(
        store_target: str | Path, child: subprocess.Popen[bytes]) -> None:
    dead = owner_of(child.pid)
    assert owner_alive(dead)
    assert child.stdin is not None
    child.stdin.close()
    child.wait(timeout=30)
    assert not owner_alive(dead)  # reaped: the real check says dead

    store_b, store_a = stores(store_target)
    with store_b, store_a:
        bstore_b = record_by_b(store_b, claim_owner=dead)
        paper_a = PaperBroker(account_id="A", store=store_a)
        results = RoutingWorker(paper_a, BrokerStore(store_a)).start()

        assert [(r.intent_id, r.state) for r in results] == [(INTENT.intent_id, "acked")]
        tag = tag_for(INTENT.intent_id)
        assert len([o for o in paper_a.orders("A") if o.tag == tag]) == 1
        assert [e.kind for e in bstore_b.events(INTENT.intent_id)] == [
            "intent", "submit", "reconcile", "submit", "ack"]
        assert bstore_b.owner(INTENT.intent_id) == current_owner()


@pytest.mark.parametrize("owner", [None, "", "garbage"])
def test_start_reconciles_an_intent_with_no_usable_owner(store_target: str | Path,
                                                         owner: str | None) -> None:
    store_b, store_a = stores(store_target)
    with store_b, store_a:
        record_by_b(store_b, claim_owner=owner)
        if owner is None:  # an older store: the column is empty
            store_b.conn.execute("UPDATE spx_broker_intents SET owner = NULL")
        paper_a = PaperBroker(account_id="A", store=store_a)
        results = RoutingWorker(paper_a, BrokerStore(store_a)).start()
        assert [(r.intent_id, r.state) for r in results] == [(INTENT.intent_id, "acked")]
        tag = tag_for(INTENT.intent_id)
        assert len([o for o in paper_a.orders("A") if o.tag == tag]) == 1


def test_owner_alive_checks_host_pid_and_start_time(child: subprocess.Popen[bytes]) -> None:
    alive = owner_of(child.pid)
    host, pid, start = parse_owner(alive) or ("", 0, "")
    assert (host, pid) == (socket.gethostname(), child.pid)
    assert owner_alive(alive)
    assert not owner_alive(current_owner())  # this very process: its own leftovers
    assert not owner_alive(f"not-{host}:{pid}:{start}")  # another host
    if start:  # /proc available: a reused pid (other start time) is not the owner
        assert not owner_alive(f"{host}:{pid}:{int(start) + 1}")
    assert not owner_alive(None) and not owner_alive("") and not owner_alive("x")
