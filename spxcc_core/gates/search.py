"""The optimizer's search space: which profile parameters vary and over what (TOML).

A search space names parameters of a profile — ``[gating.NAME]``, ``[outcome.NAME]``,
``[context.NAME]`` or ``[detectors.DETECTOR.NAME]`` (a detector's ``params``) — and gives
each either ``values = [...]`` (a list to choose from) or ``low`` and ``high`` (a range; both
integers: an integer range, inclusive; else a float range; ``step`` makes it a grid), and the
top-level ``method``: ``"random"`` (default: every trial draws each parameter independently,
uniformly, from ``numpy.random.default_rng(seed)``, parameters in sorted order) or ``"grid"``
(every combination, in sorted-parameter, ascending-value order; a range needs ``step``).
Unknown keys anywhere are errors naming the key; so is a parameter the profile does not have.

:data:`DEFAULT_SPACE_TOML` is the space used when none is given (``docs/release-gates.md``).
A candidate is the base profile's TOML with the drawn values set (:func:`candidate_toml`);
floats drawn from a range are rounded to 4 decimals so candidates read well and hash the same
everywhere.
"""

from __future__ import annotations

import copy
import itertools
import math
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs
import numpy as np

from spxcc_core.detect.gating import GatingProfile
from spxcc_core.detect.profile import ContextConfig
from spxcc_core.errors import ConfigError
from spxcc_core.run.profiles import toml_value
from spxcc_core.setups.lifecycle import OutcomePolicy

__all__ = ["DEFAULT_SPACE_TOML", "Parameter", "SearchSpace", "candidate_toml", "load_space",
           "parse_space"]

DEFAULT_SPACE_TOML = """\
# spxcc optimizer search space (docs/release-gates.md, "The optimizer")
method = "random"

[gating.max_avg_spread_bps]
low = 3.0
high = 8.0

[gating.min_quote_coverage_pct]
values = [60.0, 70.0, 80.0, 90.0]

[detectors.volume_climax.spike_multiple]
low = 2.5
high = 5.0

[detectors.volume_climax.min_delta_ratio]
low = 0.5
high = 0.8

[detectors.vwap.confirm_bps]
low = 0.5
high = 2.0

[detectors.orb_pullback.breakout_bps]
low = 1.0
high = 4.0
"""

_SECTIONS: dict[str, type] = {"gating": GatingProfile, "outcome": OutcomePolicy,
                              "context": ContextConfig}
_PARAM_KEYS = ("values", "low", "high", "step")
_DECIMALS = 4
Value = bool | int | float | str


@attrs.frozen
class Parameter:
    """One varied parameter: ``path`` (``("gating", NAME)`` or ``("detectors", DETECTOR,
    NAME)``), and ``values`` or a ``low``..``high`` range (``integer``: an integer range)."""

    path: tuple[str, ...]
    values: tuple[Value, ...] | None
    low: float | None = None
    high: float | None = None
    step: float | None = None
    integer: bool = False

    @property
    def name(self) -> str:
        """The dotted name (``detectors.vwap.confirm_bps``)."""
        return ".".join(self.path)

    def draw(self, rng: np.random.Generator) -> Value:
        """One random value."""
        if self.values is not None:
            return self.values[int(rng.integers(len(self.values)))]
        assert self.low is not None and self.high is not None
        if self.integer:
            return int(rng.integers(int(self.low), int(self.high) + 1))
        return round(float(rng.uniform(self.low, self.high)), _DECIMALS)

    def grid(self) -> tuple[Value, ...]:
        """Every value of a grid, ascending for a range."""
        if self.values is not None:
            return self.values
        assert self.low is not None and self.high is not None and self.step is not None
        n = math.floor((self.high - self.low) / self.step + 1e-9) + 1
        if self.integer:
            return tuple(int(self.low) + i * int(self.step) for i in range(n))
        return tuple(round(self.low + i * self.step, _DECIMALS) for i in range(n))


@attrs.frozen
class SearchSpace:
    """A parsed search space: ``method`` and its parameters in sorted-name order."""

    method: Literal["random", "grid"]
    parameters: tuple[Parameter, ...]

    def trials(self, n: int, seed: int) -> Iterator[dict[str, Value]]:
        """Up to ``n`` parameter assignments (dotted name → value): ``n`` random draws, or
        the first ``n`` grid points."""
        if self.method == "grid":
            grids = [p.grid() for p in self.parameters]
            for combo in itertools.islice(itertools.product(*grids), n):
                yield {p.name: v for p, v in zip(self.parameters, combo, strict=True)}
            return
        rng = np.random.default_rng(seed)
        for _ in range(n):
            yield {p.name: p.draw(rng) for p in self.parameters}

    def size(self) -> int | None:
        """Grid points of a grid space (None for random)."""
        if self.method != "grid":
            return None
        return math.prod(len(p.grid()) for p in self.parameters)


def _fields(cls: type) -> dict[str, Any]:
    return {f.name: f.type for f in attrs.fields(cls)}


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _parameter(path: tuple[str, ...], table: Any, where: str) -> Parameter:
    name = ".".join(path)
    if not isinstance(table, dict):
        raise ConfigError(f"{where} [{name}]: expected a table with 'values' or 'low'/'high'")
    for key in table:
        if key not in _PARAM_KEYS:
            raise ConfigError(f"{where} [{name}]: unknown key {key!r} "
                              f"(known: {', '.join(_PARAM_KEYS)})")
    if "values" in table:
        if {"low", "high", "step"} & set(table):
            raise ConfigError(f"{where} [{name}]: give 'values' or 'low'/'high', not both")
        values = table["values"]
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where} [{name}]: 'values' must be a non-empty list")
        return Parameter(path, tuple(values))
    if "low" not in table or "high" not in table:
        raise ConfigError(f"{where} [{name}]: give 'values', or both 'low' and 'high'")
    low, high, step = table["low"], table["high"], table.get("step")
    for key, v in (("low", low), ("high", high), ("step", step)):
        if v is not None and not _number(v):
            raise ConfigError(f"{where} [{name}]: {key!r} must be a finite number, got {v!r}")
    if not low <= high:
        raise ConfigError(f"{where} [{name}]: low {low} is above high {high}")
    if step is not None and step <= 0:
        raise ConfigError(f"{where} [{name}]: step must be > 0, got {step}")
    integer = all(isinstance(v, int) for v in (low, high, step) if v is not None)
    return Parameter(path, None, float(low), float(high),
                     None if step is None else float(step), integer)


def parse_space(text: str, detectors: Mapping[str, type], where: str = "search space",
                ) -> SearchSpace:
    """Parse a search space against the installed detectors' parameter classes
    (``detectors``: name → ``params_class``).

    :raises ConfigError: invalid TOML, an unknown key or parameter, a bad range.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: invalid TOML: {exc}") from None
    method = raw.pop("method", "random")
    if method not in ("random", "grid"):
        raise ConfigError(f"{where}: method must be 'random' or 'grid', got {method!r}")
    params: list[Parameter] = []
    for section, body in raw.items():
        if section == "detectors":
            if not isinstance(body, dict):
                raise ConfigError(f"{where}: [detectors] must hold [detectors.NAME] tables")
            for det, table in body.items():
                if det not in detectors:
                    raise ConfigError(f"{where}: detector {det!r} is not installed "
                                      f"(installed: {', '.join(sorted(detectors))})")
                known = _fields(detectors[det])
                for key, spec in (table.items() if isinstance(table, dict) else ()):
                    if key not in known:
                        raise ConfigError(f"{where} [detectors.{det}]: unknown parameter "
                                          f"{key!r} (known: {', '.join(sorted(known))})")
                    params.append(_parameter(("detectors", det, key), spec, where))
            continue
        if section not in _SECTIONS:
            raise ConfigError(f"{where}: unknown key {section!r} (known: method, "
                              f"{', '.join(sorted([*_SECTIONS, 'detectors']))})")
        known = _fields(_SECTIONS[section])
        for key, spec in body.items():
            if key not in known:
                raise ConfigError(f"{where} [{section}]: unknown parameter {key!r} "
                                  f"(known: {', '.join(sorted(known))})")
            params.append(_parameter((section, key), spec, where))
    if not params:
        raise ConfigError(f"{where}: names no parameter to vary")
    params.sort(key=lambda p: p.path)
    space = SearchSpace(method=method, parameters=tuple(params))
    if method == "grid":
        for p in params:
            if p.values is None and p.step is None:
                raise ConfigError(f"{where} [{p.name}]: a grid range needs 'step'")
    return space


def load_space(path: str | Path, detectors: Mapping[str, type]) -> SearchSpace:
    """Read and parse a search-space file (:func:`parse_space`).

    :raises ConfigError: unreadable file or invalid content.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"search space {p}: cannot read ({exc})") from None
    return parse_space(text, detectors, f"search space {p}")


# ----------------------------------------------------------------------------- candidates


def _toml_lines(table: Mapping[str, Any], prefix: Sequence[str]) -> list[str]:
    scalars = [(k, v) for k, v in table.items() if not isinstance(v, dict)]
    tables = [(k, v) for k, v in table.items() if isinstance(v, dict)]
    lines = [f"{k} = {toml_value(v)}" for k, v in scalars]
    for k, v in tables:
        name = [*prefix, k]
        has_scalars = any(not isinstance(x, dict) for x in v.values())
        if has_scalars or not v:
            lines += ["", f"[{'.'.join(name)}]"]
        lines += _toml_lines(v, name)
    return lines


def candidate_toml(base_toml: str, assignment: Mapping[str, Value], *, name: str,
                   detector_versions: Mapping[str, int]) -> str:
    """The base profile's TOML with ``assignment`` (dotted name → value) set and its name
    replaced by ``name``; a detector without a table gets one (its installed version,
    enabled). Comments and layout of the base are not kept."""
    doc = copy.deepcopy(tomllib.loads(base_toml))
    doc["name"] = name
    for dotted, value in assignment.items():
        path = dotted.split(".")
        if path[0] == "detectors":
            det = doc.setdefault("detectors", {}).setdefault(
                path[1], {"version": detector_versions[path[1]], "enabled": True})
            det.setdefault("params", {})[path[2]] = value
        else:
            doc.setdefault(path[0], {})[path[1]] = value
    return "\n".join(_toml_lines(doc, [])) + "\n"
