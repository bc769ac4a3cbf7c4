"""``docs/replay.md`` names every store column that holds wall-clock time (issue 7, item 6):
the list matches the schema, and two replays of one input write the same rows apart from the
listed columns."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from spxcc_core.cli import main
from spxcc_core.plugins import get_plugin_manager
from spxcc_core.sample import generate_session
from spxcc_core.store import Store, all_migrations
from spxcc_core.store.migrations import plugin_migrations

DOC = Path(__file__).resolve().parents[1] / "docs" / "replay.md"
#: Tables a replay writes (besides the migrations' bookkeeping).
REPLAY_TABLES = ("spx_setup_instances", "spx_gate_decisions", "spxcc_schema")


def documented() -> set[tuple[str, str]]:
    text = DOC.read_text(encoding="utf-8")
    block = text.split("<!-- wall-clock-columns -->", 1)[1].split(
        "<!-- /wall-clock-columns -->", 1)[0]
    names = re.findall(r"`([a-z_]+)\.([a-z_]+)`", block)
    assert names, "no columns listed"
    return set(names)


def columns(db: Path) -> dict[str, list[tuple[str, str | None]]]:
    """Every table's (column, default expression) — core's and the plugins' tables."""
    migrations = all_migrations(plugin_migrations(get_plugin_manager(load_entrypoints=False)))
    with Store(db, migrations=migrations) as store:
        tables = [r[0] for r in store.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        return {t: [(r[1], r[4]) for r in store.conn.execute(f"PRAGMA table_info({t})")]
                for t in tables}


def test_documented_columns_exist_and_every_now_default_is_documented(tmp_path: Path) -> None:
    schema = columns(tmp_path / "fresh.sqlite3")
    listed = documented()
    for table, column in listed:
        assert column in [c for c, _ in schema.get(table, [])], f"{table}.{column} not in schema"
    defaults_now = {(t, c) for t, cols in schema.items() for c, default in cols
                    if default is not None and "'now'" in default}
    assert defaults_now == {("spxcc_schema", "applied_at"),
                            ("spx_setup_instances", "updated_at")}
    assert defaults_now <= listed


@pytest.fixture(scope="module")
def sample_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_session(tmp_path_factory.mktemp("sample"), scale=0.02).root


def _rows(db: Path, table: str, skip: set[str]) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        names = [r[1] for r in conn.execute(f"PRAGMA table_info({table})") if r[1] not in skip]
        return sorted(conn.execute(f"SELECT {', '.join(names)} FROM {table}").fetchall(),
                      key=repr)
    finally:
        conn.close()


def test_two_replays_differ_only_in_the_documented_columns(sample_root: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    monkeypatch.delenv("SPXCC_DB", raising=False)
    for out in ("a", "b"):
        assert main(["replay", str(sample_root), "--out", str(tmp_path / out)]) == 0
    capsys.readouterr()
    listed = documented()
    for table in REPLAY_TABLES:
        skip = {c for t, c in listed if t == table}
        a = _rows(tmp_path / "a" / "spxcc.sqlite3", table, skip)
        b = _rows(tmp_path / "b" / "spxcc.sqlite3", table, skip)
        assert a == b, table
    assert _rows(tmp_path / "a" / "spxcc.sqlite3", "spx_setup_instances", set()), \
        "the sample should produce setups"
