"""The kernel's numba decorator: where its cache goes, and the uncached fallback.

Issue 7 item 1: compiled code is cached in ``$NUMBA_CACHE_DIR`` when the user set it, else in
``<spxcc user cache>/numba``, and never beside the source (for an installed spxcc that is inside
``site-packages/spxcc_core``, where pip's uninstall leaves it behind). Where no folder can be
written the function is compiled without a cache and still works.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numba.core.config
import pytest

from spxcc_core.aggregate import _jit
from spxcc_core.sample import default_cache_root


def _jit_from_source_file(folder: Path, name: str,
                          monkeypatch: pytest.MonkeyPatch) -> Callable[[int], int]:
    """``_jit.jit`` applied to ``def NAME(x): return 3 * x`` defined in ``folder/NAME_mod.py``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}_mod.py").write_text(f"def {name}(x):\n    return 3 * x\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(folder))
    module = importlib.import_module(f"{name}_mod")
    return _jit.jit(getattr(module, name))


def _cache_files(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if p.suffix in (".nbi", ".nbc"))


@pytest.fixture()
def no_numba_cache_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(numba.core.config, "CACHE_DIR", "")


def test_cache_goes_to_the_spxcc_user_cache_folder_not_beside_the_source(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_numba_cache_dir: None) -> None:
    monkeypatch.setenv("SPXCC_CACHE_DIR", str(tmp_path / "user-cache"))
    source = tmp_path / "package"
    compiled = _jit_from_source_file(source, "triple_a", monkeypatch)
    assert compiled(14) == 42
    assert _jit.CACHE_ENABLED["triple_a"] is True
    assert _cache_files(source) == []
    (subfolder,) = (tmp_path / "user-cache" / "numba").iterdir()
    assert subfolder.name.startswith("package_")  # numba's name: folder + sha1 of its path
    names = _cache_files(subfolder)
    assert any(n.startswith("triple_a_mod.triple_a-1.") and n.endswith(".nbi") for n in names)
    assert any(n.endswith(".nbc") for n in names)
    assert default_cache_root() == tmp_path / "user-cache" / "sample"  # beside the sample cache


def test_numba_cache_dir_set_by_the_user_wins(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(numba.core.config, "CACHE_DIR", str(tmp_path / "numba-own"))
    monkeypatch.setenv("SPXCC_CACHE_DIR", str(tmp_path / "user-cache"))
    source = tmp_path / "package"
    assert _jit_from_source_file(source, "triple_b", monkeypatch)(2) == 6
    assert _jit.CACHE_ENABLED["triple_b"] is True
    assert _cache_files(tmp_path / "numba-own") != []
    assert not (tmp_path / "user-cache").exists()
    assert _cache_files(source) == []


def test_unwritable_cache_folders_mean_no_cache_and_nothing_beside_the_source(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr(numba.core.config, "CACHE_DIR", str(blocker / "numba"))
    monkeypatch.setenv("SPXCC_CACHE_DIR", str(blocker / "spxcc"))
    source = tmp_path / "package"
    assert _jit_from_source_file(source, "triple_c", monkeypatch)(5) == 15
    assert _jit.CACHE_ENABLED["triple_c"] is False
    assert _cache_files(tmp_path) == []


def test_function_without_cache_location_still_compiles() -> None:
    namespace: dict[str, object] = {}
    # a function compiled from a string has no source file: numba has no cache locator for it
    exec(compile("def triple(x):\n    return 3 * x\n", "<generated>", "exec"), namespace)
    compiled = _jit.jit(namespace["triple"])  # type: ignore[arg-type]
    assert compiled(14) == 42
    assert _jit.CACHE_ENABLED["triple"] is False


def test_kernel_runs_with_unwritable_cache_folders(tmp_path: Path) -> None:
    """A fresh process whose NUMBA_CACHE_DIR and SPXCC_CACHE_DIR lie under a file (not
    creatable) still aggregates, uncached."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    code = ("from spxcc_core.aggregate import aggregate_events, _jit\n"
            "from spxcc_core.contracts.market import Trade\n"
            "r = aggregate_events([Trade(symbol='X', ts=10**18, price=1.0, size=2.0)], None)\n"
            "print(r.bars[0].volume, any(_jit.CACHE_ENABLED.values()))\n")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(blocker / "numba"),
               SPXCC_CACHE_DIR=str(blocker / "spxcc"))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=600, check=True)
    assert out.stdout.strip() == "2.0 False"
