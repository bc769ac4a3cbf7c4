"""Stated expectations of a golden case (``expect.toml``), and the check of outputs against them.

A case's expectations are written by a person from the case's *script* (its regime in
:mod:`spxcc_core.golden.cases`), before looking at the outputs, and say what must come out
whatever the byte-level details (docs/golden.md explains how a case is written and reviewed)::

    case = "trend_day"
    detectors = ["orb_pullback", "volume_climax", "vwap"]   # the detectors it speaks for

    [totals]                      # over those detectors; every key optional
    candidates = 6                # gate decisions
    blocked = 0
    setups = 6
    triggered = 6
    t1_hits = 5
    t1_hit_rate = 0.8333          # t1_hits / triggered
    expectancy_r = 0.9167         # mean gross realized R of closed triggered setups
    setups_by_detector = { orb_pullback = 1, volume_climax = 4, vwap = 1 }
    blocked_by_gate = { spread = 1 }

    [[setup]]                     # one per setup that must appear; together: every setup
    detector = "volume_climax"
    direction = "long"
    window = ["09:52:12", "09:52:12"]   # detection bar start, New York clock, inclusive
    status = "t2"
    r = 1.5                       # realized R (omit for untriggered: it has none)
    why = "the scripted burst at 09:52:12"
    # optional: note, entry, stop, triggered = [from, to], t1 = [from, to], closed = [from, to]

    [[event]]                     # every scripted event: a candidate, or the reason for none
    name = "burst"
    window = ["09:52:12", "09:52:12"]
    candidate = { detector = "volume_climax", direction = "long", passed = true }
    # or:  none = "why no detector proposes anything here"

Prices compare within :data:`PRICE_TOL`, R and rates within :data:`VALUE_TOL`. Every setup of
the covered detectors must match exactly one ``[[setup]]`` (so the list is complete), and an
``[[event]]`` with ``none`` requires that no covered detector made a candidate in its window.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Literal, TypeVar

import msgspec

from spxcc_core.contracts.setup import GateDecision, SetupInstance
from spxcc_core.errors import InputError
from spxcc_core.session import NEW_YORK as _NY
from spxcc_core.setups.lifecycle import summarize

__all__ = [
    "EXPECT_FILE",
    "PRICE_TOL",
    "VALUE_TOL",
    "CandidateExpectation",
    "EventExpectation",
    "Expectations",
    "SetupExpectation",
    "Totals",
    "check_expectations",
    "check_expected_files",
    "load_expectations",
    "parse_expectations",
    "restrict_expectations",
    "unstated_bursts",
]

#: File name of a case's expectations, next to its inputs.
EXPECT_FILE = "expect.toml"
#: Absolute tolerance on prices (entry, stop).
PRICE_TOL = 0.001
#: Absolute tolerance on R values and rates.
VALUE_TOL = 0.001


Window = tuple[str, str]
_T = TypeVar("_T")


class SetupExpectation(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A setup that must appear: detected by ``detector`` in ``direction`` on a bar starting
    inside ``window`` (New York ``HH:MM:SS``, inclusive), ending with ``status`` and realized
    ``r`` (None: no R, for ``untriggered``). ``why`` says which scripted event it comes from."""

    detector: str
    direction: Literal["long", "short"]
    window: Window
    status: str
    why: str
    r: float | None = None
    note: str | None = None
    entry: float | None = None
    stop: float | None = None
    triggered: Window | None = None
    t1: Window | None = None
    closed: Window | None = None


class CandidateExpectation(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The candidate an event produces (``passed``: the gate verdict, None: either)."""

    detector: str
    direction: Literal["long", "short"]
    passed: bool | None = None


class EventExpectation(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A scripted event (burst, gap, flush, ...) in ``window``: it produces ``candidate``, or
    carries the reason (``none``) why no detector proposes anything there."""

    name: str
    window: Window
    candidate: CandidateExpectation | None = None
    none: str | None = None


class Totals(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Totals over the covered detectors (every field optional)."""

    candidates: int | None = None
    blocked: int | None = None
    setups: int | None = None
    triggered: int | None = None
    t1_hits: int | None = None
    t1_hit_rate: float | None = None
    expectancy_r: float | None = None
    setups_by_detector: dict[str, int] | None = None
    blocked_by_gate: dict[str, int] | None = None


class Expectations(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One ``expect.toml`` (module docstring)."""

    case: str
    detectors: list[str]
    totals: Totals = msgspec.field(default_factory=Totals)
    setup: list[SetupExpectation] = msgspec.field(default_factory=list)
    event: list[EventExpectation] = msgspec.field(default_factory=list)


def parse_expectations(data: bytes, source: str = EXPECT_FILE) -> Expectations:
    """Decode an ``expect.toml``.

    :raises InputError: not TOML, or not the format (names the field), or an event with both
        or neither of ``candidate`` and ``none``, or a window that is not two clock times.
    """
    try:
        exp = msgspec.toml.decode(data, type=Expectations)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise InputError(source, f"not a golden expectations file ({exc})") from None
    for e in exp.event:
        if (e.candidate is None) == (e.none is None):
            raise InputError(source, f"event {e.name!r}: give exactly one of `candidate` "
                                     "and `none` (with the reason)")
    windows = [s.window for s in exp.setup] + [e.window for e in exp.event]
    windows += [w for s in exp.setup for w in (s.triggered, s.t1, s.closed) if w is not None]
    for w in windows:
        for clock in w:
            try:
                dt.time.fromisoformat(clock)
            except ValueError:
                raise InputError(source, f"window {list(w)}: {clock!r} is not HH:MM:SS"
                                 ) from None
    return exp


def load_expectations(path: Path) -> Expectations:
    """Read and decode the ``expect.toml`` at ``path``.

    :raises InputError: unreadable, or see :func:`parse_expectations`.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from None
    return parse_expectations(data, str(path))


def _ms(day: dt.date, clock: str) -> int:
    t = dt.time.fromisoformat(clock)
    return int(dt.datetime.combine(day, t, tzinfo=_NY).timestamp()) * 1000


def _clock(ms: int | None) -> str:
    if ms is None:
        return "never"
    return dt.datetime.fromtimestamp(ms / 1000, _NY).strftime("%H:%M:%S")


def _inside(ms: int | None, day: dt.date, w: Window) -> bool:
    return ms is not None and _ms(day, w[0]) <= ms <= _ms(day, w[1])


def _near(a: float | None, b: float | None, tol: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= tol


def _describe(s: SetupInstance) -> str:
    r = "none" if s.realized_r is None else f"{s.realized_r:+.3f}"
    return (f"{s.detector} {s.direction} {_clock(s.detected_ms)} ({s.status}, R {r}, "
            f"entry {s.entry}, stop {s.stop:.3f}, triggered {_clock(s.triggered_ms)}, "
            f"closed {_clock(s.closed_ms)})")


def _check_setup(exp: SetupExpectation, s: SetupInstance, day: dt.date) -> list[str]:
    wrong: list[str] = []
    if s.status != exp.status:
        wrong.append(f"status {s.status} (stated {exp.status})")
    if not _near(s.realized_r, exp.r, VALUE_TOL):
        wrong.append(f"R {s.realized_r} (stated {exp.r})")
    if exp.note is not None and s.note != exp.note:
        wrong.append(f"note {s.note!r} (stated {exp.note!r})")
    for name, stated, actual in (("entry", exp.entry, s.entry), ("stop", exp.stop, s.stop)):
        if stated is not None and not _near(actual, stated, PRICE_TOL):
            wrong.append(f"{name} {actual} (stated {stated})")
    for name, w, ms in (("triggered", exp.triggered, s.triggered_ms),
                        ("t1", exp.t1, s.t1_ms), ("closed", exp.closed, s.closed_ms)):
        if w is not None and not _inside(ms, day, w):
            wrong.append(f"{name} at {_clock(ms)} (stated {w[0]}-{w[1]})")
    return wrong


def _check_totals(t: Totals, setups: list[SetupInstance],
                  decisions: list[GateDecision]) -> list[str]:
    stats = summarize(setups)
    by_det: dict[str, int] = {}
    for s in setups:
        by_det[s.detector] = by_det.get(s.detector, 0) + 1
    by_gate: dict[str, int] = {}
    for d in decisions:
        for ch in d.checks:
            if not ch.passed:
                by_gate[ch.gate] = by_gate.get(ch.gate, 0) + 1
    out: list[str] = []
    exact: list[tuple[str, object, object]] = [
        ("candidates", t.candidates, len(decisions)),
        ("blocked", t.blocked, sum(1 for d in decisions if not d.passed)),
        ("setups", t.setups, len(setups)), ("triggered", t.triggered, stats.triggered),
        ("t1_hits", t.t1_hits, stats.t1_hits),
        ("setups_by_detector", t.setups_by_detector,
         None if t.setups_by_detector is None else
         {k: by_det.get(k, 0) for k in sorted(set(by_det) | set(t.setups_by_detector))}),
        ("blocked_by_gate", t.blocked_by_gate, by_gate)]
    for name, stated, actual in exact:
        if stated is not None and stated != actual:
            out.append(f"totals.{name}: {actual} (stated {stated})")
    for name, stated_f, actual_f in (("t1_hit_rate", t.t1_hit_rate, stats.t1_hit_rate),
                                     ("expectancy_r", t.expectancy_r, stats.expectancy_r)):
        if stated_f is not None and not _near(actual_f, stated_f, VALUE_TOL):
            out.append(f"totals.{name}: {actual_f} (stated {stated_f})")
    return out


def check_expectations(exp: Expectations, setups: Sequence[SetupInstance],
                       decisions: Sequence[GateDecision], session_date: dt.date) -> list[str]:
    """Every way the outputs contradict ``exp`` (empty: they agree), one readable line each.

    :param setups: the final state of every setup of the run (other detectors' are ignored).
    :param decisions: every gate decision of the run (likewise).
    :param session_date: the New York date the windows' clock times belong to.
    """
    covered = set(exp.detectors)
    mine = [s for s in setups if s.detector in covered]
    decs = [d for d in decisions if d.detector in covered]
    day = session_date
    problems = _check_totals(exp.totals, mine, decs)
    matched: set[str] = set()
    for e in exp.setup:
        where = f"setup {e.detector} {e.direction} {e.window[0]}-{e.window[1]}"
        hits = [s for s in mine if s.detector == e.detector and s.direction == e.direction
                and _inside(s.detected_ms, day, e.window) and s.id not in matched]
        if not hits:
            problems.append(f"{where} ({e.why}): missing")
            continue
        if len(hits) > 1:
            problems.append(f"{where}: {len(hits)} setups match, the window must name one")
        s = hits[0]
        matched.add(s.id)
        wrong = _check_setup(e, s, day)
        if wrong:
            problems.append(f"{where} ({e.why}): " + "; ".join(wrong))
    for s in mine:
        if s.id not in matched:
            problems.append(f"setup not stated in expect.toml: {_describe(s)}")
    for ev in exp.event:
        where = f"event {ev.name!r} {ev.window[0]}-{ev.window[1]}"
        inside = [d for d in decs if _inside(d.bar_start_ms, day, ev.window)]
        c = ev.candidate
        if c is None:
            if inside:
                got = ", ".join(f"{d.detector} {d.direction} {_clock(d.bar_start_ms)}"
                                for d in inside)
                problems.append(f"{where}: stated no candidate ({ev.none}), got {got}")
            continue
        want = [d for d in inside if d.detector == c.detector and d.direction == c.direction]
        if not want:
            problems.append(f"{where}: no {c.detector} {c.direction} candidate")
        elif c.passed is not None and not any(d.passed == c.passed for d in want):
            problems.append(f"{where}: the {c.detector} {c.direction} candidate "
                            f"{'passed' if want[0].passed else 'was blocked'} (stated "
                            f"{'passed' if c.passed else 'blocked'})")
    return problems


def restrict_expectations(exp: Expectations, ran: Collection[str]) -> Expectations:
    """``exp`` limited to the detectors in ``ran`` (a run of only some detectors, ``spxcc
    golden verify --detectors``): their ``[[setup]]`` statements and the events naming one of
    them as the candidate. Totals and ``none`` events speak for every covered detector together,
    so they are dropped unless every covered detector ran (then ``exp`` comes back as is)."""
    if set(exp.detectors) <= set(ran):
        return exp
    keep = [d for d in exp.detectors if d in ran]
    return Expectations(
        case=exp.case, detectors=keep, totals=Totals(),
        setup=[s for s in exp.setup if s.detector in ran],
        event=[e for e in exp.event if e.candidate is not None and e.candidate.detector in ran])


def unstated_bursts(exp: Expectations, regime: object) -> list[str]:
    """The regime's scripted climax bursts (``Segment.bursts``) that no ``[[event]]`` window
    covers, one line each (a burst must produce a candidate or carry the reason it does
    not)."""
    out: list[str] = []
    for seg in getattr(regime, "segments", ()):
        for burst in getattr(seg, "bursts", ()):
            t = dt.time.fromisoformat(burst)
            if not any(dt.time.fromisoformat(e.window[0]) <= t <= dt.time.fromisoformat(
                    e.window[1]) for e in exp.event):
                out.append(f"the scripted burst at {burst} has no [[event]]")
    return out


_setup_dec = msgspec.json.Decoder(SetupInstance)
_decision_dec = msgspec.json.Decoder(GateDecision)


def _decode_lines(data: bytes, dec: msgspec.json.Decoder[_T], source: str) -> list[_T]:
    out: list[_T] = []
    for i, line in enumerate(data.splitlines(), start=1):
        if line.strip():
            try:
                out.append(dec.decode(line))
            except msgspec.DecodeError as exc:
                raise InputError(source, f"line {i}: {exc}") from None
    return out


def check_expected_files(exp: Expectations, files: dict[str, bytes],
                         session_date: dt.date) -> list[str]:
    """:func:`check_expectations` on a case's output files (``setups.jsonl`` and
    ``gate_decisions.jsonl`` bytes, as ``spxcc golden`` writes them).

    :raises InputError: a line that does not decode.
    """
    setups = _decode_lines(files.get("setups.jsonl", b""), _setup_dec, "setups.jsonl")
    decisions = _decode_lines(files.get("gate_decisions.jsonl", b""), _decision_dec,
                              "gate_decisions.jsonl")
    return check_expectations(exp, setups, decisions, session_date)
