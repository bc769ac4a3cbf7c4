"""Replay progress: a ``rich`` progress bar on an interactive stderr, nothing otherwise.

Progress goes to stderr only and never into any output file, so it cannot break determinism.
"""

from __future__ import annotations

import sys
from typing import Any, Protocol

__all__ = ["NullProgress", "Progress", "make_progress"]


class Progress(Protocol):
    """Receives progress in events (or bytes for a recording); ``close`` ends the display."""

    def advance(self, amount: int) -> None:
        """Count ``amount`` more units done."""

    def close(self) -> None:
        """End the display (idempotent)."""


class NullProgress:
    """Progress that shows nothing."""

    def advance(self, amount: int) -> None:
        """Ignore progress."""

    def close(self) -> None:
        """Nothing to close."""


class _RichProgress:
    def __init__(self, total: int, description: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        self._bar = RichProgress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeRemainingColumn(),
                                 console=Console(stderr=True), transient=True)
        self._task = self._bar.add_task(description, total=max(total, 1))
        self._bar.start()
        self._open = True

    def advance(self, amount: int) -> None:
        self._bar.advance(self._task, amount)

    def close(self) -> None:
        if self._open:
            self._open = False
            self._bar.stop()


def make_progress(total: int, description: str, *, enabled: bool | None = None,
                  stream: Any = None) -> Progress:
    """A progress display of ``total`` units.

    :param enabled: True forces the bar, False disables it; None shows it only when ``stream``
        (default ``sys.stderr``) is a terminal.
    """
    if enabled is None:
        s = stream if stream is not None else sys.stderr
        isatty = getattr(s, "isatty", None)
        enabled = bool(isatty and isatty())
    if not enabled:
        return NullProgress()
    return _RichProgress(total, description)
