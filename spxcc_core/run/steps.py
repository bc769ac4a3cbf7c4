"""A recorded session as timed steps: what a paced replay needs from its source.

The replay layer cuts a stored session (a session cache, flat files ingested into one) into
:class:`ReplayStep` s on an event-time clock (:func:`spxcc_core.replay.steps.cache_session`);
the host pushes them through a pipeline, waiting between steps when it paces the session
(:meth:`spxcc_core.host.app.Host.replay`). The type lives in the run layer because both of them
use it and neither may import the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import attrs

from spxcc_core.contracts.replay import ReplaySource

if TYPE_CHECKING:
    from spxcc_core.aggregate.columns import (
        ConditionTable,
        QuoteColumns,
        SymbolTable,
        TradeColumns,
    )
    from spxcc_core.chain import ChainSnapshot
    from spxcc_core.massive.columns import IndexColumns

__all__ = ["RecordedSession", "ReplayStep"]


@attrs.frozen(eq=False)
class ReplayStep:
    """Everything of a session before the event-time instant ``until_ns`` (epoch ns) that an
    earlier step did not hold: ``index`` value batches (pushed first) and ``pairs`` of trade and
    quote batches (each None: none), in arrival order; ``option_quotes``: for an executing
    replay, the step's option quotes again in time order (the executor's feed; None: none).
    """

    until_ns: int
    index: Sequence[IndexColumns] = ()
    pairs: Sequence[tuple[TradeColumns | None, QuoteColumns | None]] = ()
    option_quotes: QuoteColumns | None = None


@attrs.frozen(eq=False)
class RecordedSession:
    """A stored session, ready to replay: its ``steps`` (read lazily, once), the aggregator
    ``feeds`` it has, the symbol and condition tables its batches refer to, its New York
    ``session_date``, its own option-chain snapshot (None: none), the ``source`` written into
    the report and its ``index_values`` count."""

    steps: Iterable[ReplayStep]
    feeds: tuple[str, ...]
    symbols: SymbolTable
    conditions: ConditionTable
    session_date: str
    chain: ChainSnapshot | None
    source: ReplaySource
    index_values: int
