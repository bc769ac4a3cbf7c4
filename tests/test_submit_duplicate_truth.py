"""``"duplicate"`` in a submit's ack is true exactly when the order existed before this run
(issue 7, item 6): a rerun that places the order an earlier killed run never sent reports
``false``; concurrent submits of one intent get the duplicate acknowledgement, never
``already recorded in the store``. Real SQLite files, the paper broker, a real killed process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from broker_cli_helpers import intent_file, run
from spxcc_paper import PaperBroker

from spxcc_core.broker import tag_for
from spxcc_core.broker.routing import RoutingWorker
from spxcc_core.broker.store import BrokerStore
from spxcc_core.clock import ManualClock
from spxcc_core.contracts.broker import decode_intent
from spxcc_core.store import Store

#: A contract that has not expired on any machine date this suite runs at.
FUTURE = "SPXW991218C05900000"

CHILD = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from spxcc_core.store import Store
    from spxcc_core.broker.store import BrokerStore
    from spxcc_core.broker.routing import RoutingWorker
    from spxcc_core.contracts.broker import decode_intent
    from spxcc_paper import PaperBroker

    db, intent_path = sys.argv[1], sys.argv[2]

    class Killed(PaperBroker):
        def submit(self, intent, **kw):
            os._exit(17)  # the intent is recorded `submitting`; no request ever sent

    store = Store(db)
    worker = RoutingWorker(Killed(account_id="P1", store=store), BrokerStore(store))
    worker.route(decode_intent(Path(intent_path).read_bytes()))
    sys.exit(0)
""")


def test_rerun_after_a_kill_reports_the_order_it_placed_as_new(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "kill.sqlite3"
    monkeypatch.setenv("SPXCC_DB", str(db))
    path = intent_file(tmp_path, "i-killed", optionSymbol=FUTURE)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    child = subprocess.run([sys.executable, str(script), str(db), str(path)],
                           capture_output=True, text=True, timeout=120, check=False)
    assert child.returncode == 17, child.stderr
    with Store(db) as store:
        rec = BrokerStore(store).get("i-killed")
        assert rec is not None and rec.state == "submitting" and rec.broker_order_id is None

    argv = ["broker", "submit", "--broker", "paper", "--account", "P1", "--intent", str(path)]
    code, out, err = run(capsys, *argv)
    assert (code, err) == (0, "")
    ack = json.loads(out)
    assert ack["duplicate"] is False  # this run placed it
    code, out2, _ = run(capsys, *argv)
    again = json.loads(out2)
    assert again["duplicate"] is True and again["brokerOrderId"] == ack["brokerOrderId"]
    with Store(db) as store:
        paper = PaperBroker(account_id="P1", store=store)
        assert len([o for o in paper.orders("P1") if o.tag == tag_for("i-killed")]) == 1


def _worker(db: Path) -> tuple[RoutingWorker, Store, PaperBroker]:
    store = Store(db)
    paper = PaperBroker(account_id="P1", store=store)
    return RoutingWorker(paper, BrokerStore(store)), store, paper


def test_concurrent_insert_of_the_same_intent_gets_the_duplicate_ack(tmp_path: Path) -> None:
    """B read "not recorded" just before A recorded and placed the intent (the race of
    concurrent submits): B must answer with A's order as a duplicate."""
    db = tmp_path / "race.sqlite3"
    intent = decode_intent(intent_file(tmp_path, "i-race", optionSymbol=FUTURE).read_bytes())
    a, store_a, _ = _worker(db)
    b, store_b, _ = _worker(db)
    b.start()
    first = a.route(intent)
    assert first.ack is not None and first.ack.duplicate is False
    real_brief, real_insert = b.store.brief, b.store.insert_intent
    inserted: list[str] = []

    def stale_brief(intent_id: str):  # type: ignore[no-untyped-def]
        # B's reads happened before A's insert until B tries to insert itself
        return real_brief(intent_id) if inserted else None

    def insert(intent, **kw):  # type: ignore[no-untyped-def]
        inserted.append(intent.intent_id)
        return real_insert(intent, **kw)

    b.store.brief = stale_brief  # type: ignore[method-assign]
    b.store.insert_intent = insert  # type: ignore[method-assign]
    second = b.route(intent)
    assert inserted == ["i-race"]  # B did try to record it (and lost the race)
    assert second.state == "acked" and second.ack is not None
    assert second.ack.duplicate is True
    assert second.ack.broker_order_id == first.ack.broker_order_id
    store_a.close()
    store_b.close()


def test_submit_waits_for_another_process_submitting_the_same_intent(tmp_path: Path) -> None:
    """A holds the intent `submitting` (its request in flight) when B routes it: B waits for
    A's outcome and reports A's order as a duplicate instead of a bare `submitting`."""
    db = tmp_path / "inflight.sqlite3"
    intent = decode_intent(intent_file(tmp_path, "i-flight", optionSymbol=FUTURE).read_bytes())
    a, store_a, paper_a = _worker(db)
    b, store_b, _ = _worker(db)
    b.start()
    a.start()
    assert a.enqueue(intent).state == "queued"
    assert a.store.claim_submission("i-flight", now_ms=1, detail=tag_for("i-flight")) == (
        True, True)
    placed: list[str] = []

    def a_finishes(_seconds: float) -> None:  # B's first wait: A's request completes
        if not placed:
            ack = paper_a.submit(intent)
            a.store.record_ack(ack, state="acked", now_ms=2)
            placed.append(ack.broker_order_id)

    class AFinishes(ManualClock):  # B waits on its injected clock: A finishes meanwhile
        def sleep(self, seconds: float) -> None:
            a_finishes(seconds)
            super().sleep(seconds)

    b.clock = AFinishes()
    result = b.route(intent)
    assert placed, "B did not wait for A"
    assert result.state == "acked" and result.ack is not None
    assert result.ack.duplicate is True and result.ack.broker_order_id == placed[0]
    store_a.close()
    store_b.close()
