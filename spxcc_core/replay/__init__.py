"""Session cache, replay engine and multi-session scale-out.

Public API (imported lazily, so reading the wire contracts does not load numba)::

    ingest, open_cache, SessionCache           # spxcc_core.replay.cache
    replay_session, run_replay, ReplayRun      # spxcc_core.replay.engine
    replay_many                                # spxcc_core.replay.executor
    SessionManifest, ReplayReport, ReplayResult  # spxcc_core.replay.wire

See ``docs/replay.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spxcc_core._lazy import lazy_exports

if TYPE_CHECKING:
    from spxcc_core.replay.cache import SessionCache, ingest, open_cache
    from spxcc_core.replay.engine import ReplayRun, replay_session, run_replay
    from spxcc_core.replay.executor import replay_many
    from spxcc_core.replay.wire import ReplayReport, ReplayResult, SessionManifest

__all__ = [
    "ReplayReport",
    "ReplayResult",
    "ReplayRun",
    "SessionCache",
    "SessionManifest",
    "ingest",
    "open_cache",
    "replay_many",
    "replay_session",
    "run_replay",
]

_WHERE = {
    "SessionCache": "spxcc_core.replay.cache",
    "ingest": "spxcc_core.replay.cache",
    "open_cache": "spxcc_core.replay.cache",
    "ReplayRun": "spxcc_core.replay.engine",
    "replay_session": "spxcc_core.replay.engine",
    "run_replay": "spxcc_core.replay.engine",
    "replay_many": "spxcc_core.replay.executor",
    "ReplayReport": "spxcc_core.replay.wire",
    "ReplayResult": "spxcc_core.replay.wire",
    "SessionManifest": "spxcc_core.replay.wire",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__, globals())
