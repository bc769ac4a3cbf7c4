"""Rolling slippage statistics per bucket, paper and broker fills apart (issue 11 item 6).

Every :class:`~spxcc_core.contracts.slippage.SlippageRecord` updates four nested buckets of its
``source``, from fine to coarse (:data:`LEVELS`):

- ``detector_time_spread``: detector, time-of-day bucket and spread regime;
- ``detector_time``: detector and time-of-day bucket;
- ``detector``: the detector alone;
- ``all``: every fill of the source.

A fill whose intent no setup produced counts under the detector ``""`` (shown as ``(none)``).

Each bucket keeps, of ``slippageDollars`` (dollars per contract, positive = cost):

- ``count``: fills seen;
- ``ewma``: exponentially weighted mean, ``e ← e + α (x − e)`` starting at the first value, with
  ``α = 1 − 0.5^(1 / halflife_fills)`` (a fill ``halflife_fills`` fills ago weighs half as much
  as the latest);
- ``p50``/``p90``: quantiles of the last ``window`` fills, linearly interpolated between order
  statistics (position ``(n − 1) q`` in the sorted window, numpy's default ``linear`` method).

An update costs O(1) for the EWMA and O(window) for the sorted window (a bounded constant), so
the cost per fill does not grow with the number of fills.

**Minimum-sample rule.** :meth:`RollingSlippage.estimate` starts at the finest bucket asked for
and moves to the next coarser one while the bucket has fewer than ``min_samples`` fills; the
estimate says which ``level`` it used, and ``sufficient`` is False when even ``all`` is short.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Final, Literal

import attrs

from spxcc_core.contracts.slippage import SlippageRecord, SlippageSource

__all__ = [
    "LEVELS",
    "BucketKey",
    "Level",
    "RollingConfig",
    "RollingSlippage",
    "RollingStat",
    "SlippageEstimate",
]

#: Bucket levels, finest first.
Level = Literal["detector_time_spread", "detector_time", "detector", "all"]
LEVELS: Final[tuple[Level, ...]] = ("detector_time_spread", "detector_time", "detector", "all")


def _positive(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (math.isfinite(value) and value > 0.0):
        raise ValueError(f"{attribute.name!r} must be a finite number > 0, got {value!r}")


@attrs.frozen(kw_only=True)
class RollingConfig:
    """Parameters of the rolling statistics.

    :ivar window: fills kept per bucket for p50/p90 (1..100000); default 200.
    :ivar halflife_fills: EWMA half-life in fills (> 0); default 20.
    :ivar min_samples: fills a bucket needs before an estimate uses it (1..``window``);
        default 20.
    """

    window: int = attrs.field(default=200, validator=[attrs.validators.ge(1),
                                                      attrs.validators.le(100_000)])
    halflife_fills: float = attrs.field(default=20.0, validator=_positive)
    min_samples: int = attrs.field(default=20, validator=attrs.validators.ge(1))

    def __attrs_post_init__(self) -> None:
        if self.min_samples > self.window:
            raise ValueError(f"'min_samples' ({self.min_samples}) must not exceed 'window' "
                             f"({self.window})")

    @property
    def alpha(self) -> float:
        """EWMA weight of the newest fill, ``1 − 0.5^(1 / halflife_fills)``."""
        return float(1.0 - 0.5 ** (1.0 / self.halflife_fills))


@attrs.define
class RollingStat:
    """Count, EWMA and a bounded window (kept in arrival order and sorted) of one bucket."""

    window: int
    alpha: float
    count: int = 0
    ewma: float | None = None
    _recent: deque[float] = attrs.field(init=False)
    _sorted: list[float] = attrs.field(init=False, factory=list)

    def __attrs_post_init__(self) -> None:
        self._recent = deque(maxlen=self.window)

    def update(self, value: float) -> None:
        """Add one observation (finite)."""
        self.count += 1
        self.ewma = value if self.ewma is None else self.ewma + self.alpha * (value - self.ewma)
        if len(self._recent) == self.window:
            oldest = self._recent[0]
            del self._sorted[bisect.bisect_left(self._sorted, oldest)]
        self._recent.append(value)
        bisect.insort(self._sorted, value)

    @property
    def window_count(self) -> int:
        """Observations in the window (``min(count, window)``)."""
        return len(self._sorted)

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile (0 ≤ q ≤ 1) of the window, linear between order statistics;
        None for an empty window."""
        s = self._sorted
        if not s:
            return None
        h = (len(s) - 1) * q
        lo = math.floor(h)
        if lo + 1 >= len(s):
            return s[-1]
        return s[lo] + (h - lo) * (s[lo + 1] - s[lo])

    def recent(self) -> tuple[float, ...]:
        """The window's observations, oldest first."""
        return tuple(self._recent)


@attrs.frozen(order=True)
class BucketKey:
    """One bucket: ``source``, ``level`` and the parts the level uses (the others are None)."""

    source: SlippageSource
    level: Level
    detector: str | None = None
    time_bucket: str | None = None
    spread_regime: str | None = None

    @property
    def label(self) -> str:
        """``orb × open × tight``-style name of the bucket (``all`` for the coarsest)."""
        parts = [p if p != "" else "(none)" for p in
                 (self.detector, self.time_bucket, self.spread_regime) if p is not None]
        return " × ".join(parts) if parts else "all"


def _keys(source: SlippageSource, detector: str, time_bucket: str,
          spread_regime: str | None) -> list[BucketKey]:
    keys = [BucketKey(source, "detector_time", detector, time_bucket),
            BucketKey(source, "detector", detector),
            BucketKey(source, "all")]
    if spread_regime is not None:
        keys.insert(0, BucketKey(source, "detector_time_spread", detector, time_bucket,
                                 spread_regime))
    return keys


@attrs.frozen(kw_only=True)
class SlippageEstimate:
    """The rolling slippage of a bucket, in dollars per contract per fill (positive = cost).

    ``bucket`` is the bucket used (its ``level`` says how far the minimum-sample rule fell
    back); ``count`` its fills; ``ewma``/``p50``/``p90`` None when it has none; ``sufficient``
    False when no level had ``min_samples`` fills (the estimate is then the ``all`` bucket's).
    """

    bucket: BucketKey
    count: int
    ewma: float | None
    p50: float | None
    p90: float | None
    sufficient: bool

    def statistic(self, name: Literal["ewma", "p50", "p90"]) -> float | None:
        """The named statistic."""
        return {"ewma": self.ewma, "p50": self.p50, "p90": self.p90}[name]


class RollingSlippage:
    """Rolling statistics of every bucket, updated one record at a time (O(1) in the number of
    records seen; see the module docstring)."""

    def __init__(self, config: RollingConfig | None = None) -> None:
        self.config = config if config is not None else RollingConfig()
        self._stats: dict[BucketKey, RollingStat] = {}

    @classmethod
    def of(cls, records: Iterable[SlippageRecord],
           config: RollingConfig | None = None) -> RollingSlippage:
        """Statistics after ``records`` in the given order (oldest first)."""
        rolling = cls(config)
        for r in records:
            rolling.update(r)
        return rolling

    def update(self, record: SlippageRecord) -> None:
        """Add one fill's slippage to its four buckets."""
        for key in _keys(record.source, record.detector or "", record.time_bucket,
                         record.spread_regime):
            stat = self._stats.get(key)
            if stat is None:
                stat = self._stats[key] = RollingStat(self.config.window, self.config.alpha)
            stat.update(record.slippage_dollars)

    def stat(self, key: BucketKey) -> RollingStat | None:
        """The statistics of one bucket, None when it has seen no fill."""
        return self._stats.get(key)

    def buckets(self) -> Iterator[tuple[BucketKey, RollingStat]]:
        """Every bucket with at least one fill, sorted by (source, level, parts)."""
        order = {level: i for i, level in enumerate(LEVELS)}
        for key in sorted(self._stats, key=lambda k: (k.source, order[k.level],
                                                      k.detector or "", k.time_bucket or "",
                                                      k.spread_regime or "")):
            yield key, self._stats[key]

    def estimate(self, source: SlippageSource, detector: str | None, time_bucket: str,
                 spread_regime: str | None = None) -> SlippageEstimate:
        """The estimate of the finest bucket with ``min_samples`` fills, falling back from
        ``detector_time_spread`` (or ``detector_time`` when ``spread_regime`` is None, e.g.
        before a contract is chosen) to ``detector`` and ``all``."""
        keys = _keys(source, detector or "", time_bucket, spread_regime)
        for key in keys:
            stat = self._stats.get(key)
            if stat is not None and stat.count >= self.config.min_samples:
                return _estimate(key, stat, sufficient=True)
        last = keys[-1]
        return _estimate(last, self._stats.get(last), sufficient=False)


def _estimate(key: BucketKey, stat: RollingStat | None, *, sufficient: bool) -> SlippageEstimate:
    if stat is None:
        return SlippageEstimate(bucket=key, count=0, ewma=None, p50=None, p90=None,
                                sufficient=sufficient)
    return SlippageEstimate(bucket=key, count=stat.count, ewma=stat.ewma,
                            p50=stat.quantile(0.5), p90=stat.quantile(0.9),
                            sufficient=sufficient)
