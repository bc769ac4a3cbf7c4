"""Built-in context provider ``gamma``: dealer gamma pressure (phase 14 G3) for detectors.

Publishes a ``gamma_pressure@1`` (:class:`~spxcc_core.contracts.setup.GammaPressure`) on the bars
of the chain's underlying (``I:SPX``) and of its proxy (``SPY``), so detectors read it as
``ctx.gamma``: the open-interest baseline of the session's chain snapshot at the current spot,
plus the intraday flow proxy from the option microbars' ``deltaVolume``. Without a chain snapshot
it publishes nothing (``ctx.gamma`` stays None). See :mod:`spxcc_gamma.provider` and
``docs/detectors.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spxcc_core._lazy import lazy_exports
from spxcc_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from spxcc_core.detect.base import ContextProvider
    from spxcc_gamma.provider import GammaParams, GammaProvider

__all__ = ["GammaParams", "GammaProvider"]


@hookimpl
def spxcc_register_context_providers() -> list[type[ContextProvider]]:
    from spxcc_gamma.provider import GammaProvider  # imported on first use, not at registration

    return [GammaProvider]


__getattr__, __dir__ = lazy_exports(__name__, dict.fromkeys(
    ("GammaParams", "GammaProvider"), "spxcc_gamma.provider"), __all__, globals())
