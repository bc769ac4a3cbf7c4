"""Gate decisions in the SQLite store (``spx_gate_decisions``, migration ``setups`` v2): a
replay of a golden case stores exactly its ``gate_decisions.jsonl``, a rerun adds nothing, and
a store that only has ``setups`` v1 is upgraded in place."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import msgspec

from spxcc_core.contracts.setup import GateCheck, GateDecision, SetupInstance
from spxcc_core.golden.io import read_inputs, write_flat_files
from spxcc_core.replay.engine import run_replay
from spxcc_core.setups.store import SetupStore
from spxcc_core.store.migrations import all_migrations
from spxcc_core.store.sqlite import Store

GOLDEN = Path(__file__).resolve().parent / "golden"
CASE = "gap_and_flush"
DATE = "2024-03-07"


def flat_files(tmp_path: Path) -> Path:
    folder = tmp_path / "flat"
    write_flat_files(read_inputs(GOLDEN / CASE), folder, DATE)
    return folder


def expected_decisions() -> list[GateDecision]:
    dec = msgspec.json.Decoder(GateDecision)
    path = GOLDEN / CASE / "expected" / "gate_decisions.jsonl"
    return [dec.decode(ln) for ln in path.read_bytes().splitlines() if ln.strip()]


def count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def test_replay_stores_exactly_the_golden_decisions_and_a_rerun_adds_nothing(
        tmp_path: Path) -> None:
    flat, db = flat_files(tmp_path), tmp_path / "spxcc.sqlite3"
    run_replay(flat, store=db)
    # gap_and_flush/expected/gate_decisions.jsonl has 2 lines: 1 passed, 1 blocked.
    assert count(db, "spx_gate_decisions") == 2
    with Store(db) as store:
        stored = SetupStore(store).decisions(session_id=DATE)
        assert sorted(stored, key=lambda d: d.setup_id) == sorted(
            expected_decisions(), key=lambda d: d.setup_id)
        blocked = SetupStore(store).decisions(passed=False)
    assert len(blocked) == 1
    b = blocked[0]
    assert (b.setup_id, b.detector, b.direction, b.bar_start_ms) == (
        "d302fff7-7d4e-57df-926d-0505a4b569d4", "orb_pullback", "short", 1709822815000)
    # Hand-checked: no ask/bid size ratio (null) -> microstructure_unavailable fails; spread
    # 5.867 bps > 5.0 fails; coverage 18.7 % < 80 % fails; imbalance -0.833 <= 0.5 passes.
    assert [(c.gate, c.passed) for c in b.checks] == [
        ("microstructure_unavailable", False), ("bid_ask_imbalance", True),
        ("spread", False), ("quote_coverage", False)]
    assert b.checks[0].observed is None
    assert b.checks[2] == GateCheck(gate="spread", input="avgSpreadBps", comparison="<=",
                                    threshold=5.0, observed=5.867052588348255, passed=False)
    with sqlite3.connect(db) as conn:
        before = conn.execute(
            "SELECT * FROM spx_gate_decisions ORDER BY setup_id").fetchall()
    run_replay(flat, store=db)
    with sqlite3.connect(db) as conn:
        after = conn.execute("SELECT * FROM spx_gate_decisions ORDER BY setup_id").fetchall()
        assert conn.execute("SELECT passed, typeof(checks) FROM spx_gate_decisions "
                            "WHERE setup_id = 'd302fff7-7d4e-57df-926d-0505a4b569d4'"
                            ).fetchone() == (0, "text")
    assert after == before


def test_identical_decisions_change_no_rows_and_a_new_verdict_replaces_the_row(
        store_target: str | Path) -> None:
    d = expected_decisions()[0]
    with Store(store_target) as store:
        ss = SetupStore(store)
        assert ss.upsert_decisions([d]) == 1
        assert ss.upsert_decisions([d, d]) == 0
        flipped = msgspec.structs.replace(d, passed=not d.passed)
        assert ss.upsert_decisions([flipped]) == 1
        assert ss.decisions() == [flipped]
        assert ss.write((), ()) == 0


def test_a_store_with_setups_v1_only_is_upgraded_in_place(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    v1_only = [m for m in all_migrations() if not (m.component == "setups" and m.version > 1)]
    with Store(db, migrations=v1_only) as old:
        assert old.schema_versions()["setups"] == 1
        old.conn.execute(
            "INSERT INTO spx_setup_instances (id, session_id, detector, detector_version, symbol,"
            " direction, status, entry, stop, t1, t2, detected_ms, trigger_deadline_ms,"
            " profile_hash, payload) VALUES ('old-1', '2024-03-01', 'vwap', 1, 'SPY', 'long',"
            " 'untriggered', 1.0, 0.5, 1.5, 2.0, 1, 2, 'h', '{}')")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'spx_gate_decisions'"
                            ).fetchone() is None
    run_replay(flat_files(tmp_path), store=db)
    with Store(db) as store:
        assert store.schema_versions()["setups"] == 2
    assert count(db, "spx_gate_decisions") == 2
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status FROM spx_setup_instances WHERE id = 'old-1'"
                            ).fetchone() == ("untriggered",)


def test_a_replay_into_either_backend_stores_the_golden_rows(tmp_path: Path,
                                                             store_target: str | Path) -> None:
    """The same replay written to SQLite or PostgreSQL (``--db URL``) reads back as the golden
    files say, and a rerun changes nothing."""
    flat = flat_files(tmp_path)
    run_replay(flat, store=store_target)
    dec = msgspec.json.Decoder(SetupInstance)
    golden = GOLDEN / CASE / "expected" / "setups.jsonl"
    setups = [dec.decode(ln) for ln in golden.read_bytes().splitlines() if ln.strip()]
    with Store(store_target) as store:
        ss = SetupStore(store)
        assert sorted(ss.decisions(session_id=DATE), key=lambda d: d.setup_id) == sorted(
            expected_decisions(), key=lambda d: d.setup_id)
        assert sorted(ss.query(session_id=DATE), key=lambda s: s.id) == sorted(
            setups, key=lambda s: s.id)
        assert ss.upsert_decisions(expected_decisions()) == 0
    run_replay(flat, store=store_target)
    with Store(store_target) as store:
        assert len(SetupStore(store).decisions()) == 2
