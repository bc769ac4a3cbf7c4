"""The host's clock is the one injected clock of :mod:`spxcc_core.clock` (kept importable here)."""

from __future__ import annotations

from spxcc_core.clock import Clock, ManualClock, SystemClock

__all__ = ["Clock", "ManualClock", "SystemClock"]
