"""The fail-closed optimizer: search, walk forward, hand the best candidate to the release gate.

:func:`run_optimize`:

1. aggregates every session once (its bar tape, :mod:`spxcc_core.replay.bars`; kept in a bars
   cache folder when given) and puts the sessions in date order;
2. walk-forward split: the first ``floor(n × fit_fraction)`` sessions are the **fit**
   sessions, the later ones the **judge** sessions. Fewer than one fit session or fewer judge
   sessions than the gate's ``min_sessions`` → ``insufficient_data``, nothing searched;
3. scores the baseline and every candidate of the search space (:mod:`spxcc_core.gates.search`)
   on the fit sessions with the screening pass (:func:`spxcc_core.gates.screen.screen`: the
   real detector runner over the recorded bars). A candidate is *eligible* when its trades per
   session reach ``throughput_floor`` × the baseline's (the optimizer must not "improve" by
   hardly trading); the best is the eligible candidate with the highest total R (ties: the
   earlier trial). None eligible → ``throughput_collapse``; best not above the baseline's
   total R → ``no_improvement``. The scores that decide this are verified: the baseline and
   the top ``recheck`` eligible candidates by total R (ties: the earlier trial) are re-screened
   with the detector runner (:func:`spxcc_core.gates.screen.screen_with_runner`); when any
   disagrees with the compiled screening, every profile is scored by the runner instead and
   the record's first reason says so;
4. otherwise hands the best candidate to the release gate on the judge sessions — the same
   full replay, bootstrap and rule as ``spxcc gates run`` (:func:`spxcc_core.gates.runner.
   decide`) — and writes ``decision.json`` and ``candidate.toml`` beside ``optimize.json``.

It never promotes: the active profile is left as it is whatever happens, and the record
carries the promote command only when the gate said ``promote``. Same inputs and seed → the
same bytes in every file, whatever ``jobs``.
"""

from __future__ import annotations

import concurrent.futures
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import pluggy

from spxcc_core import __version__
from spxcc_core.contracts.gates import GateProfileRef, ReleaseDecision
from spxcc_core.contracts.optimize import (
    OptimizeRunV1,
    OptimizeSession,
    OptimizeStatus,
    OptimizeTrial,
)
from spxcc_core.detect.profile import parse_profile
from spxcc_core.detect.runner import DETECTORS
from spxcc_core.errors import ConfigError
from spxcc_core.gates.rules import GateRules
from spxcc_core.gates.runner import (
    DECISION_FILE,
    DEFAULT_RESAMPLES,
    check_run_args,
    decide,
    replay_pair,
)
from spxcc_core.gates.screen import Screener, ScreenSession, screen, screen_with_runner
from spxcc_core.gates.search import SearchSpace, Value, candidate_toml
from spxcc_core.gates.trades import SessionTrades
from spxcc_core.outputs import atomic_write, check_paths
from spxcc_core.registry import as_registry
from spxcc_core.run.profiles import NamedProfile, profile_from_text
from spxcc_core.run.result import json_document

__all__ = ["CANDIDATE_FILE", "DEFAULT_FIT_FRACTION", "DEFAULT_RECHECK", "RECORD_FILE", "OptimizeRun",
           "run_optimize", "score"]

#: The optimizer's record in the output folder.
RECORD_FILE = "optimize.json"
#: The best candidate's profile TOML in the output folder (when the gate ran).
CANDIDATE_FILE = "candidate.toml"
#: Share of the sessions (the earliest) the search is fitted on.
DEFAULT_FIT_FRACTION = 0.6
#: Eligible candidates (the best by total R) re-screened with the detector runner, besides
#: the baseline, to verify the compiled screening.
DEFAULT_RECHECK = 3


@attrs.frozen
class OptimizeRun:
    """A finished optimizer run: its record and bytes, the gate's decision (None when the
    gate did not run), the best candidate (None without one) and where files went."""

    record: OptimizeRunV1
    document: bytes
    decision: ReleaseDecision | None
    candidate: NamedProfile | None
    out_dir: Path | None

    @property
    def exit_code(self) -> int:
        """0 when the gate said ``promote``, else 1 (the active profile stays either way)."""
        return 0 if self.record.decision == "promote" else 1


def score(trades: Sequence[SessionTrades]) -> tuple[int, float, int]:
    """(trades, total R over closed trades, closed trades) of a profile's sessions."""
    n = closed = 0
    total = 0.0
    for s in trades:
        for t in s.trades:
            n += 1
            if t.realized_r is not None:
                closed += 1
                total += t.realized_r
    return n, total, closed


# ----------------------------------------------------------------------------- workers

_WORKER: dict[str, Any] = {}


def _init_worker(sessions: Sequence[ScreenSession]) -> None:
    from spxcc_core.plugins import get_plugin_manager

    _WORKER["sessions"] = sessions
    _WORKER["screener"] = Screener.of(get_plugin_manager())


def _score_tomls(tomls: Sequence[str], with_runner: bool = False,
                 ) -> list[tuple[int, float, int]]:
    """Worker entry: score each profile TOML on the worker's fit sessions."""
    screener: Screener = _WORKER["screener"]
    sessions: Sequence[ScreenSession] = _WORKER["sessions"]
    how = screen_with_runner if with_runner else screen
    return [score([how(screener, parse_profile(t, "candidate"), s) for s in sessions])
            for t in tomls]


def _score_all(tomls: Sequence[str], sessions: Sequence[ScreenSession],
               screener: Screener, jobs: int, *, with_runner: bool = False,
               ) -> list[tuple[int, float, int]]:
    """Score every profile TOML on ``sessions`` (compiled screening where it applies;
    ``with_runner``: always the detector runner), in ``jobs`` processes."""
    how = screen_with_runner if with_runner else screen
    if jobs == 1:
        return [score([how(screener, parse_profile(t, "candidate"), s) for s in sessions])
                for t in tomls]
    size = max(1, math.ceil(len(tomls) / (jobs * 4)))
    chunks = [tomls[i:i + size] for i in range(0, len(tomls), size)]
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker,
                                                initargs=(tuple(sessions),)) as pool:
        return [r for part in pool.map(_score_tomls, chunks,
                                       [with_runner] * len(chunks)) for r in part]


# ----------------------------------------------------------------------------- the run


def _ref(p: NamedProfile) -> GateProfileRef:
    return GateProfileRef(id=p.id, name=p.profile.name, version=p.profile.version,
                          source=p.source)


def _trial(i: int, pid: str, params: dict[str, Value], s: tuple[int, float, int],
           n_sessions: int, floor: float | None) -> OptimizeTrial:
    trades, total, closed = s
    per = trades / n_sessions
    eligible = trades > 0 and (floor is None or per >= floor)
    reason = None
    if trades == 0:
        reason = "no trade on the fit sessions"
    elif not eligible:
        reason = f"throughput {per:.3f} trades/session below the floor {floor:.3f}"
    return OptimizeTrial(trial=i, profile_id=pid, params=params, trades=trades,
                         trades_per_session=per, total_r=total,
                         expectancy_r=total / closed if closed else None,
                         eligible=eligible if floor is not None else True, reason=reason
                         if floor is not None else None)


def run_optimize(*, baseline: NamedProfile, sessions: Sequence[str | os.PathLike[str]],
                 space: SearchSpace, trials: int, seed: int,
                 fit_fraction: float = DEFAULT_FIT_FRACTION, rules: GateRules | None = None,
                 resamples: int = DEFAULT_RESAMPLES, confidence: float = 0.95,
                 out_dir: str | os.PathLike[str] | None = None,
                 pm: pluggy.PluginManager | None = None, jobs: int = 1,
                 bars_cache: str | os.PathLike[str] | None = None,
                 recheck: int = DEFAULT_RECHECK) -> OptimizeRun:
    """Search, walk forward and gate (module docstring); writes ``optimize.json`` (and, when
    the gate ran, ``decision.json`` and ``candidate.toml``) to ``out_dir``.

    :param baseline: the profile to beat (the active one, usually).
    :param trials: candidates to draw (a grid: at most this many points).
    :param jobs: processes scoring candidates (1: this process).
    :param recheck: how many eligible candidates, the best by total R (ties: the earlier
        trial), are re-screened with the detector runner besides the baseline to verify the
        compiled screening (0: the baseline only). Any disagreement → every profile scored
        by the runner, noted in the first reason.
    :raises ConfigError: bad arguments (``recheck`` negative included), or an output would
        overwrite an input.
    :raises InputError: a session cannot be read.
    """
    from spxcc_core.plugins import get_plugin_manager
    from spxcc_core.replay.bars import BarsCache, MemoryBars
    from spxcc_core.replay.engine import DEFAULT_STEP_MS, session_kind

    rules = rules if rules is not None else GateRules()
    if trials < 1:
        raise ConfigError(f"--trials must be >= 1, got {trials}")
    if not 0.0 < fit_fraction < 1.0:
        raise ConfigError(f"--fit-fraction must be in (0, 1), got {fit_fraction}")
    if isinstance(recheck, bool) or not isinstance(recheck, int) or recheck < 0:
        raise ConfigError(f"--recheck must be an integer >= 0, got {recheck!r}")
    sources = check_run_args(sessions, jobs=jobs, resamples=resamples, confidence=confidence,
                             command="optimize", seed=seed)
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        ins = [(f"session {s}", s) for s in sources]
        if Path(baseline.source).is_file():
            ins.append(("--baseline profile", baseline.source))
        check_paths([("output", out / n) for n in (RECORD_FILE, DECISION_FILE,
                                                    CANDIDATE_FILE)], ins)
    for s in sources:
        session_kind(s)  # every session readable before the long part starts
    pm = pm if pm is not None else get_plugin_manager()
    registry = as_registry(pm)
    bars = MemoryBars(None if bars_cache is None else BarsCache(bars_cache))
    taped = [bars.prepare(s, config=None, step_ms=DEFAULT_STEP_MS) for s in sources]
    days: dict[str, str] = {}
    for i, source in enumerate(sources):
        day = taped[i].tape.session_date
        if day in days:  # walk-forward must never fit and judge on one day
            raise ConfigError(f"optimize: sessions {days[day]} and {source} are the same day "
                              f"({day}): each day counts once")
        days[day] = source
    order = sorted(range(len(sources)), key=lambda i: (taped[i].tape.session_date, i))
    n_fit = math.floor(len(order) * fit_fraction)
    fit, judge = order[:n_fit], order[n_fit:]

    def sessions_of(idx: Sequence[int]) -> list[OptimizeSession]:
        return [OptimizeSession(session_date=taped[i].tape.session_date, source=sources[i])
                for i in idx]

    base_params: dict[str, Value] = {}
    notes: list[str] = []
    record: dict[str, Any] = {
        "decision": None, "baseline": _ref(baseline), "candidate": None,
        "method": space.method, "trials": trials, "seed": seed, "fit_fraction": fit_fraction,
        "fit_sessions": sessions_of(fit), "judge_sessions": sessions_of(judge),
        "throughput_floor": rules.throughput_floor, "results": [], "best": None,
        "promote_command": None, "code_version": __version__}

    def finish(status: OptimizeStatus, reasons: list[str],
               decision: ReleaseDecision | None = None,
               candidate: NamedProfile | None = None) -> OptimizeRun:
        rec = OptimizeRunV1(status=status, reasons=[*notes, *reasons], **record)
        doc = json_document(rec)
        files: dict[str | os.PathLike[str], bytes] = {}
        if out is not None:
            files[out / RECORD_FILE] = doc
            if decision is not None and candidate is not None:
                files[out / DECISION_FILE] = json_document(decision)
                files[out / CANDIDATE_FILE] = candidate.toml.encode()
            try:
                out.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(f"output folder {out}: cannot create "
                                  f"({exc.strerror or exc})") from None
            atomic_write(files)
        return OptimizeRun(record=rec, document=doc, decision=decision, candidate=candidate,
                           out_dir=out)

    if len(fit) < 1 or len(judge) < rules.min_sessions:
        return finish("insufficient_data", [
            f"walk-forward needs at least 1 fit session and {rules.min_sessions} judge "
            f"sessions (the gate's minimum); {len(order)} sessions with fit fraction "
            f"{fit_fraction} give {len(fit)} fit and {len(judge)} judge sessions: the active "
            "profile stays"])

    screener = Screener.of(registry)
    fit_sessions = [ScreenSession.of(taped[i].tape, taped[i].chain) for i in fit]
    base_score = score([screen(screener, baseline.profile, s) for s in fit_sessions])
    versions = {c.name: c.version for c in registry.classes(DETECTORS)}
    name = f"{baseline.profile.name}-optimized"
    assignments = list(space.trials(trials, seed))
    tomls = [candidate_toml(baseline.toml, a, name=name, detector_versions=versions)
             for a in assignments]
    candidates = [profile_from_text(registry, t, f"candidate {i + 1}", f"trial {i + 1}")
                  for i, t in enumerate(tomls)]
    scores = _score_all(tomls, fit_sessions, screener, jobs)

    def judged(base: tuple[int, float, int], scored: Sequence[tuple[int, float, int]],
               ) -> tuple[OptimizeTrial, list[OptimizeTrial], list[OptimizeTrial]]:
        """The baseline's trial, every candidate's, and the eligible ones best first
        (total R, then the earlier trial)."""
        base_t = _trial(0, baseline.id, base_params, base, len(fit), None)
        fl = rules.throughput_floor * base_t.trades_per_session
        trials_ = [_trial(i + 1, c.id, dict(a), sc, len(fit), fl) for i, (c, a, sc)
                   in enumerate(zip(candidates, assignments, scored, strict=True))]
        ranked = sorted((r for r in trials_ if r.eligible), key=lambda r: (-r.total_r, r.trial))
        return base_t, trials_, ranked

    base_trial, trials_, ranked = judged(base_score, scores)
    # what decides the run — the baseline and the best candidates — re-screened by the runner
    checks = [(baseline.profile, base_score)]
    checks += [(candidates[r.trial - 1].profile, scores[r.trial - 1]) for r in ranked[:recheck]]
    if any(score([screen_with_runner(screener, p, s) for s in fit_sessions]) != fast
           for p, fast in checks):
        notes.append("the compiled screening disagreed with the detector runner on the "
                     f"baseline or one of the {recheck} best candidates re-checked: every "
                     "profile was scored by the runner")
        base_score = score([screen_with_runner(screener, baseline.profile, s)
                            for s in fit_sessions])
        scores = _score_all(tomls, fit_sessions, screener, jobs, with_runner=True)
        base_trial, trials_, ranked = judged(base_score, scores)
    top = ranked[0] if ranked else None
    results = [base_trial, *trials_]
    record["results"] = results
    eligible = [r for r in results[1:] if r.eligible]
    if not eligible:
        return finish("throughput_collapse", [
            f"every candidate traded below the throughput floor ({rules.throughput_floor} × "
            f"the baseline's {base_trial.trades_per_session:.3f} trades/session) on the fit "
            "sessions: the active profile stays"])
    best = top
    assert best is not None
    record["best"] = best.trial
    if best.total_r <= base_trial.total_r:
        return finish("no_improvement", [
            f"the best eligible candidate (trial {best.trial}, {best.total_r:+.3f} R) does "
            f"not beat the baseline's {base_trial.total_r:+.3f} R on the fit sessions: the "
            "active profile stays"])
    cand = candidates[best.trial - 1]
    cand = NamedProfile(profile=cand.profile, toml=cand.toml, id=cand.id,
                        source=CANDIDATE_FILE)
    record["candidate"] = _ref(cand)
    judge_sources = [sources[i] for i in judge]
    bars_root = None if bars_cache is None else os.fspath(bars_cache)
    pairs = [replay_pair(s, cand, baseline, pm, bars_root) for s in judge_sources]
    decision = decide(cand, baseline, judge_sources, pairs, seed=seed, resamples=resamples,
                      confidence=confidence, rules=rules)
    record["decision"] = decision.decision
    reasons = [f"best candidate: trial {best.trial} ({best.total_r:+.3f} R vs the baseline's "
               f"{base_trial.total_r:+.3f} R on {len(fit)} fit sessions); release gate on "
               f"{len(judge)} judge sessions: {decision.decision}"]
    reasons += [f"{r.code}: {r.message}" for r in decision.reasons]
    if decision.decision == "promote":
        where = out / DECISION_FILE if out is not None else DECISION_FILE
        record["promote_command"] = f"spxcc profile promote {cand.id} --decision {where}"
    else:
        reasons.append("the active profile stays")
    return finish("gated", reasons, decision, cand)
