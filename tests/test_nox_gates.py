"""``nox -s gates``: the commands the session runs, and that docs/release-gates.md shows the
user exactly those commands for its nightly job and its worked example.

The noxfile is imported (nox is a dev dependency) and its pure ``gate_commands`` is called; the
docs' ``nox -s gates -- ...`` lines are parsed with ``shlex`` and their command blocks compared.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "release-gates.md"

pytest.importorskip("nox", reason="nox is a dev dependency (pip install -e '.[dev]')")


def _noxfile() -> ModuleType:
    spec = importlib.util.spec_from_file_location("spxcc_noxfile", ROOT / "noxfile.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


NOXFILE = _noxfile()


def test_the_session_runs_the_whole_gate_in_order() -> None:
    commands = NOXFILE.gate_commands(["--candidate", "c.toml", "--baseline", "active",
                                      "--sessions", "s/1", "s/2", "--seed", "7",
                                      "--resamples", "500", "--out", "run",
                                      "--execute", "paper", "--jobs", "2", "--db", "p.db"])
    assert commands == [
        ["pytest", "-q"],
        ["mypy"],
        ["spxcc", "golden", "verify"],
        ["spxcc", "gates", "run", "--candidate", "c.toml", "--baseline", "active",
         "--sessions", "s/1", "s/2", "--seed", "7", "--resamples", "500", "--jobs", "2",
         "--db", "p.db", "--execute", "paper", "--out", "run"],
        ["spxcc", "gates", "report", "run", "--html", "run/report.html", "--markdown"],
    ]


def test_defaults_and_no_checks() -> None:
    commands = NOXFILE.gate_commands(["--candidate", "c", "--baseline", "b", "--sessions", "s",
                                      "--no-checks"])
    assert commands == [
        ["spxcc", "gates", "run", "--candidate", "c", "--baseline", "b", "--sessions", "s",
         "--seed", "0", "--out", "gate-run"],
        ["spxcc", "gates", "report", "gate-run", "--html", "gate-run/report.html",
         "--markdown"]]


@pytest.mark.parametrize("args", [[], ["--candidate", "c", "--baseline", "b"],
                                  ["--candidate", "c", "--sessions", "s"]])
def test_a_required_argument_missing_is_refused(args: list[str]) -> None:
    with pytest.raises(SystemExit):
        NOXFILE.gate_commands(args)


def test_the_session_is_registered_with_nox() -> None:
    registered = NOXFILE.gates
    assert callable(registered) and "release gate" in (registered.__doc__ or "")


def _nox_lines(text: str) -> list[list[str]]:
    """The arguments after ``-s gates --`` of each nox call in the docs' code blocks
    (backslash continuations joined; the call ends at ``||``, ``&&``, ``;``, ``>`` or a
    comment)."""
    code = "\n".join(re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S))
    joined = re.sub(r"\\\n\s*", " ", code)
    out = []
    for line in joined.splitlines():
        if "-s gates -- " in line:
            rest = line.split("-s gates -- ", 1)[1]
            rest = re.split(r"\s(?:\|\||&&|;|>>?|#)", rest, maxsplit=1)[0]
            out.append(shlex.split(rest))
    return out


def _runs_blocks(text: str) -> list[list[str]]:
    """The fenced blocks that follow a line ending in ``the session runs:``."""
    blocks = re.findall(r"the session runs:\n\n```[a-z]*\n(.*?)```", text, flags=re.S)
    return [[line for line in b.splitlines() if line.strip()] for b in blocks]


def test_the_docs_show_the_commands_the_session_runs() -> None:
    text = DOC.read_text(encoding="utf-8")
    calls = _nox_lines(text)
    blocks = _runs_blocks(text)
    assert len(calls) >= 2, "the nightly job and the worked example call nox -s gates"
    assert len(blocks) == len(calls), "each nox -s gates call is followed by what it runs"
    for args, block in zip(calls, blocks, strict=True):
        # shell words as written (variables and globs unexpanded), joined by spaces
        expected = [" ".join(c) for c in NOXFILE.gate_commands(args)]
        assert block == expected
