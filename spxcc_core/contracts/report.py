"""Wire contracts of an aggregation run: the run report and quarantine records.

Definitions: ``spec/microbar.md`` (Run report and quarantine file). The report satisfies
``eventsIn = applied + Σ quarantined + duplicates``; ``late`` repeats ``quarantined["late"]``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import msgspec

from spxcc_core.contracts.base import Contract

__all__ = ["PluginErrorRecord", "QuarantineRecord", "ReportConfig", "RunReport"]


class ReportConfig(Contract, frozen=True, kw_only=True):
    """The configuration a run used (milliseconds; ``ticker`` None when not filtered)."""

    interval_ms: int
    stale_ms: int
    lateness_ms: int
    ticker: str | None


class PluginErrorRecord(Contract, frozen=True, kw_only=True):
    """One exception a plugin raised during a hook call (the run went on)."""

    plugin: str
    hook: str
    error: str


class RunReport(Contract, frozen=True, kw_only=True):
    """Counts of one aggregation run.

    ``eventsIn`` = ``trades`` + ``quotes`` (events of the run, quarantined ones included);
    ``quarantined`` maps each reason with a non-zero count to its count (duplicates are counted
    under ``duplicates`` only); ``unknownConditions`` maps a condition id (decimal string) to the
    number of applied trades carrying it; ``pluginErrors`` lists plugin failures (empty normally).
    """

    contract_name: ClassVar[str] = "run_report"
    contract_version: ClassVar[int] = 1

    events_in: int
    trades: int
    quotes: int
    bars_out: int
    applied: int
    quarantined: dict[str, int]
    duplicates: int
    late: int
    unknown_conditions: dict[str, int]
    config: ReportConfig
    plugin_errors: list[PluginErrorRecord] = msgspec.field(default_factory=list)


class QuarantineRecord(Contract, frozen=True, kw_only=True):
    """One event that was not applied, and why.

    ``reason``: ``bad_timestamp`` (``ts < 0``), ``late``, ``duplicate``, ``non_finite``,
    ``bad_price``, ``bad_size``, ``correction`` (trades) or ``non_finite``, ``empty_side``,
    ``crossed_quote`` (quotes);
    ``ts`` ns since the UTC epoch; ``seq`` None when the source gave none; ``line`` the 1-based
    data row in its file or the message index of a live feed.
    """

    contract_name: ClassVar[str] = "quarantine_record"
    contract_version: ClassVar[int] = 1

    kind: Literal["trade", "quote"]
    reason: str
    symbol: str
    ts: int
    seq: int | None
    line: int

