"""Built-in detectors: ``volume_climax``, ``vwap`` (reclaim / rejection), ``orb_pullback``.

Each detector documents its rationale in its module and in ``docs/detectors.md``; their default
parameters are the embedded default profile (``spxcc_core.detect.profile``).
"""

from __future__ import annotations

from typing import Any

from spxcc_core.detect.base import Detector
from spxcc_core.hookspecs import hookimpl
from spxcc_detectors.orb_pullback import OrbPullback, OrbPullbackParams
from spxcc_detectors.volume_climax import VolumeClimax, VolumeClimaxParams
from spxcc_detectors.vwap import VwapParams, VwapReclaimRejection

__all__ = [
    "BUILTIN_DETECTORS",
    "OrbPullback",
    "OrbPullbackParams",
    "VolumeClimax",
    "VolumeClimaxParams",
    "VwapParams",
    "VwapReclaimRejection",
]

BUILTIN_DETECTORS: tuple[type[Detector[Any]], ...] = (VolumeClimax, VwapReclaimRejection,
                                                      OrbPullback)


@hookimpl
def spxcc_register_detectors() -> list[type[Detector[Any]]]:
    return list(BUILTIN_DETECTORS)
