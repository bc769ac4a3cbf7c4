"""spxcc core: versioned contracts, microbar aggregation, plugin manager and host.

The core holds no broker- or detector-specific code; those are plugins (see ``plugins/``).
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
