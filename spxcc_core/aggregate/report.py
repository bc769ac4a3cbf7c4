"""Wire contracts of the aggregation run report and quarantine records: re-exported from
:mod:`spxcc_core.contracts.report`, their one home (a higher layer may import the contracts;
the contracts never import this module)."""

from __future__ import annotations

from spxcc_core.contracts import report as _home
from spxcc_core.contracts.report import *  # noqa: F403

__all__ = _home.__all__
