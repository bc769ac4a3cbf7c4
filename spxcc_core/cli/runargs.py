"""Options shared by the run commands (``spxcc replay`` and ``spxcc live``)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from spxcc_core.errors import ConfigError

if TYPE_CHECKING:
    from spxcc_core.detect.profile import Profile

__all__ = ["DB_HELP", "add_execute_args", "add_selection_args", "db_argument",
           "detector_names", "execute_options", "option_given", "run_profile", "store_path"]

#: How ``--db`` is described (every command that takes it).
DB_HELP = "store: an SQLite file, or a postgresql://USER@HOST:PORT/DB URL"


def add_selection_args(p: argparse.ArgumentParser) -> None:
    """``--detectors NAME,...`` and ``--profile FILE.toml``."""
    p.add_argument("--detectors", default=None, metavar="NAME,...",
                   help="run only these detectors (default: every installed detector)")
    p.add_argument("--profile", type=Path, default=None, metavar="FILE.toml",
                   help="detector profile (default: the active profile of the profile store, "
                        "$SPXCC_DB or the user data folder — see `spxcc profile show` — else "
                        "the embedded default profile)")


def run_profile(path: Path | None) -> Path | Profile | None:
    """The profile a run uses: ``--profile`` when given, else the active profile of the
    profile store (``$SPXCC_DB`` or the user data folder; a missing file is not created),
    else None (the embedded default).

    :raises ConfigError: the store cannot be opened or its active profile does not parse.
    """
    if path is not None:
        return path
    from spxcc_core.run.profiles import active_profile
    from spxcc_core.store.sqlite import default_db_path

    return active_profile(default_db_path())


def db_argument(text: str) -> str | Path:
    """argparse ``type`` of ``--db``: a ``postgresql://`` URL stays text (a Path would fold its
    ``//``), anything else is a file path."""
    from spxcc_core.store.target import db_argument as parse

    return parse(text)


def detector_names(text: str | None) -> list[str] | None:
    """The names of ``--detectors`` (comma-separated, blanks dropped); None when not given.

    :raises ConfigError: the option was given without any name.
    """
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ConfigError("--detectors: give at least one detector name")
    return names


def store_path(db: str | Path | None, default: Path | None) -> str | Path | None:
    """The store of a run: ``--db``, else ``$SPXCC_DB``, else ``default`` (None: an
    in-memory store). A file path, or a PostgreSQL URL (kept as text)."""
    from spxcc_core.store.sqlite import DB_ENV
    from spxcc_core.store.target import db_argument

    if db is not None:
        return db
    return db_argument(os.environ[DB_ENV]) if os.environ.get(DB_ENV) else default


def add_execute_args(p: argparse.ArgumentParser, what: str) -> None:
    """``--execute BROKER`` and ``--execute-option KEY=VALUE`` (``what``: the help of
    ``--execute``)."""
    p.add_argument("--execute", default=None, metavar="BROKER", help=what)
    p.add_argument("--execute-option", action="append", default=[], metavar="KEY=VALUE",
                   help="broker option for --execute (repeatable), e.g. latency_ms=500 or "
                        "fill=mid for paper")


def execute_options(broker: str | None, pairs: Sequence[str]) -> dict[str, object]:
    """``--execute-option KEY=VALUE`` pairs as a dict.

    :raises ConfigError: a pair without ``=`` (named by its rank), or options without
        ``--execute``.
    """
    if pairs and broker is None:
        raise ConfigError("--execute-option needs --execute BROKER")
    out: dict[str, object] = {}
    for rank, pair in enumerate(pairs, 1):
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--execute-option number {rank}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def option_given(value: object) -> bool:
    """True when an argparse option was given: its value is not None, False or an empty
    list (the defaults of options that refuse to be given without another)."""
    return value is not None and value is not False and value != []
