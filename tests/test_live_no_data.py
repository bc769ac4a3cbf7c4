"""``spxcc live`` that never connected, or connected and received nothing, exits 2 with one
line saying why (issue 7, item 6) — a session that saw no data is not a success."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_massive import Script
from secret_tokens import MASSIVE_TEST_API_KEY
from test_host_live import _FakeInThread

from spxcc_core.cli import main

KEY = MASSIVE_TEST_API_KEY


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for var in ("MASSIVE_API_KEY", "SPXCC_DB", "SPXCC_MASTER_KEY", "HTTP_PROXY", "HTTPS_PROXY",
                "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SPXCC_LIVE_KEY", KEY)
    yield monkeypatch


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_unreachable_feed_exits_2_and_says_why(tmp_path: Path, env: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    url = f"ws://127.0.0.1:{_closed_port()}/stocks"
    code = main(["live", "--url", url, "--subscribe", "T.SPY,Q.SPY", "--api-key-env",
                 "SPXCC_LIVE_KEY", "--duration", "1", "--idle-timeout", "0"])
    out, err = capsys.readouterr()
    assert code == 2
    assert "0 connection(s)" in out
    assert err.count("\n") == 1
    assert err.startswith(f"spxcc: error: never connected to the feed ({url}: network error: ")
    assert err.endswith("; no data received\n")
    assert KEY not in out + err


def test_connected_but_no_event_exits_2(tmp_path: Path, env: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    with _FakeInThread([Script(frames=[])]) as fake:
        code = main(["live", "--url", fake.url, "--subscribe", "T.SPY,Q.SPY",
                     "--api-key-env", "SPXCC_LIVE_KEY", "--idle-timeout", "0.3"])
    out, err = capsys.readouterr()
    assert code == 2 and "1 connection(s)" in out
    assert err == ("spxcc: error: connected (1 connection(s), 4 message(s)) but received no "
                   "trade, quote or index value; check --subscribe and the market hours\n")
