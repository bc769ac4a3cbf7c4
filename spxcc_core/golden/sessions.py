"""The golden sessions as data a third party can use: generated on the fly, nothing read from
``tests/``. Each session's bars are the microbars of its generated events (default aggregation
settings), identical to those the golden replay writes to ``expected/microbars.jsonl``."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import attrs

from spxcc_core.contracts.microbar import MicrobarV2
from spxcc_core.golden.cases import case_names, get_case
from spxcc_core.golden.generate import GeneratedEvents, generate_events

__all__ = ["GoldenSession", "case_events", "golden_sessions"]


@attrs.frozen(eq=False)
class GoldenSession:
    """One golden case as bars: ``name``, New York ``session_date`` (``YYYY-MM-DD``), and its
    ``microbar@2`` bars in time order (one symbol)."""

    name: str
    session_date: str
    bars: tuple[MicrobarV2, ...]


@cache
def case_events(name: str) -> GeneratedEvents:
    """The generated trades and quotes of case ``name`` (cached; do not mutate the lists).

    :raises ConfigError: no such case.
    """
    return generate_events(get_case(name).regime)


@cache
def _session(name: str) -> GoldenSession:
    from spxcc_core.aggregate.events import aggregate_events

    events = case_events(name)
    result = aggregate_events(events.trades, events.quotes)
    return GoldenSession(name=name, session_date=get_case(name).regime.date.isoformat(),
                         bars=tuple(result.bars))


def golden_sessions(names: Sequence[str] | None = None) -> list[GoldenSession]:
    """The golden sessions called ``names`` (None: every case), in the order given.

    :raises ConfigError: an unknown case name.
    """
    return [_session(n) for n in (case_names() if names is None else names)]
