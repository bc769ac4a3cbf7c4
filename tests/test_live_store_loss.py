"""A live run survives its PostgreSQL store losing the connection: no traceback, the usual exit
status, every setup state and gate decision in the store, and ``live.json`` saying what
happened (``store``: reconnects, interrupted writes). The end-to-end cases run ``spxcc live
--execute paper`` against the fake Massive feed and the real PostgreSQL of
``$SPXCC_TEST_PG_DSN`` (skipped with the reason when there is none), killing the store's backend
with ``pg_terminate_backend`` from a second connection in the middle of the run; the pure parts
(the setup writer, the routing router's halt) run everywhere."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Literal

import pytest
from fake_massive import Script
from pgstore import pg_admin_dsn, pg_schema
from test_host_live import KEY, _FakeInThread
from test_live_parity import SUBSCRIPTIONS, index_values, ws_frames, ws_shaped

from spxcc_core.cli import main
from spxcc_core.contracts.setup import GateDecision, SetupInstance
from spxcc_core.golden.sessions import case_events
from spxcc_core.setups.store import SetupStore
from spxcc_core.setups.writer import SetupWriter
from spxcc_core.store import Store, StoreConnectionLost, StoreError

# --- the setup writer, with a scripted store --------------------------------------------------


class _Scripted:
    """A SetupStore stand-in whose write fails with the scripted outcomes, then succeeds."""

    def __init__(self, failures: list[str]) -> None:
        self.failures = list(failures)
        self.rows: dict[str, Any] = {}
        self.decisions: list[GateDecision] = []
        self.calls = 0

    def write(self, setups: Any, decisions: Any) -> int:
        self.calls += 1
        setups, decisions = list(setups), list(decisions)
        if self.failures:
            raise StoreConnectionLost("postgresql://u@h/db", "lost",
                                      outcome=self.failures.pop(0))  # type: ignore[arg-type]
        self.rows.update((s.id, s) for s in setups)
        self.decisions.extend(decisions)
        return len(setups) + len(decisions)


def _setup(sid: str, status: Literal["detected", "triggered"] = "detected") -> SetupInstance:
    return SetupInstance(id=sid, session_id="2024-03-07", detector="d", detector_version=1,
                         symbol="SPY", direction="long", status=status, entry=1.0, stop=0.5,
                         t1=1.5, t2=2.0, detected_ms=1, trigger_deadline_ms=2,
                         profile_hash="p")


def _writer(failures: list[str]) -> tuple[SetupWriter, _Scripted]:
    fake = _Scripted(failures)
    return SetupWriter(fake), fake  # type: ignore[arg-type]


def test_an_interrupted_write_is_written_again_at_once() -> None:
    w, fake = _writer(["not_committed"])
    w.write([_setup("a")], [])
    assert fake.calls == 2 and set(fake.rows) == {"a"}
    assert (w.interrupted, w.rewritten, w.unwritten) == (1, 1, {})


def test_a_write_failing_twice_is_carried_by_the_next_one_latest_state_kept() -> None:
    w, fake = _writer(["unknown", "not_committed"])
    w.write([_setup("a")], [])
    assert (w.interrupted, w.rewritten, w.unwritten) == (1, 0, {"setups": 1})
    w.write([_setup("a", "triggered"), _setup("b")], [])  # the next step's write
    assert fake.calls == 3
    assert {k: s.status for k, s in fake.rows.items()} == {"a": "triggered", "b": "detected"}
    assert (w.interrupted, w.rewritten, w.unwritten) == (1, 1, {})


def test_an_unreachable_store_is_not_retried_at_once_and_unwritten_records_are_counted() -> None:
    w, fake = _writer(["unreachable", "unreachable"])
    w.write([_setup("a")], [])
    assert fake.calls == 1  # the store already waited its reconnect bound
    w.write([_setup("b")], [])
    assert fake.calls == 2 and fake.rows == {}
    assert (w.interrupted, w.rewritten, w.unwritten) == (2, 0, {"setups": 2})


def test_other_store_errors_propagate() -> None:
    class Broken(_Scripted):
        def write(self, setups: Any, decisions: Any) -> int:
            raise StoreError("x.sqlite3", "damaged")

    w = SetupWriter(Broken([]))  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="damaged"):
        w.write([_setup("a")], [])


def test_nothing_to_write_opens_no_transaction() -> None:
    w, fake = _writer([])
    w.write([], [])
    assert fake.calls == 0


# --- the routing router halts new entries -----------------------------------------------------


def test_an_interrupted_routing_step_halts_new_entries_but_not_exits() -> None:
    from spxcc_core.contracts.broker import OrderIntent
    from spxcc_core.execute.routing import WorkerRouter
    from spxcc_core.slippage.store import IntentOrigin

    routed: list[str] = []

    class Worker:
        book: ClassVar[set[str]] = set()
        store = type("S", (), {"store": None})()

        def route(self, intent: OrderIntent, *, entry_intent_id: str | None) -> Any:
            routed.append(intent.intent_id)
            if intent.intent_id == "e1":
                self.book.add("e1")
                raise StoreConnectionLost("pg", "lost inside a transaction",
                                          outcome="not_committed")
            return type("R", (), {"state": "acked", "ack": None})()

        def poll(self) -> int:
            raise StoreConnectionLost("pg", "lost", outcome="unknown")

    class Origins:
        def record_origin(self, intent_id: str, origin: IntentOrigin) -> bool:
            return True

    router = WorkerRouter.__new__(WorkerRouter)
    router.worker, router.origins = Worker(), Origins()  # type: ignore[assignment]
    router.interrupted, router.entries_halted = {}, None

    def intent(iid: str, side: Literal["buy_to_open", "sell_to_close"]) -> OrderIntent:
        return OrderIntent(intent_id=iid, account_id="P", option_symbol="O:SPY240307C00500000",
                           underlying="SPY",
                           side=side, quantity=1, order_type="limit",
                           limit_price=1.0)

    origin = IntentOrigin(setup_id="s", detector="d", underlying_price=None)
    assert router.submit(intent("e1", "buy_to_open"), origin) == ""  # tracked: may be at broker
    assert router.entries_halted is not None and "e1" in router.entries_halted
    assert router.submit(intent("e2", "buy_to_open"), origin) is None  # halted, not routed
    assert router.submit(intent("x1", "sell_to_close"), origin) == ""  # exits still go
    router.poll()  # no traceback
    assert routed == ["e1", "x1"]
    assert router.interrupted == {"routing": 1, "routing_poll": 1}


# --- end to end: spxcc live --execute paper, the backend killed mid-run -----------------------


def _kill(store: Any) -> None:
    """Terminate the store's backend from a second connection; wait until it is gone."""
    import psycopg

    pid = store.conn.raw.info.backend_pid
    with psycopg.connect(pg_admin_dsn(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        for _ in range(500):
            if admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s",
                             (pid,)).fetchone() is None:
                return
            time.sleep(0.01)
    raise AssertionError(f"backend {pid} still there")


@contextmanager
def _killing(monkeypatch: pytest.MonkeyPatch, *, at: int, inside: bool) -> Iterator[list[int]]:
    """Kill the store's backend at the ``at``-th setup write: before it (``inside`` False: the
    store finds the goodbye before BEGIN) or after its BEGIN (the transaction is lost)."""
    original = SetupStore.write
    seen: list[int] = []

    def write(self: SetupStore, setups: Any, decisions: Any) -> int:
        seen.append(1)
        store = self.store
        if len(seen) == at:
            if not inside:
                _kill(store)
            else:
                plain = type(store).transaction

                @contextmanager
                def transaction() -> Iterator[Any]:
                    with plain(store) as cur:
                        _kill(store)
                        yield cur

                store.transaction = transaction  # type: ignore[method-assign]
        try:
            return original(self, setups, decisions)
        finally:
            store.__dict__.pop("transaction", None)

    monkeypatch.setattr(SetupStore, "write", write)
    yield seen


def _live(tmp: Path, dsn: str, capsys: pytest.CaptureFixture[str],
          monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    for var in ("MASSIVE_API_KEY", "SPXCC_DB", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SPXCC_LIVE_KEY", KEY)
    events = ws_shaped(case_events("trend_day"))
    frames = ws_frames(events, seed=7, values=index_values(events))
    with _FakeInThread([Script(frames=frames, then="hold")]) as fake:
        code = main(["live", "--url", fake.url, "--subscribe", ",".join(SUBSCRIPTIONS),
                     "--api-key-env", "SPXCC_LIVE_KEY", "--out", str(tmp),
                     "--idle-timeout", "1", "--db", dsn, "--execute", "paper"])
    return code, capsys.readouterr().err


def _stored(dsn: str) -> tuple[list[bytes], list[bytes]]:
    import msgspec

    with Store(dsn) as store:
        setups = SetupStore(store)
        return (sorted(msgspec.json.encode(s) for s in setups.query()),
                sorted(msgspec.json.encode(d) for d in setups.decisions()))


@pytest.mark.parametrize("inside", [False, True], ids=["between-writes", "inside-a-write"])
def test_live_paper_run_survives_the_store_backend_killed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture, inside: bool) -> None:
    caplog.set_level(logging.INFO, logger="spxcc.setups.writer")
    with pg_schema() as plain_dsn:
        code, err = _live(tmp_path / "plain", plain_dsn, capsys, monkeypatch)
        assert code == 0, err
        plain = _stored(plain_dsn)
    assert plain[0] and plain[1]  # trend_day: setups and gate decisions to lose
    with pg_schema() as dsn:
        with _killing(monkeypatch, at=2, inside=inside) as seen:
            code, err = _live(tmp_path / "killed", dsn, capsys, monkeypatch)
        assert len(seen) >= 2  # the kill happened
        assert code == 0, err
        assert "Traceback" not in err
        killed = _stored(dsn)
    # the same outputs and the same store contents as the run without the kill
    for name in ("microbars.jsonl", "setups.jsonl", "gate_decisions.jsonl"):
        assert (tmp_path / "killed" / name).read_bytes() == \
            (tmp_path / "plain" / name).read_bytes(), name
    assert killed == plain
    live = json.loads((tmp_path / "killed" / "live.json").read_text())
    health = live["store"]
    assert health["backend"] == "postgresql" and health["reconnects"] >= 1
    assert health["unwritten"] == {} and health["entriesHalted"] is None
    if inside:  # the lost transaction was written again after the reconnect
        assert health["interruptedWrites"] == {"setups": 1} and health["rewritten"] == 1
        said = [r.getMessage() for r in caplog.records if r.name == "spxcc.setups.writer"]
        assert len(said) == 2 and "writing them again" in said[0]  # one line each: lost, back
        assert "are written" in said[1]
    else:  # found before BEGIN: the store reconnected and nothing was interrupted
        assert health["interruptedWrites"] == {} and health["rewritten"] == 0
    plain_health = json.loads((tmp_path / "plain" / "live.json").read_text())["store"]
    assert plain_health == {"backend": "postgresql", "reconnects": 0, "interruptedWrites": {},
                            "rewritten": 0, "unwritten": {}, "entriesHalted": None}
