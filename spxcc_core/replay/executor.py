"""Replays of many sessions on any :class:`concurrent.futures.Executor`.

The default is a local process pool of two workers. Anything with the ``Executor`` interface
works, e.g. a Dask ``distributed`` cluster::

    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, processes=True) as cluster, Client(cluster) as client:
        results = replay_many(sessions, executor=client.get_executor(), out_root="runs")

Each session is replayed by :func:`~spxcc_core.replay.engine.replay_session` in a worker; only
paths, names and the profile (TOML text) travel to the worker and only the
:class:`~spxcc_core.replay.wire.ReplayResult` (a msgspec Struct) travels back, so results are
identical whatever the executor. Results come back in the order of ``sessions``.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

from spxcc_core.detect.profile import Profile
from spxcc_core.errors import ConfigError
from spxcc_core.replay.engine import DEFAULT_STEP_MS, replay_session
from spxcc_core.replay.progress import make_progress
from spxcc_core.replay.wire import ReplayResult
from spxcc_core.run.result import Format, check_format

__all__ = ["DEFAULT_WORKERS", "ReplayJob", "out_dir_names", "replay_many", "run_job"]

#: Workers of the default process pool.
DEFAULT_WORKERS = 2

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@attrs.frozen
class ReplayJob:
    """One session's replay as sent to a worker (picklable: paths, plain values and attrs
    values only).

    ``profile`` is a profile TOML file path or a parsed profile (None: the default profile);
    ``store`` a store file (None: ``out_dir/spxcc.sqlite3``, or in memory without
    ``out_dir``); ``fmt`` the output format (``jsonl``, ``parquet`` or ``both``).
    """

    session: str
    out_dir: str | None
    detectors: tuple[str, ...] | None
    profile: str | Profile | None
    store: str | None
    step_ms: int = DEFAULT_STEP_MS
    fmt: Format = "jsonl"
    #: root folder of the bars cache (:mod:`spxcc_core.replay.bars`); None: aggregate now
    bars_cache: str | None = None
    #: execute on this broker (``paper``) with these options; None: no execution
    execute: str | None = None
    execute_options: tuple[tuple[str, str], ...] = ()


def run_job(job: ReplayJob) -> ReplayResult:
    """Replay one job (the function executors run; module-level so it pickles by name)."""
    from spxcc_core.replay.bars import BarsCache

    return replay_session(job.session, detectors=job.detectors, profile=job.profile,
                          out_dir=job.out_dir, store=job.store, step_ms=job.step_ms,
                          fmt=job.fmt, bars_cache=None if job.bars_cache is None
                          else BarsCache(job.bars_cache), execute=job.execute,
                          execute_options=dict(job.execute_options))


def out_dir_names(sessions: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Output folder names, one per session: ``NNN-<name>`` (position, then the session's file
    or folder name made filesystem-safe), unique even when names repeat."""
    width = max(3, len(str(len(sessions))))
    names = []
    for i, s in enumerate(sessions):
        stem = _UNSAFE.sub("_", Path(s).name) or "session"
        names.append(f"{i:0{width}d}-{stem}")
    return names


def replay_many(sessions: Sequence[str | os.PathLike[str]], *,
                executor: concurrent.futures.Executor | None = None,
                detectors: Sequence[str] | None = None,
                profile: str | os.PathLike[str] | Profile | None = None,
                out_root: str | os.PathLike[str] | None = None,
                store: str | os.PathLike[str] | None = None,
                step_ms: int = DEFAULT_STEP_MS,
                max_workers: int = DEFAULT_WORKERS,
                fmt: Format = "jsonl",
                bars_cache: str | os.PathLike[str] | None = None,
                progress: bool | None = False, execute: str | None = None,
                execute_options: Mapping[str, object] | None = None) -> list[ReplayResult]:
    """Replay every session, in parallel on ``executor``.

    :param sessions: session paths (cache folders, flat-file folders or ``.jsonl`` recordings).
    :param executor: any ``concurrent.futures.Executor`` (a Dask client's
        ``get_executor()``, a thread pool, ...); None: a process pool of ``max_workers``,
        shut down before returning. A given executor is left running.
    :param detectors: detector names (None: all installed).
    :param profile: a profile TOML file or a parsed profile (None: the default profile).
    :param out_root: outputs go to ``out_root/<name>`` (:func:`out_dir_names`); None writes
        no files.
    :param store: one SQLite file shared by every session (None: one per output folder, or in
        memory without ``out_root``).
    :param fmt: output files: ``jsonl`` (default), ``parquet`` or ``both``
        (:func:`~spxcc_core.replay.engine.replay_session`).
    :param bars_cache: root folder of a bars cache (:class:`~spxcc_core.replay.bars.
        BarsCache`) shared by the workers: each session is aggregated once and later runs
        (another profile) only detect; None aggregates every session now.
    :param progress: a bar of sessions done on stderr (None: only when stderr is a
        terminal); never in any output.
    :param execute: execute each session's triggered setups on this broker (``paper``) with
        ``execute_options`` (:func:`~spxcc_core.replay.engine.replay_session`); the bars
        cache is then not used (execution needs the raw option quotes).
    :returns: one result per session, in the order of ``sessions``.
    :raises SpxccError: the first error of any session (the others still finish).
    """
    check_format(fmt)
    if max_workers < 1:
        raise ConfigError(f"max_workers must be >= 1, got {max_workers}")
    names = out_dir_names(sessions)
    root = Path(out_root) if out_root is not None else None
    jobs = [ReplayJob(session=os.fspath(s),
                      out_dir=None if root is None else str(root / name),
                      detectors=None if detectors is None else tuple(detectors),
                      profile=profile if profile is None or isinstance(profile, Profile)
                      else os.fspath(profile),
                      store=None if store is None else os.fspath(store), step_ms=step_ms,
                      fmt=fmt, bars_cache=None if bars_cache is None
                      else os.fspath(bars_cache), execute=execute,
                      execute_options=tuple(sorted((k, str(v)) for k, v in
                                                   (execute_options or {}).items())))
            for s, name in zip(sessions, names, strict=True)]
    own = executor is None
    pool = executor if executor is not None else concurrent.futures.ProcessPoolExecutor(
        max_workers=max_workers)
    bar = make_progress(len(jobs), "replay sessions", enabled=progress)
    try:
        futures = [pool.submit(run_job, job) for job in jobs]
        pending = set(futures)
        while pending:
            done, pending = concurrent.futures.wait(
                pending, return_when=concurrent.futures.FIRST_COMPLETED)
            bar.advance(len(done))
        return [f.result() for f in futures]
    finally:
        bar.close()
        if own:
            pool.shutdown()
