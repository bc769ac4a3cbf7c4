"""Wire contracts of the live host: re-exported from :mod:`spxcc_core.contracts.host`, their one
home (a higher layer may import the contracts; the contracts never import this module)."""

from __future__ import annotations

from spxcc_core.contracts import host as _home
from spxcc_core.contracts.host import *  # noqa: F403

__all__ = _home.__all__
