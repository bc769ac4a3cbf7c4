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


def test_readme_starts_with_the_two_commands() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    block = lines[lines.index("```bash") + 1: lines.index("```bash") + 3]
    assert block == ['pip install . && spxcc demo', 'pip install -e ".[test]" && pytest']
    assert 'pip install -e ".[test]" && pytest' in (README.parent / ".ci" / "run").read_text()
