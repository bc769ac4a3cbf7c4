"""Gate sessions for spxcc (``nox --list`` shows them)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import nox

nox.needs_version = ">=2024.4.15"
nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["tests", "typecheck", "lint", "contracts"]

PYTHON = ["3.11"]


def install(session: nox.Session, *extras: str) -> None:
    """Install the project (editable) with the given extras into the session's venv."""
    spec = f".[{','.join(extras)}]" if extras else "."
    session.install("-e", spec)


@nox.session(python=PYTHON, tags=["gate"])
def tests(session: nox.Session) -> None:
    """Run the test suite (arguments go to pytest)."""
    install(session, "test")
    session.run("pytest", *session.posargs, env={"SPXCC_DISABLE_PLUGIN_AUTOLOAD": "1"})


@nox.session(python=PYTHON, tags=["gate"])
def typecheck(session: nox.Session) -> None:
    """Type-check with mypy (strict on spxcc_core)."""
    install(session, "dev")
    session.run("mypy", *session.posargs)


@nox.session(python=PYTHON, tags=["gate"])
def lint(session: nox.Session) -> None:
    """Lint with ruff, and check the import layering with import-linter (``[tool.importlinter]``
    in pyproject.toml: layers, core imports no built-in plugin, no cycles)."""
    session.install("ruff>=0.6", "import-linter>=2.1")
    session.run("ruff", "check", ".", *session.posargs)
    install(session)
    session.run("lint-imports")


@nox.session(python=PYTHON, tags=["gate"])
def contracts(session: nox.Session) -> None:
    """Regenerate contract schemas and fail on drift (``-- --write`` rewrites them)."""
    install(session)
    if "--write" in session.posargs:
        session.run("python", "-m", "spxcc_core.contracts.schemas", "contracts")
    else:
        session.run("python", "-m", "spxcc_core.contracts.schemas", "--check", "contracts")


@nox.session(python=PYTHON, tags=["gate"])
def golden(session: nox.Session) -> None:
    """Check every registered detector against the golden replay fixtures."""
    install(session)
    session.run("spxcc", "golden", "verify", *session.posargs)


@nox.session(python=PYTHON, tags=["gate"])
def bench(session: nox.Session) -> None:
    """Run the benchmarks and print events/s and ratios (never fails on a time)."""
    install(session, "test")
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session(python=PYTHON, tags=["gate"])
def demo(session: nox.Session) -> None:
    """Run ``spxcc demo`` on the embedded defaults."""
    install(session)
    session.run("spxcc", "demo", *session.posargs)


@nox.session(python=PYTHON)
def mutants(session: nox.Session) -> None:
    """Mutation gate (slow; not a default session, not in CI): the four named mutants of
    issue 9, then mutmut over the lifecycle, gating and built-in detectors (docs/testing.md).
    Arguments go to ``tools/mutation_gate.py`` (``--max-children N``, ``--keep``)."""
    install(session, "dev")
    env = {"SPXCC_DISABLE_PLUGIN_AUTOLOAD": "1"}
    session.run("pytest", "-q", "-p", "no:randomly", "tests/test_named_mutants.py", env=env)
    session.run("python", "tools/mutation_gate.py", *session.posargs, env=env)


#: Where ``nox -s gates`` writes the gate run (decision.json, report.html) unless ``--out``.
GATE_OUT = "gate-run"


def _gate_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nox -s gates --", description="The release gate.")
    p.add_argument("--candidate", required=True, metavar="PROFILE")
    p.add_argument("--baseline", required=True, metavar="PROFILE")
    p.add_argument("--sessions", required=True, nargs="+", metavar="DIR")
    p.add_argument("--out", default=GATE_OUT, metavar="DIR")
    p.add_argument("--seed", default="0", metavar="N")
    p.add_argument("--resamples", default=None, metavar="N")
    p.add_argument("--jobs", default=None, metavar="N")
    p.add_argument("--db", default=None, metavar="PATH|URL")
    p.add_argument("--execute", default=None, metavar="BROKER")
    p.add_argument("--no-checks", action="store_true",
                   help="skip tests, typecheck and golden verify (to try the gate; never in a "
                        "release job)")
    return p


def gate_commands(posargs: Sequence[str]) -> list[list[str]]:
    """The commands ``nox -s gates -- POSARGS`` runs, in order: the test suite, the type
    check, the golden verification (unless ``--no-checks``), ``spxcc gates run`` and
    ``spxcc gates report`` (HTML beside decision.json, Markdown to the log).

    :raises SystemExit: bad arguments (argparse's message).
    """
    a = _gate_parser().parse_args(list(posargs))
    checks = [] if a.no_checks else [["pytest", "-q"], ["mypy"], ["spxcc", "golden", "verify"]]
    run = ["spxcc", "gates", "run", "--candidate", a.candidate, "--baseline", a.baseline,
           "--sessions", *a.sessions, "--seed", a.seed]
    for option, value in (("--resamples", a.resamples), ("--jobs", a.jobs), ("--db", a.db),
                          ("--execute", a.execute)):
        if value is not None:
            run += [option, value]
    run += ["--out", a.out]
    report = ["spxcc", "gates", "report", a.out, "--html", f"{a.out}/report.html",
              "--markdown"]
    return [*checks, run, report]


@nox.session(python=PYTHON)
def gates(session: nox.Session) -> None:
    """The whole release gate (docs/release-gates.md): tests, typecheck, golden verify,
    ``spxcc gates run`` and its report; fails unless the decision is ``promote``. Arguments:
    ``-- --candidate PROFILE --baseline PROFILE --sessions DIR... [--out DIR] [--seed N]
    [--resamples N] [--jobs N] [--db PATH|URL] [--execute BROKER] [--no-checks]``."""
    if not session.posargs:
        session.error("give -- --candidate PROFILE --baseline PROFILE --sessions DIR...")
    try:
        commands = gate_commands(session.posargs)
    except SystemExit:
        session.error("bad arguments for the gates session (see above)")
    install(session, "dev")
    env = {"SPXCC_DISABLE_PLUGIN_AUTOLOAD": "1"}
    *checks, run, report = commands
    for command in checks:
        session.run(*command, env=env if command[0] == "pytest" else None)
    if not checks:
        session.warn("--no-checks: tests, typecheck and golden verify skipped (not a release "
                     "gate)")
    session.run(*run, success_codes=[0, 1])  # 1: reject / insufficient evidence, reported below
    session.run(*report)
    out = Path(run[run.index("--out") + 1])
    decision = json.loads((out / "decision.json").read_text(encoding="utf-8"))["decision"]
    if decision != "promote":
        session.error(f"release gate: the decision is {decision!r}, not 'promote' "
                      f"({out / 'decision.json'})")
    session.log(f"release gate passed: promote ({out / 'decision.json'})")
