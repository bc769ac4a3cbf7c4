"""When a paper ``day`` order expires: the close of the regular session it works in.

A day order works until the close of the first XNYS regular session that ends after it was
placed (:mod:`spxcc_core.session`: 16:00 New York, 13:00 on early-close days): placed during a
session, that session's close; placed after a close, on a weekend or a holiday, the next
session's close. SPX index options trade until 16:15, but SPXW contracts expiring that day stop
at 16:00 (GLOSSARY); the paper broker does not model the 16:15 curb and ends every day order at
the exchange close. ``gtc`` orders never expire.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from spxcc_core.session import NEW_YORK, SessionCalendar, get_calendar

__all__ = ["day_order_expiry_ms", "expiry_reason"]

#: The longest run of days without a session looked through (weekend + holidays, or the
#: four-day closure of September 2001, fit easily).
_MAX_DAYS: Final = 14


def day_order_expiry_ms(placed_ms: int, calendar: SessionCalendar | None = None) -> int | None:
    """Epoch ms at which a day order placed at ``placed_ms`` (epoch ms) expires.

    :returns: the close of the first regular session with ``close > placed_ms``; None when the
        placement date lies outside the calendar's range (e.g. a replay clock that has not
        been fed any time yet) — such an order never expires.
    """
    cal = calendar if calendar is not None else get_calendar()
    day = cal.day_for_ms(placed_ms)
    for _ in range(_MAX_DAYS):
        if not day.known:
            return None
        if day.close_ms is not None and placed_ms < day.close_ms:
            return day.close_ms
        day = cal.day(dt.date.fromisoformat(day.session_id) + dt.timedelta(days=1))
    return None


def expiry_reason(expires_ms: int) -> str:
    """The reason recorded on an expired day order, e.g. ``day order expired at the session
    close (2026-09-21 16:00 New York)``."""
    at = dt.datetime.fromtimestamp(expires_ms / 1000, tz=NEW_YORK)
    return f"day order expired at the session close ({at:%Y-%m-%d %H:%M} New York)"
