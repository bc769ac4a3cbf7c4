"""Commands that only read a store never create it (nor its folder).

Every command taking ``--db`` is classed here as reading or writing (a meta-test keeps the table
complete). Each reading command is run against a store file that does not exist, named three
ways (``--db``, ``$SPXCC_DB``, the default in the user data folder), in a folder that does not
exist either: it refuses with one line naming the file and exit 2, or — where an empty store
has a meaningful answer (``profile show|history``: the built-in default profile is active) —
answers as for an empty store. Afterwards neither the file nor its folder exists. The writing
commands keep creating the store (two are run to show it).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from spxcc_core.cli import build_parser, main
from spxcc_core.plugins import get_plugin_manager
from spxcc_core.run.profiles import default_profile_toml, named_profile
from spxcc_core.store import Store
from spxcc_core.store.existing import StoreRef, missing_store_file
from spxcc_core.store.sqlite import DB_ENV, default_db_path

PAPER = ["--broker", "paper", "--account", "P1"]
LIVE = ["live", "--url", "ws://127.0.0.1:9/stocks", "--subscribe", "T.SPY",
        "--api-key-env", "SPXCC_TEST_UNSET_KEY"]

#: Every reading command run here: argv (without the store option), then what a missing store
#: gives: the exit code, a check of stdout, and stderr exactly (``{label}`` is how the store is
#: named: ``--db PATH``, ``$SPXCC_DB PATH`` or ``default store PATH``).
Expect = tuple[int, Callable[[str], bool], str]
REFUSED = "spxcc: error: {label}: no such store file ({why})\n"
NOTE = ("spxcc: note: {label}: no such store file, so nothing was ever promoted there (none was "
        "created)\n")


def _default_id() -> str:
    return named_profile(get_plugin_manager(), "default").id


def _empty(out: str) -> bool:
    return out == ""


READING: dict[str, tuple[list[str], Expect]] = {
    "profile show": (["profile", "show"], (0, lambda out: out.startswith(
        f"# profile {_default_id()}: ") and out.splitlines()[0].endswith(" (active)"), NOTE)),
    "profile show --toml": (["profile", "show", "--toml"], (0, lambda out: out
                            == default_profile_toml(get_plugin_manager()), NOTE)),
    "profile show ID": (["profile", "show", "e1a954d6"], (2, _empty, REFUSED.replace(
        "{why}", "profile e1a954d6 would be a stored id; spxcc profile show never creates a "
                 "store"))),
    "profile history": (["profile", "history"], (0, lambda out: out == (
        "no profile was ever promoted: the built-in default profile is active\n"), NOTE)),
    "profile history --json": (["profile", "history", "--json"], (0, lambda out: json.loads(
        out) == {"active": None, "activations": []}, NOTE)),
    "secrets list": (["secrets", "list"], (2, _empty, REFUSED.replace(
        "{why}", "spxcc secrets list never creates one; spxcc secrets set does"))),
    "secrets list --json": (["secrets", "list", "--json"], (2, _empty, REFUSED.replace(
        "{why}", "spxcc secrets list never creates one; spxcc secrets set does"))),
    "slippage report": (["slippage", "report"], (2, _empty, REFUSED.replace(
        "{why}", "a report never creates one"))),
    # as for an empty store: the intent is not recorded (an order routed from another store
    # would be found by its tag: tests/test_cli_broker_status_cancel.py)
    "broker status": (["broker", "status", *PAPER, "--intent-id", "i-1"], (
        2, _empty, "spxcc: error: intent 'i-1': not recorded in the store and no order with "
                   "its tag at paper account P1\n")),
    "reconcile": (["reconcile", *PAPER], (2, _empty, REFUSED.replace(
        "{why}", "reconciliation compares what a store recorded with the broker; it never "
                 "creates a store"))),
}

#: The commands taking --db (as the parser names them) that only read the store.
READ_ONLY = {"profile show", "profile history", "secrets list", "slippage report",
             "broker status", "reconcile", "parity"}
#: The commands taking --db that write it (and create it when missing; optimize only when it
#: records a candidate: tests/test_optimize.py; gates run only once its input was checked and
#: the decision made: tests/test_gates_run.py).
WRITING = {"profile promote", "profile revert", "secrets set", "secrets rotate",
           "secrets delete", "broker snapshot", "broker submit", "broker cancel", "replay",
           "demo", "live", "serve", "gates run", "optimize"}


def _commands_with_db(parser: argparse.ArgumentParser, prefix: str = "") -> list[str]:
    found: list[str] = []
    for action in parser._actions:
        if "--db" in action.option_strings and prefix:
            found.append(prefix)
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.extend(_commands_with_db(sub, f"{prefix} {name}".strip()))
    return found


def test_every_command_with_db_is_classed_as_reading_or_writing() -> None:
    assert not READ_ONLY & WRITING
    assert sorted(_commands_with_db(build_parser())) == sorted(READ_ONLY | WRITING)
    # each reading command is run below (parity: in test_parity.py, its --db and --profile-db)
    ran = {next(c for c in READ_ONLY if " ".join(argv).startswith(c)) for argv, _ in
           READING.values()}
    assert ran == READ_ONLY - {"parity"}


def _name_store(how: str, store: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], str]:
    """Name ``store`` as ``how`` says; returns the extra argv and the label messages use."""
    monkeypatch.delenv(DB_ENV, raising=False)
    if how == "--db":
        return ["--db", str(store)], f"--db {store}"
    if how == DB_ENV:
        monkeypatch.setenv(DB_ENV, str(store))
        return [], f"${DB_ENV} {store}"
    monkeypatch.setenv("XDG_DATA_HOME", str(store.parent.parent))
    if default_db_path() != store.parent.parent / "spxcc" / "spxcc.sqlite3":
        pytest.skip("the user data folder does not follow $XDG_DATA_HOME on this platform")
    return [], f"default store {default_db_path()}"


def _store_path(how: str, tmp: Path) -> Path:
    # the default store is DATA_HOME/spxcc/spxcc.sqlite3: its folder is missing too
    return (tmp / "home" / "spxcc" / "spxcc.sqlite3" if how == "default"
            else tmp / "typo" / "store.sqlite3")


@pytest.mark.parametrize("how", ["--db", DB_ENV, "default"])
@pytest.mark.parametrize("command", sorted(READING))
def test_a_reading_command_never_creates_a_missing_store(
        command: str, how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    store = _store_path(how, tmp_path)
    extra, label = _name_store(how, store, monkeypatch)
    argv, (want_code, check, want_err) = READING[command]
    capsys.readouterr()
    code = main([*argv, *extra])
    out, err = capsys.readouterr()
    assert code == want_code and check(out), (code, out)
    assert err == want_err.replace("{label}", label)
    assert not store.exists() and not store.parent.exists()


def test_profile_show_of_a_missing_toml_file_names_the_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "typo" / "store.sqlite3"
    assert main(["profile", "show", "cand.toml", "--db", str(store)]) == 2
    assert capsys.readouterr().err == "spxcc: error: profile cand.toml: no such file\n"
    assert not store.parent.exists()


def test_profile_show_of_a_toml_file_needs_no_store(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "typo" / "store.sqlite3"
    toml = _candidate(tmp_path)
    assert toml.read_text() != default_profile_toml(get_plugin_manager())
    assert main(["profile", "show", str(toml), "--db", str(store)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("# profile ") and first.endswith(": cand v1 (not active)"), first
    assert not store.parent.exists()


def test_live_without_a_key_never_creates_the_store_of_its_vault(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("SPXCC_TEST_UNSET_KEY", raising=False)
    store = tmp_path / "typo" / "store.sqlite3"
    assert main([*LIVE, "--db", str(store)]) == 2
    assert capsys.readouterr().err == (
        "spxcc: error: massive api key: environment variable SPXCC_TEST_UNSET_KEY is not set "
        f"and there is no vault: --db {store}: no such store file (none was created); store "
        "the key with `spxcc secrets set massive_api_key` (master key $SPXCC_MASTER_KEY or "
        "--key-file)\n")
    assert not store.parent.exists()


def _candidate(tmp: Path) -> Path:
    toml = tmp / "cand.toml"
    toml.write_text(default_profile_toml(get_plugin_manager()).replace(
        'name = "default"', 'name = "cand"', 1))
    return toml


@pytest.mark.parametrize("argv", [["profile", "promote", "CAND", "--force"],
                                  ["secrets", "set", "tradier_token", "--key-file", "KEY"]])
def test_writing_commands_still_create_the_store(argv: list[str], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from spxcc_core.secrets import generate_master_key_text, write_key_file

    key = tmp_path / "master.key"
    write_key_file(key, generate_master_key_text())
    monkeypatch.setattr(sys, "stdin", io.StringIO("value\n"))
    subst = {"KEY": str(key), "CAND": str(_candidate(tmp_path))}
    store = tmp_path / "new" / "store.sqlite3"
    assert main([*(subst.get(a, a) for a in argv), "--db", str(store)]) == 0
    assert store.is_file()


# --- the shared check ----------------------------------------------------------------------

def test_missing_store_file_looks_only(tmp_path: Path) -> None:
    there = tmp_path / "there.sqlite3"
    there.write_bytes(b"")
    assert missing_store_file(there) is None
    assert missing_store_file(str(there)) is None
    assert missing_store_file(tmp_path / "a" / "b.sqlite3") == tmp_path / "a" / "b.sqlite3"
    assert missing_store_file(tmp_path) == tmp_path  # a folder is no store file
    link = tmp_path / "dangling.sqlite3"
    link.symlink_to(tmp_path / "gone.sqlite3")
    assert missing_store_file(link) == link
    assert missing_store_file(":memory:") is None
    assert missing_store_file("postgresql://u:pw@127.0.0.1:9/db") is None
    assert sorted(os.listdir(tmp_path)) == ["dangling.sqlite3", "there.sqlite3"]


def test_a_postgresql_store_is_never_missing_and_its_label_has_no_password(
        monkeypatch: pytest.MonkeyPatch) -> None:
    ref = StoreRef.of("postgresql://alice:s3cr3t@db.example:5432/spx?password=x")
    assert not ref.missing
    assert ref.label == "--db postgresql://alice@db.example:5432/spx"
    ref.require("never raised for a server database")
    monkeypatch.setenv(DB_ENV, "postgres://bob:hunter2@h/d")
    assert StoreRef.of(None).label == f"${DB_ENV} postgres://bob@h/d"
    assert StoreRef.of(None, "--profile-db").target == "postgres://bob:hunter2@h/d"


def test_the_label_says_where_the_store_came_from(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DB_ENV, raising=False)
    p = tmp_path / "x.sqlite3"
    assert StoreRef.of(p, "--profile-db") == StoreRef(target=p, label=f"--profile-db {p}")
    monkeypatch.setenv(DB_ENV, str(p))
    assert StoreRef.of(None) == StoreRef(target=p, label=f"${DB_ENV} {p}")
    monkeypatch.delenv(DB_ENV)
    assert StoreRef.of(None).label == f"default store {default_db_path()}"
    with pytest.raises(Exception, match=r"no such store file \(because\)"):
        StoreRef.of(p).require("because")
    assert not p.exists()


def test_open_or_empty_puts_an_empty_memory_store_in_place_of_a_missing_file(
        tmp_path: Path) -> None:
    from spxcc_core.store.profiles import ProfileHistory

    missing = tmp_path / "typo" / "x.sqlite3"
    with StoreRef.of(missing).open_or_empty() as store:
        assert store.location == ":memory:"
        assert ProfileHistory(store).activations() == []
    assert not missing.parent.exists()
    there = tmp_path / "there.sqlite3"
    Store(there).close()  # a writing command made it
    with StoreRef.of(there).open_or_empty() as store:
        assert store.location == str(there)
