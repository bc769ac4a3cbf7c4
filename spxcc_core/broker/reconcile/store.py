"""Reconciliation's reads and writes of the store: the internal book of an account (from the
broker tables and adopted adjustments), runs and their differences, adopted events, halts and
acknowledgements (tables in :mod:`spxcc_core.store.reconcile_schema`).

Writes go through :meth:`BrokerStore.write`, so inside the routing worker's batch they join
its transaction. Portable SQL only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

import attrs
import msgspec

from spxcc_core.broker.reconcile.base import (
    EPSILON,
    MULTIPLIER,
    InternalBook,
    InternalOrder,
    InternalPosition,
    canonical_symbol,
)
from spxcc_core.broker.store import BrokerStore
from spxcc_core.contracts.reconcile import ReconcileRun

__all__ = ["Halt", "ReconcileStore"]

#: Intent states that may be at the broker and are not final.
_AT_BROKER: Final = ("submitting", "ambiguous", "acked", "partially_filled")
_ORDER_COLUMNS: Final = ("intent_id, symbol, side, quantity, state, tag, broker_order_id, "
                         "filled_quantity, avg_fill_price, updated_ms")
#: Tags per ``IN (...)`` query (SQLite's default limit of host parameters is 999+).
_CHUNK: Final = 400

_encoder: Final = msgspec.json.Encoder()
_run_decoder: Final = msgspec.json.Decoder(ReconcileRun)


@attrs.frozen
class Halt:
    """The halt flag of one broker account (``since_ms`` epoch ms, ``reason`` one line)."""

    broker: str
    account_id: str
    since_ms: int | None
    run_id: str | None
    reason: str


def _order(row: Sequence[Any]) -> InternalOrder:
    return InternalOrder(intent_id=row[0], symbol=row[1], side=row[2], quantity=row[3],
                         state=row[4], tag=row[5], broker_order_id=row[6],
                         filled_quantity=row[7], avg_fill_price=row[8], changed_ms=row[9])


@attrs.define
class _Running:
    """An average-cost position being accumulated."""

    quantity: float = 0.0
    cost: float = 0.0

    def fill(self, signed_qty: float, price: float) -> None:
        q = self.quantity
        if abs(q) <= EPSILON or (q > 0) == (signed_qty > 0):
            self.quantity = q + signed_qty
            self.cost += signed_qty * price * MULTIPLIER
            return
        closing = min(abs(signed_qty), abs(q))
        self.cost -= self.cost * closing / abs(q)
        self.quantity = q + signed_qty
        if abs(self.quantity) <= EPSILON:
            self.quantity, self.cost = 0.0, 0.0
        elif (self.quantity > 0) != (q > 0):  # crossed through flat: the rest opens anew
            self.cost = self.quantity * price * MULTIPLIER

    def adjust(self, quantity: float, cost: float) -> None:
        self.quantity += quantity
        self.cost += cost
        if abs(self.quantity) <= EPSILON:
            self.quantity, self.cost = 0.0, 0.0


class ReconcileStore:
    """Typed access to the reconciliation tables (and reads of the broker tables)."""

    def __init__(self, store: BrokerStore) -> None:
        self.bstore = store
        self.conn = store.conn

    # --- the internal book ------------------------------------------------------------------

    def book(self, broker: str, account_id: str, tags: Iterable[str] = ()) -> InternalBook:
        """Our side of ``broker``/``account_id``: positions from recorded fills (average cost)
        and adopted adjustments, in time order; open intents that may be at the broker; the
        intents carrying any of ``tags``; adopted external orders."""
        running: dict[str, _Running] = {}
        events: list[tuple[int, int, str, str, float, float]] = []
        for sym, side, qty, price, ts, key in self.conn.execute(
                "SELECT i.symbol, i.side, f.quantity, f.price, f.ts_ms, f.fill_key "
                "FROM spx_broker_fills f JOIN spx_broker_intents i "
                "ON f.intent_id = i.intent_id WHERE i.broker = ? AND i.account_id = ?",
                (broker, account_id)):
            sign = 1.0 if side.startswith("buy") else -1.0
            events.append((ts, 0, key, canonical_symbol(sym), sign * qty, price))
        adjustments: dict[str, int] = {}
        adopted_orders: set[str] = set()
        for aid, sym, qty, cost, order_id, ts in self.conn.execute(
                "SELECT adoption_id, symbol, quantity, cost, order_id, ts_ms "
                "FROM spx_reconcile_adoptions WHERE broker = ? AND account_id = ?",
                (broker, account_id)):
            if order_id is not None:
                adopted_orders.add(order_id)
            if sym is None:
                continue
            csym = canonical_symbol(sym)
            adjustments[csym] = adjustments.get(csym, 0) + 1
            events.append((ts, 1, aid, csym, qty, cost))
        events.sort()
        for _ts, is_adjustment, _key, sym, qty, value in events:
            pos = running.setdefault(sym, _Running())
            if is_adjustment:
                pos.adjust(qty, value)
            else:
                pos.fill(qty, value)
        positions = {sym: InternalPosition(sym, round(p.quantity, 9), round(p.cost, 6))
                     for sym, p in sorted(running.items()) if abs(p.quantity) > EPSILON}
        open_orders = {r[0]: _order(r) for r in self.conn.execute(
            f"SELECT {_ORDER_COLUMNS} FROM spx_broker_intents WHERE broker = ? AND "
            f"account_id = ? AND state IN ({', '.join('?' * len(_AT_BROKER))}) "
            "ORDER BY created_ms, intent_id", (broker, account_id, *_AT_BROKER))}
        by_tag = {o.tag: o for o in open_orders.values()}
        wanted = sorted(set(tags) - set(by_tag))
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start:start + _CHUNK]
            for r in self.conn.execute(
                    f"SELECT {_ORDER_COLUMNS} FROM spx_broker_intents WHERE broker = ? AND "
                    f"account_id = ? AND tag IN ({', '.join('?' * len(chunk))})",
                    (broker, account_id, *chunk)):
                o = _order(r)
                by_tag[o.tag] = o
        return InternalBook(positions=positions, open_orders=open_orders, by_tag=by_tag,
                            adopted_orders=frozenset(adopted_orders), adjustments=adjustments)

    # --- adoptions ----------------------------------------------------------------------------

    def adopt(self, adoption_id: str, *, broker: str, account_id: str, kind: str,
              symbol: str | None, quantity: float, cost: float, order_id: str | None,
              run_id: str, ts_ms: int, detail: str) -> bool:
        """Record one adopted adjustment; False (nothing written) when ``adoption_id`` is
        already recorded."""
        with self.bstore.write() as cur:
            cur.execute(
                "INSERT INTO spx_reconcile_adoptions (adoption_id, broker, account_id, kind, "
                "symbol, quantity, cost, order_id, run_id, ts_ms, detail) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (adoption_id) DO NOTHING",
                (adoption_id, broker, account_id, kind, symbol, quantity, cost, order_id,
                 run_id, ts_ms, detail))
            return bool(cur.rowcount == 1)

    def adoption_count(self, broker: str, account_id: str) -> int:
        """How many adjustments were adopted for the account."""
        row = self.conn.execute("SELECT COUNT(*) FROM spx_reconcile_adoptions WHERE "
                                "broker = ? AND account_id = ?", (broker, account_id)).fetchone()
        return int(row[0])

    # --- runs -----------------------------------------------------------------------------------

    def claim_run(self, broker: str, account_id: str, *, at_ms: int, trigger: str) -> str:
        """Reserve the account's next run number (1 for the first) with a placeholder row
        (status ``running``), in one write transaction, so two processes reconciling one
        account at once get different numbers. :returns: the run id
        ``<broker>:<account>:<number>``."""
        with self.bstore.write() as cur:
            row = cur.execute("SELECT MAX(seq) FROM spx_reconcile_runs WHERE broker = ? AND "
                              "account_id = ?", (broker, account_id)).fetchone()
            seq = int(row[0] or 0) + 1
            run_id = f"{broker}:{account_id}:{seq}"
            cur.execute("INSERT INTO spx_reconcile_runs (run_id, broker, account_id, seq, at_ms,"
                        " trigger_name, status, payload) VALUES (?, ?, ?, ?, ?, ?, 'running', '')",
                        (run_id, broker, account_id, seq, at_ms, trigger))
        return run_id

    def record_run(self, run: ReconcileRun) -> None:
        """Store a claimed run (:meth:`claim_run`) and its differences (one transaction)."""
        with self.bstore.write() as cur:
            cur.execute("UPDATE spx_reconcile_runs SET status = ?, payload = ? WHERE run_id = ?",
                        (run.status, _encoder.encode(run).decode(), run.run_id))
            cur.executemany(
                "INSERT INTO spx_reconcile_differences (run_id, ordinal, diff_key, kind, symbol,"
                " severity, action, applied, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(run.run_id, n, d.key, d.kind, d.symbol, d.severity, d.action, int(d.applied),
                  _encoder.encode(d).decode()) for n, d in enumerate(run.differences)])

    def latest_run(self, broker: str, account_id: str, *,
                   compared: bool = False) -> ReconcileRun | None:
        """The account's latest finished run (``compared``: the latest that was not
        ``failed``). A run still ``running`` (or whose process died) is not one."""
        sql = ("SELECT payload FROM spx_reconcile_runs WHERE broker = ? AND account_id = ? AND "
               "status <> 'running'" + (" AND status <> 'failed'" if compared else "")
               + " ORDER BY seq DESC LIMIT 1")
        row = self.conn.execute(sql, (broker, account_id)).fetchone()
        return _run_decoder.decode(row[0]) if row is not None else None

    def runs(self, broker: str, account_id: str) -> list[ReconcileRun]:
        """Every finished run of the account, oldest first."""
        return [_run_decoder.decode(r[0]) for r in self.conn.execute(
            "SELECT payload FROM spx_reconcile_runs WHERE broker = ? AND account_id = ? AND "
            "status <> 'running' ORDER BY seq", (broker, account_id))]

    # --- halts and acknowledgements ---------------------------------------------------------

    def halt(self, broker: str, account_id: str) -> Halt | None:
        """The account's halt, or None when it is not halted."""
        row = self.conn.execute("SELECT since_ms, run_id, reason FROM spx_reconcile_halts "
                                "WHERE broker = ? AND account_id = ? AND halted = 1",
                                (broker, account_id)).fetchone()
        if row is None:
            return None
        return Halt(broker, account_id, row[0], row[1], row[2] or "halted by reconciliation")

    def set_halt(self, broker: str, account_id: str, *, run_id: str, now_ms: int,
                 reason: str) -> None:
        """Halt the account (an account already halted keeps its first reason and time)."""
        with self.bstore.write() as cur:
            cur.execute(
                "INSERT INTO spx_reconcile_halts (broker, account_id, halted, since_ms, run_id, "
                "reason, cleared_ms) VALUES (?, ?, 1, ?, ?, ?, NULL) "
                "ON CONFLICT (broker, account_id) DO UPDATE SET halted = 1, "
                "since_ms = CASE WHEN spx_reconcile_halts.halted = 1 THEN "
                "spx_reconcile_halts.since_ms ELSE excluded.since_ms END, "
                "run_id = CASE WHEN spx_reconcile_halts.halted = 1 THEN "
                "spx_reconcile_halts.run_id ELSE excluded.run_id END, "
                "reason = CASE WHEN spx_reconcile_halts.halted = 1 THEN "
                "spx_reconcile_halts.reason ELSE excluded.reason END, cleared_ms = NULL",
                (broker, account_id, now_ms, run_id, reason))

    def clear_halt(self, broker: str, account_id: str, *, now_ms: int,
                   acknowledge: Iterable[str] = ()) -> bool:
        """Clear the account's halt and acknowledge the difference ``keys`` that halted it (the
        same difference seen again no longer halts). :returns: whether it was halted."""
        was = self.halt(broker, account_id) is not None
        with self.bstore.write() as cur:
            cur.execute("UPDATE spx_reconcile_halts SET halted = 0, cleared_ms = ? WHERE "
                        "broker = ? AND account_id = ? AND halted = 1",
                        (now_ms, broker, account_id))
            cur.executemany(
                "INSERT INTO spx_reconcile_acks (broker, account_id, diff_key, acked_ms) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (broker, account_id, diff_key) DO NOTHING",
                [(broker, account_id, key, now_ms) for key in sorted(set(acknowledge))])
        return was

    def acknowledged(self, broker: str, account_id: str) -> frozenset[str]:
        """Difference keys a person acknowledged for the account."""
        return frozenset(r[0] for r in self.conn.execute(
            "SELECT diff_key FROM spx_reconcile_acks WHERE broker = ? AND account_id = ?",
            (broker, account_id)))

    def accounts(self, broker: str) -> list[str]:
        """Accounts of ``broker`` that have intents or runs recorded, sorted."""
        rows = self.conn.execute(
            "SELECT account_id FROM spx_broker_intents WHERE broker = ? UNION "
            "SELECT account_id FROM spx_reconcile_runs WHERE broker = ?", (broker, broker))
        return sorted({r[0] for r in rows})

