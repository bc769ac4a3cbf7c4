"""A session-level summary of microbars (what ``spxcc demo`` prints)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec

from spxcc_core.contracts.microbar import MicrobarV2

__all__ = ["BarSummary", "summarize_bars"]

#: ``askBidSizeRatio`` thresholds (``spec/microbar.md``): heavy offer above, heavy bid below.
HEAVY_OFFER = 3.0
HEAVY_BID = 0.33


class BarSummary(msgspec.Struct, kw_only=True, frozen=True, rename="camel"):
    """Session totals over a list of microbars.

    ``vwap`` is ``Σ vwap·volume / Σ volume`` (the session VWAP of the eligible trades; None with
    no volume). ``mean_quote_coverage_pct`` averages ``quoteCoveragePct`` over all bars;
    ``mean_spread_bps`` averages ``avgSpreadBps`` over bars where it is not null (None if none).
    ``heavy_offer_share`` / ``heavy_bid_share`` are the fractions (0–1) of bars with a close
    quote whose ``askBidSizeRatio`` is > 3.0 / < 0.33, out of ``bars_with_close_quote`` (bars
    whose ratio is not null: a fresh close quote with a bid).
    ``quarantined`` maps reason → count, duplicates included under ``duplicate``.
    """

    bars: int
    volume: float
    vwap: float | None
    delta_volume: float
    mean_quote_coverage_pct: float
    mean_spread_bps: float | None
    bars_with_close_quote: int
    heavy_offer_share: float
    heavy_bid_share: float
    events_in: int
    applied: int
    quarantined: dict[str, int]


def summarize_bars(bars: Sequence[MicrobarV2], *, events_in: int, applied: int,
                   quarantined: Mapping[str, int], duplicates: int) -> BarSummary:
    """Summarise ``bars`` (any symbols) and the run's counts; see :class:`BarSummary`."""
    volume = sum(b.volume for b in bars)
    pv = sum(b.vwap * b.volume for b in bars if b.vwap is not None)
    spreads = [b.avg_spread_bps for b in bars if b.avg_spread_bps is not None]
    ratios = [b.ask_bid_size_ratio for b in bars if b.ask_bid_size_ratio is not None]
    coverage = [b.quote_coverage_pct or 0.0 for b in bars]
    counts = dict(sorted(quarantined.items()))
    if duplicates:
        counts["duplicate"] = duplicates
    return BarSummary(
        bars=len(bars), volume=volume, vwap=pv / volume if volume > 0 else None,
        delta_volume=sum(b.delta_volume for b in bars),
        mean_quote_coverage_pct=sum(coverage) / len(coverage) if coverage else 0.0,
        mean_spread_bps=sum(spreads) / len(spreads) if spreads else None,
        bars_with_close_quote=len(ratios),
        heavy_offer_share=sum(r > HEAVY_OFFER for r in ratios) / len(ratios) if ratios else 0.0,
        heavy_bid_share=sum(r < HEAVY_BID for r in ratios) / len(ratios) if ratios else 0.0,
        events_in=events_in, applied=applied, quarantined=counts)
