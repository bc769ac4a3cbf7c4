"""Broker tables of the store: intents (with their tags), every state change, acks,
updates, fills and portfolio snapshots.

An intent row is written (with its tag) before any request about it reaches a broker; each
later change updates the row and appends one ``spx_broker_events`` row in the same
transaction, so the event log is the complete history and the intent row its latest state.
Times are epoch milliseconds; payloads are the contracts' JSON bytes.

Intent states: ``queued`` (accepted, not yet sent; an exit may wait there for its entry),
``submitting`` (tag persisted, request in flight), ``acked``, ``partially_filled``,
``ambiguous`` (outcome unknown: reconcile by tag before anything else); terminal: ``filled``,
``canceled``, ``expired``, ``rejected``, ``error``, ``refused`` (failed a pre-trade check).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final, Literal

import attrs
import msgspec

from spxcc_core.contracts.broker import (
    Fill,
    OrderAck,
    OrderIntent,
    OrderRejected,
    OrderUpdate,
    PortfolioSnapshot,
    decode_intent,
    encode_broker_event,
    encode_intent,
)
from spxcc_core.contracts.slippage import SlippageRecord, SlippageUnavailable
from spxcc_core.errors import InputError
from spxcc_core.slippage.store import write_outcome
from spxcc_core.store import Store
from spxcc_core.store.base import Cursor

__all__ = [
    "FINAL_STATES",
    "OPEN_STATES",
    "BrokerStore",
    "IntentBrief",
    "IntentEvent",
    "IntentExists",
    "IntentRecord",
    "IntentState",
    "StoredSnapshot",
    "states",
]

class IntentExists(InputError):
    """:meth:`BrokerStore.insert_intent` found the intent id (or its tag) already recorded —
    e.g. by another process that recorded the same intent a moment earlier."""


#: An intent's state (see the module docstring); stored in ``spx_broker_intents.state``.
IntentState = Literal["queued", "submitting", "acked", "partially_filled", "ambiguous",
                      "filled", "canceled", "expired", "rejected", "error", "refused"]
#: States after which an intent never changes again.
FINAL_STATES: Final[frozenset[IntentState]] = frozenset({
    "filled", "canceled", "expired", "rejected", "error", "refused"})
#: States of an intent that may still reach or be working at a broker.
OPEN_STATES: Final[frozenset[IntentState]] = frozenset({
    "queued", "submitting", "acked", "partially_filled", "ambiguous"})

_snapshot_encoder: Final = msgspec.json.Encoder()
_snapshot_decoder: Final = msgspec.json.Decoder(PortfolioSnapshot)

_INTENT_COLUMNS: Final = (
    "intent_id, broker, account_id, tag, symbol, side, quantity, entry_intent_id, state, "
    "reserved_bp, risk, broker_order_id, filled_quantity, avg_fill_price, acked_ms, closed_ms, "
    "last_error, payload, created_ms, updated_ms")
_UPDATABLE: Final = frozenset({"reserved_bp", "risk", "broker_order_id", "filled_quantity",
                               "avg_fill_price", "acked_ms", "closed_ms", "last_error",
                               "entry_intent_id", "owner"})


@attrs.frozen
class IntentRecord:
    """One intent's latest stored state (money in dollars, times epoch ms)."""

    intent: OrderIntent
    broker: str
    account_id: str
    tag: str
    state: IntentState
    entry_intent_id: str | None
    reserved_bp: float
    risk: float
    broker_order_id: str | None
    filled_quantity: float
    avg_fill_price: float | None
    acked_ms: int | None
    closed_ms: int | None
    last_error: str | None
    created_ms: int
    updated_ms: int

    @property
    def intent_id(self) -> str:
        return self.intent.intent_id

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def is_entry(self) -> bool:
        return self.intent.side.endswith("_to_open")

    def ack(self) -> OrderAck | None:
        """The ack this record implies (None before the broker acknowledged)."""
        if self.broker_order_id is None:
            return None
        return OrderAck(intent_id=self.intent_id, broker_order_id=self.broker_order_id,
                        status=self.state, tag=self.tag, account_id=self.account_id,
                        broker=self.broker, duplicate=True, at_ms=self.acked_ms)


@attrs.frozen
class IntentBrief:
    """The scalar columns of an intent row (no payload decoding): cheap status reads."""

    intent_id: str
    broker: str
    account_id: str
    tag: str
    side: str
    state: IntentState
    broker_order_id: str | None
    filled_quantity: float
    risk: float
    acked_ms: int | None
    closed_ms: int | None
    last_error: str | None

    @property
    def is_entry(self) -> bool:
        return self.side.endswith("_to_open")

    def ack(self, *, duplicate: bool = True) -> OrderAck | None:
        """The ack this row implies (None before the broker acknowledged)."""
        if self.broker_order_id is None:
            return None
        return OrderAck(intent_id=self.intent_id, broker_order_id=self.broker_order_id,
                        status=self.state, tag=self.tag, account_id=self.account_id,
                        broker=self.broker, duplicate=duplicate, at_ms=self.acked_ms)


@attrs.frozen
class IntentEvent:
    """One row of an intent's history."""

    seq: int
    intent_id: str
    kind: str
    state: str
    detail: str | None
    payload: bytes | None
    ts_ms: int


@attrs.frozen
class StoredSnapshot:
    """A portfolio snapshot with the time it was fetched (``age_ms`` needs a clock)."""

    snapshot: PortfolioSnapshot
    broker: str
    fetched_ms: int

    def age_ms(self, now_ms: int) -> int:
        """Milliseconds since the snapshot was fetched (≥ 0)."""
        return max(0, now_ms - self.fetched_ms)


class BrokerStore:
    """Typed access to the broker tables of a :class:`~spxcc_core.store.Store`.

    Not thread-safe: one writer (the routing worker) per store object.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.conn = store.conn
        self._cur: Cursor | None = None
        self._batching = False

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group every write inside into one transaction, begun at the first write (an empty
        batch costs nothing); nested batches join the outer one.

        A batch is for speed, not atomicity: every write is a recorded fact, so when an
        exception leaves the batch what was written is still committed. Never hold a batch
        across a broker request whose preconditions must be durable first (call
        :meth:`flush` before the request).
        """
        if self._batching:
            yield
            return
        self._batching = True
        try:
            yield
        finally:
            cur, self._cur, self._batching = self._cur, None, False
            if cur is not None:
                try:
                    cur.execute("COMMIT")
                finally:
                    cur.close()

    def flush(self) -> None:
        """Commit what the current batch wrote so far (it stays open for later writes); a no-op
        outside a batch. Call before a request whose preconditions must be durable."""
        if self._cur is not None:
            self._cur.execute("COMMIT")
            self._cur.close()
            self._cur = None

    @property
    def in_batch(self) -> bool:
        """True inside :meth:`batch`."""
        return self._batching

    def write(self) -> contextlib.AbstractContextManager[Cursor]:
        """A write transaction on the same connection that joins the current :meth:`batch`
        (for the other tables of the store that change together with these, e.g.
        reconciliation's)."""
        return self._tx()

    @contextmanager
    def _tx(self) -> Iterator[Cursor]:
        if self._batching:
            if self._cur is None:
                cur = self.conn.cursor()
                cur.execute("BEGIN IMMEDIATE")
                self._cur = cur
            yield self._cur
            return
        with self.store.transaction() as cur:
            yield cur

    def insert_intent(self, intent: OrderIntent, *, broker: str, account_id: str, tag: str,
                      state: IntentState, now_ms: int, entry_intent_id: str | None = None,
                      reserved_bp: float = 0.0, risk: float = 0.0,
                      detail: str | None = None, owner: str | None = None) -> None:
        """Record a new intent with its tag and first state (one transaction).

        ``owner`` (see :mod:`spxcc_core.broker.owner`) is the process that will send it.

        :raises IntentExists: the intent id (or its tag) is already recorded.
        """
        payload = encode_intent(intent)
        with self._tx() as cur:
            # DO NOTHING (not an error) keeps an open batch usable on every backend.
            cur.execute(
                f"INSERT INTO spx_broker_intents ({_INTENT_COLUMNS}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 0, NULL, NULL, NULL, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (intent.intent_id, broker, account_id, tag, intent.option_symbol,
                 intent.side, intent.quantity, entry_intent_id, state, reserved_bp, risk,
                 detail if state == "refused" else None, payload, now_ms, now_ms))
            if cur.rowcount != 1:
                raise IntentExists(f"intent {intent.intent_id!r}",
                                   "already recorded in the store")
            if owner is not None:
                cur.execute("UPDATE spx_broker_intents SET owner = ? WHERE intent_id = ?",
                            (owner, intent.intent_id))
            cur.execute("INSERT INTO spx_broker_events (intent_id, kind, state, detail, "
                        "payload, ts_ms) VALUES (?, 'intent', ?, ?, NULL, ?)",
                        (intent.intent_id, state, detail, now_ms))

    def transition(self, intent_id: str, state: IntentState, *, now_ms: int, kind: str = "state",
                   detail: str | None = None, payload: bytes | None = None,
                   **columns: Any) -> None:
        """Set an intent's state (and the named columns) and log the change, atomically."""
        bad = set(columns) - _UPDATABLE
        if bad:
            raise ValueError(f"not updatable: {sorted(bad)}")
        sets = "".join(f", {c} = ?" for c in columns)
        with self._tx() as cur:
            cur.execute(f"UPDATE spx_broker_intents SET state = ?, updated_ms = ?{sets} "
                        "WHERE intent_id = ?", (state, now_ms, *columns.values(), intent_id))
            if cur.rowcount != 1:
                raise KeyError(intent_id)
            cur.execute("INSERT INTO spx_broker_events (intent_id, kind, state, detail, "
                        "payload, ts_ms) VALUES (?, ?, ?, ?, ?, ?)",
                        (intent_id, kind, state, detail, payload, now_ms))

    def claim_submission(self, intent_id: str, *, now_ms: int, detail: str | None = None,
                         owner: str | None = None) -> tuple[bool, bool]:
        """Move a ``queued`` intent to ``submitting`` (logging a ``submit`` event), atomically,
        and record ``owner`` (the claiming process, see :mod:`spxcc_core.broker.owner`) as the
        intent's owner.

        The claim is one write transaction, so the store serializes it against every other
        connection to the same store: at most one claimant ever wins the intent's FIRST
        submission, even with several processes on one store.

        :returns: ``(claimed, first)``. ``claimed`` is False (nothing written) when the stored
            state is not ``queued`` (another writer moved it). ``first`` is True when no
            ``submit`` event of this intent existed before this claim: no request for it has
            ever been sent, so no broker order can carry its tag.
        :raises KeyError: the intent is not recorded.
        """
        with self._tx() as cur:
            cur.execute("UPDATE spx_broker_intents SET state = 'submitting', updated_ms = ?, "
                        "owner = ? WHERE intent_id = ? AND state = 'queued'",
                        (now_ms, owner, intent_id))
            if cur.rowcount != 1:
                if cur.execute("SELECT 1 FROM spx_broker_intents WHERE intent_id = ?",
                               (intent_id,)).fetchone() is None:
                    raise KeyError(intent_id)
                return False, False
            before = cur.execute("SELECT 1 FROM spx_broker_events WHERE intent_id = ? AND "
                                 "kind = 'submit' LIMIT 1", (intent_id,)).fetchone()
            cur.execute("INSERT INTO spx_broker_events (intent_id, kind, state, detail, "
                        "payload, ts_ms) VALUES (?, 'submit', 'submitting', ?, NULL, ?)",
                        (intent_id, detail, now_ms))
        return True, before is None

    def owner(self, intent_id: str) -> str | None:
        """The process that last recorded or claimed the intent (None: unknown, e.g. an intent
        of an older store)."""
        row = self.conn.execute("SELECT owner FROM spx_broker_intents WHERE intent_id = ?",
                                (intent_id,)).fetchone()
        return row[0] if row is not None else None

    def ever_submitted(self, intent_id: str) -> bool:
        """True when a request for the intent was ever started (a ``submit`` event exists)."""
        return self.conn.execute("SELECT 1 FROM spx_broker_events WHERE intent_id = ? AND "
                                 "kind = 'submit' LIMIT 1", (intent_id,)).fetchone() is not None

    def record_ack(self, ack: OrderAck, *, state: IntentState = "acked", now_ms: int) -> None:
        """Store the broker's ack of an intent (its order id) and move it to ``state``."""
        self.transition(ack.intent_id, state, now_ms=now_ms, kind="ack", detail=ack.status,
                        payload=encode_broker_event(ack), broker_order_id=ack.broker_order_id,
                        acked_ms=now_ms, last_error=None)

    def record_update(self, intent_id: str, update: OrderUpdate | OrderRejected,
                      state: IntentState, *,
                      now_ms: int, **columns: Any) -> None:
        """Store an order update (or a rejection) of an intent's order."""
        detail = update.reason if isinstance(update, OrderRejected) else update.status
        self.transition(intent_id, state, now_ms=now_ms,
                        kind="rejected" if isinstance(update, OrderRejected) else "update",
                        detail=detail, payload=encode_broker_event(update), **columns)

    def record_fill(self, fill: Fill, *, intent_id: str | None, now_ms: int,
                    slippage: SlippageRecord | SlippageUnavailable | None = None) -> bool:
        """Store one execution; False (nothing written) when this ``fillId`` is known.

        ``slippage`` (the fill's measured slippage, or why it has none) is written in the same
        transaction, so a stored fill always has its slippage row and a known fill adds none.
        """
        with self._tx() as cur:
            cur.execute("INSERT INTO spx_broker_fills (fill_key, intent_id, broker_order_id,"
                        " quantity, price, ts_ms, payload) VALUES (?, ?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT (fill_key) DO NOTHING",
                        (f"{fill.account_id or ''}/{fill.fill_id}", intent_id,
                         fill.broker_order_id, fill.quantity, fill.price,
                         fill.at_ms if fill.at_ms is not None else now_ms,
                         encode_broker_event(fill)))
            if cur.rowcount != 1:
                return False
            if slippage is not None:
                write_outcome(cur, slippage)
        return True

    def get(self, intent_id: str) -> IntentRecord | None:
        """The stored intent, or None."""
        row = self.conn.execute(f"SELECT {_INTENT_COLUMNS} FROM spx_broker_intents "
                                "WHERE intent_id = ?", (intent_id,)).fetchone()
        return _record(row) if row is not None else None

    def brief(self, intent_id: str) -> IntentBrief | None:
        """The intent's scalar columns, or None."""
        row = self.conn.execute(
            "SELECT intent_id, broker, account_id, tag, side, state, broker_order_id, "
            "filled_quantity, risk, acked_ms, closed_ms, last_error FROM spx_broker_intents "
            "WHERE intent_id = ?", (intent_id,)).fetchone()
        return IntentBrief(*row) if row is not None else None

    def by_tag(self, tag: str) -> IntentRecord | None:
        """The intent a tag belongs to, or None."""
        row = self.conn.execute(f"SELECT {_INTENT_COLUMNS} FROM spx_broker_intents "
                                "WHERE tag = ?", (tag,)).fetchone()
        return _record(row) if row is not None else None

    def by_order(self, broker: str, account_id: str, order_id: str) -> IntentRecord | None:
        """The intent whose broker order this is, or None."""
        row = self.conn.execute(
            f"SELECT {_INTENT_COLUMNS} FROM spx_broker_intents WHERE broker = ? AND "
            "account_id = ? AND broker_order_id = ?", (broker, account_id, order_id)).fetchone()
        return _record(row) if row is not None else None

    def open_intents(self, broker: str | None = None,
                     account_id: str | None = None) -> list[IntentRecord]:
        """Intents in an open state, oldest first."""
        sql = (f"SELECT {_INTENT_COLUMNS} FROM spx_broker_intents WHERE state IN "
               f"({', '.join('?' * len(OPEN_STATES))})")
        args: list[Any] = sorted(OPEN_STATES)
        if broker is not None:
            sql += " AND broker = ?"
            args.append(broker)
        if account_id is not None:
            sql += " AND account_id = ?"
            args.append(account_id)
        return [_record(r) for r in self.conn.execute(sql + " ORDER BY rowid", args)]

    def latest_open_entry(self, broker: str, account_id: str, symbol: str) -> str | None:
        """The intent id of the latest recorded entry (``*_to_open``) of ``symbol`` in the
        account that is not closed (``closed_ms`` null) and did not end without reaching the
        broker (``refused``/``rejected``/``error``), or None: the entry an exit refers to
        when it names none."""
        row = self.conn.execute(
            "SELECT intent_id FROM spx_broker_intents WHERE broker = ? AND account_id = ? AND "
            "symbol = ? AND side LIKE '%_to_open' AND closed_ms IS NULL AND state NOT IN "
            "('refused', 'rejected', 'error') ORDER BY rowid DESC LIMIT 1",
            (broker, account_id, symbol)).fetchone()
        return str(row[0]) if row is not None else None

    def open_entry_risk(self, broker: str, account_id: str) -> float:
        """Dollars at risk in entries not yet closed: open entries, and filled entries whose
        exit has not filled (``closed_ms`` null)."""
        row = self.conn.execute(
            "SELECT COALESCE(SUM(risk), 0) FROM spx_broker_intents WHERE broker = ? AND "
            "account_id = ? AND side LIKE '%_to_open' AND closed_ms IS NULL AND "
            "(state IN ('queued', 'submitting', 'acked', 'partially_filled', 'ambiguous') OR "
            "filled_quantity > 0)", (broker, account_id)).fetchone()
        return float(row[0])

    def events(self, intent_id: str) -> list[IntentEvent]:
        """The intent's full history, in order."""
        rows = self.conn.execute("SELECT seq, intent_id, kind, state, detail, payload, ts_ms "
                                 "FROM spx_broker_events WHERE intent_id = ? ORDER BY seq",
                                 (intent_id,))
        return [IntentEvent(r[0], r[1], r[2], r[3], r[4],
                            bytes(r[5]) if r[5] is not None else None, r[6]) for r in rows]

    def fills(self, intent_id: str) -> list[tuple[str, float, float]]:
        """``(fill key, quantity, price)`` of an intent's executions, in arrival order."""
        rows = self.conn.execute("SELECT fill_key, quantity, price FROM spx_broker_fills "
                                 "WHERE intent_id = ? ORDER BY rowid", (intent_id,))
        return [(r[0], r[1], r[2]) for r in rows]

    # --- snapshots ----------------------------------------------------------------------------

    def record_snapshot(self, snapshot: PortfolioSnapshot, *, broker: str,
                        fetched_ms: int) -> StoredSnapshot:
        """Store a snapshot fetched at ``fetched_ms``."""
        with self._tx() as cur:
            cur.execute("INSERT INTO spx_broker_snapshots (broker, account_id, as_of_ms, "
                        "fetched_ms, payload) VALUES (?, ?, ?, ?, ?)",
                        (broker, snapshot.account_id,
                         snapshot.as_of_ms if snapshot.as_of_ms is not None else fetched_ms,
                         fetched_ms, _snapshot_encoder.encode(snapshot)))
        return StoredSnapshot(snapshot=snapshot, broker=broker, fetched_ms=fetched_ms)

    def latest_snapshot(self, broker: str, account_id: str) -> StoredSnapshot | None:
        """The most recently fetched snapshot of an account, or None."""
        row = self.conn.execute(
            "SELECT payload, fetched_ms FROM spx_broker_snapshots WHERE broker = ? AND "
            "account_id = ? ORDER BY fetched_ms DESC, id DESC LIMIT 1",
            (broker, account_id)).fetchone()
        if row is None:
            return None
        return StoredSnapshot(snapshot=_snapshot_decoder.decode(row[0]), broker=broker,
                              fetched_ms=row[1])

    def snapshot_count(self, broker: str, account_id: str) -> int:
        """How many snapshots of the account are stored."""
        row = self.conn.execute("SELECT COUNT(*) FROM spx_broker_snapshots WHERE broker = ? "
                                "AND account_id = ?", (broker, account_id)).fetchone()
        return int(row[0])


def _record(row: Sequence[Any]) -> IntentRecord:
    intent = decode_intent(bytes(row[17]), source=f"stored intent {row[0]!r}")
    return IntentRecord(
        intent=intent, broker=row[1], account_id=row[2], tag=row[3], entry_intent_id=row[7],
        state=row[8], reserved_bp=row[9], risk=row[10], broker_order_id=row[11],
        filled_quantity=row[12], avg_fill_price=row[13], acked_ms=row[14], closed_ms=row[15],
        last_error=row[16], created_ms=row[18], updated_ms=row[19])


def states(records: Iterable[IntentRecord]) -> dict[str, IntentState]:
    """``{intent id: state}`` of records (for reports and tests)."""
    return {r.intent_id: r.state for r in records}
