"""Meta-tests keeping the plugin surface honest (after datasette's test_plugin_hooks_*).

Every hook spec must appear in ``docs/plugin-hooks.md`` with its exact signature, and must be
exercised by at least one test module other than this one.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from spxcc_core import hookspecs

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "plugin-hooks.md"


def hook_signature(fn: object) -> str:
    """``name(arg: Type, ...) -> Return`` exactly as the spec module spells the annotations."""
    sig = inspect.signature(fn)  # type: ignore[arg-type]
    params = ", ".join(
        f"{p.name}: {p.annotation}" if p.annotation is not inspect.Parameter.empty else p.name
        for p in sig.parameters.values())
    ret = "" if sig.return_annotation is inspect.Signature.empty else f" -> {sig.return_annotation}"
    return f"{fn.__name__}({params}){ret}"  # type: ignore[attr-defined]


HOOKS = sorted(
    (name, fn) for name, fn in vars(hookspecs).items()
    if name.startswith("spxcc_") and callable(fn))


def test_hook_names_are_prefixed_and_present() -> None:
    assert HOOKS, "no hook specs found"
    for name, _ in HOOKS:
        assert name.startswith("spxcc_")


@pytest.mark.parametrize(("name", "fn"), HOOKS, ids=[n for n, _ in HOOKS])
def test_hook_is_documented_with_exact_signature(name: str, fn: object) -> None:
    text = DOC.read_text(encoding="utf-8")
    assert hook_signature(fn) in text, f"{name}: document `{hook_signature(fn)}` in {DOC.name}"


@pytest.mark.parametrize(("name", "fn"), HOOKS, ids=[n for n, _ in HOOKS])
def test_hook_has_a_test(name: str, fn: object) -> None:
    me = Path(__file__).name
    for path in (ROOT / "tests").rglob("test_*.py"):
        if path.name != me and name in path.read_text(encoding="utf-8"):
            return
    pytest.fail(f"no test module mentions {name}")


@pytest.mark.parametrize(("name", "fn"), HOOKS, ids=[n for n, _ in HOOKS])
def test_hook_has_a_docstring_contract(name: str, fn: object) -> None:
    doc = inspect.getdoc(fn) or ""
    assert ":returns:" in doc or ":return:" in doc, f"{name}: docstring must state :returns:"
    if getattr(fn, "spxcc_spec", {}).get("firstresult"):
        assert "Stops at first non-None result." in doc
