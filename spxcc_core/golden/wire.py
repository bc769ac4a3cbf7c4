"""Wire contracts of ``golden_report@1``: re-exported from :mod:`spxcc_core.contracts.golden`,
their one home (a higher layer may import the contracts; the contracts never import this
module)."""

from __future__ import annotations

from spxcc_core.contracts import golden as _home
from spxcc_core.contracts.golden import *  # noqa: F403

__all__ = _home.__all__
