"""Recording a live feed as websocket JSON Lines — the format ``spxcc replay`` reads.

Every message the Massive client receives (handshake statuses included, in order, across
reconnects) is written as one line, so the recording's message indices are the live session's:
a replay of it decodes exactly the columns the live pipeline saw. Line breaks inside a message
(insignificant JSON whitespace) become spaces; anything matching ``scrub`` (the API key, which
the server never sends) is replaced. ``.jsonl`` files are flushed after every message so a
crash loses nothing received; ``.jsonl.gz`` files are compressed (flushed at close).
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO

from spxcc_core.errors import ConfigError
from spxcc_core.hashing import sha256_file

__all__ = ["Recorder"]


class Recorder:
    """Writes received websocket messages to ``path`` (created or replaced).

    :param scrub: applied to every message before it is written.
    :raises ConfigError: the name does not end in ``.jsonl``/``.jsonl.gz`` or the file cannot
        be created.
    """

    def __init__(self, path: str | os.PathLike[str], *,
                 scrub: Callable[[bytes], bytes] | None = None) -> None:
        self.path = Path(path)
        name = self.path.name.lower()
        if not name.endswith((".jsonl", ".jsonl.gz")):
            raise ConfigError(f"--record {self.path.name}: the recording must be a .jsonl or "
                              ".jsonl.gz file (what spxcc replay reads)")
        self._gz = name.endswith(".gz")
        self._scrub = scrub
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh: IO[bytes] = (
                gzip.open(self.path, "wb") if self._gz  # type: ignore[assignment]  # noqa: SIM115
                else open(self.path, "wb"))  # noqa: SIM115 - open for the session, closed by close()
        except OSError as exc:
            raise ConfigError(f"--record {self.path}: cannot create the file "
                              f"({exc.strerror or exc})") from None
        #: Messages written so far.
        self.messages = 0
        self.closed = False

    def __repr__(self) -> str:
        return f"Recorder({self.path.name!r}, messages={self.messages})"

    def write(self, message: bytes) -> None:
        """Append one message as one line."""
        if self._scrub is not None:
            message = self._scrub(message)
        line = message.strip().replace(b"\r", b" ").replace(b"\n", b" ")
        self._fh.write(line + b"\n")
        if not self._gz:
            self._fh.flush()
        self.messages += 1

    def close(self) -> str:
        """Close the file (idempotent); returns the SHA-256 of its bytes."""
        if not self.closed:
            self.closed = True
            self._fh.close()
        return sha256_file(self.path)
