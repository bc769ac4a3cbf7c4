"""Row-order anomalies that exercise the aggregator's quarantine paths: late rows (an event
moved a few rows later than its timestamp) and exact duplicate rows (same ``seq`` and values)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["count_for", "disorder_index"]


def count_for(rate: float, n: int, scale: float) -> int:
    """How many anomalies of a kind to plant: ``rate × n`` rounded, at least 1 when ``n > 0``
    (``rate`` is per row) — or a fixed ``rate × scale`` when ``rate >= 1`` (count per session)."""
    if n <= 0:
        return 0
    k = rate * scale if rate >= 1 else rate * n
    return max(1, round(k))


def disorder_index(rng: np.random.Generator, ts: npt.NDArray[np.int64], *, late: int,
                   duplicates: int) -> npt.NDArray[np.int64]:
    """A row index over ``ts`` (sorted) that moves ``late`` rows 3 positions later (each then
    arrives after a strictly newer row) and repeats ``duplicates`` rows right after themselves.

    Chosen rows are spread out so no two anomalies touch; rows whose move would not make them
    late (equal timestamps) are skipped, so the planted count can be slightly lower.
    """
    n = len(ts)
    index = np.arange(n, dtype=np.int64)
    want = late + duplicates
    if n < 16 or want == 0:
        return index
    slots = np.arange(8, n - 8, 8)
    pick = np.sort(rng.choice(slots, size=min(want, len(slots)), replace=False))
    order = rng.permutation(len(pick))
    late_at = pick[order[:late]]
    dup_at = pick[order[late:]]
    late_at = late_at[ts[late_at] < ts[late_at + 3]]
    moved = index.copy()
    for shift in range(3):  # rows i+1..i+3 move up one; row i goes to i+3
        moved[late_at + shift] = index[late_at + shift + 1]
    moved[late_at + 3] = index[late_at]
    out: Any = np.insert(moved, dup_at + 1, moved[dup_at])
    return np.asarray(out, dtype=np.int64)
