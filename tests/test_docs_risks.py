"""docs/risks.md names the tests that cover each risk: every reference must resolve.

A reference is ``tests/<file>.py`` optionally followed by ``::name`` (and later ``::name`` in
the same bullet continue the last file named). A renamed or deleted test breaks this test, so
the risk log cannot silently point at nothing.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RISKS = ROOT / "docs" / "risks.md"
_REF = re.compile(r"`(tests/[\w/]+\.py)?((?:::\w+)?)`")


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


def references(text: str) -> list[tuple[str, str | None]]:
    """(file, test name or None) for every reference, a bare ``::name`` bound to the last file."""
    found: list[tuple[str, str | None]] = []
    last: str | None = None
    for match in _REF.finditer(text):
        file, name = match.group(1), match.group(2).removeprefix("::") or None
        if file is None and name is None:
            continue
        if file is None:
            assert last is not None, f"::{name} before any file in docs/risks.md"
            file = last
        last = file
        found.append((file, name))
    return found


def test_references_parse_a_bare_name_against_the_last_file() -> None:
    text = "`tests/a.py::one`, `::two` and `tests/b.py`"
    assert references(text) == [("tests/a.py", "one"), ("tests/a.py", "two"), ("tests/b.py", None)]


def test_every_test_the_risk_log_names_exists() -> None:
    refs = references(RISKS.read_text(encoding="utf-8"))
    assert len(refs) >= 20, "the risk log names fewer tests than it did when this test was written"
    missing = []
    for file, name in refs:
        path = ROOT / file
        if not path.is_file():
            missing.append(file)
        elif name is not None and name not in _test_names(path):
            missing.append(f"{file}::{name}")
    assert missing == []


def test_every_risk_the_spec_lists_has_a_section() -> None:
    text = RISKS.read_text(encoding="utf-8").lower()
    for risk in ("duplicate order", "stale", "broker outage", "wrong profile", "secret exposure"):
        assert risk in text, risk
