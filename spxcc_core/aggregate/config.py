"""Aggregator configuration (validated at construction; a bad value raises ``ConfigError``)."""

from __future__ import annotations

from typing import Any

import attrs

from spxcc_core.errors import ConfigError

__all__ = ["ENGINES", "MAX_WINDOW_MS", "AggregatorConfig"]

#: The aggregation engines (same output): ``batch`` and ``stream`` (:mod:`.engine`).
ENGINES = ("batch", "stream")

#: Upper bound of ``stale_ms`` and ``lateness_ms`` (one year) so nanosecond arithmetic never
#: overflows int64.
MAX_WINDOW_MS = 366 * 86_400_000


def _int_value(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer number of milliseconds, got {value!r}")
    return value


def _check_interval(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    v = _int_value(attribute.name, value)
    if v <= 0 or 60_000 % v != 0:
        raise ConfigError(f"interval_ms must be > 0 and divide 60000 evenly, got {v}")


def _check_window(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    v = _int_value(attribute.name, value)
    if v < 0 or v > MAX_WINDOW_MS:
        raise ConfigError(f"{attribute.name} must be between 0 and {MAX_WINDOW_MS}, got {v}")


def _check_ticker(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ConfigError(f"ticker must be a non-empty string or None, got {value!r}")


@attrs.frozen
class AggregatorConfig:
    """How microbars are cut (``spec/microbar.md``).

    ``interval_ms``: bucket length in ms, > 0 and a divisor of 60 000 (default 1000).
    ``stale_ms``: a quote is fresh at ``t`` while ``t − quote.ts <= stale_ms`` (default 2000, >= 0).
    ``lateness_ms``: an event older than its feed's ``max_ts − lateness_ms`` is quarantined as
    ``late`` (default 0, >= 0). ``ticker``: only recorded in the run report (sources filter).
    """

    interval_ms: int = attrs.field(default=1000, validator=_check_interval)
    stale_ms: int = attrs.field(default=2000, validator=_check_window)
    lateness_ms: int = attrs.field(default=0, validator=_check_window)
    ticker: str | None = attrs.field(default=None, validator=_check_ticker)
