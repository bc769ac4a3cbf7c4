"""Wire contract of the bars cache (``bar_tape@1``): one session's aggregation, recorded once.

A replay is aggregation (trades and quotes → microbars) followed by detection (detectors,
gating, outcomes). Aggregation does not depend on the profile, so a profile change only needs
detection again. A *bar tape* is everything aggregation handed to detection, in the order it
did: per pipeline step, the index values given to the session market and then the microbars
that became final — plus what a replay report says about aggregation (the run report, the
quarantine, the source). Replaying the tape through the same pipeline gives the same outputs,
byte for byte, as replaying the session (``docs/replay.md``, bars cache).

Stored as msgpack (floats as their exact 64-bit values); ``key`` names the session's content,
the aggregator settings, the replay-clock step and the code that made it (the spxcc version,
the tape libraries' versions and a fingerprint of the aggregation and parsing source,
:func:`spxcc_core.replay.bars.tape_code`).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from spxcc_core.contracts.base import Contract
from spxcc_core.contracts.microbar import MicrobarV2
from spxcc_core.contracts.replay import ReplaySource, WebsocketCounts
from spxcc_core.contracts.report import QuarantineRecord, RunReport

__all__ = ["BarTapeV1", "TapeIndexValues", "TapeStep"]


class TapeIndexValues(Contract, frozen=True, kw_only=True):
    """Index values of one symbol given to the session market in one call: ``ts`` (epoch ns)
    and ``value`` (index points), equal lengths, arrival order."""

    symbol: str
    ts: list[int]
    value: list[float]


class TapeStep(Contract, frozen=True, kw_only=True):
    """One pipeline step: ``index`` values first (in call order; empty: none), then ``bars``,
    the microbars that became final in the step (production order; empty: none)."""

    index: list[TapeIndexValues]
    bars: list[MicrobarV2]


class BarTapeV1(Contract, frozen=True, kw_only=True):
    """One session's recorded aggregation (``bar_tape@1``).

    ``key`` is the cache key (64 hex digits) it was stored under; ``kind`` the session's
    kind as replayed (``cache``, ``flatfiles``, ``websocket``); ``source`` the replay
    report's source; ``feeds`` the aggregator's configured feeds; ``aggregation`` its run
    report; ``quarantine`` every event not applied (output order); ``index_values`` the index
    value count the report states; ``websocket`` a recording's event counts (None otherwise);
    ``steps`` the steps in order, the last one holding the bars released at the end of input.
    """

    contract_name: ClassVar[str] = "bar_tape"
    contract_version: ClassVar[int] = 1

    key: str
    kind: Literal["cache", "flatfiles", "websocket"]
    session_date: str
    source: ReplaySource
    feeds: list[str]
    aggregation: RunReport
    quarantine: list[QuarantineRecord]
    index_values: int
    websocket: WebsocketCounts | None
    steps: list[TapeStep]
