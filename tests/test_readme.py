"""The README's Python example runs and prints exactly what the README shows under it."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_example_prints_the_documented_output() -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Python API"):]
    match = re.search(r"```python\n(.*?)```\s*```text\n(.*?)```", section, re.S)
    assert match, "README's Python API section needs a python block followed by its text output"
    code, expected = match.group(1), match.group(2)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    assert out.getvalue() == expected


README_COMMANDS = ['pip install . && spxcc demo', 'pip install -e ".[test]" && pytest']


def test_readme_starts_with_the_two_commands() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    block = lines[lines.index("```bash") + 1: lines.index("```bash") + 3]
    assert block == README_COMMANDS


def test_ci_runs_the_readme_commands_as_written_in_order_in_one_fresh_venv() -> None:
    """Issue 7 item 1: `.ci/run` makes one venv, then runs exactly the README's two commands,
    in order (an `|| { ...; exit 1; }` guard may follow the first, since `set -e` ignores a
    failure on the left of `&&`); the second is its last line, so its status is CI's."""
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    lines = [ln.strip() for ln in ci.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert "set -euo pipefail" in lines

    def position(command: str) -> int:
        found = [i for i, ln in enumerate(lines) if ln == command or ln.startswith(command + " || ")]
        assert len(found) == 1, f"{command!r} must be one line of .ci/run, found {len(found)}"
        return found[0]

    first, second = (position(c) for c in README_COMMANDS)
    venvs = [i for i, ln in enumerate(lines) if " -m venv " in ln]
    assert len(venvs) == 1 and venvs[0] < first < second
    assert lines[second] == README_COMMANDS[1] == lines[-1]
    between = lines[venvs[0] + 1:first] + lines[first + 1:second]
    assert [ln for ln in between if "pip install" in ln and "--upgrade pip" not in ln] == [], \
        "nothing else may be installed into the venv the README's commands run in"
