"""A gate run: the same sessions replayed under a candidate and a baseline profile, the KPIs
bootstrapped, the promotion rule applied and ``decision.json`` written.

Each session is aggregated once (its microbars recorded, :mod:`spxcc_core.replay.bars`;
kept in a bars cache folder when one is given) and replayed in memory
(:func:`spxcc_core.replay.engine.run_replay`, the live pipeline, detection over the recorded
bars: the same result as a full replay) once per profile. The trades of a replay come from
:func:`spxcc_core.gates.trades.trades_from_run` only. Sessions are put in date order (then the
order given) before the KPIs are computed, so the drawdown curve runs forward in time. With
``jobs > 1`` sessions are replayed in a process pool; the result does not depend on ``jobs``.

A run that executed (``execute="paper"``, trade source ``execution``) also writes each
profile's per-fill slippage records beside ``decision.json`` (:data:`SLIPPAGE_FILES`,
``slippage_record@1`` lines, sessions in date order, each session's fills in the replay's
order), for the report's slippage distribution; a run that did not execute removes stale ones
of an earlier run from its folder.
"""

from __future__ import annotations

import concurrent.futures
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import attrs
import msgspec
import pluggy

from spxcc_core import __version__
from spxcc_core.contracts.gates import GateProfileRef, GateSession, ReleaseDecision
from spxcc_core.errors import ConfigError
from spxcc_core.gates.bootstrap import SessionKpiInputs, bootstrap, session_inputs
from spxcc_core.gates.rules import GateRules, judge
from spxcc_core.gates.trades import (
    EXECUTION_SOURCE,
    TRADE_SOURCE,
    SessionTrades,
    trades_from_run,
)
from spxcc_core.outputs import atomic_write, check_paths
from spxcc_core.run.profiles import NamedProfile
from spxcc_core.run.result import json_document

__all__ = ["DECISION_FILE", "DEFAULT_RESAMPLES", "SLIPPAGE_FILES", "GateRun", "check_distinct",
           "check_run_args", "decide", "replay_pair", "rollback_command", "run_gates",
           "slippage_documents"]

#: The decision record's file name in the output folder.
DECISION_FILE = "decision.json"
#: Bootstrap resamples when not given.
DEFAULT_RESAMPLES = 2000
#: Each profile's per-fill slippage records of an executed run, beside the decision record.
SLIPPAGE_FILES: Mapping[str, str] = {"candidate": "slippage-candidate.jsonl",
                                     "baseline": "slippage-baseline.jsonl"}
_line_encoder = msgspec.json.Encoder()


@attrs.frozen
class _PairJob:
    """One session for a worker: its path and both profiles' TOML text (picklable)."""

    session: str
    candidate_toml: str
    baseline_toml: str
    bars_cache: str | None = None
    execute: str | None = None


def replay_pair(session: str, candidate: NamedProfile, baseline: NamedProfile,
                pm: pluggy.PluginManager | None = None,
                bars_cache: str | os.PathLike[str] | None = None, *,
                execute: str | None = None) -> tuple[SessionTrades, SessionTrades]:
    """Replay ``session`` under both profiles, aggregated once; returns (candidate,
    baseline) trades.

    :param bars_cache: a bars cache folder the session's microbars are read from or kept in
        (None: recorded in memory for this pair only). Not used when executing: execution
        needs the session's raw option quotes, so each profile replays the session itself.
    :param execute: a broker to execute each profile's setups on in replay (``paper``): the
        trades are then the executed round trips, R after slippage; None: the setups' own
        outcomes.
    :raises InputError: the session cannot be read.
    """
    from spxcc_core.replay.bars import BarsCache, MemoryBars
    from spxcc_core.replay.engine import run_replay

    if execute is not None:
        from spxcc_core.replay.cache import ingest
        from spxcc_core.replay.engine import session_kind

        def both(source: str | os.PathLike[str]) -> tuple[SessionTrades, SessionTrades]:
            return (trades_from_run(run_replay(source, profile=candidate.profile, pm=pm,
                                               execute=execute)),
                    trades_from_run(run_replay(source, profile=baseline.profile, pm=pm,
                                               execute=execute)))

        if session_kind(session) != "flatfiles":
            return both(session)
        with tempfile.TemporaryDirectory(prefix="spxcc-gates-") as tmp:
            return both(ingest(session, Path(tmp) / "cache").root)
    bars = MemoryBars(None if bars_cache is None else BarsCache(bars_cache))
    return (trades_from_run(run_replay(session, profile=candidate.profile, pm=pm,
                                       bars_cache=bars)),
            trades_from_run(run_replay(session, profile=baseline.profile, pm=pm,
                                       bars_cache=bars)))


def _run_job(job: _PairJob) -> tuple[SessionTrades, SessionTrades]:
    """Worker entry (module level, pickles by name): parses the profiles and replays."""
    from spxcc_core.detect.profile import parse_profile

    def named(toml: str, what: str) -> NamedProfile:
        return NamedProfile(profile=parse_profile(toml, what), toml=toml, id="", source=what)

    return replay_pair(job.session, named(job.candidate_toml, "candidate"),
                       named(job.baseline_toml, "baseline"), bars_cache=job.bars_cache,
                       execute=job.execute)


@attrs.frozen
class GateRun:
    """A finished gate run: the decision record, its exact bytes, and where it was written
    (None: not written)."""

    decision: ReleaseDecision
    document: bytes
    path: Path | None

    @property
    def exit_code(self) -> int:
        """0 for ``promote``, 1 for ``reject`` or ``insufficient_evidence``."""
        return 0 if self.decision.decision == "promote" else 1


def rollback_command(baseline: NamedProfile) -> str:
    """The command that makes ``baseline`` active again after a promotion."""
    return f"spxcc profile revert --to {baseline.id}"


def _ref(p: NamedProfile) -> GateProfileRef:
    return GateProfileRef(id=p.id, name=p.profile.name, version=p.profile.version,
                          source=p.source)


def _inputs(trades: Sequence[SessionTrades]) -> SessionKpiInputs:
    return session_inputs([[(t.realized_r, t.reached_t1) for t in s.trades] for s in trades])


def _mix(trades: Sequence[SessionTrades]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in trades:
        for gate, n in s.block_reasons.items():
            out[gate] = out.get(gate, 0) + n
    return dict(sorted(out.items()))


def _trade_source(trades: Sequence[SessionTrades]) -> str:
    """The one source of every session's trades (``setups`` or ``execution``)."""
    sources = sorted({t.source for t in trades})
    if len(sources) > 1:
        raise ConfigError(f"gates: sessions mix trade sources ({', '.join(sources)})")
    return sources[0] if sources else TRADE_SOURCE


def check_distinct(candidate: NamedProfile, baseline: NamedProfile) -> None:
    """Refuse a gate run whose candidate is its baseline.

    Profiles are the same when their ids (hashes of the resolved profile) are: the same file
    given twice, ``default`` against ``default``, or a reformatted copy. Such a run has
    nothing to promote — every delta would be zero by construction — so it is bad input, not
    a decision.

    :raises ConfigError: the candidate's id is the baseline's.
    """
    if candidate.id == baseline.id:
        raise ConfigError(f"gates: the candidate is the baseline (profile {candidate.id}): "
                          "nothing to promote; give a candidate that differs from it")


def _date_order(pairs: Sequence[tuple[SessionTrades, SessionTrades]]) -> list[int]:
    """Indexes of ``pairs`` by session date, then the order given."""
    return sorted(range(len(pairs)), key=lambda i: (pairs[i][0].session_date, i))


def slippage_documents(pairs: Sequence[tuple[SessionTrades, SessionTrades]]
                       ) -> dict[str, bytes]:
    """The :data:`SLIPPAGE_FILES` of an executed run, file name → bytes: each profile's
    slippage records (``slippage_record@1`` JSON Lines), sessions in date order (as in the
    decision), each session's fills in the replay's order. Empty when the trades were not
    executed (trade source ``setups``)."""
    if not pairs or any(t.source != EXECUTION_SOURCE for pair in pairs for t in pair):
        return {}
    order = _date_order(pairs)
    return {SLIPPAGE_FILES[who]: _line_encoder.encode_lines(
                [r for i in order for r in pairs[i][k].slippage])
            for k, who in enumerate(("candidate", "baseline"))}


def decide(candidate: NamedProfile, baseline: NamedProfile, sources: Sequence[str],
           pairs: Sequence[tuple[SessionTrades, SessionTrades]], *, seed: int, resamples: int,
           confidence: float, rules: GateRules) -> ReleaseDecision:
    """The decision record from the replayed sessions (``pairs[i]`` is ``sources[i]``'s
    (candidate, baseline) trades; put in date order here).

    :raises ConfigError: the candidate is the baseline (:func:`check_distinct`), no session,
        or bad ``resamples`` / ``confidence``.
    """
    check_distinct(candidate, baseline)
    if not pairs:
        raise ConfigError("gates: give at least one session")
    dates: dict[str, str] = {}
    for i, (c, _) in enumerate(pairs):
        if c.session_date in dates:
            raise ConfigError(f"gates: sessions {dates[c.session_date]} and {sources[i]} are "
                              f"the same day ({c.session_date}): each day counts once")
        dates[c.session_date] = sources[i]
    order = _date_order(pairs)
    cand = [pairs[i][0] for i in order]
    base = [pairs[i][1] for i in order]
    try:
        boot = bootstrap(_inputs(cand), _inputs(base), resamples=resamples, seed=seed,
                         confidence=confidence)
    except ValueError as exc:
        raise ConfigError(f"gates: {exc}") from None
    c_trades = sum(len(s.trades) for s in cand)
    b_trades = sum(len(s.trades) for s in base)
    j = judge(boot, candidate_trades=c_trades, baseline_trades=b_trades, sessions=len(order),
              rules=rules)
    return ReleaseDecision(
        decision=j.decision, reasons=j.reasons, candidate=_ref(candidate), baseline=_ref(baseline), kpis=j.kpis,
        targets=j.targets, throughput=j.throughput, evidence=j.evidence,
        block_reasons={"candidate": _mix(cand), "baseline": _mix(base)},
        sessions=[GateSession(session_date=c.session_date, source=sources[i],
                              candidate_trades=len(c.trades), baseline_trades=len(b.trades))
                  for i, c, b in zip(order, cand, base, strict=True)],
        seed=seed, resamples=resamples, confidence=confidence,
        trade_source=_trade_source([*cand, *base]),
        code_version=__version__, rollback_command=rollback_command(baseline))


def check_run_args(sessions: Sequence[str | os.PathLike[str]], *, jobs: int, resamples: int,
                   confidence: float, command: str, seed: int = 0) -> list[str]:
    """The sessions as text, after checking the options a gate run shares with the
    optimizer.

    :raises ConfigError: ``jobs`` or ``resamples`` below 1, ``confidence`` outside (0, 1),
        a negative ``seed``, no session, or one session given twice — the same folder or
        file, however spelt: a repeated day would count as evidence of several days
        (``command`` names the command in that message).
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"--seed must be an integer >= 0, got {seed!r}")
    if jobs < 1:
        raise ConfigError(f"--jobs must be >= 1, got {jobs}")
    if resamples < 1:
        raise ConfigError(f"--resamples must be >= 1, got {resamples}")
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"--confidence must be in (0, 1), got {confidence}")
    sources = [os.fspath(s) for s in sessions]
    if not sources:
        raise ConfigError(f"{command}: give at least one session")
    seen: dict[Path, str] = {}
    for source in sources:
        key = Path(source).resolve()
        if key in seen:
            raise ConfigError(f"{command}: session {source} is given twice (as {seen[key]}): "
                              "each day counts once")
        seen[key] = source
    return sources


def run_gates(*, candidate: NamedProfile, baseline: NamedProfile,
              sessions: Sequence[str | os.PathLike[str]], seed: int = 0,
              resamples: int = DEFAULT_RESAMPLES, confidence: float = 0.95,
              rules: GateRules | None = None, out_dir: str | os.PathLike[str] | None = None,
              pm: pluggy.PluginManager | None = None, jobs: int = 1,
              bars_cache: str | os.PathLike[str] | None = None,
              execute: str | None = None,
              on_decided: Callable[[ReleaseDecision], None] | None = None) -> GateRun:
    """Replay every session under both profiles, decide, and write ``out_dir/decision.json``
    (and, when executing, each profile's :data:`SLIPPAGE_FILES` beside it, in the same atomic
    set).

    :param sessions: session caches, flat-file folders or websocket recordings.
    :param jobs: worker processes (1: in this process, with ``pm``; more: a process pool
        whose workers use the default plugin manager).
    :param bars_cache: a bars cache folder (each session's microbars read from it, or
        recorded and kept there); None: each session aggregated once, in memory.
    :param execute: execute both profiles' setups on this broker in replay (``paper``): KPIs
        from the executed round trips, R after slippage (``trade_source`` ``execution``);
        None: from the setups' own outcomes (``setups``).
    :param on_decided: called with the decision once every argument and session has been
        checked, every session replayed and the decision made (same day twice included),
        before anything is written; what it raises ends the run with nothing written. The
        CLI records both profiles in the store here, so bad input never creates a store.
    :returns: the decision, its bytes and its path.
    :raises ConfigError: bad arguments, the candidate is the baseline
        (:func:`check_distinct`; checked before any replay), two sessions of one day, or
        ``decision.json`` would overwrite an input.
    :raises InputError: a session cannot be read.
    """
    sources = check_run_args(sessions, jobs=jobs, resamples=resamples, confidence=confidence,
                             command="gates", seed=seed)
    check_distinct(candidate, baseline)
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        inputs = [(f"session {s}", s) for s in sources]
        inputs += [(f"--{k} profile", p.source) for k, p in
                   (("candidate", candidate), ("baseline", baseline)) if Path(p.source).is_file()]
        check_paths([("output", out / DECISION_FILE),
                     *((f"output {f}", out / f) for f in SLIPPAGE_FILES.values())], inputs)
    from spxcc_core.replay.engine import session_kind

    for s in sources:
        session_kind(s)  # every session readable before the long part starts
    bars = None if bars_cache is None else os.fspath(bars_cache)
    if jobs == 1:
        pairs = [replay_pair(s, candidate, baseline, pm, bars, execute=execute) for s in sources]
    else:
        with concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
            pairs = list(pool.map(_run_job, [_PairJob(s, candidate.toml, baseline.toml, bars, execute)
                                             for s in sources]))
    decision = decide(candidate, baseline, sources, pairs, seed=seed, resamples=resamples,
                      confidence=confidence, rules=rules if rules is not None else GateRules())
    if on_decided is not None:
        on_decided(decision)
    doc = json_document(decision)
    path = None
    if out is not None:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"output folder {out}: cannot create ({exc.strerror or exc})") \
                from None
        path = out / DECISION_FILE
        slippage = slippage_documents(pairs)
        atomic_write({path: doc, **{out / name: data for name, data in slippage.items()}})
        for name in SLIPPAGE_FILES.values():
            if name not in slippage:  # an earlier executed run's records: not this run's
                try:
                    (out / name).unlink(missing_ok=True)
                except OSError as exc:
                    raise ConfigError(f"output {out / name}: cannot remove the slippage "
                                      f"records of an earlier run ({exc.strerror or exc})") \
                        from None
    return GateRun(decision=decision, document=doc, path=path)
