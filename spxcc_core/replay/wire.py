"""Wire contracts of the session cache and replays: re-exported from
:mod:`spxcc_core.contracts.replay`, their one home (a higher layer may import the contracts;
the contracts never import this module)."""

from __future__ import annotations

from spxcc_core.contracts import replay as _home
from spxcc_core.contracts.replay import *  # noqa: F403

__all__ = _home.__all__
