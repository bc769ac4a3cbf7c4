"""The PostgreSQL store survives a lost connection: re-established before a statement (with
jittered, bounded backoff), never silently inside a transaction, logged and counted, and no
message or log line shows the password. Runs against ``$SPXCC_TEST_PG_DSN`` (see
``tests/pgstore.py``; skipped with the reason when there is none), except the pure parts."""

from __future__ import annotations

import itertools
import logging
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pgstore import pg_admin_dsn, pg_schema

from spxcc_core.clock import ManualClock
from spxcc_core.errors import ConfigError
from spxcc_core.store import Migration, Store, StoreConnectionLost, StoreError, all_migrations
from spxcc_core.store.postgres import (
    RECONNECT_TIMEOUT_S,
    PostgresStore,
    backoff_delay,
    readable_now,
    reconnect_timeout,
)

NOTES = Migration("reconnect_test", 1, ("CREATE TABLE t_notes (k TEXT PRIMARY KEY)",))
SECRET = "pw-Rc7-never-shown"


def _open(url: str, **kw: Any) -> PostgresStore:
    store = Store(url, migrations=[*all_migrations(), NOTES], **kw)
    assert isinstance(store, PostgresStore)
    return store


def _with_password(dsn: str) -> str:
    """``dsn`` with a password in the user part and a ``password=`` parameter (trust
    authentication ignores both)."""
    with_user_pw = re.sub(r"^(postgres(?:ql)?://)([^@/:]+)@", rf"\1\2:{SECRET}@", dsn)
    assert SECRET in with_user_pw
    return f"{with_user_pw}&password={SECRET}"


def _kill(store: PostgresStore) -> None:
    """Terminate the store's backend from a second connection and wait until it is gone (its
    goodbye is then on the store's socket)."""
    import psycopg

    pid = store.conn.raw.info.backend_pid
    with psycopg.connect(pg_admin_dsn(), autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
        for _ in range(500):
            if admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s",
                             (pid,)).fetchone() is None:
                return
            time.sleep(0.01)
    raise AssertionError(f"backend {pid} still there")


def _notes(store: PostgresStore) -> list[str]:
    return [r[0] for r in store.conn.execute("SELECT k FROM t_notes ORDER BY k").fetchall()]


# --- pure parts -----------------------------------------------------------------------------

def test_backoff_delays_by_hand() -> None:
    assert backoff_delay(1, lambda: 0.0) == 0.125   # 0.25 s halved by the lowest jitter
    assert backoff_delay(1, lambda: 0.5) == 0.1875
    assert backoff_delay(3, lambda: 0.0) == 0.5     # 0.25 × 2² × 0.5
    assert backoff_delay(6, lambda: 0.0) == 2.5     # 0.25 × 2⁵ = 8, capped at 5, × 0.5
    assert backoff_delay(1000, lambda: 0.0) == 2.5  # huge attempt numbers do not overflow
    with pytest.raises(ValueError, match="start at 1"):
        backoff_delay(0)


@given(st.integers(1, 200), st.floats(0.0, 1.0, exclude_max=True))
def test_backoff_is_jittered_within_half_to_full_of_a_capped_doubling(attempt: int,
                                                                       u: float) -> None:
    ceiling = min(5.0, 0.25 * 2.0 ** (attempt - 1))
    delay = backoff_delay(attempt, lambda: u)
    assert ceiling / 2 <= delay <= ceiling
    assert backoff_delay(attempt, lambda: 0.0) <= backoff_delay(attempt + 1, lambda: 0.0)


def test_the_reconnect_timeout_parameter_is_split_off_the_url() -> None:
    url = "postgresql://u@h:5432/db?options=-csearch_path%3Ds%20x&application_name=a+b"
    assert reconnect_timeout(url) == (url, RECONNECT_TIMEOUT_S)
    assert reconnect_timeout("postgresql://u@h/db") == ("postgresql://u@h/db",
                                                        RECONNECT_TIMEOUT_S)
    # the rest is kept byte for byte, wherever the parameter is
    assert reconnect_timeout(url + "&spxcc_reconnect_timeout=2.5") == (url, 2.5)
    assert reconnect_timeout("postgresql://u@h/db?spxcc_reconnect_timeout=0&sslmode=require"
                             ) == ("postgresql://u@h/db?sslmode=require", 0.0)
    assert reconnect_timeout("postgresql://u@h/db?spxcc_reconnect_timeout=7"
                             ) == ("postgresql://u@h/db", 7.0)


@pytest.mark.parametrize("value", ["-1", "soon", "nan", "inf", ""])
def test_a_bad_reconnect_timeout_is_one_line_without_the_password(value: str) -> None:
    pytest.importorskip("psycopg")
    url = f"postgresql://spx:{SECRET}@127.0.0.1:1/db?spxcc_reconnect_timeout={value}"
    with pytest.raises(ConfigError) as info:
        Store(url)
    text = str(info.value)
    assert text.startswith("store postgresql://spx@127.0.0.1:1/db?spxcc_reconnect_timeout=")
    assert "must be a number of seconds >= 0" in text
    assert SECRET not in text and "\n" not in text


def test_readable_now_works_for_descriptor_numbers_select_refuses() -> None:
    import os
    import socket

    ours, theirs = socket.socketpair()
    high = 4000  # select() refuses numbers of 1024 and up; a busy host has them
    try:
        import resource

        if resource.getrlimit(resource.RLIMIT_NOFILE)[0] <= high:
            pytest.skip(f"the open-file limit here is below {high + 1}")
    except ImportError:
        pytest.skip("no resource module (not a POSIX system)")
    os.dup2(ours.fileno(), high)
    try:
        assert readable_now(ours.fileno()) is False
        assert readable_now(high) is False
        theirs.send(b"x")
        assert readable_now(high) is True
        theirs.close()
        ours.recv(1)
        assert readable_now(high) is True  # the peer's hang-up is readable too
    finally:
        os.close(high)
        ours.close()


# --- against the server ---------------------------------------------------------------------

def test_after_a_killed_backend_reads_and_writes_work_again_and_are_counted() -> None:
    with pg_schema() as dsn, _open(dsn) as store:
        assert store.reconnects == 0
        early = store.conn.cursor()
        assert early.execute("SELECT 1").fetchone()[0] == 1  # on the connection to be lost
        _kill(store)
        assert _notes(store) == []  # a read: reconnected first
        assert store.reconnects == 1
        store.conn.execute("INSERT INTO t_notes (k) VALUES ('a')")
        with store.transaction() as cur:
            cur.execute("INSERT INTO t_notes (k) VALUES ('b')")
        assert early.execute("SELECT COUNT(*) FROM t_notes").fetchone()[0] == 2
        assert store.reconnects == 1
        _kill(store)
        store.conn.execute("INSERT INTO t_notes (k) VALUES ('c')")  # a write first
        assert store.reconnects == 2
        assert _notes(store) == ["a", "b", "c"]


def test_a_new_connection_gets_the_session_settings_of_the_first() -> None:
    with pg_schema() as dsn, _open(dsn) as store:
        before = store.conn.execute("SELECT current_schema(), current_setting('lock_timeout')"
                                    ).fetchone()
        _kill(store)
        after = store.conn.execute("SELECT current_schema(), current_setting('lock_timeout')"
                                   ).fetchone()
        assert store.reconnects == 1
        assert tuple(after) == tuple(before) == (store.schema, "30s")
        assert store.conn.raw.autocommit
        assert after["current_schema"] == store.schema  # rows by name, as before
        # a statement outside a transaction is still its own transaction
        store.conn.execute("INSERT INTO t_notes (k) VALUES ('x')")
        assert not store.conn.in_transaction


def test_a_connection_lost_inside_a_transaction_is_not_retried_and_says_not_committed(
        caplog: pytest.LogCaptureFixture) -> None:
    with pg_schema() as dsn, _open(dsn) as store:
        with pytest.raises(StoreError) as info, store.transaction() as cur:
            cur.execute("INSERT INTO t_notes (k) VALUES ('lost-1')")
            _kill(store)
            cur.execute("INSERT INTO t_notes (k) VALUES ('lost-2')")
        text = str(info.value)
        assert text.startswith(f"store {store.location}: the connection was lost inside a "
                               "transaction: it was not committed (PostgreSQL rolls back")
        assert "the next operation reconnects" in text and "\n" not in text
        assert isinstance(info.value, StoreConnectionLost)
        assert info.value.outcome == "not_committed"
        assert not store.conn.in_transaction
        assert store.reconnects == 0  # nothing was repeated
        with store.transaction() as cur:  # the next transaction reconnects and works
            cur.execute("INSERT INTO t_notes (k) VALUES ('next')")
        assert store.reconnects == 1
        assert _notes(store) == ["next"]
        assert "not committed" in caplog.text


def test_a_connection_lost_before_commit_says_not_committed() -> None:
    with pg_schema() as dsn, _open(dsn) as store:
        with pytest.raises(StoreError, match=r"lost inside a transaction: it was not "
                                             "committed"), store.transaction() as cur:
            cur.execute("INSERT INTO t_notes (k) VALUES ('lost')")
            _kill(store)  # the COMMIT that ends the block finds the connection gone
        assert _notes(store) == []
        assert store.reconnects == 1


def _lose_while_sending(store: PostgresStore, monkeypatch: pytest.MonkeyPatch,
                        when: Callable[[str], bool]) -> None:
    """Make the connection die after the statement matching ``when`` passed the check made
    before sending (as when the network fails while it is on its way)."""
    send = store.conn._send

    def dying(cursor: Any, sql: str, parameters: Any, *, many: bool) -> None:
        if when(sql):
            _kill(store)
        send(cursor, sql, parameters, many=many)
    monkeypatch.setattr(store.conn, "_send", dying)


def test_a_commit_whose_answer_was_lost_may_or_may_not_have_committed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with pg_schema() as dsn, _open(dsn) as store:
        with monkeypatch.context() as m:
            _lose_while_sending(store, m, lambda sql: sql.strip().upper() == "COMMIT")
            with pytest.raises(StoreError) as info, store.transaction() as cur:
                cur.execute("INSERT INTO t_notes (k) VALUES ('unknown')")
        assert str(info.value).startswith(
            f"store {store.location}: the connection was lost while COMMIT ran: the "
            "transaction may or may not have committed")
        assert isinstance(info.value, StoreConnectionLost) and info.value.outcome == "unknown"
        assert _notes(store) == []  # (here it did not: the backend died before COMMIT)
        assert store.reconnects == 1


def test_a_write_outside_a_transaction_lost_in_flight_is_not_repeated(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with pg_schema() as dsn, _open(dsn) as store:
        with monkeypatch.context() as m:
            _lose_while_sending(store, m, lambda sql: sql.startswith("INSERT"))
            with pytest.raises(StoreError, match="outside a transaction ran: it may or may "
                                                 "not have been applied"):
                store.conn.execute("INSERT INTO t_notes (k) VALUES ('once')")
        assert store.reconnects == 0
        assert _notes(store) == []
        assert store.reconnects == 1


def test_a_read_or_begin_lost_in_flight_is_repeated_on_a_new_connection(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with pg_schema() as dsn, _open(dsn) as store:
        killed: list[str] = []

        def once(sql: str) -> bool:
            hit = not killed and sql.lstrip().upper().startswith(("SELECT", "BEGIN"))
            if hit:
                killed.append(sql)
            return hit
        with monkeypatch.context() as m:
            _lose_while_sending(store, m, once)
            assert _notes(store) == []
            killed.clear()
            with store.transaction() as cur:
                cur.execute("INSERT INTO t_notes (k) VALUES ('after')")
        assert store.reconnects == 2
        assert _notes(store) == ["after"]


def test_an_unreachable_server_past_the_bound_is_one_clear_error_then_recovers(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    import psycopg

    caplog.set_level(logging.DEBUG)
    real = psycopg.connect
    attempts: list[float] = []
    clock = ManualClock()
    with pg_schema() as dsn:
        url = _with_password(dsn) + "&spxcc_reconnect_timeout=3"
        with _open(url, clock=clock) as store:
            def refused(conninfo: str, **kw: Any) -> Any:
                attempts.append(clock.monotonic())
                # a real refusal: the same URL on a port where nothing listens
                return real(re.sub(r":5432/", ":1/", conninfo), **kw)
            _kill(store)
            with monkeypatch.context() as m:
                m.setattr(psycopg, "connect", refused)
                with pytest.raises(StoreError) as info:
                    store.conn.execute("SELECT 1")
            text = str(info.value)
            assert text.startswith(f"store {store.location}: the connection was lost and not "
                                   f"re-established within 3 s ({len(attempts)} attempts; "
                                   "last: ")
            assert "Connection refused" in text or "connection" in text.lower()
            assert "the next operation tries again" in text and "\n" not in text
            assert len(attempts) >= 3 and clock.elapsed_s <= 3.0
            # the wait after attempt n is between half and all of min(5, 0.25 × 2^(n−1)) s
            gaps = [b - a for a, b in itertools.pairwise(attempts)]
            for n, gap in enumerate(gaps, 1):
                ceiling = min(5.0, 0.25 * 2 ** (n - 1))
                assert ceiling / 2 <= gap <= ceiling
            assert store.reconnects == 0
            assert _notes(store) == []  # the server is back: the next operation reconnects
            assert store.reconnects == 1
    assert SECRET not in caplog.text and SECRET not in text
    assert "reconnecting" in caplog.text and "reconnected" in caplog.text


def test_the_bound_holds_on_the_wall_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    with pg_schema() as dsn, _open(dsn + "&spxcc_reconnect_timeout=1.5") as store:
        _kill(store)

        def down(conninfo: str, **kw: Any) -> Any:
            raise psycopg.OperationalError("connection refused")
        start = time.monotonic()
        with monkeypatch.context() as m, pytest.raises(
                StoreConnectionLost, match=r"not re-established within 1\.5 s") as lost:
            m.setattr(psycopg, "connect", down)
            store.conn.execute("SELECT 1")
        assert lost.value.outcome == "unreachable"
        assert time.monotonic() - start <= 1.5


def test_the_password_never_shows_in_reconnect_messages_or_logs(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    import psycopg

    caplog.set_level(logging.DEBUG)
    with pg_schema() as dsn, _open(_with_password(dsn) + "&spxcc_reconnect_timeout=0") as store:
        shown = [store.location, repr(store), repr(store.conn), repr(vars(store)),
                 repr(vars(store.conn))]
        _kill(store)
        assert _notes(store) == []  # reconnected with the password-bearing URL
        _kill(store)

        def quoting(conninfo: str, **kw: Any) -> Any:
            assert SECRET in conninfo  # the real URL is what connects
            raise psycopg.OperationalError(f'FATAL: password "{SECRET}" is wrong')
        with monkeypatch.context() as m:
            m.setattr(psycopg, "connect", quoting)
            with pytest.raises(StoreError) as info:
                store.conn.execute("SELECT 1")
        shown.append(str(info.value))
        with pytest.raises(StoreError) as lost, store.transaction() as cur:
            cur.execute("INSERT INTO t_notes (k) VALUES ('x')")
            _kill(store)
            cur.execute("INSERT INTO t_notes (k) VALUES ('y')")
        shown.append(str(lost.value))
    assert "within 0 s (1 attempt; last: FATAL: password \"***\" is wrong)" in shown[5]
    for text in [*shown, caplog.text]:
        assert SECRET not in text, text


def test_a_store_closed_on_purpose_is_not_reopened() -> None:
    import psycopg

    with pg_schema() as dsn:
        store = _open(dsn)
        store.close()
        with pytest.raises(psycopg.OperationalError, match="closed"):
            store.conn.execute("SELECT 1")
        assert store.reconnects == 0


def test_an_sqlite_store_reports_no_reconnects(tmp_path: Any) -> None:
    with Store(tmp_path / "s.sqlite3") as store:
        assert store.reconnects == 0
