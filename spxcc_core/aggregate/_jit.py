"""The numba decorator used by the aggregation kernel: cached in the user's cache folder.

Compiled machine code is stored on disk so a new process skips the compile, in
``$NUMBA_CACHE_DIR`` when the user set it, else in ``<spxcc user cache>/numba`` (``~/.cache/spxcc``
on Linux, ``$SPXCC_CACHE_DIR`` when set) — never inside the installed package (see
:mod:`spxcc_core.aggregate._numba_cache`). Where no such folder can be written, or the function
has no source file, or numba lacks the cache internals used, the function is compiled per
process without a cache and the program still works. :data:`CACHE_ENABLED` records which
happened.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numba

try:
    from spxcc_core.aggregate._numba_cache import UserFunctionCache
except ImportError:  # a numba without the cache internals: compile per process
    UserFunctionCache = None  # type: ignore[assignment,misc]

__all__ = ["CACHE_ENABLED", "jit", "jit_alloc"]

F = TypeVar("F", bound=Callable[..., Any])

#: Name of each kernel function → whether its compiled code is cached on disk.
CACHE_ENABLED: dict[str, bool] = {}


def _compile(func: F, **options: Any) -> F:
    compiled = numba.njit(cache=False, nogil=True, **options)(func)
    enabled = False
    if UserFunctionCache is not None:
        try:
            # what ``cache=True`` does (Dispatcher.enable_caching), with our cache locations
            compiled._cache = UserFunctionCache(func)  # type: ignore[no-untyped-call]
            enabled = True
        except (RuntimeError, OSError):  # "cannot cache function ...: no locator available"
            pass
    CACHE_ENABLED[func.__name__] = enabled
    return compiled  # type: ignore[no-any-return]


def jit(func: F) -> F:
    """Compile ``func`` with numba in nopython mode, caching it on disk when possible.

    The function runs without numba's reference counting (``_nrt=False``): it must not
    allocate arrays. This removes atomic reference-count updates on every array argument,
    which otherwise dominate a per-event kernel.
    """
    return _compile(func, _nrt=False)


def jit_alloc(func: F) -> F:
    """Like :func:`jit` but with reference counting, for functions that allocate arrays."""
    return _compile(func)
