"""Store benchmark: order intents recorded per second on SQLite and on PostgreSQL.

``run_store_bench()`` records ``intents`` intents through :meth:`BrokerStore.insert_intent`
(the routing worker's first write of every order: the intent row and its first event) on a
fresh store of each backend, two ways:

- ``own_tx``: one write transaction per intent (what ``spxcc broker submit`` does);
- ``batch``: every intent inside one :meth:`BrokerStore.batch` (the worker's bulk path).

SQLite is a file in a temporary folder; PostgreSQL is the server named by
``$SPXCC_BENCH_PG_DSN`` or else ``$SPXCC_TEST_PG_DSN`` (a fresh schema, dropped afterwards),
skipped with a note when neither is set or the server does not answer. Figures are printed and
returned (intents/s, and PostgreSQL relative to SQLite); nothing asserts on a time.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

__all__ = ["run_store_bench"]


def _pg_dsn() -> str | None:
    return os.environ.get("SPXCC_BENCH_PG_DSN") or os.environ.get("SPXCC_TEST_PG_DSN")


def _rate(target: str | Path, intents: int, batch: bool) -> float:
    from spxcc_core.broker.store import BrokerStore
    from spxcc_core.contracts.broker import OrderIntent
    from spxcc_core.store import Store

    with Store(target) as store:
        bs = BrokerStore(store)
        made = [OrderIntent(intent_id=f"bench-{batch}-{i}", option_symbol="SPXW261125C05900000",
                            underlying="SPX", side="buy_to_open", quantity=1,
                            order_type="limit", limit_price=1.0) for i in range(intents)]
        t0 = time.perf_counter()
        if batch:
            with bs.batch():
                for n, intent in enumerate(made):
                    bs.insert_intent(intent, broker="paper", account_id="A", tag=f"b{batch}{n}",
                                     state="queued", now_ms=n)
        else:
            for n, intent in enumerate(made):
                bs.insert_intent(intent, broker="paper", account_id="A", tag=f"o{batch}{n}",
                                 state="queued", now_ms=n)
        return intents / (time.perf_counter() - t0)


def _measure(fresh: Callable[[str], Any], intents: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for mode, batch in (("own_tx", False), ("batch", True)):
        with fresh(mode) as target:
            out[f"{mode}_intents_per_s"] = round(_rate(target, intents, batch), 1)
    return out


class _SqliteFile:
    def __init__(self, mode: str) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="spxcc-store-bench-")
        self.path = Path(self._dir.name) / f"{mode}.sqlite3"

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc: object) -> None:
        self._dir.cleanup()


class _PgSchema:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.schema = f"spxcc_bench_{uuid.uuid4().hex[:12]}"

    def __enter__(self) -> str:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {self.schema}")
        sep = "&" if "?" in self.dsn else "?"
        return f"{self.dsn}{sep}options={quote(f'-csearch_path={self.schema}', safe='')}"

    def __exit__(self, *exc: object) -> None:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")


def run_store_bench(intents: int = 2000, verbose: bool = True) -> dict[str, Any]:
    """Run the benchmark and return its figures (intents per second)."""
    result: dict[str, Any] = {"intents": intents, "sqlite": _measure(_SqliteFile, intents)}
    dsn = _pg_dsn()
    if dsn is None:
        result["postgresql"] = "skipped: set $SPXCC_BENCH_PG_DSN or $SPXCC_TEST_PG_DSN"
    else:
        try:
            result["postgresql"] = _measure(lambda mode: _PgSchema(dsn), intents)
        except Exception as exc:  # no server, no psycopg: a note, not a failure
            from spxcc_core.store.target import redact_dsn

            result["postgresql"] = f"skipped: {redact_dsn(dsn)}: {type(exc).__name__}: {exc}"
    pg = result["postgresql"]
    if isinstance(pg, dict):
        result["postgresql_vs_sqlite"] = {
            k: round(pg[k] / result["sqlite"][k], 3) for k in pg}
    if verbose:
        for backend in ("sqlite", "postgresql"):
            figures = result[backend]
            if isinstance(figures, dict):
                print(f"{backend}: {figures['own_tx_intents_per_s']:,.0f} intents/s one "
                      f"transaction each, {figures['batch_intents_per_s']:,.0f} intents/s in "
                      f"one batch ({intents} intents)")
            else:
                print(f"{backend}: {figures}")
    return result
