"""numba compilation for plugins and core kernels, cached in the user's cache folder.

:func:`jit` and :func:`jit_alloc` are the decorators the aggregation kernel uses
(:mod:`spxcc_core.aggregate._jit`): nopython mode, compiled machine code stored in
``$NUMBA_CACHE_DIR`` or ``<spxcc user cache>/numba`` — never inside the installed package —
and compiled per process where no cache can be written. A plugin's compiled detector scan
(:meth:`spxcc_core.detect.base.Detector.scan`) uses them too. Importing this module loads
numba (about 0.4 s): import it lazily, from the code that runs a kernel.
"""

from __future__ import annotations

from spxcc_core.aggregate._jit import CACHE_ENABLED, jit, jit_alloc

__all__ = ["CACHE_ENABLED", "jit", "jit_alloc"]
