"""Setup contracts: detector candidates, gate decisions, setup instances and their statistics.

Prices are in the traded instrument's price units (JSON numbers); times are epoch milliseconds;
R multiples are unit-free (realized P&L / ``|entry − stop|``). ``direction`` is ``long`` or
``short``. See ``docs/detectors.md`` for the lifecycle and the gates.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from spxcc_core.contracts.base import Contract

__all__ = [
    "SETUP_STATUSES",
    "Direction",
    "GammaPressure",
    "GateCheck",
    "GateDecision",
    "SetupCandidate",
    "SetupInstance",
    "SetupStats",
    "SetupStatus",
    "StrikeGamma",
]

Direction = Literal["long", "short"]

#: ``detected`` → ``triggered`` → ``t1`` → ``t2``; ``stopped`` / ``expired`` / ``untriggered``
#: end a setup early. ``t1`` is also a final status (remainder left at breakeven or expiry).
SetupStatus = Literal["detected", "triggered", "t1", "t2", "stopped", "expired", "untriggered"]
SETUP_STATUSES: tuple[str, ...] = ("detected", "triggered", "t1", "t2", "stopped", "expired",
                                   "untriggered")


class SetupCandidate(Contract, frozen=True, kw_only=True):
    """A detector's proposal, before gating (``setup_candidate@1``).

    ``t1``/``t2`` are target prices; ``bar_start_ms`` is the start of the bar that triggered the
    detection; a setup is armed only by bars starting before ``trigger_deadline_ms``.
    ``note`` is a short machine-friendly label (e.g. ``reclaim``), empty when unused.
    """

    contract_name: ClassVar[str] = "setup_candidate"
    contract_version: ClassVar[int] = 1

    detector: str
    detector_version: int
    symbol: str
    direction: Direction
    entry: float
    stop: float
    t1: float
    t2: float
    bar_start_ms: int
    trigger_deadline_ms: int
    note: str = ""


class GateCheck(Contract, frozen=True, kw_only=True):
    """One gate evaluated on one candidate.

    ``gate`` names the rule (``ask_bid_size_ratio``, ``bid_ask_imbalance``, ``spread``,
    ``quote_coverage``, ``microstructure_unavailable``, ``candidate_invalid``,
    ``duplicate_setup``); ``input`` the bar field it reads (wire name, empty when none);
    ``comparison`` is the pass condition of ``observed`` against ``threshold`` (``<=`` or
    ``>=``, empty when not a comparison). ``observed`` is None when the input was null.
    """

    gate: str
    input: str
    comparison: str
    threshold: float | None
    observed: float | None
    passed: bool


class GateDecision(Contract, frozen=True, kw_only=True):
    """The gating verdict on one candidate (``gate_decision@1``): every evaluated candidate
    yields exactly one, passed or blocked. ``passed`` is True iff every check passed;
    ``setup_id`` is the id the setup has (or would have had)."""

    contract_name: ClassVar[str] = "gate_decision"
    contract_version: ClassVar[int] = 1

    setup_id: str
    session_id: str
    detector: str
    detector_version: int
    symbol: str
    direction: Direction
    bar_start_ms: int
    passed: bool
    checks: tuple[GateCheck, ...]


class SetupInstance(Contract, frozen=True, kw_only=True):
    """One gated setup and its forward outcome (``setup@1``).

    ``id`` is a uuid5 of (session, detector, version, symbol, direction, first bar) so a replay
    writes the same ids. ``triggered_ms``/``t1_ms``/``closed_ms`` are bar starts (epoch ms) of
    the bar where that happened, None until it happens. ``realized_r`` is set when the setup is
    closed after triggering (None while open and for ``untriggered``). ``exit_price`` is the
    price the remainder was closed at (stop, T2, breakeven or the last close at session end).
    """

    contract_name: ClassVar[str] = "setup"
    contract_version: ClassVar[int] = 1

    id: str
    session_id: str
    detector: str
    detector_version: int
    symbol: str
    direction: Direction
    entry: float
    stop: float
    t1: float
    t2: float
    detected_ms: int
    trigger_deadline_ms: int
    status: SetupStatus = "detected"
    triggered_ms: int | None = None
    t1_ms: int | None = None
    closed_ms: int | None = None
    exit_price: float | None = None
    realized_r: float | None = None
    note: str = ""
    profile_hash: str = ""


class SetupStats(Contract, frozen=True, kw_only=True):
    """Outcome summary of a set of setups (``setup_stats@1``).

    ``t1_hit_rate`` = ``t1_hits / triggered`` (None when nothing triggered); ``expectancy_r`` =
    mean ``realized_r`` over closed triggered setups (None when there are none). ``untriggered``
    are reported separately and are in no denominator; ``open`` counts setups not closed yet.
    """

    contract_name: ClassVar[str] = "setup_stats"
    contract_version: ClassVar[int] = 1

    setups: int
    triggered: int
    untriggered: int
    open: int
    t1_hits: int
    t2_hits: int
    stopped: int
    expired: int
    t1_hit_rate: float | None
    expectancy_r: float | None


class StrikeGamma(Contract, frozen=True, kw_only=True):
    """Gamma exposure at one strike (part of :class:`GammaPressure`).

    Dollar gamma per 1% move: ``Σ gamma × contracts × 100 × S² × 0.01``, signed by the sign
    convention. ``call_gex``/``put_gex`` are the OI baseline per side (signed), ``flow_gex`` the
    intraday flow-proxy adjustment (0 without flow), ``net_gex`` their sum.
    """

    strike: float
    call_gex: float
    put_gex: float
    flow_gex: float
    net_gex: float


class GammaPressure(Contract, frozen=True, kw_only=True):
    """Dealer gamma pressure context (``gamma_pressure@1``), see ``spxcc_core.gamma``.

    ``source`` is ``oi_baseline`` or ``oi_baseline+flow_proxy``; ``sign_convention`` states
    the dealer position assumed (e.g. ``calls:+1,puts:-1,flow:-1``). ``spot`` is the underlying
    price used; ``as_of_ms`` the instant of the computation (epoch ms); strikes ascend.
    ``total_gex = oi_gex + flow_gex`` (dollars per 1% move). ``skipped_contracts`` counts chain
    rows left out because no volatility was given or could be solved from their quote.
    """

    contract_name: ClassVar[str] = "gamma_pressure"
    contract_version: ClassVar[int] = 1

    underlying: str
    as_of_ms: int
    spot: float
    source: str
    sign_convention: str
    rate: float
    strikes: tuple[StrikeGamma, ...]
    total_gex: float
    oi_gex: float
    flow_gex: float
    skipped_contracts: int = 0
