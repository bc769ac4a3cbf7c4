"""Session-scoped market data shared by every context provider of one runner.

A :class:`DetectorRunner <spxcc_core.detect.runner.DetectorRunner>` owns one
:class:`SessionMarket` and hands it to each context provider as ``provider.market`` (set right
after the provider is built, before its first ``on_bar``). Providers see their own symbol's bars
only; the market is how they see the rest of the session:

- ``chain``: the session's option-chain snapshot (open interest at the previous close), set by the
  host (replay: from the session cache; live: from a snapshot file);
- option flow: for every chain contract, the signed volume since the RTH open, summed from the
  option microbars' ``deltaVolume`` (the spec's Lee–Ready classification — no second rule). The
  runner passes every bar to :meth:`SessionMarket.observe` before the providers run;
- index values (``I:SPX``): pushed by the host as they arrive (an index has no trades, so it makes
  no microbars).

Time semantics: :meth:`SessionMarket.flow_as_of` counts option bars that *ended* at or before the
instant asked for and have been observed by then (a bar is observed once final, which for a
quiet contract can be after later underlying bars: the flow is what was known, never look-ahead).
:meth:`SessionMarket.index_value` returns the latest value stamped strictly before the instant.

Host-side methods mutate; providers only read. Nothing here allocates per bar except for chain
contracts' bars.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from spxcc_core.chain import ChainSnapshot
    from spxcc_core.contracts.microbar import MicrobarV1
    from spxcc_core.session import SessionCalendar, TradingDay

__all__ = ["SessionMarket"]

F64 = npt.NDArray[np.float64]
_NS_PER_MS = 1_000_000


class SessionMarket:
    """Chain snapshot, option flow since the open, and index values of one session.

    :param calendar: the RTH calendar (default: XNYS) used to find the chain day's open.
    """

    def __init__(self, calendar: SessionCalendar | None = None) -> None:
        self._calendar = calendar
        self._chain: ChainSnapshot | None = None
        self._day: TradingDay | None = None
        self._rows: dict[str, int] = {}
        self._flow: F64 = np.zeros(0)
        self._pending: list[tuple[int, int, float]] = []  # (end ms, row, deltaVolume)
        self._flow_bars = 0
        self._index_parts: dict[str, list[tuple[npt.NDArray[np.int64], F64]]] = {}
        self._index: dict[str, tuple[npt.NDArray[np.int64], F64]] = {}

    # -- host side ---------------------------------------------------------------------------

    def set_chain(self, snapshot: ChainSnapshot, session_date: str | dt.date) -> None:
        """Host only: use ``snapshot`` for the New York date ``session_date``; option flow
        starts again from zero. Bars of other days are not counted as flow.

        :raises InputError: ``session_date`` is not a ``YYYY-MM-DD`` date.
        """
        from spxcc_core.session import get_calendar

        cal = self._calendar if self._calendar is not None else get_calendar()
        sid = session_date if isinstance(session_date, str) else session_date.isoformat()
        self._chain = snapshot
        self._day = cal.session(sid)
        self._rows = {s: i for i, s in enumerate(snapshot.chain.symbols)}
        self._flow = np.zeros(len(snapshot), dtype=np.float64)
        self._pending = []
        self._flow_bars = 0

    def observe(self, bar: MicrobarV1) -> None:
        """Host only: every bar, in processing order, before the providers see it. Bars of
        chain contracts starting at or after the chain day's RTH open (and before its end)
        count as option flow."""
        rows = self._rows
        if not rows:
            return
        row = rows.get(bar.symbol)
        if row is None:
            return
        day = self._day
        assert day is not None
        start = bar.start_ms
        if day.open_ms is None or not day.open_ms <= start < day.day_end_ms:
            return
        self._pending.append((start + bar.interval_ms, row, bar.delta_volume))

    def add_index_values(self, symbol: str, ts_ns: npt.NDArray[Any],
                         values: npt.NDArray[Any]) -> None:
        """Host only: index values of ``symbol`` (timestamps in epoch ns, values in index
        points), in arrival order; non-finite values are ignored."""
        ts = np.asarray(ts_ns, dtype=np.int64)
        v = np.asarray(values, dtype=np.float64)
        if len(ts) != len(v):
            raise ValueError(f"{len(ts)} timestamps for {len(v)} values")
        ok = np.isfinite(v)
        if not ok.all():
            ts, v = ts[ok], v[ok]
        if len(ts):
            self._index_parts.setdefault(symbol, []).append((ts.copy(), v.copy()))
            self._index.pop(symbol, None)

    # -- provider side -----------------------------------------------------------------------

    @property
    def chain(self) -> ChainSnapshot | None:
        """The session's chain snapshot, None when the host has none."""
        return self._chain

    @property
    def day(self) -> TradingDay | None:
        """The trading day the chain applies to (None without a chain)."""
        return self._day

    @property
    def flow_bars(self) -> int:
        """Option bars counted into the flow so far (by :meth:`flow_as_of` calls)."""
        return self._flow_bars

    def flow_as_of(self, at_ms: int) -> F64 | None:
        """Signed contracts per chain row (buyer- minus seller-initiated, Lee–Ready) from the
        chain day's RTH open to ``at_ms``: option bars observed so far that end at or before
        ``at_ms``. None when no option bar has been counted yet (or there is no chain).
        The returned array is a copy."""
        pending = self._pending
        if pending:
            keep: list[tuple[int, int, float]] = []
            flow = self._flow
            for item in pending:
                if item[0] <= at_ms:
                    flow[item[1]] += item[2]
                    self._flow_bars += 1
                else:
                    keep.append(item)
            self._pending = keep
        if self._flow_bars == 0:
            return None
        return self._flow.copy()

    def index_value(self, symbol: str, at_ms: int, max_age_ms: int) -> float | None:
        """The latest value of ``symbol`` stamped before ``at_ms`` (epoch ms) and at most
        ``max_age_ms`` older than it; None when there is none."""
        series = self._index.get(symbol)
        if series is None:
            parts = self._index_parts.get(symbol)
            if not parts:
                return None
            ts = np.concatenate([p[0] for p in parts])
            v = np.concatenate([p[1] for p in parts])
            order = np.argsort(ts, kind="stable")
            series = self._index[symbol] = (ts[order], v[order])
            # keep the merged series as the one part: the next rebuild sorts it with the new
            # parts only (same order: equal times keep their arrival order)
            self._index_parts[symbol] = [series]
        ts, v = series
        at_ns = at_ms * _NS_PER_MS
        i = int(np.searchsorted(ts, at_ns, side="left")) - 1
        if i < 0 or at_ns - int(ts[i]) > max_age_ms * _NS_PER_MS:
            return None
        return float(v[i])
