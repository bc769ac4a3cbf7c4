"""An example third-party spxcc plugin: the ``opening_drive`` detector.

Registered through the ``spxcc`` entry-point group (see ``pyproject.toml``); spxcc discovers it
with ``get_plugin_manager(load_entrypoints=True)``.
"""

from __future__ import annotations

from typing import Any

from spxcc_core.detect.base import Detector
from spxcc_core.hookspecs import hookimpl
from spxcc_example_detector.opening_drive import OpeningDrive, OpeningDriveParams

__all__ = ["OpeningDrive", "OpeningDriveParams", "spxcc_register_detectors"]


@hookimpl
def spxcc_register_detectors() -> list[type[Detector[Any]]]:
    """The detectors this plugin provides."""
    return [OpeningDrive]
