"""Setup instances: lifecycle and outcomes (:mod:`.lifecycle`) and their SQLite store
(:mod:`.store`)."""

from __future__ import annotations

from spxcc_core.setups.lifecycle import (
    SETUP_NAMESPACE,
    OutcomePolicy,
    SetupTracker,
    gap_expectancy,
    instrument_kind,
    make_setup_id,
    summarize,
)

__all__ = ["SETUP_NAMESPACE", "OutcomePolicy", "SetupTracker", "gap_expectancy", "instrument_kind",
           "make_setup_id", "summarize"]
