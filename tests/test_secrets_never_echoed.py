"""Secrets are never echoed (issue 7, item 5): usage errors, bad tokens, bad stdin, echoing
servers, rotation messages and file modes. Real parsers, real loopback HTTP (the fake Tradier
server), real SQLite files and, where the encoding of stdin matters, a real process."""

from __future__ import annotations

import argparse
import base64
import io
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from broker_cli_helpers import ACCOUNT, run
from fake_tradier import FakeTradier, Fault, echo_pieces
from hypothesis import given
from hypothesis import strategies as st
from secret_tokens import (
    MASSIVE_TEST_API_KEY,
    TEST_MASTER_KEY,
    TEST_MASTER_KEY_2,
    TRADIER_TEST_TOKEN,
)

from spxcc_core.cli import build_parser, main
from spxcc_core.secrets import Redactor, Vault, env_var_label, parse_master_key
from spxcc_core.secrets.keys import MasterKeyring
from spxcc_core.store import Store

ALL_TOKENS = (TRADIER_TEST_TOKEN, MASSIVE_TEST_API_KEY, TEST_MASTER_KEY, TEST_MASTER_KEY_2)


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "s.sqlite3"
    monkeypatch.setenv("SPXCC_DB", str(path))
    for var in ("SPXCC_MASTER_KEY", "SPXCC_MASTER_KEY_PREVIOUS", "SPXCC_TRADIER_TOKEN",
                "MASSIVE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    return path


def _usage_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run ``spxcc argv``; it must be a usage error (exit 2); return the error line."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    for token in ALL_TOKENS:
        assert token not in err
    return err.splitlines()[-1]


# --- usage errors -----------------------------------------------------------------------------

T = TRADIER_TEST_TOKEN
K = MASSIVE_TEST_API_KEY
LIVE = ["live", "--url", "ws://127.0.0.1:9/stocks", "--subscribe", "T.SPY"]
TRADIER = ["broker", "snapshot", "--broker", "tradier", "--account", ACCOUNT]


@pytest.mark.parametrize(("argv", "line"), [
    (["secrets", "set", "tradier_token", T],
     "spxcc: error: unrecognized argument: position 4 (values are not shown)"),
    (["secrets", "set", "tradier_token", "--token", T],
     "spxcc: error: unrecognized arguments: --token (position 4), position 5 (values are not "
     "shown)"),
    (["secrets", "set", "tradier_token", f"--token={T}"],
     "spxcc: error: unrecognized argument: position 4 (values are not shown)"),
    ([*TRADIER, "--token", T],
     "spxcc: error: unrecognized arguments: --token (position 7), position 8 (values are not "
     "shown)"),
    ([*LIVE, f"--api-k={K}"],
     "spxcc: error: unrecognized argument: position 6 (values are not shown)"),
    ([*LIVE, "--api-k", K],
     "spxcc: error: unrecognized arguments: --api-k (position 6), position 7 (values are not "
     "shown)"),
    (["secrets", T],
     "spxcc secrets: error: argument ACTION: invalid choice (the value is not shown); choose "
     "from set, list, rotate, delete, keygen"),
    ([T], "spxcc: error: argument COMMAND: invalid choice (the value is not shown); choose from "
          "plugins, bars, secrets, demo, broker, reconcile, size, ingest, replay, golden, live, "
          "serve, slippage, profile, gates, parity, optimize"),
    (["broker", "submit", "--broker", "paper", "--account", "P1", "--intent", "i.json",
      "--max-contracts", T],
     "spxcc broker submit: error: argument --max-contracts: invalid int value (the value is "
     "not shown)"),
    ([*TRADIER, f"--sandbox={T}"],
     "spxcc broker snapshot: error: argument --sandbox: ignored explicit argument "
     "'<argument 7>'"),
])
def test_usage_errors_name_positions_never_values(argv: list[str], line: str, db: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert _usage_error(capsys, argv) == line


def test_no_parser_matches_abbreviated_options() -> None:
    """Every parser and sub-parser has prefix matching off: an abbreviation is unknown."""
    seen = 0
    stack = [build_parser()]
    while stack:
        parser = stack.pop()
        assert parser.allow_abbrev is False, parser.prog
        seen += 1
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                stack.extend(action.choices.values())
    assert seen > 20
    ns, extra = build_parser().parse_known_args([*LIVE, "--api-key-e", "X"])
    assert extra == ["--api-key-e", "X"] and ns.api_key_env == "MASSIVE_API_KEY"


def test_api_key_env_given_the_key_itself_is_not_echoed(db: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *LIVE, "--api-key-env", K)
    assert (code, out) == (2, "")
    assert err == ("spxcc: error: --api-key-env: not an environment variable name (letters, "
                   "digits and _; the value is not shown); give the variable's name, not the "
                   "secret\n")


def test_env_var_label_shows_only_conventional_names() -> None:
    assert env_var_label("MASSIVE_API_KEY") == "environment variable MASSIVE_API_KEY"
    # a mixed-case "name" may be a key typed in the wrong place
    assert "Ab3kQ9zx" not in env_var_label("Ab3kQ9zx")


def test_api_key_env_with_a_mixed_case_name_that_is_unset(db: Path,
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.delenv("Ab3kQ9zxW7", raising=False)
    code, _, err = run(capsys, *LIVE, "--api-key-env", "Ab3kQ9zxW7")
    assert code == 2 and err.count("\n") == 1
    assert "Ab3kQ9zxW7" not in err and "name not shown" in err


def test_broker_option_token_is_refused_without_echo(db: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *TRADIER, "--option", f"token={T}")
    assert (code, out) == (2, "")
    assert err == ("spxcc: error: --option token=...: secrets are never taken from the command "
                   "line; set SPXCC_TRADIER_TOKEN or store it with `spxcc secrets set "
                   "tradier_token`\n")
    code, _, err = run(capsys, *TRADIER, "--option", T)
    assert code == 2 and T not in err
    assert err == ("spxcc: error: --option number 1: expected KEY=VALUE (the value is not "
                   "shown)\n")
    code, _, err = run(capsys, "broker", "snapshot", "--broker", T, "--account", "A")
    assert code == 2 and T not in err and "unknown broker" in err


# --- tokens and values that cannot be used ----------------------------------------------------

def test_non_ascii_token_from_env_is_one_line(db: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    token = TRADIER_TEST_TOKEN + "é"
    monkeypatch.setenv("SPXCC_TRADIER_TOKEN", token)
    code, out, err = run(capsys, *TRADIER, "--base-url", "http://127.0.0.1:9/v1")
    assert (code, out) == (2, "")
    assert err == ("spxcc: error: tradier access token: contains non-ASCII, whitespace or "
                   "control characters, which an HTTP header cannot carry (the token is not "
                   "shown); check SPXCC_TRADIER_TOKEN or the vault secret tradier_token\n")


def test_non_ascii_token_from_vault_is_one_line(db: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    with Store(db) as store:
        Vault(store, MasterKeyring(parse_master_key(TEST_MASTER_KEY, source="t"))).put(
            "tradier_token", "tøken-" + TRADIER_TEST_TOKEN)
    monkeypatch.setenv("SPXCC_MASTER_KEY", TEST_MASTER_KEY)
    code, out, err = run(capsys, *TRADIER, "--base-url", "http://127.0.0.1:9/v1")
    assert (code, out) == (2, "")
    assert err.startswith("spxcc: error: tradier access token: contains non-ASCII")
    assert err.count("\n") == 1 and "tøken" not in err


def _spxcc(args: list[str], *, input: bytes, env: dict[str, str]) -> subprocess.CompletedProcess[
        bytes]:
    cmd = [sys.executable, "-c", "import sys; from spxcc_core.cli import main; sys.exit(main())"]
    return subprocess.run([*cmd, *args], input=input, capture_output=True, env=env, timeout=60,
                          check=False)


def test_non_utf8_secret_on_stdin_is_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPXCC_")}
    env.update(SPXCC_DB=str(tmp_path / "p.sqlite3"), SPXCC_MASTER_KEY=TEST_MASTER_KEY,
               LC_ALL="C.UTF-8")
    secret = b"\xff\xfe" + TRADIER_TEST_TOKEN.encode() + b"\xe9\n"
    done = _spxcc(["secrets", "set", "tradier_token"], input=secret, env=env)
    assert (done.returncode, done.stdout) == (2, b"")
    assert done.stderr == (b"spxcc: error: stdin: the value for secret 'tradier_token' is not "
                           b"UTF-8 text (the value is not shown)\n")
    # a UTF-8 value (non-ASCII allowed in the vault) is stored
    done = _spxcc(["secrets", "set", "other"], input="tøken\n".encode(), env=env)
    assert done.returncode == 0, done.stderr


# --- servers that echo the token ---------------------------------------------------------------

@pytest.fixture
def fake() -> Iterator[FakeTradier]:
    with FakeTradier(TRADIER_TEST_TOKEN, accounts={ACCOUNT: "margin"}) as server:
        yield server


def _all_text_in(db: Path) -> str:
    """Every row of every table of the store as SQL text, plus the file's bytes."""
    with Store(db) as store:
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        dump = "\n".join(store.conn.iterdump())
    return dump + db.read_bytes().decode("latin-1")


FORMS = ("plain", "base64", "basic", "url", "hex", "split")


def test_echo_pieces_are_what_the_forms_say() -> None:
    """The fake's forms, checked by hand on a short value."""
    assert echo_pieces("ab", "base64") == ["YWI="]
    assert echo_pieces("ab", "basic") == [base64.b64encode(b"user:ab").decode()] == ["dXNlcjphYg=="]
    assert echo_pieces("a-b", "url") == ["%61%2D%62"]
    assert echo_pieces("ab", "hex") == ["6162"]
    assert echo_pieces("abcd", "split") == ["ab", "cd"]


@pytest.mark.parametrize("form", FORMS)
def test_echoed_token_reaches_neither_output_nor_store(form: str, fake: FakeTradier, db: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    monkeypatch.setenv("SPXCC_TRADIER_TOKEN", TRADIER_TEST_TOKEN)
    pieces = echo_pieces(TRADIER_TEST_TOKEN, form)
    args = [*TRADIER, "--base-url", fake.url]
    # 1. the token lands in the balances' account_number / account_type: snapshot and store
    fake.inject(Fault("echo", path="balances", status=200, body=form))
    code, out, err = run(capsys, *args)
    assert (code, err) == (0, "")
    assert '"accountId":"VA00000001"' in out and '"accountType":"unknown"' in out
    # 2. the token in the text of an error answer: stderr
    fake.inject(Fault("echo", path="balances", status=401, body=form))
    code, out2, err2 = run(capsys, *args)
    assert (code, out2) == (2, "")
    masks = "*** ***" if form == "split" else "***"
    assert err2 == f"spxcc: error: tradier HTTP 401: Invalid Access Token {masks}\n"
    stored = _all_text_in(db)
    assert "VA00000001" in stored  # the snapshot row is there
    for piece in pieces:
        for text in (out, err, out2, err2, stored):
            assert piece not in text


# --- the redaction layer, by hand ----------------------------------------------------------------

V = "s3cr3tValue"


def test_redactor_removes_each_form_written_out_by_hand() -> None:
    r = Redactor([V], fragment=None)
    assert r.scrub(f"id={V};") == "id=***;"
    assert r.scrub("x %73%33%63%72%33%74%56%61%6C%75%65 y") == "x *** y"
    assert r.scrub("x %73%33%63%72%33%74%56%61%6c%75%65 y") == "x *** y"
    assert r.scrub("hex 73336372337456616c7565.") == "hex ***."
    assert r.scrub("HEX 73336372337456616C7565") == "HEX ***"
    # base64 of "s3cr3tValue" is czNjcjN0VmFsdWU= (three bytes "s3c" -> "czNj", ...)
    assert r.scrub("Basic czNjcjN0VmFsdWU=") == "Basic ***"
    assert r.scrub("nothing secret: s3cr3t, Value") == "nothing secret: s3cr3t, Value"


@given(prefix=st.binary(max_size=10), suffix=st.binary(max_size=10))
def test_redactor_removes_base64_at_every_alignment(prefix: bytes, suffix: bytes) -> None:
    r = Redactor([V], fragment=None)
    raw = prefix + V.encode() + suffix
    assert r.scrub("a " + base64.b64encode(raw).decode() + " b") == "a *** b"
    assert r.scrub("a " + base64.urlsafe_b64encode(raw).decode() + " b") == "a *** b"


def test_redactor_removes_pieces_of_a_long_value() -> None:
    r = Redactor([TRADIER_TEST_TOKEN])  # fragment 8
    assert r.scrub("number tradier-test, type -token-7f3a9c.") == "number ***, type ***."
    assert r.scrub("tradier API, 7f3a9c") == "tradier API, 7f3a9c"  # shorter pieces stay


# --- rotation message -----------------------------------------------------------------------------

def test_rotate_message_says_what_really_opens_the_secrets(tmp_path: Path, db: Path,
                                                           capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    k1, k2 = tmp_path / "k1", tmp_path / "k2"
    for path, text in ((k1, TEST_MASTER_KEY), (k2, TEST_MASTER_KEY_2)):
        path.write_text(text + "\n")
        path.chmod(0o600)
    with Store(db) as store:
        Vault(store, MasterKeyring(parse_master_key(TEST_MASTER_KEY, source="t"))).put(
            "tradier_token", TRADIER_TEST_TOKEN)
    # the secrets are under k1; "rotating" from k2 (which opens nothing) to k1 changes nothing
    code, out, err = run(capsys, "secrets", "rotate", "--key-file", str(k2),
                         "--new-key-file", str(k1))
    assert (code, err) == (0, "")
    assert out == ("re-wrapped 0 secret(s) under master key 034e783d69751769 (1 already under "
                   "it); master key f3f83144e25b95ab opens none of them; master key "
                   "034e783d69751769 opens them\n")
    # a real rotation k1 -> k2: k1 does keep opening them until --finish
    code, out, _ = run(capsys, "secrets", "rotate", "--key-file", str(k1),
                       "--new-key-file", str(k2))
    assert out == ("re-wrapped 1 secret(s) under master key f3f83144e25b95ab (0 already under "
                   "it); master key 034e783d69751769 still opens them until `spxcc secrets "
                   "rotate --finish` is run with the new key\n")


# --- file modes -------------------------------------------------------------------------------------

def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_new_store_files_are_0600_under_umask_022(tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "new" / "store.sqlite3"
    with Store(path) as store:
        with store.transaction() as cur:
            cur.execute("CREATE TABLE t (x)")
        wal, shm = Path(f"{path}-wal"), Path(f"{path}-shm")
        assert wal.exists() and shm.exists()
        assert (_mode(path), _mode(wal), _mode(shm)) == (0o600, 0o600, 0o600)


def test_secrets_set_creates_0600_and_tightens_an_open_store(tmp_path: Path, db: Path,
                                                             umask_022: None,
                                                             capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    monkeypatch.setenv("SPXCC_MASTER_KEY", TEST_MASTER_KEY)
    monkeypatch.setattr(sys, "stdin", io.StringIO(TRADIER_TEST_TOKEN))
    code, _, _ = run(capsys, "secrets", "set", "tradier_token")
    assert code == 0 and _mode(db) == 0o600
    other = tmp_path / "shared.sqlite3"
    Store(other).close()
    other.chmod(0o644)  # e.g. created by an older version
    monkeypatch.setattr(sys, "stdin", io.StringIO(TRADIER_TEST_TOKEN))
    code, _, _ = run(capsys, "secrets", "set", "tradier_token", "--db", str(other))
    assert code == 0 and _mode(other) == 0o600
