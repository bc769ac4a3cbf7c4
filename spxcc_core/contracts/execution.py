"""Execution contracts: the ``execution`` section of a replay report (``execution_report@1``).

Units: money (``realizedPnl``, slippage) in dollars (slippage per contract: × the multiplier
100); R multiples are realized P&L divided by the planned risk (``(entry fill − stop premium)
× 100 × contracts``). The per-fill lines of ``slippage.jsonl`` are ``slippage_record@1``
(:mod:`spxcc_core.contracts.slippage`).
"""

from __future__ import annotations

from typing import ClassVar

from spxcc_core.contracts.base import Contract

__all__ = ["ExecutionReport", "SlippageBucket"]


class SlippageBucket(Contract, frozen=True, kw_only=True):
    """Slippage of the measured fills of one time-of-day bucket: ``fills`` count,
    ``contracts`` summed, ``meanDollars`` the contract-weighted mean slippage in dollars per
    contract (positive: a cost), ``meanTicks`` likewise in ticks."""

    fills: int
    contracts: float
    mean_dollars: float
    mean_ticks: float


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
    planned risk); ``slippage`` by the ledger's time-of-day bucket (``open``, ``morning``,
    ``midday``, ``afternoon``, ``close``, ``off_hours``: ``slippage_record@1``);
    ``slippageUnavailable`` fills without a measurement, by reason (no arrival quote, ...).
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
    slippage_unavailable: dict[str, int]
