"""The live host: Massive live websocket → the session pipeline → a websocket hub.

Public API (imported lazily, so reading the wire contracts does not load numba)::

    run_live, LiveResult, feeds_for            # spxcc_core.host.live
    Hub, CHANNELS, STATUS_CHANNEL, to_v1       # spxcc_core.host.hub
    Recorder                                   # spxcc_core.host.record
    Clock, SystemClock, ManualClock            # spxcc_core.host.clock
    HubStatus, LiveReport                      # spxcc_core.host.wire

The per-batch step itself is :class:`spxcc_core.pipeline.Pipeline` (shared with replay).
See ``docs/live.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spxcc_core.host.clock import Clock, ManualClock, SystemClock
    from spxcc_core.host.hub import CHANNELS, STATUS_CHANNEL, Hub, to_v1
    from spxcc_core.host.live import LiveResult, feeds_for, run_live
    from spxcc_core.host.record import Recorder
    from spxcc_core.host.wire import HubStatus, LiveReport

__all__ = [
    "CHANNELS",
    "STATUS_CHANNEL",
    "Clock",
    "Hub",
    "HubStatus",
    "LiveReport",
    "LiveResult",
    "ManualClock",
    "Recorder",
    "SystemClock",
    "feeds_for",
    "run_live",
    "to_v1",
]

_WHERE = {
    "Clock": "clock", "ManualClock": "clock", "SystemClock": "clock",
    "CHANNELS": "hub", "STATUS_CHANNEL": "hub", "Hub": "hub", "to_v1": "hub",
    "LiveResult": "live", "feeds_for": "live", "run_live": "live",
    "Recorder": "record",
    "HubStatus": "wire", "LiveReport": "wire",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
