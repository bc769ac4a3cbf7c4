"""Built-in context provider ``gamma``: dealer gamma pressure (phase 14 G3) for detectors.

Publishes a ``gamma_pressure@1`` (:class:`~spxcc_core.contracts.setup.GammaPressure`) on the bars
of the chain's underlying (``I:SPX``) and of its proxy (``SPY``), so detectors read it as
``ctx.gamma``: the open-interest baseline of the session's chain snapshot at the current spot,
plus the intraday flow proxy from the option microbars' ``deltaVolume``. Without a chain snapshot
it publishes nothing (``ctx.gamma`` stays None). See :mod:`spxcc_gamma.provider` and
``docs/detectors.md``.
"""

from __future__ import annotations

from spxcc_core.detect.base import ContextProvider
from spxcc_core.hookspecs import hookimpl
from spxcc_gamma.provider import GammaParams, GammaProvider

__all__ = ["GammaParams", "GammaProvider"]


@hookimpl
def spxcc_register_context_providers() -> list[type[ContextProvider]]:
    return [GammaProvider]
