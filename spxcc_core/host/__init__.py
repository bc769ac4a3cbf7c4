"""The live host: Massive live websocket → the session pipeline → a websocket hub.

Public API (imported lazily, so reading the wire contracts does not load numba)::

    Host, SetupExecutor                        # spxcc_core.host.app (docs/embedding.md)
    HostConfig, load_host_config, parse_host_config   # spxcc_core.host.config
    Pacer                                      # spxcc_core.host.pace
    run_live, LiveResult, feeds_for            # spxcc_core.host.live
    Hub, HubConfig, CHANNELS, ACCOUNT_CHANNELS, STATUS_CHANNEL, to_v1   # spxcc_core.host.hub
    TokenHash, hash_token, new_token           # spxcc_core.host.auth
    Recorder                                   # spxcc_core.host.record
    Clock, SystemClock, ManualClock            # spxcc_core.host.clock
    HubStatus, HubReply, FeedStatus, FeedGap, ReconcileStatus,
    LiveReport, LiveReportV2, LiveReportV3,
    StoreHealth                                # spxcc_core.host.wire

The per-batch step itself is :class:`spxcc_core.pipeline.Pipeline` (shared with replay).
See ``docs/live.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spxcc_core.host.app import Host, SetupExecutor
    from spxcc_core.host.auth import TokenHash, hash_token, new_token
    from spxcc_core.host.clock import Clock, ManualClock, SystemClock
    from spxcc_core.host.config import HostConfig, load_host_config, parse_host_config
    from spxcc_core.host.hub import (
        ACCOUNT_CHANNELS,
        CHANNELS,
        STATUS_CHANNEL,
        Hub,
        HubConfig,
        to_v1,
    )
    from spxcc_core.host.live import LiveResult, feeds_for, run_live
    from spxcc_core.host.pace import Pacer
    from spxcc_core.host.record import Recorder
    from spxcc_core.host.wire import (
        FeedGap,
        FeedStatus,
        HubReply,
        HubStatus,
        LiveReport,
        LiveReportV2,
        LiveReportV3,
        ReconcileStatus,
        StoreHealth,
    )

__all__ = [
    "ACCOUNT_CHANNELS",
    "CHANNELS",
    "STATUS_CHANNEL",
    "Clock",
    "FeedGap",
    "FeedStatus",
    "Host",
    "HostConfig",
    "Hub",
    "HubConfig",
    "HubReply",
    "HubStatus",
    "LiveReport",
    "LiveReportV2",
    "LiveReportV3",
    "LiveResult",
    "ManualClock",
    "Pacer",
    "ReconcileStatus",
    "Recorder",
    "SetupExecutor",
    "StoreHealth",
    "SystemClock",
    "TokenHash",
    "feeds_for",
    "hash_token",
    "load_host_config",
    "new_token",
    "parse_host_config",
    "run_live",
    "to_v1",
]

_WHERE = {
    "Clock": "clock", "ManualClock": "clock", "SystemClock": "clock",
    "CHANNELS": "hub", "STATUS_CHANNEL": "hub", "Hub": "hub", "to_v1": "hub",
    "ACCOUNT_CHANNELS": "hub", "HubConfig": "hub",
    "TokenHash": "auth", "hash_token": "auth", "new_token": "auth",
    "LiveResult": "live", "feeds_for": "live", "run_live": "live",
    "Recorder": "record",
    "Host": "app", "SetupExecutor": "app", "Pacer": "pace",
    "HostConfig": "config", "load_host_config": "config", "parse_host_config": "config",
    "HubStatus": "wire", "LiveReport": "wire", "LiveReportV2": "wire", "HubReply": "wire",
    "LiveReportV3": "wire", "StoreHealth": "wire",
    "FeedStatus": "wire", "FeedGap": "wire", "ReconcileStatus": "wire",
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
