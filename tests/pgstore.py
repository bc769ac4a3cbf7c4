"""pytest plugin: run store tests on both backends, SQLite and PostgreSQL.

``store_target`` is parametrised over ``sqlite`` (a file in ``tmp_path``) and ``postgresql``
(a URL whose ``search_path`` is a fresh schema, dropped with everything in it after the test).
PostgreSQL is the server named by ``$SPXCC_TEST_PG_DSN`` (e.g.
``postgresql://postgres@127.0.0.1:5432/test``; ``.ci/run`` sets it when a server answers on
127.0.0.1:5432). Without the variable, or when that server does not answer, the
``postgresql`` cases are skipped with the reason stated. Enabled in ``tests/conftest.py``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from urllib.parse import quote

import pytest

__all__ = ["PG_DSN_ENV", "pg_admin_dsn", "pg_schema", "with_schema"]

#: Environment variable naming the PostgreSQL server the tests may use.
PG_DSN_ENV = "SPXCC_TEST_PG_DSN"


@cache
def _unavailable() -> str | None:
    """Why PostgreSQL tests cannot run here (None: they can)."""
    dsn = os.environ.get(PG_DSN_ENV)
    if not dsn:
        return f"${PG_DSN_ENV} is not set (e.g. postgresql://postgres@127.0.0.1:5432/test)"
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'spxcc[postgres]')"
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        from spxcc_core.store.target import redact_dsn

        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return f"PostgreSQL at ${PG_DSN_ENV} ({redact_dsn(dsn)}) does not answer: {first}"
    return None


def pg_admin_dsn() -> str:
    """``$SPXCC_TEST_PG_DSN``; skips the calling test when PostgreSQL is unavailable."""
    reason = _unavailable()
    if reason is not None:
        pytest.skip(reason)
    return os.environ[PG_DSN_ENV]


def with_schema(dsn: str, schema: str) -> str:
    """``dsn`` (a URL) with ``schema`` as its ``search_path``."""
    sep = "&" if "?" in dsn else "?"
    return f"{dsn}{sep}options={quote(f'-csearch_path={schema}', safe='')}"


@contextmanager
def pg_schema() -> Iterator[str]:
    """A fresh schema on the test server: yields a URL using it, drops it afterwards."""
    import psycopg

    admin = pg_admin_dsn()
    schema = f"spxcc_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_schema(admin, schema)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | Path]:
    """Where a test's store lives: an SQLite file, or a PostgreSQL URL with a fresh schema."""
    if request.param == "sqlite":
        yield tmp_path / "store.sqlite3"
        return
    with pg_schema() as dsn:
        yield dsn
