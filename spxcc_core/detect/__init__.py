"""Setup detection: detector base classes, per-bar context, quote-aware gating, profiles and
the runner. Detectors themselves are plugins (built-ins in ``plugins/spxcc_detectors``)."""

from __future__ import annotations

from spxcc_core.detect.base import ContextProvider, Detector, DetectorParams, NoParams
from spxcc_core.detect.context import BarContext
from spxcc_core.detect.gating import GatingProfile, decide, evaluate_gates
from spxcc_core.detect.profile import (
    Profile,
    ResolvedProvider,
    default_profile,
    load_profile,
    parse_profile,
    resolve_providers,
)
from spxcc_core.detect.runner import DetectorRunner

__all__ = [
    "BarContext",
    "ContextProvider",
    "Detector",
    "DetectorParams",
    "DetectorRunner",
    "GatingProfile",
    "NoParams",
    "Profile",
    "ResolvedProvider",
    "decide",
    "default_profile",
    "evaluate_gates",
    "load_profile",
    "parse_profile",
    "resolve_providers",
]
