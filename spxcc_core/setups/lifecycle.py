"""Setup lifecycle: detected → triggered → T1 → T2, or stopped / expired / untriggered.

Rules (evaluated on the bars *after* the detection bar, in time order):

- **Trigger**: the entry is a stop order in the trade's direction. The setup triggers on the
  first bar starting before ``trigger_deadline_ms`` with a trade at the entry or beyond it
  (``high >= entry`` for a long, ``low <= entry`` for a short); a bar that gaps past the entry
  therefore triggers too. Nothing else counts: in particular the detection bar's close is not a
  trade *after* detection, so a detection bar closing exactly at the entry does not trigger the
  next bar at any price (issue 9). The gross fill is the entry. A bar starting at or after the
  deadline with no trigger closes the setup as ``untriggered`` (no R; not in any hit-rate
  denominator).
- **Trigger bar**: the stop is checked on the trigger bar itself; targets are not credited on it
  (the bar's order of prices is unknown, so the conservative reading is used).
- **Stop first**: when one bar touches both the (current) stop and a target, the stop counts.
- **Scale-out** (:class:`OutcomePolicy`): ``t1_fraction`` of the position exits at T1; the stop of
  the remainder moves to the entry when ``breakeven_after_t1``; the remainder exits at T2, at its
  stop, or at the last price when the session ends. ``t1_fraction = 1`` exits fully at T1.
- **Session end**: open setups close at the last traded price (``expired`` when triggered without
  T1, ``t1`` when T1 was reached, ``untriggered`` when never triggered).
- **Final status** is the furthest target reached (``t2`` > ``t1``), else ``stopped`` or
  ``expired``. ``realized_r = Σ fraction × signed(exit − entry) / |entry − stop|`` is the
  **gross** R: fills exactly at the entry, the stop, the targets.
- **Gap-aware R** (:attr:`SetupTracker.gap_r`, not part of the setup contract): the same
  outcome with the fills a stop order gets when a bar *opens* beyond its level — the entry
  fills at the trigger bar's open when that open is beyond the entry (a gap up through a
  long's entry), and a stop (the original or the breakeven one) at the open of the bar that
  gaps through it. Targets are limit orders and fill at their price; a stop touched inside the
  trigger bar fills at the stop; the R unit stays the planned ``|entry − stop|``.

Bars with no price (all of high, low, close null) only advance the clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping

import attrs
import msgspec

from spxcc_core.contracts.microbar import MicrobarV1
from spxcc_core.contracts.setup import SetupCandidate, SetupInstance, SetupStats

__all__ = ["INSTRUMENT_KINDS", "SETUP_NAMESPACE", "OutcomePolicy", "SetupTracker", "gap_expectancy", "instrument_kind",
           "make_setup_id",
           "summarize"]

#: uuid5 namespace of setup ids (fixed forever: changing it changes every id).
SETUP_NAMESPACE = uuid.UUID("7d1f3c4e-2b6a-5e0f-9a41-5c0d2e8b7f13")


def make_setup_id(session_id: str, c: SetupCandidate) -> str:
    """Deterministic id of a candidate's setup: uuid5 over session, detector, version, symbol,
    direction and the first bar's start (so a replay writes the same ids)."""
    key = (f"{session_id}|{c.detector}|{c.detector_version}|{c.symbol}|{c.direction}|"
           f"{c.bar_start_ms}")
    return str(uuid.uuid5(SETUP_NAMESPACE, key))


def _replace(s: SetupInstance, **changes: object) -> SetupInstance:
    return msgspec.structs.replace(s, **changes)


def _fraction(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name!r} must be in [0, 1], got {value}")


@attrs.frozen(kw_only=True)
class OutcomePolicy:
    """How a triggered setup's position is managed for outcome accounting.

    :ivar t1_fraction: share of the position closed at T1, in [0, 1]; default 0.5.
    :ivar breakeven_after_t1: move the remainder's stop to the entry after T1; default True.
    """

    t1_fraction: float = attrs.field(default=0.5, validator=_fraction)
    breakeven_after_t1: bool = True


@attrs.define
class SetupTracker:
    """Forward evaluation of one setup; :meth:`on_bar` / :meth:`expire` return the new state
    when it changed, else None.

    ``entry_fill`` / ``exit_fill`` are the gap-aware fills (module docstring; None until they
    happen) and ``gap_r`` the gap-aware R once the setup closed after triggering.
    """

    setup: SetupInstance
    policy: OutcomePolicy
    stop_now: float = attrs.field(init=False)
    closed: bool = attrs.field(init=False, default=False)
    entry_fill: float | None = attrs.field(init=False, default=None)
    exit_fill: float | None = attrs.field(init=False, default=None)
    gap_r: float | None = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        self.stop_now = self.setup.stop

    def _r(self, price: float, fill: float | None = None) -> float:
        s = self.setup
        risk = abs(s.entry - s.stop)
        entry = s.entry if fill is None else fill
        signed = price - entry if s.direction == "long" else entry - price
        return signed / risk

    def _outcome(self, exit_price: float, fill: float | None) -> float:
        s = self.setup
        if s.t1_ms is not None:
            f = self.policy.t1_fraction
            return f * self._r(s.t1, fill) + (1.0 - f) * self._r(exit_price, fill)
        return self._r(exit_price, fill)

    def _close(self, status: str, at_ms: int, exit_price: float | None,
               exit_fill: float | None = None) -> SetupInstance:
        s = self.setup
        realized: float | None = None
        if s.triggered_ms is not None and exit_price is not None:
            realized = self._outcome(exit_price, None)
            self.exit_fill = exit_price if exit_fill is None else exit_fill
            self.gap_r = self._outcome(self.exit_fill, self.entry_fill)
        self.closed = True
        self.setup = _replace(s, status=status, closed_ms=at_ms, exit_price=exit_price,
                                  realized_r=realized)
        return self.setup

    def on_bar(self, bar: MicrobarV1) -> SetupInstance | None:
        """Advance with one bar that starts after the detection bar."""
        if self.closed:
            return None
        s = self.setup
        close = bar.close
        high = bar.high if bar.high is not None else close
        low = bar.low if bar.low is not None else close
        start = bar.start_ms
        long = s.direction == "long"
        opened = bar.open
        if s.triggered_ms is None:
            if start >= s.trigger_deadline_ms:
                return self._close("untriggered", start, None)
            if high is None or low is None:
                return None
            # a trade at the entry or beyond it, on this bar (a stop order's trigger)
            if not ((high >= s.entry) if long else (low <= s.entry)):
                return None
            s = self.setup = _replace(s, status="triggered", triggered_ms=start)
            gapped = opened is not None and ((opened > s.entry) if long else (opened < s.entry))
            self.entry_fill = opened if gapped else s.entry
            if (low <= s.stop) if long else (high >= s.stop):
                return self._close("stopped", start, s.stop)
            return s
        if high is None or low is None:
            return None
        stop = self.stop_now
        if (low <= stop) if long else (high >= stop):
            gapped = opened is not None and ((opened < stop) if long else (opened > stop))
            return self._close("t1" if s.t1_ms is not None else "stopped", start, stop,
                               opened if gapped else None)
        if (high >= s.t2) if long else (low <= s.t2):
            if s.t1_ms is None:
                s = self.setup = _replace(s, t1_ms=start)
            return self._close("t2", start, s.t2)
        if s.t1_ms is None and ((high >= s.t1) if long else (low <= s.t1)):
            s = self.setup = _replace(s, status="t1", t1_ms=start)
            if self.policy.t1_fraction >= 1.0:
                return self._close("t1", start, s.t1)
            if self.policy.breakeven_after_t1:
                self.stop_now = s.entry
            return s
        return None

    def expire(self, at_ms: int, last_price: float | None) -> SetupInstance | None:
        """Close at session end (``at_ms``) at ``last_price``; None if already closed."""
        if self.closed:
            return None
        s = self.setup
        if s.triggered_ms is None:
            return self._close("untriggered", at_ms, None)
        return self._close("t1" if s.t1_ms is not None else "expired", at_ms, last_price)


#: The kinds of symbol :func:`instrument_kind` tells apart.
INSTRUMENT_KINDS: tuple[str, ...] = ("underlying", "option")


def instrument_kind(symbol: str) -> str:
    """``"option"`` for an option contract's symbol (Massive ``O:`` form or an OCC symbol),
    else ``"underlying"`` (stocks, ETFs, indices)."""
    from spxcc_core.occ import is_occ

    return "option" if symbol.startswith("O:") or is_occ(symbol) else "underlying"


def gap_expectancy(setups: Iterable[SetupInstance], gap_r: Mapping[str, float]) -> float | None:
    """Mean gap-aware R (module docstring) over the closed triggered ``setups`` whose id has a
    value in ``gap_r`` (setup id → :attr:`SetupTracker.gap_r`); None when there is none. The
    gross counterpart is :attr:`SetupStats.expectancy_r`."""
    values = [gap_r[s.id] for s in setups
              if s.triggered_ms is not None and s.closed_ms is not None and s.id in gap_r]
    return sum(values) / len(values) if values else None


def summarize(setups: list[SetupInstance]) -> SetupStats:
    """Outcome statistics (see :class:`~spxcc_core.contracts.setup.SetupStats`)."""
    triggered = [s for s in setups if s.triggered_ms is not None]
    closed_r = [s.realized_r for s in triggered
                if s.closed_ms is not None and s.realized_r is not None]
    t1_hits = sum(1 for s in triggered if s.t1_ms is not None)
    return SetupStats(
        setups=len(setups),
        triggered=len(triggered),
        untriggered=sum(1 for s in setups if s.status == "untriggered"),
        open=sum(1 for s in setups if s.closed_ms is None),
        t1_hits=t1_hits,
        t2_hits=sum(1 for s in triggered if s.status == "t2"),
        stopped=sum(1 for s in triggered if s.status == "stopped"),
        expired=sum(1 for s in triggered if s.status == "expired"),
        t1_hit_rate=t1_hits / len(triggered) if triggered else None,
        expectancy_r=sum(closed_r) / len(closed_r) if closed_r else None,
    )
