"""The execution policy: how a triggered setup becomes an SPXW 0DTE option order and how the
position is closed again (``[execution]`` table of a profile; ``docs/execution.md``).

Units: premiums and price limits are option prices in dollars per share (a premium of 3.20
costs $320 per contract); ``risk_budget`` is dollars per setup; times are seconds or
milliseconds as named; deltas are absolute values in (0, 1).

This module imports nothing of spxcc, so a profile (``spxcc_core.detect.profile``) can hold a
policy without depending on the executor.
"""

from __future__ import annotations

import math
from typing import Any

import attrs

__all__ = ["ExecutionPolicy"]


#: Seconds of a regular session (09:30–16:00): the most a forced flat can come before the close.
SESSION_SECONDS = 23_400


def _open_unit(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 < value < 1.0:
        raise ValueError(f"{attribute.name!r} must be in (0, 1), got {value!r}")


def _positive(_inst: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{attribute.name!r} must be a finite number > 0, got {value!r}")


def _non_negative(_inst: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"{attribute.name!r} must be a finite number >= 0, got {value!r}")


def _premium_bounds(inst: ExecutionPolicy, attribute: attrs.Attribute[float],
                    value: float) -> None:
    _positive(inst, attribute, value)
    if value < inst.min_premium:
        raise ValueError(f"'max_premium' ({value!r}) must be >= 'min_premium' "
                         f"({inst.min_premium!r})")


@attrs.frozen(kw_only=True)
class ExecutionPolicy:
    """Contract selection, sizing, limit prices and exits for SPXW 0DTE options.

    :ivar target_delta: wanted |delta| of the contract, in (0, 1); default 0.30. Long setups
        buy calls, short setups buy puts; the qualifying contract whose |delta| is nearest wins
        (ties: the lower premium, then the symbol).
    :ivar max_quote_age_ms: a contract's last quote must be at most this old at the intent's
        creation, ms (>= 0); default 5000.
    :ivar max_spread: widest qualifying spread (ask − bid), dollars (> 0); default 0.50.
    :ivar min_premium: lowest qualifying mid, dollars (> 0); default 0.50.
    :ivar max_premium: highest qualifying mid, dollars (>= ``min_premium``); default 15.00.
    :ivar limit_ticks: the entry limit is the mid plus this many ticks, capped at the ask
        (>= 0); default 1. Exits are market orders (they sell at the bid in force, and wait
        while there is none).
    :ivar risk_budget: dollars at risk per setup for the sizing rule (> 0); default 500.
    :ivar max_contracts: cap on an entry's contracts (>= 1); default 10.
    :ivar bp_buffer: buying-power safety buffer of the sizing rule, in [0, 1]; default 0.05.
    :ivar flat_before_close_s: every position is closed this many seconds before the session
        close (>= 0); default 300 (15:55 New York on a regular day).
    :ivar index_symbol: the index whose value prices the options (``I:SPX``).
    :ivar index_max_age_ms: the index value used must be at most this old, ms (> 0); default
        5000.
    :ivar root: option root traded (``SPXW``), expiring the session's date (0DTE).
    :ivar account_id: broker account of the intents (None: the adapter's default).
    """

    target_delta: float = attrs.field(default=0.30, validator=_open_unit)
    max_quote_age_ms: int = attrs.field(default=5_000, validator=_non_negative)
    max_spread: float = attrs.field(default=0.50, validator=_positive)
    min_premium: float = attrs.field(default=0.50, validator=_positive)
    max_premium: float = attrs.field(default=15.0, validator=_premium_bounds)
    limit_ticks: int = attrs.field(default=1, validator=_non_negative)
    risk_budget: float = attrs.field(default=500.0, validator=_positive)
    max_contracts: int = attrs.field(default=10, validator=attrs.validators.ge(1))
    bp_buffer: float = attrs.field(default=0.05, validator=attrs.validators.and_(
        attrs.validators.ge(0.0), attrs.validators.le(1.0)))
    flat_before_close_s: int = attrs.field(default=300, validator=[
        _non_negative, attrs.validators.le(SESSION_SECONDS)])
    index_symbol: str = "I:SPX"
    index_max_age_ms: int = attrs.field(default=5_000, validator=_positive)
    root: str = "SPXW"
    account_id: str | None = None
