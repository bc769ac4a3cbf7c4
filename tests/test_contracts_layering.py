"""The contracts are the lowest layer: ``spxcc_core/contracts/*.py`` imports nothing of ours
outside ``spxcc_core.contracts`` except the two leaf modules every layer may use
(``spxcc_core.errors``, ``spxcc_core.occ``), which in turn import nothing of ours but
``spxcc_core.errors``; and no contract module imports the envelope/registry from ``base``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import spxcc_core

PACKAGE = Path(spxcc_core.__file__).parent
CONTRACTS = PACKAGE / "contracts"
#: Leaf modules below the contracts (stdlib and third-party imports only, plus errors).
LEAVES = {"spxcc_core.errors": set(), "spxcc_core.occ": {"spxcc_core.errors"}}


def ours_imported(path: Path) -> set[str]:
    """Every ``spxcc_core`` module ``path`` imports (anywhere in the file, lazy imports too);
    ``from spxcc_core.x import y`` counts as ``spxcc_core.x``, ``from spxcc_core.contracts
    import m`` as ``spxcc_core.contracts.m``, and a string that is a dotted ``spxcc_core``
    module path (what ``importlib.import_module`` would be given) as that module."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if re.fullmatch(r"spxcc_core(\.\w+)+", node.value):
                found.add(node.value)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "spxcc_core"}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            mod = node.module or ""
            if mod.split(".")[0] != "spxcc_core":
                continue
            if mod in ("spxcc_core", "spxcc_core.contracts"):
                found |= {f"{mod}.{a.name}" for a in node.names}
            else:
                found.add(mod)
    return found


def test_the_walker_sees_every_import_form(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text("import spxcc_core.replay.wire\nfrom spxcc_core.host import wire\n"
                   "from spxcc_core.contracts import market\nimport json\n"
                   "def f():\n    from spxcc_core.aggregate.report import RunReport\n"
                   "M = ('spxcc_core.golden.wire',)\n")
    assert ours_imported(src) == {"spxcc_core.replay.wire", "spxcc_core.host",
                                  "spxcc_core.contracts.market", "spxcc_core.aggregate.report",
                                  "spxcc_core.golden.wire"}


def test_contracts_import_nothing_of_ours_outside_contracts() -> None:
    upward = {f"{p.name}: {m}" for p in sorted(CONTRACTS.glob("*.py"))
              for m in ours_imported(p)
              if not m.startswith("spxcc_core.contracts.") and m not in LEAVES}
    assert upward == set()


def test_the_leaves_below_the_contracts_stay_leaves() -> None:
    for name, allowed in LEAVES.items():
        path = PACKAGE / f"{name.removeprefix('spxcc_core.')}.py"
        assert ours_imported(path) <= allowed, name


def test_base_imports_nothing_of_ours() -> None:
    assert ours_imported(CONTRACTS / "base.py") == set()
