"""Slippage: the per-fill ledger against the arrival quote, rolling statistics per bucket, and
the inputs of the ``ev_floor`` gate (issue 11 items 5–7). See ``docs/execution.md``."""

from spxcc_core.slippage.ledger import (
    MULTIPLIER,
    is_buy,
    slippage_record,
    spread_regime,
    tick_size,
    time_bucket,
)

__all__ = ["MULTIPLIER", "is_buy", "slippage_record", "spread_regime", "tick_size", "time_bucket"]
