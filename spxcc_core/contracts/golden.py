"""Wire contract of a golden case's ``expected/report.json`` (``golden_report@1``).

Unlike a replay report, every detector-dependent number sits under ``detectors[name]``, so a
golden comparison can be restricted to the detectors a case was reviewed for while other
installed detectors run alongside.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from spxcc_core.contracts.base import Contract
from spxcc_core.contracts.report import PluginErrorRecord, RunReport
from spxcc_core.contracts.setup import SetupStats

__all__ = ["DetectorSummary", "GoldenReport"]


class DetectorSummary(Contract, frozen=True, kw_only=True):
    """One detector's results on one golden case.

    ``evaluated``/``passed``/``blocked`` count its candidates by gate verdict and ``reasons``
    its failed checks by gate name; ``setups`` counts setups created; ``outcomes`` are their
    statistics (T1 hit rate over triggered setups, expectancy in R); ``errors`` the exceptions
    it raised (``"<count> x <first error>"``, empty normally).
    """

    version: int
    evaluated: int
    passed: int
    blocked: int
    reasons: dict[str, int]
    setups: int
    outcomes: SetupStats
    errors: list[str] = msgspec.field(default_factory=list)


class GoldenReport(Contract, frozen=True, kw_only=True):
    """``expected/report.json`` of a golden case (``golden_report@1``).

    ``inputs`` maps each input file name to the SHA-256 of its bytes; ``aggregation`` is the
    microbar run report; ``profile`` names the detector profile (``name@version``);
    ``detectors`` holds the per-detector results; ``plugin_errors`` failures of plugins that
    are not detectors (empty normally).
    """

    contract_name: ClassVar[str] = "golden_report"
    contract_version: ClassVar[int] = 1

    case: str
    summary: str
    session_date: str
    inputs: dict[str, str]
    aggregation: RunReport
    profile: str
    detectors: dict[str, DetectorSummary]
    plugin_errors: list[PluginErrorRecord] = msgspec.field(default_factory=list)

