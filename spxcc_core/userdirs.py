"""The per-user folders spxcc writes outside the installed package.

Nothing is ever written inside the installed package: pip's uninstall removes only the files it
installed, and a leftover ``site-packages/spxcc_core/`` would shadow a later install as a
namespace package.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

__all__ = ["CACHE_DIR_ENV", "user_cache_dir"]

#: Environment variable that replaces the user cache folder (for all of spxcc's caches).
CACHE_DIR_ENV = "SPXCC_CACHE_DIR"


def user_cache_dir() -> Path:
    """spxcc's cache folder: ``$SPXCC_CACHE_DIR`` when set and non-empty, else
    ``platformdirs.user_cache_dir("spxcc")`` (``~/.cache/spxcc`` on Linux). Made absolute; not
    created here. Holds ``sample/`` (generated sessions) and ``numba/`` (compiled kernels)."""
    base = os.environ.get(CACHE_DIR_ENV) or platformdirs.user_cache_dir("spxcc")
    return Path(base).expanduser().absolute()
