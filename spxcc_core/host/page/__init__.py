"""The command-center page: plain HTML, CSS and one script, shipped as package data.

:func:`page_files` gives what the hub serves (:class:`~spxcc_core.host.hub.Hub` ``pages=``):
``/`` (the page), ``/command-center.js`` and ``/command-center.css``. The page takes all of its
data from the hub's websocket on the same port (see ``docs/operations.md``, "Running the
host"); nothing is fetched from anywhere else.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

__all__ = ["PAGE_FILES", "page_files"]

#: URL path → (file name in this package, content type).
PAGE_FILES: dict[str, tuple[str, str]] = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/command-center.js": ("command-center.js", "text/javascript; charset=utf-8"),
    "/command-center.css": ("command-center.css", "text/css; charset=utf-8"),
}


@cache
def _read(name: str) -> bytes:
    return resources.files(__name__).joinpath(name).read_bytes()


def page_files() -> dict[str, tuple[str, bytes]]:
    """URL path → (content type, bytes) of every file of the page."""
    return {path: (ctype, _read(name)) for path, (name, ctype) in PAGE_FILES.items()}
