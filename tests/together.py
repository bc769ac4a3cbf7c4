"""Run several real processes that start their work at the same moment (a file barrier).

Each child imports spxcc first (the slow part), writes ``ready-<n>`` into the barrier folder,
waits for ``go`` and only then runs its action, so the actions overlap however loaded the
machine is. Nothing here measures time: the waits are bounded only to fail instead of hanging.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

#: Upper bound for any wait here (start-up of every child, the barrier, the children's work).
TIMEOUT_S = 300.0

_CHILD = r"""
import pathlib, sys, time
import spxcc_core.cli, spxcc_core.replay.engine, spxcc_core.broker.routing, spxcc_paper
from spxcc_core.cli import main
from spxcc_core.store import Store
bar, me, kind = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
(bar / f"ready-{me}").touch()
deadline = time.monotonic() + TIMEOUT
while not (bar / "go").exists():
    if time.monotonic() > deadline:
        sys.exit("barrier: no go")
    time.sleep(0.001)
if kind == "cli":
    sys.exit(main(sys.argv[4:]))
with Store(sys.argv[4]) as store:
    print(sorted(store.schema_versions().items()))
""".replace("TIMEOUT", repr(TIMEOUT_S))


def _together(jobs: Sequence[tuple[str, Sequence[str]]], barrier: Path,
              env: dict[str, str] | None, after_go: Callable[[], None] | None = None
              ) -> list[subprocess.CompletedProcess[str]]:
    barrier.mkdir(parents=True, exist_ok=False)
    full_env = {**os.environ, "SPXCC_DISABLE_PLUGIN_AUTOLOAD": "1", **(env or {})}
    procs = [subprocess.Popen([sys.executable, "-c", _CHILD, str(barrier), str(n), kind,
                               *args], env=full_env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for n, (kind, args) in enumerate(jobs)]
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while len(list(barrier.glob("ready-*"))) < len(procs):
            if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
                break  # a child died before the barrier: its output says why
            time.sleep(0.01)
        (barrier / "go").touch()
        if after_go is not None:
            after_go()
        done = []
        for p in procs:
            out, err = p.communicate(timeout=TIMEOUT_S)
            done.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
        return done
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def spxcc_together(argvs: Sequence[Sequence[str]], barrier: Path,
                   env: dict[str, str] | None = None
                   ) -> list[subprocess.CompletedProcess[str]]:
    """Run ``spxcc ARGV`` in one process per entry, all released at once."""
    return _together([("cli", a) for a in argvs], barrier, env)


def open_store_together(path: str | Path, n: int, barrier: Path,
                        after_go: Callable[[], None] | None = None
                        ) -> list[subprocess.CompletedProcess[str]]:
    """Open the store ``path`` (a file or a PostgreSQL URL) in ``n`` processes at once; each prints its schema versions.
    ``after_go`` runs in this process right after the children are released."""
    return _together([("store", [str(path)])] * n, barrier, None, after_go)
