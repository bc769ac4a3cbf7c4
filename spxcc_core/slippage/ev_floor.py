"""The ``ev_floor`` gate: a setup's expected value in R must clear ``base_floor_R +
slippage_R`` (issue 11 item 7; formulas and a worked example in ``docs/execution.md``).

**Expected value in R** of a candidate (entry E, stop S, targets T1, T2), with the profile's
``[outcome]`` policy (``t1_fraction`` f, ``breakeven_after_t1``):

- ``R1 = |T1 − E| / |E − S|``, ``R2 = |T2 − E| / |E − S|``;
- ``p1`` = the detector's T1 hit rate (T1 hits / closed triggered setups), ``p2`` = its T2 hits
  / T1 hits; each is the rate observed in this run once the detector has ``min_setups`` closed
  triggered setups (resp. T1 hits), else the configured prior;
- the remainder that misses T2 is worth 0 R with ``breakeven_after_t1`` (stopped at the entry),
  else −1 R (stopped at the original stop, the conservative reading);
- ``EV_R = p1 × (f × R1 + (1 − f) × (p2 × R2 + (1 − p2) × rest)) − (1 − p1) × 1``.

**Per-contract risk** before a contract is chosen:
``risk$ = |E − S| × risk_scale × target_delta × 100`` — the underlying stop distance in index
points (``risk_scale`` converts the setup instrument's points to the option underlying's, 1 for
SPX, 10 for SPY) moved by an option of the target delta, times the multiplier.

**Slippage in R**: ``slippage_R = max(0, 2 × s) / risk$`` where ``s`` is the rolling per-fill
slippage (dollars per contract, statistic ``ewma``/``p50``/``p90``) of the configured source for
the bucket detector × time of day (no spread regime yet: no contract is chosen), falling back
to coarser buckets (:mod:`spxcc_core.slippage.rolling`), and to ``prior_slippage_dollars`` when
no bucket has ``min_samples`` fills. Entry and exit each pay ``s``: the round trip is ``2 × s``.
A measured price improvement (negative ``s``) never lowers the floor below ``base_floor_R``.

The verdict ``EV_R ≥ base_floor_R + slippage_R`` and every input are recorded as ``ev_floor``
:class:`~spxcc_core.contracts.setup.GateCheck` rows (only the verdict row can fail).
"""

from __future__ import annotations

import math
from typing import Final, Literal

import attrs

from spxcc_core.contracts.setup import GateCheck, SetupCandidate, SetupInstance
from spxcc_core.contracts.slippage import SlippageSource
from spxcc_core.slippage.ledger import MULTIPLIER, time_bucket
from spxcc_core.slippage.rolling import RollingConfig, RollingSlippage

__all__ = ["GATE", "EvFloorConfig", "EvFloorInputs", "OutcomeTally", "ev_floor_checks",
           "ev_floor_inputs"]

#: The gate name in :class:`GateCheck` rows and reason counts.
GATE: Final = "ev_floor"


def _finite(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{attribute.name!r} must be finite, got {value!r}")


def _positive(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (math.isfinite(value) and value > 0.0):
        raise ValueError(f"{attribute.name!r} must be a finite number > 0, got {value!r}")


def _probability(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name!r} must be in [0, 1], got {value!r}")


def _nonnegative(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (math.isfinite(value) and value >= 0.0):
        raise ValueError(f"{attribute.name!r} must be a finite number >= 0, got {value!r}")


@attrs.frozen(kw_only=True)
class EvFloorConfig:
    """The profile's ``[ev_floor]`` table (the gate is off when the table is absent).

    :ivar base_floor_r: minimum expected value in R before slippage (finite); default 0.0.
    :ivar target_delta: |delta| of the option the setup would trade, in (0, 1]; default 0.30
        (keep it equal to the execution policy's target delta).
    :ivar risk_scale: option-underlying points per point of the setup's instrument (> 0);
        default 1.0 (SPX setups; 10 for SPY).
    :ivar source: ``broker`` (default) or ``paper``: whose fills measure slippage.
    :ivar statistic: ``ewma`` (default), ``p50`` or ``p90`` of the bucket's per-fill slippage.
    :ivar prior_slippage_dollars: per-fill slippage in dollars per contract assumed while no
        bucket has ``min_samples`` fills (>= 0); default 5.0 (half a 0.10 spread).
    :ivar prior_t1_hit_rate: T1 hit rate assumed before ``min_setups`` closed triggered setups,
        in [0, 1]; default 0.5.
    :ivar prior_t2_given_t1: share of T1 winners reaching T2 assumed before ``min_setups`` T1
        hits, in [0, 1]; default 0.3.
    :ivar min_setups: closed triggered setups (resp. T1 hits) a detector needs before its
        observed rate replaces the prior (>= 1); default 20.
    :ivar window: fills per bucket for p50/p90 (see :class:`RollingConfig`); default 200.
    :ivar halflife_fills: EWMA half-life in fills (> 0); default 20.
    :ivar min_samples: fills a bucket needs before its estimate is used (1..window); default 20.
    :ivar warmup: ``pass`` (default) or ``block``: the verdict while the detector's T1 hit rate
        is still the prior (fewer than ``min_setups`` closed triggered setups). ``pass`` lets
        the setup through, recording the verdict it would have had (``evFloorWarmup`` row):
        a floor that blocked on priors would block every setup, none would ever close, and
        the rate could never be measured. ``block`` judges on the priors.
    """

    base_floor_r: float = attrs.field(default=0.0, validator=_finite)
    target_delta: float = attrs.field(default=0.30, validator=_positive)
    risk_scale: float = attrs.field(default=1.0, validator=_positive)
    source: SlippageSource = attrs.field(
        default="broker", validator=attrs.validators.in_(("broker", "paper")))
    statistic: Literal["ewma", "p50", "p90"] = attrs.field(
        default="ewma", validator=attrs.validators.in_(("ewma", "p50", "p90")))
    prior_slippage_dollars: float = attrs.field(default=5.0, validator=_nonnegative)
    prior_t1_hit_rate: float = attrs.field(default=0.5, validator=_probability)
    prior_t2_given_t1: float = attrs.field(default=0.3, validator=_probability)
    min_setups: int = attrs.field(default=20, validator=attrs.validators.ge(1))
    window: int = attrs.field(default=200, validator=[attrs.validators.ge(1),
                                                      attrs.validators.le(100_000)])
    halflife_fills: float = attrs.field(default=20.0, validator=_positive)
    min_samples: int = attrs.field(default=20, validator=attrs.validators.ge(1))
    warmup: Literal["pass", "block"] = attrs.field(
        default="pass", validator=attrs.validators.in_(("pass", "block")))

    def __attrs_post_init__(self) -> None:
        if self.target_delta > 1.0:
            raise ValueError(f"'target_delta' must be in (0, 1], got {self.target_delta!r}")
        self.rolling_config()  # min_samples <= window

    def rolling_config(self) -> RollingConfig:
        """The rolling-statistics parameters of this table."""
        return RollingConfig(window=self.window, halflife_fills=self.halflife_fills,
                             min_samples=self.min_samples)


@attrs.define
class _Tally:
    closed: int = 0
    t1_hits: int = 0
    t2_hits: int = 0


class OutcomeTally:
    """Per-detector outcome counts of closed triggered setups, fed as setups close."""

    def __init__(self) -> None:
        self._by_detector: dict[str, _Tally] = {}

    def observe(self, setup: SetupInstance) -> None:
        """Count a setup once it is closed after triggering (call once per closed setup)."""
        if setup.closed_ms is None or setup.triggered_ms is None:
            return
        t = self._by_detector.setdefault(setup.detector, _Tally())
        t.closed += 1
        if setup.t1_ms is not None:
            t.t1_hits += 1
        if setup.status == "t2":
            t.t2_hits += 1

    def counts(self, detector: str) -> tuple[int, int, int]:
        """``(closed triggered setups, T1 hits, T2 hits)`` of a detector."""
        t = self._by_detector.get(detector, _Tally())
        return t.closed, t.t1_hits, t.t2_hits


@attrs.frozen(kw_only=True)
class EvFloorInputs:
    """Every number of one ``ev_floor`` verdict (R unit-free, money in dollars per contract).

    ``slippage_level`` is the bucket level the estimate came from, or ``prior``;
    ``slippage_samples`` its fill count. ``t1_rate_observed``/``t2_rate_observed`` say whether
    the rates are this run's observations (True) or the priors.
    """

    expected_value_r: float
    floor_r: float
    base_floor_r: float
    slippage_r: float
    round_trip_slippage_dollars: float
    risk_per_contract_dollars: float
    reward_r_t1: float
    reward_r_t2: float
    t1_hit_rate: float
    t2_given_t1: float
    t1_rate_observed: bool
    t2_rate_observed: bool
    slippage_level: str
    slippage_samples: int
    #: the T1 hit rate is still the prior and the table's ``warmup`` is ``pass``
    warming_up: bool = False

    @property
    def clears_floor(self) -> bool:
        """``EV_R ≥ floor_R``."""
        return self.expected_value_r >= self.floor_r

    @property
    def passed(self) -> bool:
        """The verdict: the floor is cleared, or the detector is warming up."""
        return self.warming_up or self.clears_floor


def ev_floor_inputs(c: SetupCandidate, config: EvFloorConfig, *, t1_fraction: float,
                    breakeven_after_t1: bool, tally: OutcomeTally,
                    slippage: RollingSlippage | None) -> EvFloorInputs:
    """Compute the verdict's numbers for a valid candidate (stop on the right side: ``|E − S|``
    > 0); see the module docstring for every formula. Every derived number is rounded to 9
    decimals, and the verdict compares the rounded numbers."""
    risk_points = abs(c.entry - c.stop)
    r1 = abs(c.t1 - c.entry) / risk_points
    r2 = abs(c.t2 - c.entry) / risk_points
    closed, t1_hits, t2_hits = tally.counts(c.detector)
    t1_observed = closed >= config.min_setups
    t2_observed = t1_hits >= config.min_setups
    p1 = t1_hits / closed if t1_observed else config.prior_t1_hit_rate
    p2 = t2_hits / t1_hits if t2_observed else config.prior_t2_given_t1
    rest = 0.0 if breakeven_after_t1 else -1.0
    f = t1_fraction
    ev = p1 * (f * r1 + (1.0 - f) * (p2 * r2 + (1.0 - p2) * rest)) - (1.0 - p1)
    per_fill: float | None = None
    level, samples = "prior", 0
    if slippage is not None:
        est = slippage.estimate(config.source, c.detector, time_bucket(c.bar_start_ms))
        if est.sufficient:
            per_fill = est.statistic(config.statistic)
            level, samples = est.bucket.level, est.count
    if per_fill is None:
        per_fill = config.prior_slippage_dollars
    risk_dollars = risk_points * config.risk_scale * config.target_delta * MULTIPLIER
    round_trip = 2.0 * per_fill
    slip_r = max(0.0, round_trip) / risk_dollars
    return EvFloorInputs(
        expected_value_r=_r(ev), floor_r=_r(config.base_floor_r + slip_r),
        base_floor_r=config.base_floor_r, slippage_r=_r(slip_r),
        round_trip_slippage_dollars=_r(round_trip), risk_per_contract_dollars=_r(risk_dollars),
        reward_r_t1=_r(r1), reward_r_t2=_r(r2), t1_hit_rate=_r(p1), t2_given_t1=_r(p2),
        t1_rate_observed=t1_observed, t2_rate_observed=t2_observed,
        slippage_level=level, slippage_samples=samples,
        warming_up=not t1_observed and config.warmup == "pass")


def _r(value: float) -> float:
    """9 decimals: the recorded numbers carry no binary noise and the verdict compares
    exactly what is recorded."""
    return round(value, 9) + 0.0


def _info(name: str, value: float) -> GateCheck:
    return GateCheck(gate=GATE, input=name, comparison="", threshold=None, observed=value,
                     passed=True)


def ev_floor_checks(inputs: EvFloorInputs) -> tuple[GateCheck, ...]:
    """The gate decision rows of one verdict: first the verdict (``expectedValueR >= floor``,
    the only row that can fail), then its inputs as informational rows (no comparison,
    passed). The slippage row's input names the source level (``slippageSamples@detector_time``
    or ``slippageSamples@prior``), the hit-rate rows say ``observed`` or ``prior``."""
    t1_kind = "observed" if inputs.t1_rate_observed else "prior"
    t2_kind = "observed" if inputs.t2_rate_observed else "prior"
    return (
        GateCheck(gate=GATE, input="expectedValueR", comparison=">=", threshold=inputs.floor_r,
                  observed=inputs.expected_value_r, passed=inputs.passed),
        _info("baseFloorR", inputs.base_floor_r),
        _info("slippageR", inputs.slippage_r),
        _info("roundTripSlippageDollars", inputs.round_trip_slippage_dollars),
        _info("riskPerContractDollars", inputs.risk_per_contract_dollars),
        _info(f"slippageSamples@{inputs.slippage_level}", float(inputs.slippage_samples)),
        _info("rewardRT1", inputs.reward_r_t1),
        _info("rewardRT2", inputs.reward_r_t2),
        _info(f"t1HitRate@{t1_kind}", inputs.t1_hit_rate),
        _info(f"t2GivenT1Rate@{t2_kind}", inputs.t2_given_t1),
    ) + ((GateCheck(gate=GATE, input="evFloorWarmup", comparison="clearsFloor",
                    threshold=None, observed=1.0 if inputs.clears_floor else 0.0,
                    passed=True),) if inputs.warming_up else ())
