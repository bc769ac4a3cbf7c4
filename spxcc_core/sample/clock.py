"""The sample session's clock: regular trading hours of one New York date, in UTC nanoseconds.

Regular trading hours are 09:30–16:00 America/New_York (DST-correct through :mod:`zoneinfo`).
"""

from __future__ import annotations

import datetime as dt

import attrs

from spxcc_core.session import NEW_YORK

__all__ = ["DEFAULT_DATE", "NEW_YORK", "SessionClock", "session_clock"]

#: Default session date: a Friday after the 2025-11-03 quote-size unit change (sizes in shares,
#: SPY sizes multiples of 40) with a standard-time (UTC−5) open at 14:30 UTC.
DEFAULT_DATE = dt.date(2025, 12, 12)

_NS = 1_000_000_000


@attrs.frozen
class SessionClock:
    """One regular session: ``open_ns`` (09:30 NY) and ``close_ns`` (16:00 NY), epoch ns UTC."""

    date: dt.date
    open_ns: int
    close_ns: int

    @property
    def seconds(self) -> int:
        """Length of the session in whole seconds (23,400 for a full day)."""
        return (self.close_ns - self.open_ns) // _NS


def _epoch_ns(day: dt.date, hour: int, minute: int) -> int:
    local = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK)
    return int(local.timestamp()) * _NS


def session_clock(day: dt.date) -> SessionClock:
    """The regular session of ``day`` (any calendar date; holidays are not checked)."""
    return SessionClock(date=day, open_ns=_epoch_ns(day, 9, 30), close_ns=_epoch_ns(day, 16, 0))
