"""The New York regular-trading-hours calendar (XNYS): sessions, early closes, holidays.

A **trading day** is identified by its America/New_York calendar date (``session_id``,
``YYYY-MM-DD``), never by a UTC date. On an exchange session day the day carries its RTH hours
(normally 09:30–16:00 New York, 13:00 close on early-close days); weekends and holidays carry
none. Opens, closes, holidays and early closes come from the maintained ``exchange_calendars``
package (calendar ``XNYS``), loaded once per process; New York dates and DST come from
``zoneinfo``.

All times are integer epoch milliseconds (UTC).
"""

from __future__ import annotations

import datetime as dt
import warnings
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import numpy.typing as npt

from spxcc_core.errors import InputError

__all__ = [
    "CALENDAR_END",
    "CALENDAR_START",
    "NEW_YORK",
    "SessionCalendar",
    "TradingDay",
    "earliest_event_ns",
    "get_calendar",
    "ny_date_of_ms",
]

NEW_YORK = ZoneInfo("America/New_York")

#: First and last dates for which exchange sessions are known (outside: ``known=False``).
CALENDAR_START = "2000-01-01"
CALENDAR_END = "2035-12-31"

_MS_PER_MINUTE = 60_000


def ny_date_of_ms(epoch_ms: int) -> dt.date:
    """The America/New_York calendar date of an epoch-millisecond instant."""
    return dt.datetime.fromtimestamp(epoch_ms / 1000.0, tz=NEW_YORK).date()


def earliest_event_ns(*stamps: npt.NDArray[Any]) -> int | None:
    """The earliest event time (ns) of ``stamps`` that can date a session: ``ts >= 0``. Events
    before the epoch are quarantined (``bad_timestamp``) and never date one; None when there is
    no such event."""
    found = [int(a[a >= 0].min()) for a in stamps if len(a) and (a >= 0).any()]
    return min(found) if found else None


def _ny_midnight_ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=NEW_YORK).timestamp() * 1000)


@attrs.frozen
class TradingDay:
    """One New York calendar day as the exchange sees it.

    :ivar session_id: the New York date, ``YYYY-MM-DD``.
    :ivar day_start_ms: New York midnight starting the day (epoch ms, inclusive).
    :ivar day_end_ms: New York midnight ending the day (epoch ms, exclusive; 23 or 25 hours
        after the start on DST transition days).
    :ivar open_ms: RTH open (epoch ms), None when the exchange has no session that day.
    :ivar close_ms: RTH close (epoch ms, exclusive), None when there is no session.
    :ivar early_close: the session closes before 16:00 New York.
    :ivar known: the date lies inside the calendar's range (``CALENDAR_START``..``CALENDAR_END``);
        an unknown day has no session.
    """

    session_id: str
    day_start_ms: int
    day_end_ms: int
    open_ms: int | None
    close_ms: int | None
    early_close: bool = False
    known: bool = True

    @property
    def is_session(self) -> bool:
        """The exchange holds a regular session on this day."""
        return self.open_ms is not None

    def in_rth(self, epoch_ms: int) -> bool:
        """``open_ms <= epoch_ms < close_ms`` (False on non-session days)."""
        return (self.open_ms is not None and self.close_ms is not None
                and self.open_ms <= epoch_ms < self.close_ms)

    def minutes_since_open(self, epoch_ms: int) -> float | None:
        """Minutes (fractional) from the RTH open to ``epoch_ms``; negative before the open;
        None on a non-session day."""
        if self.open_ms is None:
            return None
        return (epoch_ms - self.open_ms) / _MS_PER_MINUTE


class SessionCalendar:
    """XNYS regular sessions with an O(1) lookup for consecutive instants of the same day.

    Build one with :func:`get_calendar` (cached per process); instances are read-only apart
    from the small last-day cache used by :meth:`day_for_ms`.
    """

    def __init__(self, sessions: dict[dt.date, tuple[int, int]], first: dt.date,
                 last: dt.date) -> None:
        self._sessions = sessions
        self.first = first
        self.last = last
        self._last_day: TradingDay | None = None

    def day(self, date: dt.date) -> TradingDay:
        """The trading day of a New York date (a day without session has no hours)."""
        start = _ny_midnight_ms(date)
        end = _ny_midnight_ms(date + dt.timedelta(days=1))
        known = self.first <= date <= self.last
        hours = self._sessions.get(date)
        if hours is None:
            return TradingDay(session_id=date.isoformat(), day_start_ms=start, day_end_ms=end,
                              open_ms=None, close_ms=None, known=known)
        open_ms, close_ms = hours
        regular_close = int(dt.datetime(date.year, date.month, date.day, 16,
                                        tzinfo=NEW_YORK).timestamp() * 1000)
        return TradingDay(session_id=date.isoformat(), day_start_ms=start, day_end_ms=end,
                          open_ms=open_ms, close_ms=close_ms,
                          early_close=close_ms < regular_close, known=known)

    def day_for_ms(self, epoch_ms: int) -> TradingDay:
        """The trading day containing the instant ``epoch_ms`` (New York date)."""
        last = self._last_day
        if last is not None and last.day_start_ms <= epoch_ms < last.day_end_ms:
            return last
        day = self.day(ny_date_of_ms(epoch_ms))
        self._last_day = day
        return day

    def session(self, session_id: str) -> TradingDay:
        """The trading day named by ``YYYY-MM-DD``.

        :raises InputError: ``session_id`` is not a ``YYYY-MM-DD`` date.
        """
        try:
            date = dt.date.fromisoformat(session_id)
        except ValueError:
            raise InputError("session id", f"{session_id!r} is not a YYYY-MM-DD date") from None
        return self.day(date)

    def minutes_since_open(self, epoch_ms: int) -> float | None:
        """Minutes from the RTH open of ``epoch_ms``'s day; None on a non-session day."""
        return self.day_for_ms(epoch_ms).minutes_since_open(epoch_ms)

    def is_rth(self, epoch_ms: int) -> bool:
        """``epoch_ms`` falls inside a regular session."""
        return self.day_for_ms(epoch_ms).in_rth(epoch_ms)


@cache
def _load_sessions() -> tuple[dict[dt.date, tuple[int, int]], dt.date, dt.date]:
    import exchange_calendars as xcals

    with warnings.catch_warnings():
        # exchange_calendars trips pandas deprecation warnings on construction
        warnings.simplefilter("ignore")
        cal = xcals.get_calendar("XNYS", start=CALENDAR_START, end=CALENDAR_END)
        labels = [ts.date() for ts in cal.schedule.index]
        opens = [int(x) // 1_000_000 for x in cal.opens_nanos]
        closes = [int(x) // 1_000_000 for x in cal.closes_nanos]
    sessions = {d: (o, c) for d, o, c in zip(labels, opens, closes, strict=True)}
    return (sessions, dt.date.fromisoformat(CALENDAR_START), dt.date.fromisoformat(CALENDAR_END))


def get_calendar() -> SessionCalendar:
    """A calendar over the process-wide cached XNYS schedule (loading takes ~0.5 s once)."""
    sessions, first, last = _load_sessions()
    return SessionCalendar(sessions, first, last)
