"""A ``--db`` that is not an spxcc store, or is damaged, is one line and exit 2 in every command.

Each case writes a real file: text that is not SQLite, a real store cut to half its pages, an
SQLite file of another program, a store whose ``spx_secrets`` table was dropped by hand, and
vault rows holding values of the wrong type (SQLite does not enforce column types).
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from spxcc_core.cli import build_parser, main
from spxcc_core.secrets import MasterKeySource, Vault, generate_master_key_text, write_key_file
from spxcc_core.store import Store
from spxcc_core.store.sqlite import StoreError

EXAMPLES = Path(__file__).resolve().parent.parent / "contracts" / "examples"
BROKER = ["--broker", "paper", "--account", "P1"]

#: Every command that takes --db: argv with DB, KEY, KEY2, INTENT, SESSION, OUT, CACHE
#: placeholders.
COMMANDS: dict[str, list[str]] = {
    "secrets set": ["secrets", "set", "tradier_token", "--db", "DB", "--key-file", "KEY"],
    "secrets list": ["secrets", "list", "--db", "DB"],
    "secrets rotate": ["secrets", "rotate", "--db", "DB", "--key-file", "KEY",
                       "--new-key-file", "KEY2"],
    "secrets delete": ["secrets", "delete", "tradier_token", "--db", "DB"],
    "broker snapshot": ["broker", "snapshot", *BROKER, "--db", "DB"],
    "broker submit": ["broker", "submit", *BROKER, "--db", "DB", "--intent", "INTENT"],
    "broker status": ["broker", "status", *BROKER, "--db", "DB", "--intent-id", "i-1"],
    "broker cancel": ["broker", "cancel", *BROKER, "--db", "DB", "--intent-id", "i-1"],
    "reconcile": ["reconcile", *BROKER, "--db", "DB"],
    "replay": ["replay", "SESSION", "--out", "OUT", "--db", "DB"],
    "demo": ["demo", "--scale", "0.01", "--cache-dir", "CACHE", "--db", "DB"],
    "live": ["live", "--url", "ws://127.0.0.1:9/stocks", "--subscribe", "T.SPY",
             "--api-key-env", "SPXCC_TEST_UNSET_KEY", "--key-file", "KEY", "--db", "DB"],
    "slippage report": ["slippage", "report", "--db", "DB"],
    "serve": ["serve", "--replay", "SESSION", "--speed", "0", "--bind", "127.0.0.1:0",
              "--db", "DB"],
    "profile show": ["profile", "show", "--db", "DB"],
    "profile history": ["profile", "history", "--db", "DB"],
    "profile promote": ["profile", "promote", "default", "--force", "--db", "DB"],
    "profile revert": ["profile", "revert", "--db", "DB"],
    "gates run": ["gates", "run", "--candidate", "default", "--baseline", "default",
                  "--sessions", "SESSION", "--out", "OUT", "--db", "DB"],
    "parity": ["parity", "SESSION", "--out", "OUT", "--db", "DB"],
    "optimize": ["optimize", "--sessions", "SESSION", "--trials", "1", "--seed", "0",
                 "--out", "OUT", "--db", "DB"],
}


def _commands_with_db(parser: argparse.ArgumentParser, prefix: str = "") -> list[str]:
    found: list[str] = []
    for action in parser._actions:
        if "--db" in action.option_strings and prefix:
            found.append(prefix)
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.extend(_commands_with_db(sub, f"{prefix} {name}".strip()))
    return found


def test_the_table_names_every_command_that_takes_db() -> None:
    assert sorted(_commands_with_db(build_parser())) == sorted(COMMANDS)


def _key(path: Path) -> Path:
    write_key_file(path, generate_master_key_text())
    return path


def _store_with_secrets(path: Path, key: Path, n: int = 40) -> Path:
    keyring = MasterKeySource.from_env_or_file(key).keyring()
    with Store(path) as store:
        vault = Vault(store, keyring)
        for i in range(n):
            vault.put(f"s{i:03d}", "v" * 2000)
    return path


def _not_sqlite(tmp: Path, key: Path) -> Path:
    p = tmp / "notes.sqlite3"
    p.write_text("these are my trading notes, not a database\n" * 20)
    return p


def _truncated(tmp: Path, key: Path) -> Path:
    p = _store_with_secrets(tmp / "cut.sqlite3", key)
    data = p.read_bytes()
    assert len(data) > 8 * 4096
    p.write_bytes(data[: len(data) // 2])
    return p


def _foreign(tmp: Path, key: Path) -> Path:
    p = tmp / "other-app.db"
    conn = sqlite3.connect(p)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("INSERT INTO notes (body) VALUES ('mine')")
    conn.commit()
    conn.close()
    return p


DAMAGE: dict[str, tuple[Callable[[Path, Path], Path], str]] = {
    "not-sqlite": (_not_sqlite, "not an SQLite database file"),
    "truncated": (_truncated, "truncated SQLite file"),
    "foreign": (_foreign, "not an spxcc store"),
}


def _session(tmp: Path) -> Path:
    root = tmp / "session"
    root.mkdir()
    (root / "trades-2025-12-12.csv").write_text(
        "ticker,conditions,correction,exchange,price,sequence_number,sip_timestamp,size\n"
        "SPY,,0,4,600.0,1,1765549800000000000,100\n")
    (root / "quotes-2025-12-12.csv").write_text(
        "ticker,ask_price,ask_size,bid_price,bid_size,sequence_number,sip_timestamp\n"
        "SPY,600.01,5,599.99,5,1,1765549799000000000\n")
    return root


def _intent(tmp: Path) -> Path:
    p = tmp / "intent.json"
    data = json.loads((EXAMPLES / "order_intent.v1.limit-buy-to-open.json").read_text())
    data["accountId"] = "P1"
    p.write_text(json.dumps(data))
    return p


def _argv(template: list[str], tmp: Path, db: Path, key: Path) -> list[str]:
    subst = {"DB": str(db), "KEY": str(key), "KEY2": str(_key(tmp / "k2")),
             "INTENT": str(_intent(tmp)),
             "SESSION": str(_session(tmp)), "OUT": str(tmp / "out"),
             "CACHE": str(tmp / "cache")}
    return [subst.get(a, a) for a in template]


def _run(argv: list[str], monkeypatch: pytest.MonkeyPatch,
         capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    monkeypatch.delenv("SPXCC_DB", raising=False)
    monkeypatch.delenv("SPXCC_TEST_UNSET_KEY", raising=False)
    monkeypatch.delenv("SPXCC_TRADIER_TOKEN", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO("secret-value\n"))
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.strip().splitlines()


@pytest.mark.parametrize("damage", sorted(DAMAGE))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_bad_db_is_one_line_naming_the_file(command: str, damage: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    make, problem = DAMAGE[damage]
    key = _key(tmp_path / "k1")
    db = make(tmp_path, key)
    before = db.read_bytes()
    code, err = _run(_argv(COMMANDS[command], tmp_path, db, key), monkeypatch, capsys)
    assert code == 2
    assert len(err) == 1, err
    assert err[0].startswith(f"spxcc: error: store {db}: "), err
    assert problem in err[0]
    assert db.read_bytes() == before  # never written to
    out = tmp_path / "out"
    assert not out.exists() or not any(out.iterdir())  # no output written


def _drop_secrets_table(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE spx_secrets")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("command", sorted(c for c in COMMANDS if c.startswith("secrets")))
def test_a_store_missing_the_vault_table_is_one_line(command: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    key = _key(tmp_path / "k1")
    db = _store_with_secrets(tmp_path / "v.sqlite3", key, n=2)
    _drop_secrets_table(db)
    code, err = _run(_argv(COMMANDS[command], tmp_path, db, key), monkeypatch, capsys)
    assert code == 2 and len(err) == 1, err
    assert err[0] == (f"spxcc: error: store {db}: table spx_secrets missing although the "
                      "schema records it (damaged store)")


@pytest.mark.parametrize(("column", "value", "got", "wanted"), [
    ("version", "two", "text", "an integer"),
    ("ciphertext", "not bytes", "text", "a blob"),
    ("version", 2.5, "a real number", "an integer"),
    ("master_key_id", b"\x01\x02", "a blob", "text"),  # TEXT affinity turns numbers to text
    ("created_at", b"\x00", "a blob", "text"),
    ("prev_wrap_nonce", 7, "an integer", "a blob or null"),
])
@pytest.mark.parametrize("command", ["secrets list", "secrets set", "secrets rotate",
                                     "broker snapshot-tradier"])
def test_a_vault_row_of_the_wrong_type_is_one_line(command: str, column: str, value: object,
                                                   got: str, wanted: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    key = _key(tmp_path / "k1")
    db = _store_with_secrets(tmp_path / "v.sqlite3", key, n=1)
    with Store(db) as store:
        store.conn.execute("INSERT INTO spx_secrets SELECT 'tradier_token', version, ciphertext,"
                           " nonce, wrapped_key, wrap_nonce, master_key_id, prev_wrapped_key,"
                           " prev_wrap_nonce, prev_master_key_id, created_at, updated_at"
                           " FROM spx_secrets WHERE name = 's000'")
        if column == "prev_wrap_nonce":  # the CHECK ties the prev_* columns together
            store.conn.execute("UPDATE spx_secrets SET prev_wrapped_key = x'00', "
                               "prev_master_key_id = 'k', prev_wrap_nonce = ? "
                               "WHERE name = 'tradier_token'", (value,))
        else:
            store.conn.execute(f"UPDATE spx_secrets SET {column} = ? "
                               "WHERE name = 'tradier_token'", (value,))
    if command == "broker snapshot-tradier":
        argv = ["broker", "snapshot", "--broker", "tradier", "--account", "A1",
                "--base-url", "http://127.0.0.1:9/v1", "--db", str(db), "--key-file", str(key)]
    else:
        argv = _argv(COMMANDS[command], tmp_path, db, key)
    code, err = _run(argv, monkeypatch, capsys)
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"spxcc: error: store {db}: table spx_secrets, secret "), err
    assert f"column {column!r} holds {got}, not {wanted} (damaged store)" in err[0]


def test_a_store_damaged_after_it_was_opened_is_one_line(tmp_path: Path) -> None:
    """Damage a check at open cannot see (a page in the middle overwritten) surfaces as a
    StoreError naming the file from inside ``with store:``."""
    key = _key(tmp_path / "k1")
    db = _store_with_secrets(tmp_path / "v.sqlite3", key)
    data = bytearray(db.read_bytes())
    page = 4096
    last = len(data) // page - 1
    data[last * page: (last + 1) * page] = b"\xff" * page
    db.write_bytes(bytes(data))
    with pytest.raises(StoreError) as info, Store(db) as store:
        Vault(store).list()
    assert str(info.value).startswith(f"store {db}: ")


def test_a_new_store_and_a_healthy_one_still_open(tmp_path: Path) -> None:
    key = _key(tmp_path / "k1")
    db = _store_with_secrets(tmp_path / "v.sqlite3", key, n=3)
    copy = tmp_path / "copy.sqlite3"
    shutil.copy(db, copy)
    with Store(copy) as store:
        assert [i.name for i in Vault(store).list()] == ["s000", "s001", "s002"]
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    with Store(empty) as store:
        assert Vault(store).list() == []
