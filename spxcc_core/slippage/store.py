"""The slippage tables of the store: one row per measured fill, one per unmeasurable fill, and
the origin (setup, detector, underlying price) of each intent.

Recording is idempotent: a fill is keyed by (source, fill id, intent id) and a second record of
the same fill writes nothing (``INSERT ... ON CONFLICT DO NOTHING``), so a re-polled fill or a
restarted worker never counts one fill twice. :func:`write_outcome` works on an open cursor so
the broker store can write a fill and its slippage in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

import attrs
import msgspec

from spxcc_core.contracts.slippage import SlippageRecord, SlippageSource, SlippageUnavailable
from spxcc_core.store import Store
from spxcc_core.store.base import Cursor

__all__ = ["IntentOrigin", "SlippageStore", "write_outcome"]

_encoder: Final = msgspec.json.Encoder()
_record_decoder: Final = msgspec.json.Decoder(SlippageRecord)
_unavailable_decoder: Final = msgspec.json.Decoder(SlippageUnavailable)


@attrs.frozen
class IntentOrigin:
    """What produced an intent: ``setup_id``/``detector`` (None for a hand-written intent) and
    the underlying price when it was created (index points, None when unknown)."""

    setup_id: str | None = None
    detector: str | None = None
    underlying_price: float | None = None


def write_outcome(cur: Cursor, outcome: SlippageRecord | SlippageUnavailable) -> bool:
    """Insert one slippage outcome with ``cur`` (inside the caller's transaction).

    :returns: True when written, False when this fill was already recorded.
    """
    payload = _encoder.encode(outcome).decode()
    if isinstance(outcome, SlippageRecord):
        cur.execute(
            "INSERT INTO spx_slippage (source, fill_id, intent_id, setup_id, detector, symbol, "
            "side, time_bucket, spread_regime, slippage_dollars, slippage_ticks, at_ms, payload) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (source, fill_id, intent_id) DO NOTHING",
            (outcome.source, outcome.fill_id, outcome.intent_id, outcome.setup_id,
             outcome.detector, outcome.symbol, outcome.side, outcome.time_bucket,
             outcome.spread_regime, outcome.slippage_dollars, outcome.slippage_ticks,
             outcome.at_ms, payload))
    else:
        cur.execute(
            "INSERT INTO spx_slippage_unavailable (source, fill_id, intent_id, reason, payload) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (source, fill_id, intent_id) DO NOTHING",
            (outcome.source, outcome.fill_id, outcome.intent_id, outcome.reason, payload))
    return cur.rowcount == 1


class SlippageStore:
    """Typed access to the slippage tables of a :class:`~spxcc_core.store.Store`.

    Not thread-safe: one writer per store object (like the broker store).
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.conn = store.conn

    def record(self, outcome: SlippageRecord | SlippageUnavailable) -> bool:
        """Store one fill's slippage (or why it has none).

        :returns: True when written, False when this fill was already recorded (nothing
            changes: the first record stands).
        """
        with self.store.transaction() as cur:
            return write_outcome(cur, outcome)

    def record_origin(self, intent_id: str, origin: IntentOrigin) -> bool:
        """Remember what produced ``intent_id``; the first origin of an intent stands.

        :returns: True when written, False when the intent already had one.
        """
        with self.store.transaction() as cur:
            cur.execute("INSERT INTO spx_intent_origins (intent_id, setup_id, detector, "
                        "underlying_price) VALUES (?, ?, ?, ?) "
                        "ON CONFLICT (intent_id) DO NOTHING",
                        (intent_id, origin.setup_id, origin.detector, origin.underlying_price))
            return cur.rowcount == 1

    def origin(self, intent_id: str) -> IntentOrigin:
        """The recorded origin of an intent (all None when none was recorded)."""
        row = self.conn.execute("SELECT setup_id, detector, underlying_price FROM "
                                "spx_intent_origins WHERE intent_id = ?", (intent_id,)).fetchone()
        if row is None:
            return IntentOrigin()
        return IntentOrigin(setup_id=row[0], detector=row[1], underlying_price=row[2])

    def records(self, *, source: SlippageSource | None = None, detector: str | None = None,
                time_bucket: str | None = None,
                spread_regime: str | None = None) -> Iterator[SlippageRecord]:
        """Stored records, oldest first (by ``atMs``, then fill id), optionally only those of
        one source and bucket (a None filter matches everything)."""
        sql = "SELECT payload FROM spx_slippage WHERE 1 = 1"
        args: list[str] = []
        for column, value in (("source", source), ("detector", detector),
                              ("time_bucket", time_bucket), ("spread_regime", spread_regime)):
            if value is not None:
                sql += f" AND {column} = ?"
                args.append(value)
        for row in self.conn.execute(sql + " ORDER BY at_ms, fill_id, intent_id", args):
            yield _record_decoder.decode(row[0])

    def unavailable(self, *, source: SlippageSource | None = None) -> list[SlippageUnavailable]:
        """Fills without a measurement, in (source, fill id) order."""
        sql = "SELECT payload FROM spx_slippage_unavailable"
        args: tuple[str, ...] = ()
        if source is not None:
            sql += " WHERE source = ?"
            args = (source,)
        return [_unavailable_decoder.decode(r[0]) for r in
                self.conn.execute(sql + " ORDER BY source, fill_id, intent_id", args)]

    def count(self, source: SlippageSource | None = None) -> int:
        """How many fills have a slippage record (of ``source``, or of both)."""
        if source is None:
            row = self.conn.execute("SELECT COUNT(*) FROM spx_slippage").fetchone()
        else:
            row = self.conn.execute("SELECT COUNT(*) FROM spx_slippage WHERE source = ?",
                                    (source,)).fetchone()
        return int(row[0])
