"""Declared dependencies are the used ones (issue 10 item 9): every third-party module that
``spxcc_core`` or a built-in plugin imports is a declared dependency, and every declared
dependency is imported somewhere."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OURS = {"spxcc_core", "spxcc_observers", "spxcc_detectors", "spxcc_tradier", "spxcc_paper",
        "spxcc_gamma", "spxcc_reconcile"}


def _imported_top_modules() -> set[str]:
    found: set[str] = set()
    for base in (ROOT / "spxcc_core", ROOT / "plugins"):
        for path in base.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found.update(a.name.split(".")[0] for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    found.add(node.module.split(".")[0])
    return found - OURS - set(sys.stdlib_module_names) - {"__future__"}


def _declared() -> dict[str, str]:
    """Normalised distribution name → the requirement line."""
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    out = {}
    for req in doc["project"]["dependencies"]:
        name = re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0]
        out[name.lower().replace("_", "-")] = req
    return out


def _dists_of(module: str) -> set[str]:
    return {d.lower().replace("_", "-") for d in packages_distributions().get(module, [])}


def test_every_imported_third_party_module_is_declared() -> None:
    # before: pandas (imported by the paper adapter) was not declared
    declared = _declared()
    # optional extras (imported lazily and guarded: polars, dask, psycopg), zlib-ng (an optional faster inflate tried
    # after isal, never required) and pytest (imported only by spxcc_core.testing, the pytest11
    # plugin that pytest itself loads)
    optional = {"polars", "dask", "distributed", "psycopg", "pytest", "zlib_ng"}
    missing = sorted(m for m in _imported_top_modules() - optional
                     if not _dists_of(m) & set(declared))
    assert missing == []


def test_every_declared_dependency_is_imported() -> None:
    # before: cattrs was declared and never imported
    imported_dists: set[str] = set()
    for module in _imported_top_modules():
        imported_dists |= _dists_of(module)
    unused = sorted(d for d in _declared() if d not in imported_dists)
    assert unused == []
