"""Persistence of setup instances (``spx_setup_instances``) and gate decisions
(``spx_gate_decisions``) in the store (:class:`Store`, SQLite or PostgreSQL).

Upserts are idempotent: writing the same setup twice leaves one row, and a row whose payload is
unchanged is not touched (its ``updated_at`` stays). A later state of the same id replaces the
earlier one, so a replay that reaches the same outcomes writes the same rows. Gate decisions are
keyed by (setup id, bar start ms, detector); rewriting an identical decision changes nothing,
a different verdict for the same key replaces the row.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from spxcc_core.contracts.setup import GateCheck, GateDecision, SetupInstance
from spxcc_core.store import Store

__all__ = ["SetupStore"]

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(SetupInstance)
_checks_decoder = msgspec.json.Decoder(tuple[GateCheck, ...])

_COLUMNS = ("id", "session_id", "detector", "detector_version", "symbol", "direction", "status",
            "entry", "stop", "t1", "t2", "detected_ms", "trigger_deadline_ms", "triggered_ms",
            "t1_ms", "closed_ms", "exit_price", "realized_r", "profile_hash")

_UPSERT = (
    f"INSERT INTO spx_setup_instances ({', '.join(_COLUMNS)}, payload) "
    f"VALUES ({', '.join('?' for _ in _COLUMNS)}, ?) "
    "ON CONFLICT(id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c != "id")
    + ", payload = excluded.payload,"
    " updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')"
    " WHERE spx_setup_instances.payload != excluded.payload"
)

_DECISION_COLUMNS = ("setup_id", "session_id", "detector", "detector_version", "symbol",
                     "direction", "bar_start_ms", "passed", "checks")
_DECISION_KEY = ("setup_id", "bar_start_ms", "detector")

_UPSERT_DECISION = (
    f"INSERT INTO spx_gate_decisions ({', '.join(_DECISION_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _DECISION_COLUMNS)}) "
    f"ON CONFLICT({', '.join(_DECISION_KEY)}) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _DECISION_COLUMNS if c not in _DECISION_KEY)
    + " WHERE "
    + " OR ".join(f"spx_gate_decisions.{c} IS NOT excluded.{c}"
                  for c in _DECISION_COLUMNS if c not in _DECISION_KEY)
)


def _setup_row(s: SetupInstance) -> tuple[Any, ...]:
    return (*(getattr(s, c) for c in _COLUMNS), _encoder.encode(s).decode())


def _decision_row(d: GateDecision) -> tuple[Any, ...]:
    return (d.setup_id, d.session_id, d.detector, d.detector_version, d.symbol, d.direction,
            d.bar_start_ms, int(d.passed), _encoder.encode(d.checks).decode())


class SetupStore:
    """Reads and writes setup instances in a :class:`~spxcc_core.store.Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def upsert(self, setups: Iterable[SetupInstance]) -> int:
        """Insert or update setups in one transaction; returns the number of rows changed."""
        return self.write(setups, ())

    def upsert_decisions(self, decisions: Iterable[GateDecision]) -> int:
        """Insert or update gate decisions in one transaction; returns the number of rows
        changed (0 when every decision is already stored as is)."""
        return self.write((), decisions)

    def write(self, setups: Iterable[SetupInstance], decisions: Iterable[GateDecision]) -> int:
        """Upsert setups and gate decisions together in one transaction (all or nothing);
        returns the number of rows changed. No transaction is opened when both are empty."""
        setup_rows = [_setup_row(s) for s in setups]
        decision_rows = [_decision_row(d) for d in decisions]
        if not setup_rows and not decision_rows:
            return 0
        changed = 0
        with self.store.transaction() as cur:
            if setup_rows:
                changed += max(0, cur.executemany(_UPSERT, setup_rows).rowcount)
            if decision_rows:
                changed += max(0, cur.executemany(_UPSERT_DECISION, decision_rows).rowcount)
        return changed

    def get(self, setup_id: str) -> SetupInstance | None:
        """The stored setup with this id, or None."""
        row = self.store.conn.execute(
            "SELECT payload FROM spx_setup_instances WHERE id = ?", (setup_id,)).fetchone()
        return None if row is None else _decoder.decode(row[0])

    def query(self, *, session_id: str | None = None,
             detector: str | None = None) -> list[SetupInstance]:
        """Stored setups, optionally filtered, ordered by (detected_ms, id)."""
        sql = "SELECT payload FROM spx_setup_instances"
        where, args = [], []
        if session_id is not None:
            where.append("session_id = ?")
            args.append(session_id)
        if detector is not None:
            where.append("detector = ?")
            args.append(detector)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY detected_ms, id"
        return [_decoder.decode(r[0]) for r in self.store.conn.execute(sql, args)]

    def decisions(self, *, session_id: str | None = None, detector: str | None = None,
                  passed: bool | None = None) -> list[GateDecision]:
        """Stored gate decisions, optionally filtered, ordered by (bar_start_ms, symbol,
        detector, setup_id)."""
        sql = f"SELECT {', '.join(_DECISION_COLUMNS)} FROM spx_gate_decisions"
        where: list[str] = []
        args: list[object] = []
        for col, val in (("session_id", session_id), ("detector", detector)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        if passed is not None:
            where.append("passed = ?")
            args.append(int(passed))
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY bar_start_ms, symbol, detector, setup_id"
        return [GateDecision(setup_id=r[0], session_id=r[1], detector=r[2],
                             detector_version=r[3], symbol=r[4], direction=r[5],
                             bar_start_ms=r[6], passed=bool(r[7]),
                             checks=_checks_decoder.decode(r[8]))
                for r in self.store.conn.execute(sql, args)]
