"""Wire contracts of the live host: re-exported from :mod:`spxcc_core.contracts.host`, their one
home (a higher layer may import the contracts; the contracts never import this module)."""

from __future__ import annotations

from spxcc_core.contracts.host import (
    FeedProblem,
    HubStats,
    HubStatus,
    InputEnd,
    LiveLink,
    LiveReport,
    StopReason,
)

__all__ = [
    "FeedProblem",
    "HubStats",
    "HubStatus",
    "InputEnd",
    "LiveLink",
    "LiveReport",
    "StopReason",
]
