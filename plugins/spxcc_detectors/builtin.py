"""The tuple of built-in detector classes, in registration order."""

from __future__ import annotations

from typing import Any

from spxcc_core.detect.base import Detector
from spxcc_detectors.orb_pullback import OrbPullback
from spxcc_detectors.volume_climax import VolumeClimax
from spxcc_detectors.vwap import VwapReclaimRejection

__all__ = ["BUILTIN_DETECTORS"]

BUILTIN_DETECTORS: tuple[type[Detector[Any]], ...] = (VolumeClimax, VwapReclaimRejection,
                                                      OrbPullback)
