"""Gate sessions for spxcc (``nox --list`` shows them)."""

from __future__ import annotations

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
