"""Execution contracts: the ``execution`` section of a replay report (``execution_report@1``)
and the per-fill slippage line (``fill_slippage@1``) of ``slippage.jsonl``.

Units: option prices in dollars per share; money (``realizedPnl``, ``slippageDollars``) in
dollars (per contract for slippage: × the multiplier 100); R multiples are realized P&L
divided by the planned risk (``(entry fill − stop premium) × 100 × contracts``); times epoch
milliseconds.
"""

from __future__ import annotations

from typing import ClassVar

from spxcc_core.contracts.base import Contract

__all__ = ["ExecutionReport", "FillSlippage", "SlippageBucket"]


class SlippageBucket(Contract, frozen=True, kw_only=True):
    """Slippage of the fills of one time-of-day bucket: ``fills`` count, ``contracts`` summed,
    ``meanDollars`` the contract-weighted mean slippage in dollars per contract (positive: a
    cost), ``meanTicks`` likewise in ticks; null when no fill had an arrival mid."""

    fills: int
    contracts: float
    mean_dollars: float | None
    mean_ticks: float | None


class ExecutionReport(Contract, frozen=True, kw_only=True):
    """What the execution policy did in one run (``execution_report@1``).

    ``broker`` the adapter name; ``policy`` the execution policy's values (the profile's
    ``[execution]`` table or the defaults); ``setups`` triggered setups seen; ``entries``
    entry intents; ``exits`` exit intents by reason (``t1``, ``t2``, ``stop``,
    ``t1_remainder``, ``expired``, ``flat``); ``skipped`` triggered setups that got no entry, by reason (``no_contract``,
    ``no_index_value``, ``size_zero``, ``rejected``, ``option_setup``, ``after_flat_time``);
    ``rejectedContracts`` contracts rejected during selection, by criterion (see
    ``spxcc_core.execute.select``); ``sizing`` zero-size reasons by text; ``fills`` and
    ``filledContracts`` the fills; ``brokerRejections`` intents the broker refused;
    ``openPositions`` positions in the end-of-session book; ``realizedPnl`` dollars over closed
    quantities; ``realizedR`` the sum of the R of the entries that were closed (each: P&L /
    planned risk); ``slippage`` by time-of-day bucket (``open`` the first 30 minutes,
    ``midday``, ``close`` the last 60 minutes).
    """

    contract_name: ClassVar[str] = "execution_report"
    contract_version: ClassVar[int] = 1

    broker: str
    policy: dict[str, str | int | float | bool | None]
    setups: int
    entries: int
    exits: dict[str, int]
    skipped: dict[str, int]
    rejected_contracts: dict[str, int]
    sizing: dict[str, int]
    fills: int
    filled_contracts: float
    broker_rejections: int
    open_positions: int
    realized_pnl: float
    realized_r: float
    slippage: dict[str, SlippageBucket]


class FillSlippage(Contract, frozen=True, kw_only=True):
    """Realized slippage of one fill against its intent's arrival quote (``fill_slippage@1``).

    Signed so that positive is a cost: a buy ``price − mid``, a sell ``mid − price`` (per
    share, ``slippage``); ``slippageDollars`` per contract (× 100); ``slippageTicks`` in ticks
    of the arrival mid (0.05 below 3.00, 0.10 from 3.00); ``slippageBps`` in basis points of
    the mid; ``spreadFraction`` the slippage over the quoted spread (null when the spread is
    zero). Every measure is null when the arrival quote was not two-sided (no mid).
    ``bucket`` the time-of-day bucket of the fill (``open``, ``midday``, ``close``).
    """

    contract_name: ClassVar[str] = "fill_slippage"
    contract_version: ClassVar[int] = 1

    fill_id: str
    intent_id: str
    entry_intent_id: str | None
    setup_id: str
    detector: str
    symbol: str
    side: str
    quantity: float
    price: float
    at_ms: int | None
    arrival_bid: float | None
    arrival_ask: float | None
    arrival_mid: float | None
    slippage: float | None
    slippage_dollars: float | None
    slippage_ticks: float | None
    slippage_bps: float | None
    spread_fraction: float | None
    bucket: str
