"""The benchmark registry and result types.

A benchmark is a function ``(ctx: BenchContext) -> BenchResult`` registered with
:func:`benchmark`; modules holding benchmarks are listed in :data:`MODULES`. Benchmarks written
as plain ``run_x_bench() -> dict`` functions are listed in :data:`DICT_FUNCTIONS` and wrapped
(their numeric values become figures). A later issue adds a benchmark by appending one line.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

__all__ = ["BENCHMARKS", "DICT_FUNCTIONS", "MODULES", "BenchContext", "BenchResult", "Benchmark",
           "Metric", "Target", "benchmark", "load_all"]

#: Modules whose import registers benchmarks (order = run order).
MODULES: tuple[str, ...] = (
    "benchmarks.microbar_bench",
    "benchmarks.e2e_bench",
    "benchmarks.memory_bench",
    "benchmarks.compile_bench",
    "benchmarks.hub_bench",
    "benchmarks.host_bench",
)

#: name → "module:function" returning a dict of figures (wrapped as benchmarks).
DICT_FUNCTIONS: dict[str, str] = {
    "detectors": "benchmarks.detector_bench:run_detector_bench",
    "routing": "benchmarks.routing_bench:run_routing_bench",
    "tradier": "benchmarks.broker_bench:run_tradier_bench",
    "replay": "benchmarks.replay_bench:run_replay_bench",
    "execute": "benchmarks.execute_bench:run_execute_bench",
    "slippage": "benchmarks.slippage_bench:run_slippage_bench",
    "gates": "benchmarks.gates_bench:run_gates_bench",
    "optimize": "benchmarks.optimize_bench:run_optimize_bench",
    "reconcile": "benchmarks.reconcile_bench:run_reconcile_bench",
    "store": "benchmarks.store_bench:run_store_bench",
}


@attrs.define
class Metric:
    """One measured figure (``value`` None when it could not be measured)."""

    name: str
    value: float | None
    unit: str
    note: str = ""


@attrs.define
class Target:
    """A performance target and whether it was met (None: not measured)."""

    name: str
    met: bool | None
    detail: str


@attrs.define
class BenchResult:
    """Figures, targets, output disagreements and free-text notes of one benchmark."""

    name: str
    metrics: list[Metric] = attrs.field(factory=list)
    targets: list[Target] = attrs.field(factory=list)
    disagreements: list[str] = attrs.field(factory=list)
    notes: list[str] = attrs.field(factory=list)
    error: str | None = None
    seconds: float = 0.0

    def metric(self, name: str, value: float | None, unit: str, note: str = "") -> None:
        """Record a figure."""
        self.metrics.append(Metric(name, value, unit, note))

    def target(self, name: str, met: bool | None, detail: str) -> None:
        """Record a target check."""
        self.targets.append(Target(name, met, detail))


@attrs.define
class BenchContext:
    """What every benchmark gets: the quick switch, a scratch folder, the sample cache folder,
    and a cache of shared workloads (built once per run)."""

    quick: bool = False
    workdir: Path = attrs.field(factory=lambda: Path(tempfile.mkdtemp(prefix="spxcc-bench-")))
    cache_dir: Path | None = None
    shared: dict[str, Any] = attrs.field(factory=dict)

    def once(self, key: str, build: Callable[[], Any]) -> Any:
        """``build()`` the first time ``key`` is asked for, the cached value afterwards."""
        if key not in self.shared:
            self.shared[key] = build()
        return self.shared[key]


@attrs.frozen
class Benchmark:
    """A registered benchmark."""

    name: str
    description: str
    func: Callable[[BenchContext], BenchResult]


BENCHMARKS: dict[str, Benchmark] = {}


def benchmark(name: str, description: str) -> Callable[[Callable[[BenchContext], BenchResult]],
                                                         Callable[[BenchContext], BenchResult]]:
    """Register a benchmark function under ``name`` (unique)."""
    def deco(func: Callable[[BenchContext], BenchResult]) -> Callable[[BenchContext], BenchResult]:
        if name in BENCHMARKS:
            raise ValueError(f"benchmark {name!r} registered twice")
        BENCHMARKS[name] = Benchmark(name, description, func)
        return func
    return deco


def _wrap_dict(name: str, target: str) -> Benchmark:
    module_name, func_name = target.split(":")

    def run(ctx: BenchContext) -> BenchResult:
        func = getattr(importlib.import_module(module_name), func_name)
        figures = func()
        res = BenchResult(name)
        for key, value in _flatten(figures):
            if isinstance(value, bool) or not isinstance(value, int | float):
                res.notes.append(f"{key}: {value}")
            else:
                res.metric(key, float(value), "")
        return res

    return Benchmark(name, f"{target} (figures as returned)", run)


def _flatten(d: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(d, dict):
        out: list[tuple[str, Any]] = []
        for k, v in d.items():
            out.extend(_flatten(v, f"{prefix}{k}."))
        return out
    return [(prefix.rstrip("."), d)]


def load_all() -> dict[str, Benchmark]:
    """Import every benchmark module and wrap the dict functions whose module exists."""
    for module in MODULES:
        importlib.import_module(module)
    here = Path(__file__).parent
    for name, target in DICT_FUNCTIONS.items():
        module = target.split(":")[0]
        if name not in BENCHMARKS and (here / (module.split(".")[-1] + ".py")).exists():
            BENCHMARKS[name] = _wrap_dict(name, target)
    return BENCHMARKS


def rss_mb() -> float:
    """Current resident set size of this process in MiB."""
    try:
        import psutil

        return float(psutil.Process(os.getpid()).memory_info().rss) / 2**20
    except ImportError:  # pragma: no cover
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
