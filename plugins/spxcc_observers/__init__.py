"""Built-in observer plugin: per-symbol microbar statistics for run summaries.

Implements ``spxcc_on_microbar`` (counts bars, volume and quoted time per run and symbol) and
``spxcc_on_run_end`` (returns one summary line per symbol). The hooks are methods of
:class:`RunSummary`; the plugin manager registers a new instance per manager (the way pytest
registers its terminal reporter), so no state is shared between managers, and within one manager
state is kept per ``run_id`` so concurrent runs do not mix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from spxcc_core.contracts.microbar import MicrobarV1, MicrobarV2
from spxcc_core.hookspecs import hookimpl

__all__ = ["RunSummary", "SymbolStats"]


@attrs.define
class SymbolStats:
    """Running statistics of one symbol's bars within one run."""

    bars: int = 0
    volume: float = 0.0
    delta_volume: float = 0.0
    coverage_sum: float = 0.0

    def add(self, bar: MicrobarV1) -> None:
        self.bars += 1
        self.volume += bar.volume
        self.delta_volume += bar.delta_volume
        if isinstance(bar, MicrobarV2) and bar.quote_coverage_pct is not None:
            self.coverage_sum += bar.quote_coverage_pct


class RunSummary:
    """The per-manager observer plugin: statistics per run id and symbol until the run ends."""

    def __init__(self) -> None:
        self.runs: dict[str, dict[str, SymbolStats]] = {}

    @hookimpl
    def spxcc_on_microbar(self, bar: MicrobarV1, context: Mapping[str, Any]) -> None:
        run_id = str(context.get("run_id", ""))
        run = self.runs.get(run_id)
        if run is None:
            run = self.runs[run_id] = {}
        stats = run.get(bar.symbol)
        if stats is None:  # not setdefault: called per bar, a SymbolStats per call costs
            stats = run[bar.symbol] = SymbolStats()
        stats.add(bar)

    @hookimpl
    def spxcc_on_run_end(self, report: Mapping[str, Any],
                         context: Mapping[str, Any]) -> Sequence[str] | None:
        run = self.runs.pop(str(context.get("run_id", "")), None)
        if not run:
            return None
        lines = []
        for symbol in sorted(run):
            s = run[symbol]
            mean_cov = s.coverage_sum / s.bars if s.bars else 0.0
            lines.append(f"{symbol}: {s.bars} bars, volume {s.volume:g}, "
                         f"delta {s.delta_volume:+g}, mean quote coverage {mean_cov:.1f}%")
        return lines
