"""docs/embedding.md's host application runs as written and prints exactly the output shown
below it (in a folder holding ``session.jsonl``, the golden ``gap_and_flush`` recording)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
from host_session import write_recording

DOC = Path(__file__).resolve().parent.parent / "docs" / "embedding.md"


def test_the_documented_host_application_prints_the_documented_output(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## A complete host application"):]
    match = re.search(r"```python\n(.*?)```\s*```text\n(.*?)```", section, re.S)
    assert match, "the example section needs a python block followed by its text output"
    write_recording(tmp_path / "session.jsonl")
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(match.group(1), "docs/embedding.md", "exec"), {"__name__": "__main__"})
    assert out.getvalue() == match.group(2)
