"""The detector conformance check: one call that runs a detector class on the golden sessions.

:func:`check_detector` runs the detector through :class:`~spxcc_core.detect.DetectorRunner`
(gating and setup lifecycle included) and checks, on every golden session:

- ``registration``: a non-blank ``name``, an integer ``version`` >= 1, ``instruments`` a
  non-empty tuple of known kinds, a parameters class that builds with its defaults, and a
  runner that accepts the class;
- ``exceptions``: ``on_bar`` never raises (and the runner never fails on its output);
- ``contract``: every candidate is a :class:`SetupCandidate` and every candidate, gate decision
  and setup round-trips through its msgspec contract unchanged;
- ``consistency``: each candidate names the detector, its version, the bar's symbol and start;
  prices are finite; a long has ``stop < entry < T1 <= T2`` (a short the mirror image); the
  trigger deadline is after the bar's end;
- ``gate_reasons``: exactly one gate decision per candidate, each with its checks, ``passed``
  true exactly when every check passed, every blocked decision naming a failed known gate;
- ``determinism``: a second run gives the same bytes;
- ``chunking``: the sessions fed interleaved in batches of several sizes (as a streaming host
  delivers bars of several symbols) give each session the same bytes as feeding it alone;
- ``scan`` (only for a detector offering :meth:`~spxcc_core.detect.base.Detector.scan`): the
  scan's candidates equal ``on_bar``'s on every session, to the bit
  (:func:`spxcc_core.detect.scancheck.scan_differences`).

Sessions get distinct symbols (``SPY`` → ``SPY.1`` ...) so they can be interleaved.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import msgspec

from spxcc_core.contracts.microbar import MicrobarV1
from spxcc_core.contracts.setup import (
    SETUP_STATUSES,
    GateDecision,
    SetupCandidate,
    SetupInstance,
)
from spxcc_core.detect.base import Detector, DetectorParams, offers_scan
from spxcc_core.detect.gating import GATE_NAMES
from spxcc_core.detect.profile import Profile, resolve_detectors
from spxcc_core.detect.scancheck import scan_differences
from spxcc_core.golden.expect import Expectations
from spxcc_core.golden.sessions import GoldenSession, golden_sessions
from spxcc_core.setups.lifecycle import INSTRUMENT_KINDS

__all__ = [
    "CHECKS",
    "CHUNK_SIZES",
    "ConformanceError",
    "ConformanceFailure",
    "ConformanceReport",
    "assert_conforms",
    "assert_golden_expectations",
    "check_decisions",
    "check_detector",
    "check_golden_expectations",
]

#: The checks, in the order they are reported.
CHECKS: tuple[str, ...] = ("registration", "exceptions", "contract", "consistency",
                           "gate_reasons", "determinism", "chunking", "scan")
#: Interleaving batch sizes (bars per session per turn) of the chunking check.
CHUNK_SIZES: tuple[int, ...] = (1, 7, 250)
#: Failures kept per (check, session); the rest are counted.
_KEEP = 3

_enc = msgspec.json.Encoder()
_dec_candidate = msgspec.json.Decoder(SetupCandidate)
_dec_decision = msgspec.json.Decoder(GateDecision)
_dec_setup = msgspec.json.Decoder(SetupInstance)


class ConformanceError(AssertionError):
    """Raised by :func:`assert_conforms`; the message is the report's summary."""


@attrs.frozen
class ConformanceFailure:
    """One failed check: ``check`` (one of :data:`CHECKS`), the session it failed on (empty
    when not session-specific) and a sentence saying what was wrong."""

    check: str
    session: str
    message: str


@attrs.frozen(eq=False)
class ConformanceReport:
    """What :func:`check_detector` found.

    ``bars``/``candidates``/``decisions``/``setups`` count the first run over every session;
    ``failures`` are the failed checks (empty: the detector conforms); ``suppressed`` counts
    further failures of the same check and session that were not kept.
    """

    detector: str
    version: int
    sessions: tuple[str, ...]
    bars: int
    candidates: int
    decisions: int
    setups: int
    failures: tuple[ConformanceFailure, ...]
    suppressed: int = 0

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return not self.failures

    def failed_checks(self) -> list[str]:
        """Names of the failed checks, in :data:`CHECKS` order."""
        failed = {f.check for f in self.failures}
        return [c for c in CHECKS if c in failed]

    def summary(self) -> str:
        """A readable multi-line summary (first line: verdict and counts)."""
        head = (f"detector {self.detector!r} v{self.version} "
                f"{'conforms' if self.ok else 'FAILS conformance'} on "
                f"{len(self.sessions)} golden session{'s' if len(self.sessions) != 1 else ''} "
                f"({self.bars} bars, {self.candidates} candidates, {self.decisions} gate "
                f"decisions, {self.setups} setups)")
        lines = [head]
        for f in sorted(self.failures, key=lambda f: CHECKS.index(f.check)):
            where = f" [{f.session}]" if f.session else ""
            lines.append(f"  - {f.check}{where}: {f.message}")
        if self.suppressed:
            lines.append(f"  ... {self.suppressed} more failures of the same kinds")
        return "\n".join(lines)


@attrs.define
class _Failures:
    kept: list[ConformanceFailure] = attrs.field(factory=list)
    counts: dict[tuple[str, str], int] = attrs.field(factory=dict)
    suppressed: int = 0

    def add(self, check: str, session: str, message: str) -> None:
        key = (check, session)
        n = self.counts.get(key, 0)
        self.counts[key] = n + 1
        if n < _KEEP:
            self.kept.append(ConformanceFailure(check, session, message))
        else:
            self.suppressed += 1


@attrs.define
class _Run:
    """Outputs of one runner pass, per symbol, as encoded lines."""

    outputs: dict[str, list[bytes]] = attrs.field(factory=dict)
    candidates: list[tuple[MicrobarV1, Any]] = attrs.field(factory=list)
    decisions: list[GateDecision] = attrs.field(factory=list)
    setups: list[SetupInstance] = attrs.field(factory=list)
    errors: dict[str, Any] = attrs.field(factory=dict)
    crash: str | None = None
    bars: int = 0


def _recording_class(cls: type[Detector[Any]], sink: list[tuple[MicrobarV1, Any]]
                     ) -> type[Detector[Any]]:
    """A subclass of ``cls`` recording every value its ``on_bar`` returns; only genuine
    candidates are passed on, so a malformed return cannot crash the run."""

    def on_bar(self: Detector[Any], bar: MicrobarV1, ctx: Any) -> list[SetupCandidate]:
        result = cls.on_bar(self, bar, ctx)
        sink.append((bar, result))
        if not isinstance(result, list | tuple):
            return []
        return [c for c in result if type(c) is SetupCandidate]

    return type(cls.__name__, (cls,), {"on_bar": on_bar, "__module__": cls.__module__,
                                       "__qualname__": cls.__qualname__})


def _run(cls: type[Detector[Any]], feed: Sequence[MicrobarV1], profile: Profile | None) -> _Run:
    from spxcc_core.detect.runner import DetectorRunner

    run = _Run()
    recorded = _recording_class(cls, run.candidates)
    try:
        runner = DetectorRunner([recorded], profile)
        for bar in feed:
            for out in runner.on_bar(bar):
                run.outputs.setdefault(bar.symbol, []).append(_enc.encode(out))
                if isinstance(out, GateDecision):
                    run.decisions.append(out)
            run.bars += 1
        for out in runner.finish():
            run.outputs.setdefault(out.symbol, []).append(_enc.encode(out))
        run.setups = runner.setups()
        run.errors = runner.report().errors
    except Exception as exc:  # the point of the kit: report, never propagate
        run.crash = f"{type(exc).__name__}: {exc}"
    return run


def _renamed(sessions: Sequence[GoldenSession]) -> list[tuple[str, list[MicrobarV1]]]:
    out: list[tuple[str, list[MicrobarV1]]] = []
    for i, s in enumerate(sessions, start=1):
        out.append((s.name, [msgspec.structs.replace(b, symbol=f"{b.symbol}.{i}")
                             for b in s.bars]))
    return out


def _interleave(feeds: Sequence[list[MicrobarV1]], size: int) -> list[MicrobarV1]:
    out: list[MicrobarV1] = []
    pos = [0] * len(feeds)
    while any(p < len(f) for p, f in zip(pos, feeds, strict=True)):
        for i, f in enumerate(feeds):
            out.extend(f[pos[i]:pos[i] + size])
            pos[i] += size
    return out


def _check_registration(cls: type[Any], failures: _Failures) -> bool:
    ok = True
    name = getattr(cls, "name", None)
    version = getattr(cls, "version", None)
    if not isinstance(name, str) or not name.strip():
        failures.add("registration", "", f"`name` must be a non-blank string, got {name!r}")
        ok = False
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        failures.add("registration", "", f"`version` must be an integer >= 1, got {version!r}")
        ok = False
    if not (isinstance(cls, type) and issubclass(cls, Detector)):
        failures.add("registration", "", f"{cls!r} is not a subclass of "
                                         "spxcc_core.detect.Detector")
        return False
    kinds = getattr(cls, "instruments", None)
    if (not isinstance(kinds, tuple) or not kinds
            or any(k not in INSTRUMENT_KINDS for k in kinds)):
        failures.add("registration", "", f"`instruments` must be a non-empty tuple of "
                                         f"{INSTRUMENT_KINDS}, got {kinds!r}")
        ok = False
    params = getattr(cls, "params_class", None)
    if not (isinstance(params, type) and issubclass(params, DetectorParams)):
        failures.add("registration", "", f"`params_class` must subclass DetectorParams, got "
                                         f"{params!r}")
        return False
    try:
        params()
    except Exception as exc:
        failures.add("registration", "", f"`params_class()` fails with its defaults: "
                                         f"{type(exc).__name__}: {exc}")
        ok = False
    return ok


def _roundtrip(obj: Any, decoder: msgspec.json.Decoder[Any]) -> str | None:
    try:
        back = decoder.decode(_enc.encode(obj))
    except (msgspec.DecodeError, msgspec.EncodeError, TypeError) as exc:
        return f"does not round-trip ({exc})"
    if back != obj:
        return "changes when encoded and decoded again"
    return None


def _check_candidate(cls: type[Any], bar: MicrobarV1, c: SetupCandidate) -> list[str]:
    problems: list[str] = []
    if c.detector != cls.name:
        problems.append(f"detector {c.detector!r} is not the class name {cls.name!r}")
    if c.detector_version != cls.version:
        problems.append(f"detectorVersion {c.detector_version!r} is not the class version "
                        f"{cls.version!r}")
    if c.symbol != bar.symbol:
        problems.append(f"symbol {c.symbol!r} is not the bar's {bar.symbol!r}")
    if c.bar_start_ms != bar.start_ms:
        problems.append(f"barStartMs {c.bar_start_ms} is not the bar's start {bar.start_ms}")
    prices = {"entry": c.entry, "stop": c.stop, "t1": c.t1, "t2": c.t2}
    bad = [k for k, v in prices.items()
           if not isinstance(v, int | float) or not math.isfinite(v)]
    if bad:
        problems.append(f"non-finite {', '.join(bad)}")
    elif c.direction == "long":
        if not c.stop < c.entry < c.t1 <= c.t2:
            problems.append(f"long needs stop < entry < t1 <= t2, got stop={c.stop} "
                            f"entry={c.entry} t1={c.t1} t2={c.t2}")
    elif c.direction == "short":
        if not c.stop > c.entry > c.t1 >= c.t2:
            problems.append(f"short needs stop > entry > t1 >= t2, got stop={c.stop} "
                            f"entry={c.entry} t1={c.t1} t2={c.t2}")
    else:
        problems.append(f"direction {c.direction!r} is neither 'long' nor 'short'")
    if c.trigger_deadline_ms < bar.start_ms + bar.interval_ms:
        problems.append(f"triggerDeadlineMs {c.trigger_deadline_ms} is before the bar's end "
                        f"{bar.start_ms + bar.interval_ms}")
    return problems


def check_decisions(decisions: Sequence[GateDecision]) -> list[str]:
    """Problems with the gate reasons of ``decisions`` (empty: every decision carries its
    checks, ``passed`` agrees with them, and every blocked one names a failed known gate)."""
    problems: list[str] = []
    known = set(GATE_NAMES)
    for d in decisions:
        where = f"decision {d.setup_id[:8]} ({d.direction}, barStartMs {d.bar_start_ms})"
        if not d.checks:
            problems.append(f"{where} has no gate checks (no reason recorded)")
            continue
        unnamed = [ch for ch in d.checks if not ch.gate]
        if unnamed:
            problems.append(f"{where} has {len(unnamed)} check(s) without a gate name")
        if d.passed != all(ch.passed for ch in d.checks):
            problems.append(f"{where}: passed={d.passed} disagrees with its checks")
        failed = [ch.gate for ch in d.checks if not ch.passed]
        if not d.passed and not failed:
            problems.append(f"{where} is blocked without a failed check (no reason)")
        unknown = sorted({g for g in failed if g and g not in known})
        if unknown:
            problems.append(f"{where} names unknown gate(s) {', '.join(unknown)}")
    return problems


def _first_difference(a: list[bytes], b: list[bytes]) -> str:
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return (f"output #{i + 1} differs: {x.decode()[:160]} vs {y.decode()[:160]}")
    return f"{len(a)} outputs vs {len(b)} outputs"


def _check_run(cls: type[Any], name: str, run: _Run, failures: _Failures) -> None:
    if run.crash is not None:
        failures.add("exceptions", name, f"the run failed outside on_bar: {run.crash}")
    err = run.errors.get(cls.name)
    if err is not None:
        failures.add("exceptions", name, f"on_bar raised {err.count} time(s); first: "
                                         f"{err.first}")
    valid = 0
    for bar, result in run.candidates:
        if not isinstance(result, list | tuple):
            failures.add("contract", name, f"on_bar returned {type(result).__name__}, not a "
                                           "list of SetupCandidate")
            continue
        for c in result:
            if type(c) is not SetupCandidate:
                failures.add("contract", name, f"on_bar returned a {type(c).__name__}, not a "
                                               "SetupCandidate")
                continue
            valid += 1
            problem = _roundtrip(c, _dec_candidate)
            if problem is not None:
                failures.add("contract", name, f"candidate at barStartMs {bar.start_ms} "
                                               f"{problem}")
            for p in _check_candidate(cls, bar, c):
                failures.add("consistency", name, f"candidate at barStartMs {bar.start_ms}: {p}")
    if run.crash is None and len(run.decisions) != valid:
        failures.add("gate_reasons", name, f"{valid} candidates but {len(run.decisions)} gate "
                                           "decisions (exactly one per candidate expected)")
    for p in check_decisions(run.decisions):
        failures.add("gate_reasons", name, p)
    for d in run.decisions:
        problem = _roundtrip(d, _dec_decision)
        if problem is not None:
            failures.add("contract", name, f"gate decision {d.setup_id[:8]} {problem}")
    for s in run.setups:
        problem = _roundtrip(s, _dec_setup)
        if problem is not None:
            failures.add("contract", name, f"setup {s.id[:8]} {problem}")
        if s.status not in SETUP_STATUSES:
            failures.add("contract", name, f"setup {s.id[:8]} has status {s.status!r}")
        if s.realized_r is not None and not math.isfinite(s.realized_r):
            failures.add("consistency", name, f"setup {s.id[:8]} has realizedR "
                                              f"{s.realized_r}")


def _params(cls: type[Detector[Any]], profile: Profile | None) -> Any:
    """The parameters a runner with ``profile`` gives ``cls`` (its defaults without one)."""
    if profile is not None:
        for r in resolve_detectors(profile, [cls], strict=False):
            return r.params
    return cls.params_class()


def check_detector(detector_cls: type[Detector[Any]], *, profile: Profile | None = None,
                   sessions: Sequence[GoldenSession] | None = None) -> ConformanceReport:
    """Run every conformance check (module docstring) on ``detector_cls``; never raises for a
    misbehaving detector — its failures are in the report.

    :param detector_cls: the detector class, as ``spxcc_register_detectors`` returns it.
    :param profile: the profile to run with (None: the class's parameter defaults and the
        default gating).
    :param sessions: the sessions to run on (None: every golden session).
    """
    failures = _Failures()
    sess = list(sessions) if sessions is not None else golden_sessions()
    names = tuple(s.name for s in sess)
    name = str(getattr(detector_cls, "name", "?"))
    version = getattr(detector_cls, "version", 0)
    version = version if isinstance(version, int) else 0
    if not _check_registration(detector_cls, failures):
        return ConformanceReport(detector=name, version=version, sessions=names, bars=0,
                                 candidates=0, decisions=0, setups=0,
                                 failures=tuple(failures.kept))
    feeds = _renamed(sess)
    firsts: list[_Run] = []
    for session_name, bars in feeds:
        first = _run(detector_cls, bars, profile)
        if first.crash is not None and first.crash.startswith(("ConfigError", "PluginError")):
            failures.add("registration", "", f"the runner rejects the class: {first.crash}")
            break
        firsts.append(first)
        _check_run(detector_cls, session_name, first, failures)
        second = _run(detector_cls, bars, profile)
        if second.outputs != first.outputs:
            sym = bars[0].symbol if bars else ""
            failures.add("determinism", session_name,
                         "a second run differs from the first: "
                         + _first_difference(first.outputs.get(sym, []),
                                             second.outputs.get(sym, [])))
    if firsts and offers_scan(detector_cls):
        params = _params(detector_cls, profile)
        for session_name, bars in feeds:
            try:
                found = scan_differences(detector_cls, params, bars)
            except Exception as exc:
                found = [f"scan raised {type(exc).__name__}: {exc}"]
            for message in found:
                failures.add("scan", session_name, message)
    if len(firsts) == len(feeds) and len(feeds) > 0:
        reference: dict[str, list[bytes]] = {}
        for run in firsts:
            reference.update(run.outputs)
        for size in CHUNK_SIZES:
            mixed = _run(detector_cls, _interleave([b for _, b in feeds], size), profile)
            for session_name, bars in feeds:
                sym = bars[0].symbol if bars else ""
                got, want = mixed.outputs.get(sym, []), reference.get(sym, [])
                if got != want:
                    failures.add("chunking", session_name,
                                 f"fed interleaved with other sessions in batches of {size} "
                                 "bars, the outputs differ from feeding it alone: "
                                 + _first_difference(want, got))
    return ConformanceReport(
        detector=name, version=version, sessions=names,
        bars=sum(r.bars for r in firsts), candidates=sum(
            len(res) for r in firsts for _, res in r.candidates if isinstance(res, list | tuple)),
        decisions=sum(len(r.decisions) for r in firsts),
        setups=sum(len(r.setups) for r in firsts),
        failures=tuple(failures.kept), suppressed=failures.suppressed)


def check_golden_expectations(detector_cls: type[Detector[Any]],
                              expectations: Expectations | Path | str, *,
                              profile: Profile | None = None) -> list[str]:
    """Run ``detector_cls`` on the golden session its expectations name and return every way
    the outcome contradicts them (empty: it agrees) — the same ``expect.toml`` format as the
    project's golden cases (:mod:`spxcc_core.golden.expect`; ``detectors`` names yours).

    The session goes through the real :class:`~spxcc_core.detect.DetectorRunner` (gating and
    setup lifecycle included), as in the conformance check.

    :param expectations: parsed expectations, or the path of an ``expect.toml``.
    :param profile: the profile to run with (None: the class's defaults, default gating).
    :raises InputError: an unreadable or malformed expectations file.
    :raises ConfigError: the file names no known golden case.
    """
    from spxcc_core.golden.cases import get_case
    from spxcc_core.golden.expect import check_expectations, load_expectations

    exp = (expectations if isinstance(expectations, Expectations)
           else load_expectations(Path(expectations)))
    case = get_case(exp.case)
    (session,) = golden_sessions([exp.case])
    run = _run(detector_cls, list(session.bars), profile)
    if run.crash is not None:
        return [f"the run failed: {run.crash}"]
    problems = check_expectations(exp, run.setups, run.decisions, case.regime.date)
    covered = set(exp.detectors)
    if detector_cls.name not in covered:
        problems.insert(0, f"{exp.case}: the expectations speak for {sorted(covered)}, not "
                           f"for {detector_cls.name!r}")
    return problems


def assert_golden_expectations(detector_cls: type[Detector[Any]],
                               expectations: Expectations | Path | str, *,
                               profile: Profile | None = None) -> None:
    """:func:`check_golden_expectations`, raising :class:`ConformanceError` listing every
    contradiction when there is any."""
    problems = check_golden_expectations(detector_cls, expectations, profile=profile)
    if problems:
        name = getattr(detector_cls, "name", "?")
        raise ConformanceError(f"detector {name!r} contradicts its golden expectations:\n"
                               + "\n".join(f"  - {p}" for p in problems))


def assert_conforms(detector_cls: type[Detector[Any]], *, profile: Profile | None = None,
                    sessions: Sequence[GoldenSession] | None = None) -> ConformanceReport:
    """:func:`check_detector`, raising :class:`ConformanceError` (an ``AssertionError`` whose
    message is the report's summary) when any check fails; returns the report otherwise."""
    report = check_detector(detector_cls, profile=profile, sessions=sessions)
    if not report.ok:
        raise ConformanceError(report.summary())
    return report
