"""``spxcc live`` refuses an option that would have no effect: a hub option without
``--serve``, an option of ``--execute`` without ``--execute``. One test per option: exit 2,
exactly one line naming the option and what it needs, nothing on stdout, and nothing written
(no store, no output folder, no recording), before the API key is even looked up."""

from __future__ import annotations

from pathlib import Path

import pytest
from secret_tokens import MASSIVE_TEST_API_KEY

from spxcc_core.cli import main
from spxcc_core.cli.live import EXECUTE_OPTIONS, HUB_OPTIONS

BASE = ["live", "--url", "ws://127.0.0.1:9/stocks", "--subscribe", "T.SPY",
        "--api-key-env", "SPXCC_TEST_LIVE_KEY", "--connect-timeout", "0.5", "--duration", "1"]

#: Each option with a value that is good in itself (argv after the option).
HUB_VALUES: dict[str, list[str]] = {
    "--bind-any": [], "--queue-size": ["5"], "--queue-bytes": ["4096"],
    "--max-connections": ["3"], "--retain": ["0"],
    "--hub-token-hash": ["sha256:" + "0" * 64], "--hub-origin": ["http://127.0.0.1:8765"],
    "--v1-only": [], "--hub-compression": []}
EXECUTE_VALUES: dict[str, list[str]] = {
    "--execute-option": ["latency_ms=5"], "--execute-account": ["ACC1"],
    "--execute-sandbox": [], "--reconcile-policy": ["policy.toml"]}


def test_the_tables_cover_every_dependent_option() -> None:
    assert sorted(HUB_VALUES) == sorted(o for o, _ in HUB_OPTIONS)
    assert sorted(EXECUTE_VALUES) == sorted(o for o, _ in EXECUTE_OPTIONS)


def _refused(extra: list[str], line: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPXCC_TEST_LIVE_KEY", MASSIVE_TEST_API_KEY)
    monkeypatch.delenv("SPXCC_HUB_TOKEN_HASH", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policy.toml").write_text('[reconcile.actions]\nunknown_at_broker = "halt"\n')
    written = tmp_path / "w"
    code = main([*BASE, "--db", str(written / "spxcc.sqlite3"), "--out", str(written / "out"),
                 "--record", str(written / "rec.jsonl"), *extra])
    out, err = capsys.readouterr()
    assert (code, out, err) == (2, "", line)
    assert not written.exists()
    assert MASSIVE_TEST_API_KEY not in err


@pytest.mark.parametrize("option", sorted(HUB_VALUES))
def test_a_hub_option_without_serve(option: str, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _refused([option, *HUB_VALUES[option]],
             f"spxcc: error: spxcc live: {option} is an option of the hub and needs --serve "
             "HOST:PORT (without it, it would have no effect)\n", tmp_path, capsys, monkeypatch)


@pytest.mark.parametrize("option", sorted(EXECUTE_VALUES))
def test_an_execute_option_without_execute(option: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _refused([option, *EXECUTE_VALUES[option]],
             f"spxcc: error: spxcc live: {option} is an option of --execute and needs "
             "--execute BROKER (without it, it would have no effect)\n", tmp_path, capsys,
             monkeypatch)


@pytest.mark.parametrize("option", ["--execute-account", "--execute-sandbox"])
def test_a_real_broker_option_with_paper(option: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The paper broker keeps its own account: refused before the key, nothing written."""
    _refused(["--execute", "paper", option, *EXECUTE_VALUES[option]],
             "spxcc: error: --execute-account and --execute-sandbox are for a real broker "
             "(--execute tradier); the paper broker keeps its own account\n", tmp_path, capsys,
             monkeypatch)


def test_a_malformed_execute_option_before_the_key(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _refused(["--execute", "paper", "--execute-option", "latency"],
             "spxcc: error: --execute-option number 1: expected KEY=VALUE\n", tmp_path, capsys,
             monkeypatch)


def test_the_mode_is_checked_before_the_value(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad value of an option that could have no effect anyway: the missing --serve first."""
    _refused(["--queue-size", "0"],
             "spxcc: error: spxcc live: --queue-size is an option of the hub and needs --serve "
             "HOST:PORT (without it, it would have no effect)\n", tmp_path, capsys, monkeypatch)
