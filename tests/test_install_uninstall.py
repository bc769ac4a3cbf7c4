"""``pip install .`` + ``spxcc demo`` + ``pip uninstall -y spxcc`` leaves nothing of ours behind.

Issue 7 item 1: the demo used to write numba's kernel cache (``*.nbi``/``*.nbc``) into
``site-packages/spxcc_core/aggregate/__pycache__``; pip's uninstall does not know those files,
left ``site-packages/spxcc_core/`` behind, and that folder then shadowed a later editable install
as a namespace package.

The check is real but kept cheap: a fresh virtual environment without pip (pip of this test
environment drives it through ``pip --python``), spxcc really built from a copy of this checkout
(setuptools writes ``build/`` into the source tree) and installed there without its dependencies, and those dependencies borrowed from this test
environment through a ``.pth`` file that exists only while the demo runs (appended after the
venv's own site-packages, so the spxcc imported is the installed one; it does not process this
environment's editable-install hook, so the checkout is not on the path). The demo runs on a
small sample with ``SPXCC_CACHE_DIR`` in the test's temporary folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Top-level import packages the spxcc distribution installs (pyproject's packages.find).
OUR_PACKAGES = ("spxcc_core", "spxcc_observers", "spxcc_detectors", "spxcc_tradier",
                "spxcc_paper", "spxcc_gamma", "spxcc_reconcile")


def _run(args: list[str | os.PathLike[str]], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=900,
                            **kwargs)  # type: ignore[call-overload]
    assert result.returncode == 0, f"{args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result  # type: ignore[no-any-return]


def _leftovers(site: Path) -> list[str]:
    """Files and folders of our packages still in ``site`` (relative paths, sorted)."""
    found = []
    for name in OUR_PACKAGES:
        root = site / name
        if root.exists():
            found += [str(p.relative_to(site)) for p in sorted(root.rglob("*"))] or [name]
    return found


def test_install_demo_uninstall_leaves_no_package_folder_in_site_packages(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
                .stdout.strip())
    pip = [sys.executable, "-m", "pip", "--python", python, "--disable-pip-version-check"]
    source = tmp_path / "source"
    shutil.copytree(REPO_ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", ".nox", "build", "dist", "*.egg-info", "__pycache__", "tests"))
    _run([*pip, "install", "--quiet", "--no-deps", source])
    assert (site / "spxcc_core" / "aggregate").is_dir()

    deps = site / "zz_test_dependencies.pth"
    deps.write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_CACHE_DIR", "PYTHONPATH", "VIRTUAL_ENV")}
    env["SPXCC_CACHE_DIR"] = str(tmp_path / "user-cache")
    work = tmp_path / "work"
    work.mkdir()
    demo = _run([venv / "bin" / "spxcc", "demo", "--scale", "0.02"], cwd=work, env=env)
    assert "bars" in demo.stdout
    imported = _run([python, "-c", "import spxcc_core; print(spxcc_core.__file__)"], cwd=work,
                    env=env).stdout.strip()
    assert Path(imported).is_relative_to(site), f"the demo ran {imported}, not the install"
    deps.unlink()

    _run([*pip, "uninstall", "--yes", "spxcc"])
    leftovers = _leftovers(site)
    assert leftovers == [], f"pip uninstall left {len(leftovers)} paths, e.g. {leftovers[-3:]}"
