"""``spxcc secrets`` end to end on a real SQLite file: main([...]) with captured output."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from secret_tokens import (
    TEST_MASTER_KEY,
    TEST_MASTER_KEY_2,
    TRADIER_SANDBOX_TEST_TOKEN,
    TRADIER_TEST_TOKEN,
)

from spxcc_core.cli import main
from spxcc_core.secrets import DecryptionError, MasterKeySource, parse_master_key, resolve_secret
from spxcc_core.store import Store

K1_ID = "034e783d69751769"
K2_ID = "f3f83144e25b95ab"
TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


class _Stdin(io.StringIO):
    def __init__(self, text: str, *, tty: bool = False) -> None:
        super().__init__(text)
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private store via SPXCC_DB and no master key in the environment."""
    db = tmp_path / "cli.sqlite3"
    monkeypatch.setenv("SPXCC_DB", str(db))
    monkeypatch.delenv("SPXCC_MASTER_KEY", raising=False)
    monkeypatch.delenv("SPXCC_MASTER_KEY_PREVIOUS", raising=False)
    return db


def _key_file(tmp_path: Path, text: str, name: str) -> Path:
    path = tmp_path / name
    path.write_text(text + "\n")
    path.chmod(0o600)
    return path


def _run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str],
         stdin: str = "", tty: bool = False) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", _Stdin(stdin, tty=tty))
    code = main(argv)
    out, err = capsys.readouterr()
    for text in (out, err):
        for token in (TRADIER_TEST_TOKEN, TRADIER_SANDBOX_TEST_TOKEN, TEST_MASTER_KEY,
                      TEST_MASTER_KEY_2):
            assert token not in text
    return code, out, err


def test_set_list_rotate_finish_delete(tmp_path: Path, env: Path,
                                       capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    k1 = _key_file(tmp_path, TEST_MASTER_KEY, "k1.key")
    k2 = _key_file(tmp_path, TEST_MASTER_KEY_2, "k2.key")

    code, out, err = _run(capsys, monkeypatch, ["secrets", "set", "tradier_token",
                                                "--key-file", str(k1)],
                          stdin=TRADIER_TEST_TOKEN + "\n")
    assert (code, err) == (0, "")
    assert out == f"stored secret 'tradier_token' version 1 under master key {K1_ID}\n"

    code, out, err = _run(capsys, monkeypatch, ["secrets", "set", "sandbox_token",
                                                "--key-file", str(k1)],
                          stdin=TRADIER_SANDBOX_TEST_TOKEN + "\r\n")
    assert code == 0

    code, out, _ = _run(capsys, monkeypatch, ["secrets", "list"])
    assert code == 0
    lines = out.splitlines()
    assert re.fullmatch(r"NAME +VERSION +MASTER KEY +PREVIOUS KEY +CREATED +UPDATED", lines[0])
    assert re.fullmatch(rf"sandbox_token +1 +{K1_ID} +- +{TS} +{TS}", lines[1])
    assert re.fullmatch(rf"tradier_token +1 +{K1_ID} +- +{TS} +{TS}", lines[2])
    assert len(lines) == 3

    # the stored values are exactly what was piped in (one trailing newline stripped)
    with Store(env) as store:
        source = MasterKeySource.from_env_or_file(k1)
        assert resolve_secret("tradier_token", store=store,
                              key_source=source).reveal() == TRADIER_TEST_TOKEN
        assert resolve_secret("sandbox_token", store=store,
                              key_source=source).reveal() == TRADIER_SANDBOX_TEST_TOKEN

    code, out, err = _run(capsys, monkeypatch, ["secrets", "rotate", "--key-file", str(k1),
                                                "--new-key-file", str(k2)])
    assert (code, err) == (0, "")
    assert out == (f"re-wrapped 2 secret(s) under master key {K2_ID} (0 already under it); "
                   f"master key {K1_ID} still opens them until `spxcc secrets rotate --finish` "
                   "is run with the new key\n")

    code, out, _ = _run(capsys, monkeypatch, ["secrets", "list", "--json"])
    rows = json.loads(out)
    assert [(r["name"], r["version"], r["masterKeyId"], r["previousMasterKeyId"])
            for r in rows] == [("sandbox_token", 1, K2_ID, K1_ID),
                               ("tradier_token", 1, K2_ID, K1_ID)]
    assert set(rows[0]) == {"name", "version", "masterKeyId", "previousMasterKeyId",
                            "createdAt", "updatedAt"}

    code, out, _ = _run(capsys, monkeypatch, ["secrets", "rotate", "--key-file", str(k2),
                                              "--finish"])
    assert code == 0
    assert out == (f"rotation finished: 2 secret(s) no longer wrapped under a previous key; "
                   f"only master key {K2_ID} opens the vault\n")

    # the old key is now refused, on read and on write
    with Store(env) as store, pytest.raises(DecryptionError,
                                                  match=f"master key {K1_ID} does not"):
        resolve_secret("tradier_token", store=store, key_source=MasterKeySource.from_env_or_file(k1))
    code, out, err = _run(capsys, monkeypatch, ["secrets", "set", "x", "--key-file", str(k1)],
                          stdin=TRADIER_TEST_TOKEN)
    assert (code, out) == (2, "")
    assert err == (f"spxcc: error: master key {K1_ID} does not match the stored secrets "
                   f"(wrapped under master key {K2_ID}); refusing to store a secret under a "
                   "different key\n")

    code, out, _ = _run(capsys, monkeypatch, ["secrets", "delete", "sandbox_token"])
    assert (code, out) == (0, "deleted secret 'sandbox_token'\n")
    code, out, _ = _run(capsys, monkeypatch, ["secrets", "list", "--json"])
    assert [r["name"] for r in json.loads(out)] == ["tradier_token"]

    with Store(env) as store:
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert TRADIER_TEST_TOKEN.encode() not in env.read_bytes()


def test_master_key_from_env_db_flag_and_new_key_env(tmp_path: Path, env: Path,
                                                     capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    other_db = tmp_path / "other.sqlite3"
    monkeypatch.setenv("SPXCC_MASTER_KEY", TEST_MASTER_KEY)
    code, out, _ = _run(capsys, monkeypatch, ["secrets", "set", "tradier_token",
                                              "--db", str(other_db)], stdin=TRADIER_TEST_TOKEN)
    assert (code, out) == (0, f"stored secret 'tradier_token' version 1 under master key "
                              f"{K1_ID}\n")
    assert not env.exists()
    monkeypatch.setenv("NEW_SPXCC_KEY", TEST_MASTER_KEY_2)
    code, out, _ = _run(capsys, monkeypatch, ["secrets", "rotate", "--db", str(other_db),
                                              "--new-key-env", "NEW_SPXCC_KEY"])
    assert code == 0
    assert out.startswith(f"re-wrapped 1 secret(s) under master key {K2_ID}")
    # during the rotation a writer holding both keys wraps under both
    monkeypatch.setenv("SPXCC_MASTER_KEY", TEST_MASTER_KEY_2)
    monkeypatch.setenv("SPXCC_MASTER_KEY_PREVIOUS", TEST_MASTER_KEY)
    code, out, _ = _run(capsys, monkeypatch, ["secrets", "set", "tradier_token",
                                              "--db", str(other_db)],
                        stdin=TRADIER_SANDBOX_TEST_TOKEN)
    assert out == (f"stored secret 'tradier_token' version 2 under master key {K2_ID} and "
                   f"{K1_ID}\n")
    with Store(other_db) as store:
        k1_only = MasterKeySource.from_keys(parse_master_key(TEST_MASTER_KEY, source="t"))
        assert resolve_secret("tradier_token", store=store,
                              key_source=k1_only).reveal() == TRADIER_SANDBOX_TEST_TOKEN


def test_tty_uses_hidden_prompt(tmp_path: Path, env: Path, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return TRADIER_TEST_TOKEN

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    monkeypatch.setenv("SPXCC_MASTER_KEY", TEST_MASTER_KEY)
    code, out, _ = _run(capsys, monkeypatch, ["secrets", "set", "tradier_token"], tty=True)
    assert (code, out) == (0, f"stored secret 'tradier_token' version 1 under master key "
                              f"{K1_ID}\n")
    assert prompts == ["value for secret 'tradier_token' (input hidden): "]
    with Store(env) as store:
        got = resolve_secret("tradier_token", store=store,
                             key_source=MasterKeySource.from_env_or_file(None))
        assert got.reveal() == TRADIER_TEST_TOKEN


def test_value_on_command_line_is_rejected(env: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPXCC_MASTER_KEY", TEST_MASTER_KEY)
    monkeypatch.setattr(sys, "stdin", _Stdin(""))
    with pytest.raises(SystemExit) as info:
        main(["secrets", "set", "tradier_token", TRADIER_TEST_TOKEN])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.endswith("spxcc: error: unrecognized argument: position 4 (values are not "
                        "shown)\n")
    assert TRADIER_TEST_TOKEN not in err
    assert not env.exists() or "tradier_token" not in env.read_bytes().decode("latin-1")


@pytest.mark.parametrize(("setup", "argv", "stdin", "message"), [
    ("none", ["secrets", "set", "t"], TRADIER_TEST_TOKEN,
     "spxcc: error: no master key: set SPXCC_MASTER_KEY or pass --key-file PATH (create one "
     "with `spxcc secrets keygen`)"),
    ("env-bad", ["secrets", "set", "t"], TRADIER_TEST_TOKEN,
     "spxcc: error: environment variable SPXCC_MASTER_KEY: master key must be base64 of "
     "exactly 32 bytes (it decodes to 16 bytes); create one with `spxcc secrets keygen`"),
    ("env", ["secrets", "set", "t"], "",
     "spxcc: error: stdin: no value given for secret 't' (pipe it in, e.g. `printenv TOKEN | "
     "spxcc secrets set t`)"),
    ("env", ["secrets", "set", "bad name"], TRADIER_TEST_TOKEN,
     "spxcc: error: secret name: not 1-128 characters of [A-Za-z0-9_.:-] starting with a "
     "letter or digit (the name given is not shown)"),
    ("env", ["secrets", "delete", "nope"], "", "spxcc: error: secret 'nope' not found in {db}"),
    ("env", ["secrets", "rotate", "--new-key-env", "UNSET_VAR_X"], "",
     "spxcc: error: --new-key-env: environment variable UNSET_VAR_X is not set"),
])
def test_errors_are_one_line_exit_2(env: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch, setup: str,
                                    argv: list[str], stdin: str, message: str) -> None:
    if setup == "env":
        monkeypatch.setenv("SPXCC_MASTER_KEY", TEST_MASTER_KEY)
    elif setup == "env-bad":
        monkeypatch.setenv("SPXCC_MASTER_KEY", TEST_MASTER_KEY[:22])
    monkeypatch.delenv("UNSET_VAR_X", raising=False)
    code, out, err = _run(capsys, monkeypatch, argv, stdin=stdin)
    assert (code, out) == (2, "")
    assert err == message.format(db=env) + "\n"


def test_key_file_with_open_permissions_is_refused(tmp_path: Path, env: Path,
                                                   capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    key = _key_file(tmp_path, TEST_MASTER_KEY, "open.key")
    key.chmod(0o644)
    code, out, err = _run(capsys, monkeypatch, ["secrets", "set", "t", "--key-file", str(key)],
                          stdin=TRADIER_TEST_TOKEN)
    assert (code, out) == (2, "")
    assert err == (f"spxcc: error: key file {key}: permissions 0644 are too open (group/other "
                   f"may access it); the key is refused; run `chmod 600 {key}`\n")


def test_keygen(tmp_path: Path, env: Path, capsys: pytest.CaptureFixture[str],
                monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "new.key"
    code, out, _ = _run(capsys, monkeypatch, ["secrets", "keygen", "--out", str(path)])
    assert code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key_text = path.read_text()
    assert key_text.endswith("\n") and len(key_text) == 45
    assert len(base64.urlsafe_b64decode(key_text.strip())) == 32
    key_id = parse_master_key(key_text, source="t").key_id
    assert out == f"wrote master key {key_id} to {path} (mode 0600)\n"
    assert key_text.strip() not in out
    code, _, err = _run(capsys, monkeypatch, ["secrets", "keygen", "--out", str(path)])
    assert code == 2
    assert err == (f"spxcc: error: key file {path}: already exists; refusing to overwrite a "
                   "master key\n")
    assert path.read_text() == key_text

    code, out, err = _run(capsys, monkeypatch, ["secrets", "keygen"])
    assert code == 0
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}=\n", out)
    assert err == f"master key id {parse_master_key(out, source='t').key_id}\n"
    assert out.strip() != key_text.strip()


def test_real_process_reads_value_from_a_pipe(tmp_path: Path) -> None:
    db = tmp_path / "proc.sqlite3"
    key = _key_file(tmp_path, TEST_MASTER_KEY, "proc.key")
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("SPXCC_MASTER_KEY")}
    run_env["SPXCC_DB"] = str(db)
    cmd = [sys.executable, "-c", "import sys; from spxcc_core.cli import main; sys.exit(main())"]
    done = subprocess.run([*cmd, "secrets", "set", "tradier_token", "--key-file", str(key)],
                          input=TRADIER_TEST_TOKEN + "\n", capture_output=True, text=True,
                          env=run_env, timeout=60, check=False)
    assert done.returncode == 0
    assert done.stdout == f"stored secret 'tradier_token' version 1 under master key {K1_ID}\n"
    with Store(db) as store:
        got = resolve_secret("tradier_token", store=store,
                             key_source=MasterKeySource.from_env_or_file(key))
        assert got.reveal() == TRADIER_TEST_TOKEN
