"""A session cache as timed steps (:class:`~spxcc_core.run.steps.RecordedSession`), for a replay
that is paced and pushed by someone else — ``spxcc serve --replay FOLDER``.

The cut is the replay engine's (:mod:`spxcc_core.replay.engine`): each dataset's batches in
arrival order, cut where their running-maximum timestamp reaches the next multiple of
``step_ms`` after the earliest pending event, so a step never holds an event of a later
instant. The pipeline's outputs do not depend on where the input is cut: a session replayed in
1-second steps gives ``spxcc replay``'s bytes.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from spxcc_core.contracts.replay import ReplaySource
from spxcc_core.errors import ConfigError, InputError
from spxcc_core.replay.cache import SessionCache
from spxcc_core.replay.engine import _Cursor, time_ordered_option_quotes
from spxcc_core.run.steps import RecordedSession, ReplayStep

__all__ = ["cache_session"]

_NS_PER_MS = 1_000_000
_CLUSTERS = ("stocks", "options")


def cache_session(cache: SessionCache, *, kind: str = "cache", step_ms: int = 1000,
                  with_index: bool | None = None,
                  with_option_quotes: bool = False) -> RecordedSession:
    """The cache as a :class:`RecordedSession` of ``step_ms`` steps of event time.

    :param kind: ``cache``, or ``flatfiles`` for a cache ingested from flat files (the
        report's source kind).
    :param with_index: push the index values too (the gamma context reads them with a chain
        snapshot, the executor for its index value); None: when the cache holds a chain
        snapshot or ``with_option_quotes``.
    :param with_option_quotes: each step also carries its option quotes in time order
        (:attr:`ReplayStep.option_quotes`), for a replay that executes (a cache lists option
        quotes contract by contract).
    :raises ConfigError: ``step_ms`` is not a positive integer.
    :raises InputError: the session holds no trades or quotes.
    """
    if isinstance(step_ms, bool) or not isinstance(step_ms, int) or step_ms < 1:
        raise ConfigError(f"step_ms must be a positive integer of milliseconds, got {step_ms!r}")
    kinds = set(cache.kinds)
    feeds = tuple(f for f in ("trades", "quotes") if {f"{c}_{f}" for c in _CLUSTERS} & kinds)
    if not feeds:
        raise InputError(str(cache.root), "the session holds no trades or quotes")
    chain = cache.chain_snapshot()
    if with_index is None:
        with_index = chain is not None or with_option_quotes
    index = with_index and cache.rows("index_values") > 0
    source = ReplaySource(kind=kind, session_date=cache.manifest.session_date,  # type: ignore[arg-type]
                          datasets=list(cache.manifest.datasets))
    return RecordedSession(
        steps=_steps(cache, step_ms * _NS_PER_MS, index, with_option_quotes), feeds=feeds,
        symbols=cache.symbol_table(), conditions=cache.condition_table(),
        session_date=cache.manifest.session_date, chain=chain, source=source,
        index_values=cache.rows("index_values"))


def _steps(cache: SessionCache, step_ns: int, with_index: bool,
           with_option_quotes: bool = False) -> Iterator[ReplayStep]:
    cursors = [(_Cursor(cache.batches(f"{c}_trades")), _Cursor(cache.batches(f"{c}_quotes")))
               for c in _CLUSTERS]
    index = _Cursor(cache.batches("index_values")) if with_index else None
    options = time_ordered_option_quotes(cache) if with_option_quotes else None
    fed = 0
    until = 0
    while True:
        pending = [ts for pair in cursors for c in pair if (ts := c.next_ts()) is not None]
        if not pending:
            break
        until = (min(pending) // step_ns + 1) * step_ns
        pairs = []
        for trades, quotes in cursors:
            tp, qp = trades.take_until(until), quotes.take_until(until)
            pairs += [(tp[i] if i < len(tp) else None, qp[i] if i < len(qp) else None)
                      for i in range(max(len(tp), len(qp)))]
        step_options = None
        if options is not None:
            cut = int(np.searchsorted(options.ts, until, side="left"))
            if cut > fed:
                step_options = options.take(np.arange(fed, cut))
                fed = cut
        yield ReplayStep(until_ns=until, pairs=pairs,
                         index=index.take_until(until) if index is not None else (),
                         option_quotes=step_options)
    rest = None
    if options is not None and fed < len(options):
        rest = options.take(np.arange(fed, len(options)))
    if index is not None or rest is not None:  # the rest, before the final bars are released
        yield ReplayStep(until_ns=until, option_quotes=rest,
                         index=index.take_until(2**63 - 1) if index is not None else ())
