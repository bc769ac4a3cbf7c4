"""Commands that take ``--db`` (or ``$SPXCC_DB``) given a PostgreSQL URL, through ``main``:
the same rows as with an SQLite file, no file written, errors one line without the password."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pgstore import pg_schema
from secret_tokens import TEST_MASTER_KEY, TRADIER_TEST_TOKEN

from spxcc_core.cli import main
from spxcc_core.secrets import MasterKeySource, resolve_secret
from spxcc_core.setups.store import SetupStore
from spxcc_core.store import Store, default_db_path
from spxcc_core.store.target import store_file


def _cache(tmp_path: Path) -> Path:
    from spxcc_core.sample import generate_session

    root = generate_session(tmp_path / "sample", scale=0.02).root
    assert main(["ingest", str(root), "--out", str(tmp_path / "cache")]) == 0
    return tmp_path / "cache"


def test_replay_with_a_url_stores_what_a_file_store_holds(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPXCC_DB", raising=False)
    with pg_schema() as url:
        cache = _cache(tmp_path)
        assert main(["replay", str(cache), "--out", str(tmp_path / "file")]) == 0
        assert main(["replay", str(cache), "--out", str(tmp_path / "pg"), "--db", url]) == 0
        assert not (tmp_path / "pg" / "spxcc.sqlite3").exists()
        for name in ("microbars.jsonl", "setups.jsonl", "gate_decisions.jsonl"):
            assert (tmp_path / "pg" / name).read_bytes() == (tmp_path / "file" / name).read_bytes()
        with Store(tmp_path / "file" / "spxcc.sqlite3") as a, Store(url) as b:
            assert SetupStore(b).query() == SetupStore(a).query()
            assert SetupStore(b).decisions() == SetupStore(a).decisions()
    capsys.readouterr()


def test_secrets_in_a_postgres_store_named_by_spxcc_db(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    key = tmp_path / "k1.key"
    key.write_text(TEST_MASTER_KEY + "\n")
    key.chmod(0o600)
    monkeypatch.delenv("SPXCC_MASTER_KEY", raising=False)
    with pg_schema() as url:
        monkeypatch.setenv("SPXCC_DB", url)
        assert default_db_path() == url and store_file(url) is None
        monkeypatch.setattr(sys, "stdin", _Stdin(TRADIER_TEST_TOKEN + "\n"))
        assert main(["secrets", "set", "tradier_token", "--key-file", str(key)]) == 0
        assert main(["secrets", "list"]) == 0
        out = capsys.readouterr().out
        assert "tradier_token" in out and TRADIER_TEST_TOKEN not in out
        with Store(url) as store:
            assert resolve_secret("tradier_token", store=store,
                                  key_source=MasterKeySource.from_env_or_file(key)
                                  ).reveal() == TRADIER_TEST_TOKEN


def test_an_unreachable_url_is_one_line_exit_2_without_the_password(
        capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("psycopg")
    url = "postgresql://spx:pw-77-hidden@127.0.0.1:1/none?connect_timeout=2"
    assert main(["secrets", "list", "--db", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("spxcc: error: store postgresql://spx@127.0.0.1:1/none"
                          "?connect_timeout=2: cannot connect (")
    assert err.count("\n") == 1 and "pw-77-hidden" not in err


class _Stdin:
    """A non-terminal stdin holding ``text``."""

    def __init__(self, text: str) -> None:
        self._text = text

    def read(self, *_: object) -> str:
        text, self._text = self._text, ""
        return text

    def readline(self, *_: object) -> str:
        return self.read()

    def isatty(self) -> bool:
        return False


@pytest.mark.parametrize("db", [
    "postgresql://u:hunterZZ7@[::1/test",                      # does not parse: not quoted
    "host=127.0.0.1 password=hunterZZ7 dbname=test",           # libpq key=value string
    "postgresql+psycopg://postgres:hunterZZ7@127.0.0.1/test",  # an SQLAlchemy-style URL
])
def test_a_password_in_a_bad_store_url_is_never_shown_nor_a_file_name(
        db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A review saw the first quoted back in the driver's message and the other two become
    SQLite files (and folders) named after the password."""
    from spxcc_core.cli import main

    monkeypatch.chdir(tmp_path)
    for argv in (["profile", "show", "--db", db], ["secrets", "list", "--db", db]):
        try:
            code = main(argv)
        except SystemExit as exc:  # a usage error (argparse)
            code = exc.code
        assert code == 2
        out = capsys.readouterr()
        assert "hunterZZ7" not in out.out + out.err
        assert out.err.count("\n") <= 2  # argparse's usage line and the error
    assert list(tmp_path.iterdir()) == []
