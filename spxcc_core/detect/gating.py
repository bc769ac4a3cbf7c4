"""Quote-aware gating shared by every detector (phase 14 S2, G1).

Each candidate is checked against the microbar that produced it, in this fixed order:

1. ``candidate_invalid`` — non-finite prices, a stop on the wrong side of the entry, or targets
   not beyond the entry in the trade's direction (input names the offending field).
2. ``ask_bid_size_ratio`` (raw close-quote ratio ``askSizeAtClose / bidSizeAtClose``): a long is
   blocked when it is above ``long_max_ask_bid_size_ratio`` (heavy offer, default 3.0), a short
   when below ``short_min_ask_bid_size_ratio`` (heavy bid, default 0.33).
3. ``bid_ask_imbalance`` (normalized, time-weighted, in [-1, 1]): a long is blocked below
   ``long_min_bid_ask_imbalance`` (default −0.5, the imbalance of a 3:1 offer), a short above
   ``short_max_bid_ask_imbalance`` (default +0.5).
4. ``spread``: blocked when ``avgSpreadBps`` exceeds ``max_avg_spread_bps`` (default 5).
5. ``quote_coverage``: blocked when ``quoteCoveragePct`` is below ``min_quote_coverage_pct``
   (default 80).

A null input (no fresh quote) yields a check with gate ``microstructure_unavailable`` naming the
input; it blocks unless ``missing = "pass"``. Every check is recorded, passed or not, so nothing
is blocked without a reason (``GateDecision.checks``).

One-sided quotes (``spec/microbar.md`` revision 2026-12-06) are a market state, not missing data,
so two nulls are read as what they mean rather than as "unavailable":

- ``askBidSizeRatio`` null with a fresh close quote whose ``bidSizeAtClose`` is 0 — nobody bids:
  the ratio is infinite (the heaviest offer there is). The ``ask_bid_size_ratio`` check records
  ``observed = None`` and blocks a long, passes a short.
- ``avgSpreadBps`` null while ``bidAskImbalance`` is not — a fresh quote all bucket but never
  two-sided: there is no spread to trade at. The ``spread`` check records ``observed = None``
  and blocks either direction.

``missing = "pass"`` does not apply to these: nothing is missing.
"""

from __future__ import annotations

import math
from typing import Literal

import attrs

from spxcc_core.contracts.microbar import MicrobarV1
from spxcc_core.contracts.setup import GateCheck, GateDecision, SetupCandidate

__all__ = ["GATE_NAMES", "GatingProfile", "decide", "evaluate_gates", "validate_candidate"]

GATE_NAMES: tuple[str, ...] = (
    "candidate_invalid", "duplicate_setup", "microstructure_unavailable",
    "ask_bid_size_ratio", "bid_ask_imbalance", "spread", "quote_coverage", "ev_floor",
)



def _is_finite(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{attribute.name!r} must be finite, got {value}")


def _positive(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0.0:
        raise ValueError(f"{attribute.name!r} must be > 0, got {value}")


def _imbalance(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not -1.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name!r} must be in [-1, 1], got {value}")


def _pct(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 100.0:
        raise ValueError(f"{attribute.name!r} must be in [0, 100], got {value}")


@attrs.frozen(kw_only=True)
class GatingProfile:
    """Thresholds of the quote-aware gates (see the module docstring for each rule).

    :ivar long_max_ask_bid_size_ratio: > 0; default 3.0.
    :ivar short_min_ask_bid_size_ratio: > 0; default 0.33.
    :ivar long_min_bid_ask_imbalance: in [-1, 1]; default -0.5.
    :ivar short_max_bid_ask_imbalance: in [-1, 1]; default 0.5.
    :ivar max_avg_spread_bps: basis points, > 0; default 5.0.
    :ivar min_quote_coverage_pct: percent in [0, 100]; default 80.0.
    :ivar missing: ``block`` (default) or ``pass`` for a null input.
    """

    long_max_ask_bid_size_ratio: float = attrs.field(default=3.0,
                                                     validator=[_is_finite, _positive])
    short_min_ask_bid_size_ratio: float = attrs.field(default=0.33,
                                                      validator=[_is_finite, _positive])
    long_min_bid_ask_imbalance: float = attrs.field(default=-0.5, validator=_imbalance)
    short_max_bid_ask_imbalance: float = attrs.field(default=0.5, validator=_imbalance)
    max_avg_spread_bps: float = attrs.field(default=5.0, validator=[_is_finite, _positive])
    min_quote_coverage_pct: float = attrs.field(default=80.0, validator=_pct)
    missing: Literal["block", "pass"] = attrs.field(
        default="block", validator=attrs.validators.in_(("block", "pass")))


def validate_candidate(c: SetupCandidate) -> GateCheck | None:
    """A failed ``candidate_invalid`` check naming the first bad field, or None if valid."""
    for field in ("entry", "stop", "t1", "t2"):
        value = getattr(c, field)
        if not math.isfinite(value):
            return GateCheck(gate="candidate_invalid", input=field, comparison="", threshold=None,
                             observed=None, passed=False)
    sign = 1.0 if c.direction == "long" else -1.0
    if not sign * (c.entry - c.stop) > 0.0:
        return GateCheck(gate="candidate_invalid", input="stop", comparison="", threshold=c.entry,
                         observed=c.stop, passed=False)
    if not sign * (c.t1 - c.entry) > 0.0:
        return GateCheck(gate="candidate_invalid", input="t1", comparison="", threshold=c.entry,
                         observed=c.t1, passed=False)
    if sign * (c.t2 - c.t1) < 0.0:
        return GateCheck(gate="candidate_invalid", input="t2", comparison="", threshold=c.t1,
                         observed=c.t2, passed=False)
    return None


def _check(gate: str, wire: str, comparison: str, threshold: float, observed: float | None,
           missing_passes: bool) -> GateCheck:
    if observed is None:
        return GateCheck(gate="microstructure_unavailable", input=wire, comparison=comparison,
                         threshold=threshold, observed=None, passed=missing_passes)
    ok = observed <= threshold if comparison == "<=" else observed >= threshold
    return GateCheck(gate=gate, input=wire, comparison=comparison, threshold=threshold,
                     observed=observed, passed=ok)


def evaluate_gates(c: SetupCandidate, bar: MicrobarV1,
                   profile: GatingProfile) -> tuple[GateCheck, ...]:
    """Every check of the candidate against ``bar`` (a v1 bar has no v2 fields: those are
    null), in the documented order; an invalid candidate yields only its invalid check."""
    invalid = validate_candidate(c)
    if invalid is not None:
        return (invalid,)
    missing_passes = profile.missing == "pass"
    ratio: float | None = getattr(bar, "ask_bid_size_ratio", None)
    spread: float | None = getattr(bar, "avg_spread_bps", None)
    coverage: float | None = getattr(bar, "quote_coverage_pct", None)
    no_bid_at_close = ratio is None and getattr(bar, "bid_size_at_close", None) == 0.0
    if c.direction == "long":
        ratio_check = _check("ask_bid_size_ratio", "askBidSizeRatio", "<=",
                             profile.long_max_ask_bid_size_ratio, ratio, missing_passes)
        imb_check = _check("bid_ask_imbalance", "bidAskImbalance", ">=",
                           profile.long_min_bid_ask_imbalance, bar.bid_ask_imbalance,
                           missing_passes)
    else:
        ratio_check = _check("ask_bid_size_ratio", "askBidSizeRatio", ">=",
                             profile.short_min_ask_bid_size_ratio, ratio, missing_passes)
        imb_check = _check("bid_ask_imbalance", "bidAskImbalance", "<=",
                           profile.short_max_bid_ask_imbalance, bar.bid_ask_imbalance,
                           missing_passes)
    if no_bid_at_close:  # infinite ratio: the heaviest offer blocks a long, passes a short
        ratio_check = GateCheck(
            gate="ask_bid_size_ratio", input="askBidSizeRatio",
            comparison=ratio_check.comparison, threshold=ratio_check.threshold, observed=None,
            passed=c.direction == "short")
    spread_check = _check("spread", "avgSpreadBps", "<=", profile.max_avg_spread_bps, spread,
                          missing_passes)
    if spread is None and bar.bid_ask_imbalance is not None and hasattr(bar, "avg_spread_bps"):
        # fresh quotes all bucket, none two-sided: no spread to trade at
        spread_check = GateCheck(gate="spread", input="avgSpreadBps", comparison="<=",
                                 threshold=profile.max_avg_spread_bps, observed=None,
                                 passed=False)
    return (
        ratio_check,
        imb_check,
        spread_check,
        _check("quote_coverage", "quoteCoveragePct", ">=", profile.min_quote_coverage_pct,
               coverage, missing_passes),
    )


def decide(c: SetupCandidate, bar: MicrobarV1, profile: GatingProfile, *, setup_id: str,
           session_id: str) -> GateDecision:
    """The :class:`GateDecision` for one candidate (passed iff every check passed)."""
    checks = evaluate_gates(c, bar, profile)
    return GateDecision(setup_id=setup_id, session_id=session_id, detector=c.detector,
                        detector_version=c.detector_version, symbol=c.symbol,
                        direction=c.direction, bar_start_ms=c.bar_start_ms,
                        passed=all(ch.passed for ch in checks), checks=checks)
