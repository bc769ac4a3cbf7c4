"""The numba decorator used by the aggregation kernel: cached where a cache can be written.

``cache=True`` stores compiled machine code next to the source (or in ``NUMBA_CACHE_DIR`` / the
user cache directory) so a new process skips the compile. Where no cache location is writable
numba refuses ``cache=True`` at decoration time; the function is then compiled per process
(``cache=False``) and the program still works. :data:`CACHE_ENABLED` records which happened.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numba

__all__ = ["CACHE_ENABLED", "jit", "jit_alloc"]

F = TypeVar("F", bound=Callable[..., Any])

#: Name of each kernel function → whether its compiled code is cached on disk.
CACHE_ENABLED: dict[str, bool] = {}


def _compile(func: F, **options: Any) -> F:
    try:
        compiled = numba.njit(cache=True, nogil=True, **options)(func)
        CACHE_ENABLED[func.__name__] = True
    except (RuntimeError, OSError):  # "cannot cache function ...: no locator available"
        compiled = numba.njit(cache=False, nogil=True, **options)(func)
        CACHE_ENABLED[func.__name__] = False
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
