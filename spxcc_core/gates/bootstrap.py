"""Session bootstrap confidence intervals for the release-gate KPIs, and paired deltas.

A gate run reduces each (profile, session) to a handful of per-session sums
(:class:`SessionKpiInputs`); the bootstrap resamples **whole sessions** with replacement, so the
trades of one day stay together (their dependence on the day's market is kept). All resamples
are drawn at once as a ``(resamples × sessions)`` index matrix from a seeded
:class:`numpy.random.Generator` and every KPI is computed for every resample with array
operations — no Python loop per resample.

KPIs (:data:`KPIS`), each per resample over the drawn sessions:

- ``trades_per_session`` — triggered setups / number of sessions (throughput);
- ``t1_hit_rate`` — setups that reached T1 / triggered setups (0..1; undefined with no trade);
- ``expectancy_r`` — mean realized R per closed triggered setup (undefined with none closed);
- ``max_drawdown_r`` — the largest fall, in R (>= 0), of the cumulative R curve from its
  running peak, the drawn sessions' trades laid end to end in the drawn order (the curve
  starts at 0, which counts as a peak).

The drawdown of a sequence of sessions composes from four per-session figures (total R, the
lowest and highest running sum inside the session, and the session's own drawdown), so it too
is computed for all resamples at once.

Deltas are *paired*: the same index matrix is applied to the candidate's and the baseline's
sessions, so each resample compares the two profiles on the very same days.

Intervals are percentile intervals (``numpy.quantile``, linear interpolation) of the
resamples where the KPI is defined; an interval is ``None`` when the KPI is undefined in more
than :data:`MAX_UNDEFINED_SHARE` of the resamples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import attrs
import numpy as np
import numpy.typing as npt

__all__ = [
    "KPIS",
    "MAX_UNDEFINED_SHARE",
    "BootstrapResult",
    "Interval",
    "Kpi",
    "SessionKpiInputs",
    "bootstrap",
    "kpi_point",
    "resample_indices",
    "session_inputs",
]

Kpi = Literal["trades_per_session", "t1_hit_rate", "expectancy_r", "max_drawdown_r"]
#: The KPIs, in report order.
KPIS: tuple[Kpi, ...] = ("trades_per_session", "t1_hit_rate", "expectancy_r", "max_drawdown_r")
#: A KPI undefined (no trade) in more than this share of resamples gets no interval.
MAX_UNDEFINED_SHARE = 0.05

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@attrs.frozen
class Interval:
    """A point estimate (``value``, on the sessions as observed; None: undefined) and its
    bootstrap interval ``[low, high]`` (None: undefined in too many resamples)."""

    value: float | None
    low: float | None
    high: float | None


@attrs.frozen(eq=False)
class SessionKpiInputs:
    """Per-session sums of one profile over ``n`` sessions (arrays of length ``n``, in
    session order).

    ``triggered``: triggered setups; ``t1_hits``: those that reached T1; ``closed``: those
    closed with a realized R; ``sum_r``: the sum of those R; ``min_run_r`` / ``max_run_r``:
    the lowest / highest running sum of R inside the session (the start, 0, included, so
    ``min_run_r <= 0 <= max_run_r``); ``drawdown_r``: the session's own largest fall from a
    running peak (its start included), >= 0.
    """

    triggered: IntArray
    t1_hits: IntArray
    closed: IntArray
    sum_r: FloatArray
    min_run_r: FloatArray
    max_run_r: FloatArray
    drawdown_r: FloatArray

    @property
    def sessions(self) -> int:
        """Number of sessions."""
        return len(self.triggered)


def session_inputs(sessions: Sequence[Sequence[tuple[float | None, bool]]]) -> SessionKpiInputs:
    """Per-session sums from each session's triggered setups in time order, each given as
    ``(realized_r, reached_t1)`` (``realized_r`` None: not closed, counted as triggered only).
    """
    n = len(sessions)
    triggered = np.zeros(n, np.int64)
    t1 = np.zeros(n, np.int64)
    closed = np.zeros(n, np.int64)
    sum_r = np.zeros(n)
    lo = np.zeros(n)
    hi = np.zeros(n)
    dd = np.zeros(n)
    for i, trades in enumerate(sessions):
        triggered[i] = len(trades)
        t1[i] = sum(1 for _, hit in trades if hit)
        rs = np.array([r for r, _ in trades if r is not None], dtype=np.float64)
        closed[i] = len(rs)
        if len(rs):
            run = np.concatenate(([0.0], np.cumsum(rs)))
            sum_r[i] = run[-1]
            lo[i] = run.min()
            hi[i] = run.max()
            dd[i] = float(np.max(np.maximum.accumulate(run) - run))
    return SessionKpiInputs(triggered=triggered, t1_hits=t1, closed=closed, sum_r=sum_r,
                            min_run_r=lo, max_run_r=hi, drawdown_r=dd)


def resample_indices(sessions: int, resamples: int, seed: int) -> IntArray:
    """The ``(resamples, sessions)`` matrix of drawn session indices (with replacement) from
    ``numpy.random.default_rng(seed)``; the same arguments give the same matrix."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, sessions, size=(resamples, sessions), dtype=np.int64)


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    out = np.full(np.shape(num), np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _kpis(x: SessionKpiInputs, idx: IntArray) -> dict[Kpi, FloatArray]:
    """Every KPI for each row of ``idx`` (shape ``(rows, k)``): arrays of length ``rows``,
    NaN where undefined."""
    k = idx.shape[1]
    trig = x.triggered[idx].sum(axis=1).astype(np.float64)
    closed = x.closed[idx].sum(axis=1).astype(np.float64)
    total = x.sum_r[idx]  # (rows, k)
    start = np.cumsum(total, axis=1) - total  # equity at each drawn session's start
    # running peak before each session: max(0, max over earlier sessions of start + max_run)
    peak_end = np.maximum.accumulate(start + x.max_run_r[idx], axis=1)
    peak_before = np.maximum(np.concatenate(
        (np.zeros((idx.shape[0], 1)), peak_end[:, :-1]), axis=1), 0.0)
    fall = np.maximum(peak_before - (start + x.min_run_r[idx]), x.drawdown_r[idx])
    return {
        "trades_per_session": trig / k,
        "t1_hit_rate": _ratio(x.t1_hits[idx].sum(axis=1).astype(np.float64), trig),
        "expectancy_r": _ratio(total.sum(axis=1), closed),
        "max_drawdown_r": fall.max(axis=1),
    }


def kpi_point(x: SessionKpiInputs) -> dict[Kpi, float | None]:
    """Every KPI on the sessions as observed, in their order (None: undefined)."""
    if x.sessions == 0:
        return dict.fromkeys(KPIS)
    row = _kpis(x, np.arange(x.sessions, dtype=np.int64)[None, :])
    return {k: _finite(float(v[0])) for k, v in row.items()}


def _finite(v: float) -> float | None:
    return v if np.isfinite(v) else None


def _interval(point: float | None, draws: FloatArray, confidence: float) -> Interval:
    ok = draws[np.isfinite(draws)]
    if len(ok) == 0 or (len(draws) - len(ok)) > MAX_UNDEFINED_SHARE * len(draws):
        return Interval(point, None, None)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(ok, [tail, 1.0 - tail])
    return Interval(point, float(low), float(high))


@attrs.frozen
class BootstrapResult:
    """Intervals per KPI for the candidate, the baseline and the paired delta
    (candidate − baseline; a delta's point is None when either side is undefined)."""

    candidate: dict[Kpi, Interval]
    baseline: dict[Kpi, Interval]
    delta: dict[Kpi, Interval]


def bootstrap(candidate: SessionKpiInputs, baseline: SessionKpiInputs, *, resamples: int,
              seed: int, confidence: float = 0.95) -> BootstrapResult:
    """Percentile intervals of every KPI for both profiles and of the paired deltas.

    :param candidate: per-session sums of the candidate, same sessions and order as
        ``baseline``.
    :param resamples: number of bootstrap resamples (>= 1).
    :param seed: seed of the index matrix (:func:`resample_indices`).
    :param confidence: interval coverage, in (0, 1).
    :raises ValueError: mismatched sessions, no session, ``resamples`` < 1 or a
        ``confidence`` outside (0, 1).
    """
    n = candidate.sessions
    if n != baseline.sessions:
        raise ValueError(f"candidate has {n} sessions, baseline {baseline.sessions}")
    if n == 0:
        raise ValueError("no session to resample")
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    idx = resample_indices(n, resamples, seed)
    cand, base = _kpis(candidate, idx), _kpis(baseline, idx)
    cp, bp = kpi_point(candidate), kpi_point(baseline)
    out_c: dict[Kpi, Interval] = {}
    out_b: dict[Kpi, Interval] = {}
    out_d: dict[Kpi, Interval] = {}
    for k in KPIS:
        c, b = cp[k], bp[k]
        out_c[k] = _interval(c, cand[k], confidence)
        out_b[k] = _interval(b, base[k], confidence)
        out_d[k] = _interval(None if c is None or b is None else c - b, cand[k] - base[k],
                             confidence)
    return BootstrapResult(candidate=out_c, baseline=out_b, delta=out_d)
