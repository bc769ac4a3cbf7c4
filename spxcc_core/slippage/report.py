"""The slippage report: rolling statistics per bucket and source, broker against paper (fill
realism), fills without a measurement, and a histogram of realized against the paper fill
model's predicted slippage (``spxcc slippage report``)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Final

from spxcc_core.contracts.slippage import (
    FillRealism,
    HistogramSeries,
    SlippageBucketStats,
    SlippageHistogram,
    SlippageRecord,
    SlippageReport,
    SlippageUnavailable,
    UnavailableCount,
)
from spxcc_core.slippage.model import FillKind, predicted_slippage_dollars
from spxcc_core.slippage.rolling import BucketKey, RollingConfig, RollingSlippage, RollingStat

__all__ = ["MAX_BINS", "build_report", "histogram_edges"]

#: Most bins a histogram gets: the bin width doubles until the data fit.
MAX_BINS: Final = 60


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 9) + 0.0


def _bucket_row(key: BucketKey, stat: RollingStat) -> SlippageBucketStats:
    return SlippageBucketStats(
        source=key.source, level=key.level, detector=key.detector, time_bucket=key.time_bucket,
        spread_regime=key.spread_regime, label=key.label, count=stat.count,
        window_count=stat.window_count, ewma_dollars=_r(stat.ewma),
        p50_dollars=_r(stat.quantile(0.5)), p90_dollars=_r(stat.quantile(0.9)))


#: The narrowest histogram bin, dollars per contract (edges are rounded to 9 decimals, so a
#: much narrower width would collapse them).
MIN_BIN_DOLLARS = 0.0001


def histogram_edges(values: Sequence[float], bin_dollars: float) -> tuple[float, ...]:
    """Bin edges on multiples of the bin width covering ``values`` (``()`` when empty): the
    width starts at ``bin_dollars`` (at least :data:`MIN_BIN_DOLLARS`) and doubles until at
    most :data:`MAX_BINS` bins."""
    if not values:
        return ()
    if not bin_dollars >= MIN_BIN_DOLLARS:
        raise ValueError(f"bin width {bin_dollars!r} is below {MIN_BIN_DOLLARS}")
    width = bin_dollars
    while True:
        lo = math.floor(min(values) / width)
        hi = math.floor(max(values) / width) + 1
        if hi - lo <= MAX_BINS:
            return tuple(round(k * width, 9) + 0.0 for k in range(lo, hi + 1))
        width *= 2.0


def _counts(values: Iterable[float], edges: tuple[float, ...]) -> tuple[int, ...]:
    width = edges[1] - edges[0]
    counts = [0] * (len(edges) - 1)
    for v in values:
        i = min(max(math.floor(round((v - edges[0]) / width, 9)), 0), len(counts) - 1)
        counts[i] += 1
    return tuple(counts)


def build_report(records: Sequence[SlippageRecord], unavailable: Sequence[SlippageUnavailable],
                 *, config: RollingConfig | None = None, model_kind: FillKind = "touch",
                 model_ticks: int = 0, model_tick: float = 0.05,
                 bin_dollars: float = 2.5) -> SlippageReport:
    """The report of ``records`` (oldest first) and ``unavailable``.

    :param config: rolling parameters (default :class:`RollingConfig`).
    :param model_kind: the paper fill model's kind for the predicted series (``mid``,
        ``touch`` — the paper broker's default —, ``touch_ticks``), with ``model_ticks`` ticks
        of ``model_tick`` dollars.
    :param bin_dollars: starting histogram bin width, dollars per contract (> 0).
    """
    rolling = RollingSlippage.of(records, config)
    buckets = tuple(_bucket_row(k, s) for k, s in rolling.buckets())
    realism: list[FillRealism] = []
    for key, broker in rolling.buckets():
        if key.source != "broker":
            continue
        paper = rolling.stat(BucketKey("paper", key.level, key.detector, key.time_bucket,
                                       key.spread_regime))
        if paper is None or paper.ewma is None or broker.ewma is None:
            continue
        realism.append(FillRealism(
            level=key.level, label=key.label, paper_count=paper.count,
            broker_count=broker.count, paper_ewma_dollars=round(paper.ewma, 9) + 0.0,
            broker_ewma_dollars=round(broker.ewma, 9) + 0.0,
            difference_dollars=round(broker.ewma - paper.ewma, 9) + 0.0))
    reasons: dict[tuple[str, str], int] = {}
    for u in unavailable:
        reasons[(u.source, u.reason)] = reasons.get((u.source, u.reason), 0) + 1
    predicted = [predicted_slippage_dollars(r, model_kind, ticks=model_ticks, tick=model_tick)
                 for r in records]
    known = [p for p in predicted if p is not None]
    realized = {src: [r.slippage_dollars for r in records if r.source == src]
                for src in ("broker", "paper")}
    edges = histogram_edges([r.slippage_dollars for r in records] + known, bin_dollars)
    series: list[HistogramSeries] = []
    if edges:
        series = [HistogramSeries(name=f"realized: {src}", counts=_counts(vals, edges))
                  for src, vals in realized.items() if vals]
        series.append(HistogramSeries(name=f"predicted: paper model ({model_kind})",
                                      counts=_counts(known, edges)))
    histogram = SlippageHistogram(
        bin_width_dollars=round(edges[1] - edges[0], 9) if edges else bin_dollars,
        edges=edges, series=tuple(series), model_kind=model_kind, model_ticks=model_ticks,
        model_tick=model_tick, unpredicted=len(predicted) - len(known))
    return SlippageReport(
        fills_paper=len(realized["paper"]), fills_broker=len(realized["broker"]),
        unavailable=tuple(UnavailableCount(source=s, reason=r, count=n)  # type: ignore[arg-type]
                          for (s, r), n in sorted(reasons.items())),
        window=rolling.config.window, halflife_fills=rolling.config.halflife_fills,
        buckets=buckets, fill_realism=tuple(realism), histogram=histogram)
