"""The store interface behaves the same on SQLite and PostgreSQL (``store_target`` runs each
test on both): migrations, refusing foreign or damaged stores, types, ordering, transactions,
and the portable SQL the dialect translates."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from pgstore import pg_admin_dsn, pg_schema, with_schema

from spxcc_core.broker.store import BrokerStore, IntentExists
from spxcc_core.contracts.broker import OrderIntent
from spxcc_core.errors import ConfigError
from spxcc_core.store import Migration, Store, StoreError, all_migrations, is_postgres_url

#: A test table using every portable column type and the clock default.
VALUES = Migration("values_test", 1, (
    """CREATE TABLE t_values (
        k TEXT PRIMARY KEY,
        ns INTEGER NOT NULL,
        price REAL NOT NULL,
        raw BLOB,
        made_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))""",
    "CREATE TABLE t_seq (seq INTEGER PRIMARY KEY, note TEXT NOT NULL)",
))


def _open(target: str | Path) -> Store:
    return Store(target, migrations=[*all_migrations(), VALUES])


def _foreign_table(target: str | Path) -> None:
    """Create a table of "another program" where the store would go."""
    if is_postgres_url(target):
        import psycopg

        with psycopg.connect(target, autocommit=True) as conn:
            conn.execute("CREATE TABLE customers (id integer)")
    else:
        with sqlite3.connect(target) as conn:
            conn.execute("CREATE TABLE customers (id integer)")
        conn.close()


def test_migrations_are_applied_once_and_reopening_changes_nothing(
        store_target: str | Path) -> None:
    wanted = sorted({(m.component, m.version) for m in [*all_migrations(), VALUES]})
    with _open(store_target) as store:
        versions = store.schema_versions()
    # the top version of each component; values_test has one (written above)
    assert versions == {c: max(v for cc, v in wanted if cc == c) for c, _ in wanted}
    assert versions["values_test"] == 1 and versions["broker"] >= 2
    with _open(store_target) as store:
        rows = store.conn.execute("SELECT component, version, COUNT(*) FROM spxcc_schema "
                                  "GROUP BY component, version "
                                  "ORDER BY component, version").fetchall()
    assert [(r[0], r[1]) for r in rows] == wanted
    assert {r[2] for r in rows} == {1}


def test_a_database_of_another_program_is_refused(store_target: str | Path) -> None:
    _foreign_table(store_target)
    with pytest.raises(StoreError, match=r"not an spxcc store .*1 other table"):
        Store(store_target)


def test_a_table_dropped_by_hand_is_a_damaged_store(store_target: str | Path) -> None:
    with Store(store_target) as store:
        store.conn.execute("DROP TABLE spx_secrets")
    with pytest.raises(StoreError, match="spx_secrets missing although the schema records it"):
        Store(store_target)


def test_epoch_ns_doubles_and_bytes_round_trip_exactly(store_target: str | Path) -> None:
    ns = 1_790_000_000_123_456_789  # > 2**31 and > 2**53: needs a 64-bit integer column
    price = 5912.123456789012  # 16 significant digits: a 4-byte REAL would keep 7
    raw = b"\x00\xff%?'"
    with _open(store_target) as store:
        with store.transaction() as cur:
            cur.execute("INSERT INTO t_values (k, ns, price, raw) VALUES (?, ?, ?, ?)",
                        ("a", ns, price, raw))
        row = store.conn.execute("SELECT ns, price, raw, made_at FROM t_values WHERE k = ?",
                                 ("a",)).fetchone()
    assert (row[0], row[1], bytes(row[2])) == (ns, price, raw)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", row[3]), row[3]


def test_rows_are_reachable_by_column_name(store_target: str | Path) -> None:
    with _open(store_target) as store:
        store.conn.execute("INSERT INTO t_values (k, ns, price) VALUES (?, ?, ?)", ("a", 7, 0.5))
        row = store.conn.execute("SELECT k, ns FROM t_values").fetchone()
    assert (row["k"], row["ns"], row[0], row[1]) == ("a", 7, "a", 7)


def test_rowid_is_insertion_order_and_text_sorts_by_code_point(
        store_target: str | Path) -> None:
    keys = ["b", "a-b", "ab", "B", "_x"]
    with _open(store_target) as store:
        with store.transaction() as cur:
            for n, k in enumerate(keys):
                cur.execute("INSERT INTO t_values (k, ns, price) VALUES (?, ?, ?)", (k, n, 0.0))
        by_rowid = [r[0] for r in store.conn.execute("SELECT k FROM t_values ORDER BY rowid")]
        by_text = [r[0] for r in store.conn.execute("SELECT k FROM t_values ORDER BY k")]
    assert by_rowid == keys
    # code points: "B" 66 < "_" 95 < "a" 97; "-" 45 < "b" 98 (a locale collation would differ)
    assert by_text == ["B", "_x", "a-b", "ab", "b"]


def test_question_marks_and_percent_signs_inside_literals_are_text(
        store_target: str | Path) -> None:
    with Store(store_target) as store:
        row = store.conn.execute("SELECT '?', ?, 'a%b', 'it''s ?'", (5,)).fetchone()
    assert tuple(row) == ("?", 5, "a%b", "it's ?")


def test_is_not_compares_nulls_as_values(store_target: str | Path) -> None:
    with _open(store_target) as store:
        store.conn.execute("INSERT INTO t_values (k, ns, price, raw) VALUES ('n', 1, 0, NULL)")
        store.conn.execute("INSERT INTO t_values (k, ns, price, raw) VALUES ('x', 1, 0, ?)",
                           (b"x",))
        differs = [r[0] for r in store.conn.execute(
            "SELECT k FROM t_values WHERE raw IS NOT ? ORDER BY k", (b"x",))]
    assert differs == ["n"]  # NULL differs from b"x"; b"x" does not


def test_a_failed_transaction_is_rolled_back(store_target: str | Path) -> None:
    with _open(store_target) as store:
        with pytest.raises(RuntimeError), store.transaction() as cur:
            cur.execute("INSERT INTO t_values (k, ns, price) VALUES ('gone', 1, 0)")
            raise RuntimeError("boom")
        assert not store.conn.in_transaction
        assert store.conn.execute("SELECT COUNT(*) FROM t_values").fetchone()[0] == 0


def _intent(iid: str) -> OrderIntent:
    return OrderIntent(intent_id=iid, option_symbol="SPXW261125C05900000", underlying="SPX",
                       side="buy_to_open", quantity=1, order_type="limit", limit_price=1.0)


def test_a_duplicate_intent_inside_a_batch_keeps_the_batch_s_other_writes(
        store_target: str | Path) -> None:
    """On PostgreSQL an error aborts the whole transaction; the duplicate must therefore not
    be an error, or the batch's earlier writes would be lost at its COMMIT."""
    with Store(store_target) as store:
        bs = BrokerStore(store)
        with bs.batch():
            bs.insert_intent(_intent("i-1"), broker="paper", account_id="A", tag="t1",
                             state="queued", now_ms=1)
            with pytest.raises(IntentExists):
                bs.insert_intent(_intent("i-1"), broker="paper", account_id="A", tag="t1",
                                 state="queued", now_ms=2)
            with pytest.raises(IntentExists):  # another id, but the same tag
                bs.insert_intent(_intent("i-9"), broker="paper", account_id="A", tag="t1",
                                 state="queued", now_ms=2)
            bs.insert_intent(_intent("i-2"), broker="paper", account_id="A", tag="t2",
                             state="queued", now_ms=3)
        assert [r.intent_id for r in bs.open_intents()] == ["i-1", "i-2"]
        assert [(e.kind, e.ts_ms) for e in bs.events("i-1")] == [("intent", 1)]


def test_an_aborted_postgres_transaction_does_not_commit_silently() -> None:
    with pg_schema() as dsn, _open(dsn) as store:
        cur = store.conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        cur.execute("INSERT INTO t_values (k, ns, price) VALUES ('kept?', 1, 0)")
        with pytest.raises(store.conn.IntegrityError):
            cur.execute("INSERT INTO t_values (k, ns, price) VALUES ('kept?', 2, 0)")
        with pytest.raises(store.conn.OperationalError, match="earlier error aborted"):
            cur.execute("COMMIT")
        assert not store.conn.in_transaction
        assert store.conn.execute("SELECT COUNT(*) FROM t_values").fetchone()[0] == 0


def test_the_url_s_password_never_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    admin = pg_admin_dsn()
    secret = "pw-Zq81-never-shown"
    # trust authentication ignores the password: the URL still carries one
    with_pw = re.sub(r"^(postgres(?:ql)?://)([^@/:]+)@", rf"\1\2:{secret}@", admin)
    assert secret in with_pw
    with pg_schema() as dsn:
        target = with_pw + dsn[len(admin):]
        with Store(target) as store:
            shown = [store.location, repr(store), repr(store.conn), str(store.error(
                RuntimeError(f"server said: password {secret} wrong"))), repr(vars(store))]
    for text in shown:
        assert secret not in text, text
    assert "***" in shown[3]
    assert store.location in repr(vars(store))  # the object holds the URL only without it


def test_an_unreachable_server_is_one_line_naming_the_url_without_password() -> None:
    pytest.importorskip("psycopg")
    url = "postgresql://spx:hunter2-pw@127.0.0.1:1/nowhere?connect_timeout=2"
    with pytest.raises(ConfigError) as info:
        Store(url)
    text = str(info.value)
    assert "hunter2-pw" not in text
    assert text.startswith("store postgresql://spx@127.0.0.1:1/nowhere?connect_timeout=2: "
                           "cannot connect (")
    assert "\n" not in text


def test_a_search_path_naming_no_schema_is_refused() -> None:
    url = with_schema(pg_admin_dsn(), "spxcc_test_no_such_schema")
    with pytest.raises(StoreError, match="no schema to create tables in"):
        Store(url)


def test_an_integer_primary_key_left_out_is_generated(store_target: str | Path) -> None:
    with _open(store_target) as store:
        with store.transaction() as cur:
            cur.execute("INSERT INTO t_seq (note) VALUES ('first')")
            cur.execute("INSERT INTO t_seq (note) VALUES ('second')")
        rows = store.conn.execute("SELECT seq, note FROM t_seq ORDER BY seq").fetchall()
    assert [tuple(r) for r in rows] == [(1, "first"), (2, "second")]
