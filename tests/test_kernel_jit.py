"""The kernel's numba decorator falls back to an uncached compile where no cache can be written."""

from __future__ import annotations

import os
import subprocess
import sys

from spxcc_core.aggregate import _jit


def test_function_without_cache_location_still_compiles() -> None:
    namespace: dict[str, object] = {}
    # a function compiled from a string has no source file: numba has no cache locator for it
    exec(compile("def triple(x):\n    return 3 * x\n", "<generated>", "exec"), namespace)
    compiled = _jit.jit(namespace["triple"])  # type: ignore[arg-type]
    assert compiled(14) == 42
    assert _jit.CACHE_ENABLED["triple"] is False


def test_kernel_runs_with_an_unwritable_cache_dir(tmp_path) -> None:
    """A fresh process whose NUMBA_CACHE_DIR is a file (not creatable) still aggregates."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    code = ("from spxcc_core.aggregate import aggregate_events\n"
            "from spxcc_core.contracts.market import Trade\n"
            "r = aggregate_events([Trade(symbol='X', ts=10**18, price=1.0, size=2.0)], None)\n"
            "print(r.bars[0].volume)\n")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(blocker / "cache"))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=600, check=True)
    assert out.stdout.strip() == "2.0"
