"""Wire contracts of the aggregation run report and quarantine records: re-exported from :mod:`spxcc_core.contracts.report`, their one
home (a higher layer may import the contracts; the contracts never import this module)."""

from __future__ import annotations

from spxcc_core.contracts.report import (
    PluginErrorRecord,
    QuarantineRecord,
    ReportConfig,
    RunReport,
)

__all__ = [
    "PluginErrorRecord",
    "QuarantineRecord",
    "ReportConfig",
    "RunReport",
]
