"""Where numba caches the kernel's compiled code: the user's folders, never the installed package.

numba's default for ``cache=True`` is ``__pycache__`` next to the source when writable; for an
installed spxcc that is ``site-packages/spxcc_core/aggregate/__pycache__``, whose ``*.nbi`` /
``*.nbc`` files pip's uninstall does not know (it then leaves ``spxcc_core/`` behind, which
shadows a later install). :class:`UserFunctionCache` is numba's ``FunctionCache`` with its own
list of places, tried in order:

1. ``$NUMBA_CACHE_DIR`` (``numba.config.CACHE_DIR``) when the user set it;
2. ``<spxcc user cache>/numba`` (:func:`spxcc_core.userdirs.user_cache_dir`, so
   ``$SPXCC_CACHE_DIR/numba`` when that is set), beside ``sample/``.

Within either, each source folder gets its own subfolder named as numba names them
(``aggregate_<sha1 of the folder's path>``), so two installations never share entries. A place
that cannot be created or written is skipped; when none is left, constructing the cache raises
``RuntimeError`` (numba's "no locator available") and the caller compiles without a cache.

This uses numba internals that exist unchanged from numba 0.60 to 0.68 (``FunctionCache``,
``CompileResultCacheImpl``, ``_CacheLocator``, ``_SourceFileBackedLocatorMixin``); importing this module fails with
``ImportError`` where they do not, and the kernel then runs uncached.
"""

from __future__ import annotations

import os
from typing import Any

from numba.core import config
from numba.core.caching import (
    CompileResultCacheImpl,
    FunctionCache,
    _CacheLocator,
    _SourceFileBackedLocatorMixin,
)

from spxcc_core.userdirs import user_cache_dir

__all__ = ["UserFunctionCache"]


class _FolderLocator(_SourceFileBackedLocatorMixin, _CacheLocator):
    """A numba cache locator for a function defined in a source file, caching in
    ``<root>/<numba's subfolder name for the source folder>``; ``root`` from :meth:`root`."""

    def __init__(self, py_func: Any, py_file: str) -> None:
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        root = self.root()
        assert root is not None  # from_function returns before construction otherwise
        self._cache_path = os.path.join(
            root, self.get_suitable_cache_subpath(py_file))  # type: ignore[no-untyped-call]

    @classmethod
    def root(cls) -> str | None:
        """The cache root of this locator, or None when it does not apply."""
        raise NotImplementedError

    def get_cache_path(self) -> str:
        """The folder this function's index and data files go in."""
        return self._cache_path

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> _FolderLocator | None:
        """A locator when this place applies and its folder can be created and written."""
        if cls.root() is None:
            return None
        locator: _FolderLocator | None = super().from_function(  # type: ignore[no-untyped-call]
            py_func, py_file)
        return locator


class _NumbaCacheDirLocator(_FolderLocator):
    """``$NUMBA_CACHE_DIR``, honoured first as numba itself does."""

    @classmethod
    def root(cls) -> str | None:
        cache_dir = getattr(config, "CACHE_DIR", "")  # set from the environment by numba
        return str(cache_dir) if cache_dir else None


class _UserCacheLocator(_FolderLocator):
    """``<spxcc user cache>/numba``."""

    @classmethod
    def root(cls) -> str | None:
        return str(user_cache_dir() / "numba")


class _CacheImpl(CompileResultCacheImpl):
    # numba's attribute (a plain class attribute there), tried in order
    _locator_classes: list[type[object]] = [  # noqa: RUF012
        _NumbaCacheDirLocator, _UserCacheLocator]


class UserFunctionCache(FunctionCache):
    """numba's per-function cache, located by the rules of this module. Construct with the
    Python function; raises ``RuntimeError`` when no place can be written."""

    _impl_class = _CacheImpl
