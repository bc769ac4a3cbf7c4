"""Built-in detectors: ``volume_climax``, ``vwap`` (reclaim / rejection), ``orb_pullback``.

Each detector documents its rationale in its module and in ``docs/detectors.md``; their default
parameters are the embedded default profile (``spxcc_core.detect.profile``). The detector
modules are imported when the hook is called or a name below is first used, not when the plugin
is registered (commands that detect nothing do not pay for them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spxcc_core._lazy import lazy_exports
from spxcc_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from spxcc_core.detect.base import Detector
    from spxcc_detectors.builtin import BUILTIN_DETECTORS
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


@hookimpl
def spxcc_register_detectors() -> list[type[Detector[Any]]]:
    from spxcc_detectors.builtin import BUILTIN_DETECTORS

    return list(BUILTIN_DETECTORS)


__getattr__, __dir__ = lazy_exports(__name__, {
    "BUILTIN_DETECTORS": "spxcc_detectors.builtin",
    "OrbPullback": "spxcc_detectors.orb_pullback",
    "OrbPullbackParams": "spxcc_detectors.orb_pullback",
    "VolumeClimax": "spxcc_detectors.volume_climax",
    "VolumeClimaxParams": "spxcc_detectors.volume_climax",
    "VwapParams": "spxcc_detectors.vwap",
    "VwapReclaimRejection": "spxcc_detectors.vwap"}, __all__, globals())
