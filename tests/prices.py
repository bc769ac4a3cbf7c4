"""Price comparison for the hand-worked rule tests."""

from __future__ import annotations

from typing import Any

import pytest

__all__ = ["px"]


def px(value: float) -> Any:
    """``value`` to 1e-9: tight enough that a basis point computed as 1/10001 or an R
    taken at the wrong multiple shows, loose enough for decimal prices in binary."""
    return pytest.approx(value, rel=0.0, abs=1e-9)
