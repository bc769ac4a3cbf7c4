"""Base classes for detectors and context providers.

A **detector** is a class with ``name`` and ``version`` ClassVars and a typed, versioned
parameters class (``params_class``, an attrs class deriving from :class:`DetectorParams`). The
host instantiates one detector per symbol and trading day with a profile's parameters and calls
:meth:`Detector.on_bar` directly for every bar (pluggy is only used to discover the classes).
State lives in the instance as plain attributes (no numpy in the per-bar path).

A **context provider** publishes one value per bar under its ``name`` in ``ctx.extra``
(a provider declaring ``context_slot = "gamma"`` and publishing a
:class:`~spxcc_core.contracts.setup.GammaPressure` also fills ``ctx.gamma``).
"""

from __future__ import annotations

import abc
import math
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import attrs

from spxcc_core.contracts.setup import Direction, SetupCandidate

if TYPE_CHECKING:
    from spxcc_core.contracts.microbar import MicrobarV1
    from spxcc_core.detect.columns import BarColumns, ScanHits
    from spxcc_core.detect.context import BarContext
    from spxcc_core.detect.market import SessionMarket

__all__ = [
    "ContextProvider",
    "Detector",
    "DetectorParams",
    "NoParams",
    "offers_scan",
    "targets_for",
]

_pos = attrs.validators.gt(0.0)


def _t2_not_below_t1(instance: DetectorParams, attribute: attrs.Attribute[float],
                     value: float) -> None:
    if value < instance.t1_r:
        raise ValueError(f"'t2_r' ({value}) must be >= 't1_r' ({instance.t1_r})")


@attrs.frozen(kw_only=True)
class DetectorParams:
    """Parameters every detector has.

    :ivar t1_r: first target distance in R (``|entry − stop|``), > 0; default 1.
    :ivar t2_r: second target distance in R, >= ``t1_r``; default 2.
    :ivar trigger_window_s: seconds after the detection bar's end during which price must
        trade through the entry for the setup to trigger, > 0; default 300.
    :ivar rth_only: only detect on bars inside regular trading hours; default True.
    """

    t1_r: float = attrs.field(default=1.0, validator=_pos)
    t2_r: float = attrs.field(default=2.0, validator=[_pos, _t2_not_below_t1])
    trigger_window_s: float = attrs.field(default=300.0, validator=_pos)
    rth_only: bool = True


P = TypeVar("P", bound=DetectorParams)


def targets_for(direction: Direction, entry: float, stop: float, t1_r: float,
                t2_r: float) -> tuple[float, float]:
    """T1 and T2 prices ``t1_r``/``t2_r`` R beyond ``entry`` in the trade's direction."""
    risk = abs(entry - stop)
    if direction == "long":
        return entry + t1_r * risk, entry + t2_r * risk
    return entry - t1_r * risk, entry - t2_r * risk


class Detector(abc.ABC, Generic[P]):
    """A setup detector: one instance per (symbol, trading day), fed bars in time order.

    Subclasses set ``name`` (unique, non-blank), ``version`` (bumped whenever the logic or the
    meaning of a parameter changes) and ``params_class``; they implement :meth:`on_bar`.
    ``instruments`` names the kinds of symbol the detector runs on (``"underlying"``: stocks,
    ETFs, indices; ``"option"``: option contracts, see
    :func:`~spxcc_core.setups.lifecycle.instrument_kind`); the host builds no instance for a
    symbol of another kind. Default: both (the built-in detectors declare ``("underlying",)``:
    docs/decisions/0007-detectors-on-the-underlying-by-default.md).
    """

    name: ClassVar[str] = ""
    version: ClassVar[int] = 0
    params_class: ClassVar[type[DetectorParams]] = DetectorParams
    instruments: ClassVar[tuple[str, ...]] = ("underlying", "option")

    def __init__(self, params: P, *, symbol: str) -> None:
        self.params: P = params
        self.symbol = symbol

    @abc.abstractmethod
    def on_bar(self, bar: MicrobarV1, ctx: BarContext) -> list[SetupCandidate]:
        """Consume one bar (already included in ``ctx``) and return new candidates (usually
        none). Must not mutate ``bar`` or ``ctx``. May raise: the host records the error under
        the detector's name and goes on."""

    @classmethod
    def scan(cls, params: P, bars: BarColumns) -> ScanHits | None:
        """Optional, for screening many profiles fast: every candidate a fresh instance's
        :meth:`on_bar` would return over one symbol's trading day (``bars``: the bars and the
        context values the runner would show), at once. It must equal ``on_bar`` exactly —
        same bars, directions, prices to the bit and notes — and raise nothing ``on_bar``
        would not (return None instead: the caller then runs ``on_bar``). None (the
        default): not available. The built-in detectors compile theirs with numba
        (:mod:`spxcc_core.jit`); :func:`spxcc_core.testing.scan_differences` tells whether a scan
        equals ``on_bar`` on given bars."""
        return None

    def candidate(self, bar: MicrobarV1, direction: Direction, entry: float, stop: float,
                  note: str = "") -> SetupCandidate:
        """A candidate on ``bar`` with T1/T2 at the parameters' R multiples and the trigger
        deadline ``trigger_window_s`` after the bar's end."""
        p = self.params
        t1, t2 = targets_for(direction, entry, stop, p.t1_r, p.t2_r)
        deadline = bar.start_ms + bar.interval_ms + math.ceil(p.trigger_window_s * 1000.0)
        return SetupCandidate(detector=self.name, detector_version=self.version,
                              symbol=bar.symbol, direction=direction, entry=entry, stop=stop,
                              t1=t1, t2=t2, bar_start_ms=bar.start_ms,
                              trigger_deadline_ms=deadline, note=note)


@attrs.frozen(kw_only=True)
class NoParams:
    """Parameters of a context provider that takes none."""


class ContextProvider(abc.ABC):
    """Publishes one value per bar into ``ctx.extra[name]`` (None publishes nothing new).

    ``market`` is the runner's session-scoped :class:`~spxcc_core.detect.market.SessionMarket`
    (chain snapshot, option flow since the open, index values), set by the host right after
    the provider is built and before its first ``on_bar``; None when built outside a runner.
    """

    name: ClassVar[str] = ""
    version: ClassVar[int] = 0
    params_class: ClassVar[type[Any]] = NoParams
    #: the typed context attribute this provider's values also fill (one of
    #: :data:`spxcc_core.detect.context.CONTEXT_SLOTS`, e.g. ``"gamma"``), None for none
    context_slot: ClassVar[str | None] = None

    def __init__(self, params: Any, *, symbol: str) -> None:
        self.params = params
        self.symbol = symbol
        self.market: SessionMarket | None = None

    @abc.abstractmethod
    def on_bar(self, bar: MicrobarV1, ctx: BarContext) -> object | None:
        """Return the value for this bar (or None to keep the previous one). Called before the
        detectors see the bar; must not mutate ``bar`` or ``ctx``."""

    def on_session_end(self, ctx: BarContext) -> object | None:
        """Optional: a value summarising this symbol's day, once, when the day ends for the
        symbol (a bar of a later day, or the end of the run). It goes into the runner report
        under ``sessionEnd`` (it must encode with ``msgspec.json``); None reports
        nothing (the default)."""
        return None


def _owner(cls: type, attribute: str) -> type | None:
    return next((c for c in cls.__mro__ if attribute in c.__dict__), None)


def offers_scan(cls: type[Detector[Any]]) -> bool:
    """Whether the detector class has a :meth:`Detector.scan` of its own that belongs to its
    ``on_bar``: defined below :class:`Detector`, on the class that defines the ``on_bar`` in
    effect or on a subclass of it. A subclass that overrides ``on_bar`` but inherits its
    parent's scan does not offer one (that scan is the parent's logic). A scan may still
    decline a day by returning None."""
    scan_owner = _owner(cls, "scan")
    on_bar_owner = _owner(cls, "on_bar")
    return (scan_owner is not None and scan_owner is not Detector
            and on_bar_owner is not None and issubclass(scan_owner, on_bar_owner))
