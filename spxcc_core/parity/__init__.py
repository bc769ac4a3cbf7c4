"""Live/replay parity: ``spxcc parity LIVE_RUN_DIR`` (:func:`check_parity`) replays a live run's
recording through the same code and lists every difference field by field
(``parity_report@1``); :mod:`spxcc_core.parity.diff` holds the pure comparison."""

from __future__ import annotations

from spxcc_core.parity.check import ParityResult, check_parity, read_live_run

__all__ = ["ParityResult", "check_parity", "read_live_run"]
