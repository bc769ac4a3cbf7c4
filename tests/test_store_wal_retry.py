"""The journal switch on open retries "database is locked" on the store's injected clock.

A real SQLite file throughout; only the "locked" answers are scripted (a connection subclass
refuses the first ``PRAGMA journal_mode=WAL`` attempts the way SQLite does when another process
switches a fresh file at the same moment), and the waits advance a manual clock.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from clocks import RecordingClock

from spxcc_core.errors import ConfigError
from spxcc_core.store import Store


def _locked_for(monkeypatch: pytest.MonkeyPatch, refusals: int | None) -> list[int]:
    """Make the store's connection answer "database is locked" to its first ``refusals``
    journal switches (None: every one). Returns the list counting the attempts."""
    attempts = [0]

    class Contended(sqlite3.Connection):
        def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
            if sql == "PRAGMA journal_mode=WAL":
                attempts[0] += 1
                if refusals is None or attempts[0] <= refusals:
                    raise sqlite3.OperationalError("database is locked")
            return super().execute(sql, *args)

    real_connect = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        return real_connect(*args, factory=Contended, **kwargs)

    monkeypatch.setattr("spxcc_core.store.sqlite.sqlite3.connect", connect)
    return attempts


def test_locked_journal_switch_is_retried_every_10_ms(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    attempts = _locked_for(monkeypatch, 3)
    clock = RecordingClock()
    with Store(tmp_path / "s.sqlite3", clock=clock) as store:
        mode = store.conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert attempts[0] == 4  # three refusals, then the switch
    assert clock.slept == [0.01, 0.01, 0.01]


def test_still_locked_after_the_30_s_busy_timeout_is_one_clear_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _locked_for(monkeypatch, None)
    clock = RecordingClock()
    db = tmp_path / "s.sqlite3"
    with pytest.raises(ConfigError, match=r"^store .*s\.sqlite3: cannot open \(database is "
                                          r"locked\)$"):
        Store(db, clock=clock)
    # gave up at the first failed attempt past the 30 s deadline, waiting 10 ms between
    # attempts: 3000 waits (3001 if the float sum of 3000 steps of 0.01 s is not above 30)
    assert set(clock.slept) == {0.01}
    assert 30.0 < clock.monotonic() <= 30.01 + 1e-9
    assert len(clock.slept) in (3000, 3001)
