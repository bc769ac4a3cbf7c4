"""When a paper ``day`` order expires, and until when a contract may be traded at all.

Day orders: the close of the regular session they work in (below). Contracts
(:func:`contract_trading_end_ms`): a PM-settled contract (``SPXW``, ``SPXPM``, ``NDXP``,
``RUTW``, ``VIXW``, equity options) trades until the close of its expiry date's regular session
(16:00 New York, 13:00 on early-close days; 16:00 New York when the calendar does not know the
date); an AM-settled contract (root in :data:`AM_SETTLED_ROOTS`: the monthly ``SPX``, ``NDX``,
``RUT``, ``VIX``) is settled on the opening prints of its expiry date, so it last trades at the
close of the regular session before that date. The paper broker refuses orders for a contract
from that moment on (:class:`~spxcc_core.broker.ContractExpired`).

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

from spxcc_core.occ import OptionSymbol
from spxcc_core.session import NEW_YORK, SessionCalendar, get_calendar

__all__ = ["AM_SETTLED_ROOTS", "contract_expired_reason", "contract_trading_end_ms",
           "day_order_expiry_ms", "expiry_reason"]

#: Option roots settled on the opening prints of the expiry date (AM-settled monthlies).
AM_SETTLED_ROOTS: Final = frozenset({"SPX", "NDX", "RUT", "VIX"})

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


def _new_york_ms(day: dt.date, hour: int) -> int:
    at = dt.datetime(day.year, day.month, day.day, hour, tzinfo=NEW_YORK)
    return int(at.timestamp() * 1000)


def contract_trading_end_ms(symbol: OptionSymbol,
                            calendar: SessionCalendar | None = None) -> int:
    """Epoch ms from which ``symbol`` no longer trades (see the module docstring): the close
    of the expiry date's session (PM-settled), or of the last session before the expiry date
    (AM-settled); 16:00 / 00:00 New York of the expiry date when the calendar cannot say."""
    cal = calendar if calendar is not None else get_calendar()
    if symbol.root not in AM_SETTLED_ROOTS:
        day = cal.day(symbol.expiry)
        return day.close_ms if day.close_ms is not None else _new_york_ms(symbol.expiry, 16)
    d = symbol.expiry
    for _ in range(_MAX_DAYS):
        d -= dt.timedelta(days=1)
        day = cal.day(d)
        if not day.known:
            break
        if day.close_ms is not None:
            return day.close_ms
    return _new_york_ms(symbol.expiry, 0)


def contract_expired_reason(symbol: OptionSymbol, ended_ms: int) -> str:
    """The rejection reason for an order of an expired contract, e.g. ``ContractExpired:
    SPXW261125C05900000 stopped trading at 2026-11-25 16:00 New York (PM-settled, expiry
    2026-11-25)``."""
    at = dt.datetime.fromtimestamp(ended_ms / 1000, tz=NEW_YORK)
    kind = "AM-settled" if symbol.root in AM_SETTLED_ROOTS else "PM-settled"
    return (f"ContractExpired: {symbol.occ()} stopped trading at {at:%Y-%m-%d %H:%M} New York "
            f"({kind}, expiry {symbol.expiry.isoformat()})")
