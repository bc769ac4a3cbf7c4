"""docs/execution.md's slippage example runs and prints exactly what the page shows."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "execution.md"


def test_the_worked_slippage_example_prints_the_documented_output() -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Slippage and the EV floor"):]
    match = re.search(r"```python\n(.*?)```\s*```text\n(.*?)```", section, re.S)
    assert match, "the slippage section needs a python block followed by its text output"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(match.group(1), "docs/execution.md", "exec"), {})
    assert out.getvalue() == match.group(2)
