"""``spxcc replay`` over several sessions: session lists and globs, ``--jobs``, ``--dask``,
the bars cache, one output folder per session (``docs/replay.md``, several sessions)."""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import glob
from collections.abc import Iterator, Sequence
from pathlib import Path

from spxcc_core.errors import ConfigError, InputError

__all__ = [
    "add_many_args",
    "bars_cache_root",
    "check_dependent_options",
    "executor_for",
    "expand_sessions",
    "run_many",
    "wants_many",
]

_GLOB_CHARS = frozenset("*?[")


def add_many_args(p: argparse.ArgumentParser) -> None:
    """``--jobs``, ``--dask``, ``--bars-cache`` and ``--no-bars-cache``."""
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="replay sessions in N worker processes (default 1: in this process)")
    p.add_argument("--dask", default=None, metavar="ADDRESS",
                   help="replay sessions on an existing Dask scheduler (tcp://HOST:PORT), or "
                        "'local' for a LocalCluster of --jobs workers (needs spxcc[dask])")
    p.add_argument("--bars-cache", type=Path, default=None, metavar="DIR",
                   help="bars cache folder: each session's microbars are computed once and "
                        "later runs only detect (default with several sessions: the user "
                        "cache folder's bars/)")
    p.add_argument("--no-bars-cache", action="store_true",
                   help="aggregate every session now, cache nothing")


def expand_sessions(items: Sequence[Path]) -> list[Path]:
    """The sessions named: each item as given when it exists, else a glob pattern (sorted
    matches) when it has ``*``, ``?`` or ``[``.

    :raises InputError: a pattern that matches nothing, or a path that does not exist.
    """
    out: list[Path] = []
    for item in items:
        text = str(item)
        if item.exists() or not _GLOB_CHARS & set(text):
            if not item.exists():
                raise InputError(text, "session not found")
            out.append(item)
            continue
        matches = sorted(glob.glob(text))
        if not matches:
            raise InputError(text, "no session matches this pattern")
        out.extend(Path(m) for m in matches)
    return out


def check_dependent_options(args: argparse.Namespace) -> None:
    """Refuse an option of ``spxcc replay`` that would have no effect: ``--bars-cache`` with
    ``--execute`` (an executed replay aggregates every session itself: the broker needs the
    session's option quotes, so no tape is read or written) and ``--jobs`` with ``--dask
    ADDRESS`` (an existing scheduler has its own workers; ``--jobs`` sizes ``--dask local`` or
    the process pool). Looks only at ``args``.

    :raises ConfigError: one line naming the option and why it would do nothing.
    """
    if args.bars_cache is not None and args.execute is not None:
        raise ConfigError("spxcc replay: --bars-cache has no effect with --execute (an executed "
                          "replay aggregates every session itself, no tape is read or written)")
    if args.jobs is not None and args.dask not in (None, "local"):
        raise ConfigError(f"spxcc replay: --jobs has no effect with --dask {args.dask} (an "
                          "existing scheduler has its own workers; --jobs sizes --dask local "
                          "or the process pool)")


def wants_many(args: argparse.Namespace, sessions: Sequence[Path]) -> bool:
    """True when the run is a many-session run (several sessions, ``--jobs`` or ``--dask``):
    ``--out`` is then the root of one folder per session."""
    return len(sessions) > 1 or args.jobs is not None or args.dask is not None


def bars_cache_root(args: argparse.Namespace, many: bool) -> Path | None:
    """The bars cache folder of a run: ``--bars-cache``; else the user cache folder's
    ``bars/`` for a many-session run; None with ``--no-bars-cache`` (or one session without
    ``--bars-cache``).

    :raises ConfigError: both ``--bars-cache`` and ``--no-bars-cache``.
    """
    if args.no_bars_cache:
        if args.bars_cache is not None:
            raise ConfigError("--bars-cache and --no-bars-cache: give one of them")
        return None
    if args.bars_cache is not None:
        return Path(args.bars_cache)
    if not many:
        return None
    from spxcc_core.replay.bars import default_root

    return default_root()


@contextlib.contextmanager
def executor_for(jobs: int, dask: str | None) -> Iterator[concurrent.futures.Executor]:
    """The executor of a many-session run: one thread (in this process) for ``jobs == 1``, a
    process pool of ``jobs``, or a Dask client's executor (``local``: a ``LocalCluster`` of
    ``jobs`` single-threaded worker processes, shut down afterwards).

    :raises ConfigError: ``jobs < 1``; ``--dask`` without the ``dask`` extra installed, or a
        scheduler that cannot be reached.
    """
    if jobs < 1:
        raise ConfigError(f"--jobs must be >= 1, got {jobs}")
    if dask is None:
        pool: concurrent.futures.Executor = (
            concurrent.futures.ThreadPoolExecutor(max_workers=1) if jobs == 1
            else concurrent.futures.ProcessPoolExecutor(max_workers=jobs))
        with pool:
            yield pool
        return
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError("--dask needs Dask: pip install 'spxcc[dask]'") from None
    with contextlib.ExitStack() as stack:
        try:
            if dask == "local":
                cluster = stack.enter_context(LocalCluster(  # type: ignore[no-untyped-call]
                    n_workers=jobs, threads_per_worker=1, processes=True,
                    dashboard_address=None))
                client = stack.enter_context(Client(cluster))  # type: ignore[no-untyped-call]
            else:
                client = stack.enter_context(
                    Client(dask, timeout=10))  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConfigError(f"--dask {dask}: cannot reach the scheduler ({exc})") from None
        yield client.get_executor()


def run_many(args: argparse.Namespace, sessions: Sequence[Path]) -> int:
    """Replay every session into ``--out/NNN-<name>`` and print one line per session."""
    from spxcc_core.cli.runargs import detector_names, execute_options, run_profile, store_path
    from spxcc_core.outputs import check_paths
    from spxcc_core.replay.engine import DEFAULT_STEP_MS
    from spxcc_core.replay.executor import out_dir_names, replay_many

    if args.chain is not None:
        raise ConfigError("--chain applies to one session; each session of a many-session "
                          "run uses its own snapshot")
    detectors = detector_names(args.detectors)
    profile = run_profile(args.profile)
    check_paths([("output", args.out)], [(f"session {s}", s) for s in sessions])
    bars = bars_cache_root(args, many=True)
    jobs = args.jobs if args.jobs is not None else 1
    with executor_for(jobs, args.dask) as executor:
        results = replay_many(
            sessions, executor=executor, detectors=detectors, profile=profile,
            out_root=args.out, store=store_path(args.db, None),
            step_ms=args.step_ms if args.step_ms is not None else DEFAULT_STEP_MS,
            fmt=args.fmt, bars_cache=None if args.execute else bars, progress=None,
            execute=args.execute, execute_options=execute_options(args.execute,
                                                                  args.execute_option))
    for name, result in zip(out_dir_names(sessions), results, strict=True):
        o = result.report.outcomes
        hit = "n/a" if o.t1_hit_rate is None else f"{o.t1_hit_rate:.1%}"
        exp = "n/a" if o.expectancy_r is None else f"{o.expectancy_r:+.2f}R"
        print(f"{name}: session {result.session_date}, "
              f"{result.report.aggregation.bars_out:,} bars, {o.setups} setups "
              f"({o.triggered} triggered), T1 hit rate {hit}, expectancy {exp}")
    where = f", bars cache {bars}" if bars is not None and not args.execute else ""
    print(f"{len(results)} sessions -> {args.out}{where}")
    return 0
