"""The four named mutants of issue 9, applied in-process to a pytest run.

Each mutant is a documented rule broken on purpose — the changes that once left
``spxcc golden verify`` green. ``python tests/named_mutants.py NAME [pytest args]`` runs pytest
with the module's source patched (through an import hook installed before anything is
imported; the files on disk are untouched); ``tests/test_named_mutants.py`` checks that the
rule tests fail under each mutant. A replacement whose text no longer occurs exactly once in
the source is an error: update the mutant with the code it describes.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import CodeType, ModuleType

import attrs

ROOT = Path(__file__).resolve().parent.parent


@attrs.frozen
class NamedMutant:
    """A rule broken on purpose: ``module`` (dotted name) at ``path`` (from the repository
    root) with each ``(old, new)`` text replacement applied once, and the tests that must fail
    (node ids)."""

    rule: str
    module: str
    path: str
    replacements: tuple[tuple[str, str], ...]
    killers: tuple[str, ...]


_LIFE = "spxcc_core/setups/lifecycle.py"
_VC = "plugins/spxcc_detectors/volume_climax.py"
_RL = "tests/test_rules_lifecycle.py::"
_RD = "tests/test_rules_detectors.py::"

MUTANTS: dict[str, NamedMutant] = {
    "targets_before_stop": NamedMutant(
        rule="a bar touching both the stop and a target counts as the stop",
        module="spxcc_core.setups.lifecycle", path=_LIFE,
        replacements=((
            "        if (low <= stop) if long else (high >= stop):\n",
            "        if ((low <= stop) if long else (high >= stop)) and not (\n"
            "                (high >= s.t1) if long else (low <= s.t1)):\n"),),
        killers=(_RL + "test_long_bar_touching_stop_and_t1_counts_the_stop",
                 _RL + "test_short_bar_touching_stop_and_both_targets_counts_the_stop")),
    "targets_on_trigger_bar": NamedMutant(
        rule="the trigger bar credits no target",
        module="spxcc_core.setups.lifecycle", path=_LIFE,
        replacements=(
            ("            return s\n        if high is None or low is None:\n",
             "        if high is None or low is None:\n"),
            ("            return s\n        return None\n\n    def expire",
             "            return s\n        return s if s.triggered_ms == start else None\n\n"
             "    def expire")),
        killers=(_RL + "test_long_trigger_bar_reaching_t2_credits_no_target",
                 _RL + "test_short_trigger_bar_reaching_t1_credits_no_target")),
    "climax_stop_ignores_bar": NamedMutant(
        rule="the volume_climax stop is beyond the bar's other end (or the min_risk_bps floor)",
        module="spxcc_detectors.volume_climax", path=_VC,
        replacements=(
            ("stop = min(bar.low, entry - entry * p.min_risk_bps / 1e4)",
             "stop = entry - entry * p.min_risk_bps / 1e4"),
            ("stop = max(bar.high, entry + entry * p.min_risk_bps / 1e4)",
             "stop = entry + entry * p.min_risk_bps / 1e4")),
        killers=(_RD + "test_volume_climax_long_stop_at_the_bars_other_end_beyond_the_floor",
                 _RD + "test_volume_climax_short_stop_at_the_bars_other_end_beyond_the_floor")),
    "climax_no_cooldown": NamedMutant(
        rule="volume_climax: no new signal in a direction for cooldown_bars bars",
        module="spxcc_detectors.volume_climax", path=_VC,
        replacements=(
            ("if self._bar_index - self._last_long > p.cooldown_bars:", "if True:"),
            ("self._bar_index - self._last_short > p.cooldown_bars)", "True)")),
        killers=(_RD + "test_volume_climax_cooldown_counts_bars_per_direction",
                 _RD + "test_volume_climax_short_cooldown_is_separate",
                 _RD + "test_volume_climax_default_cooldown_is_sixty_bars")),
}


def mutated_source(m: NamedMutant) -> str:
    """The module's source with every replacement applied.

    :raises ValueError: a replacement's text does not occur exactly once.
    """
    source = (ROOT / m.path).read_text("utf-8")
    for old, new in m.replacements:
        count = source.count(old)
        if count != 1:
            raise ValueError(f"{m.path}: {old!r} occurs {count} times (expected once); "
                             f"update the named mutant to the current code")
        source = source.replace(old, new)
    return source


class _Loader(importlib.machinery.SourceFileLoader):
    """Loads one module from a given source text (no bytecode cache)."""

    def __init__(self, fullname: str, path: str, source: str) -> None:
        super().__init__(fullname, path)
        self._source = source

    def get_code(self, fullname: str) -> CodeType:
        return compile(self._source, self.path, "exec", dont_inherit=True)


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, m: NamedMutant) -> None:
        self._m = m
        self._source = mutated_source(m)

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != self._m.module:
            return None
        origin = str(ROOT / self._m.path)
        return importlib.util.spec_from_file_location(
            fullname, origin, loader=_Loader(fullname, origin, self._source))


def install(name: str) -> ModuleType:
    """Import the mutant's module from the mutated source now, so that every later import
    (pytest's assertion-rewriting import hook included) finds it in ``sys.modules``."""
    m = MUTANTS[name]
    if m.module in sys.modules:
        raise RuntimeError(f"{m.module} is already imported; install the mutant first")
    finder = _Finder(m)
    sys.meta_path.insert(0, finder)
    try:
        module = importlib.import_module(m.module)
    finally:
        sys.meta_path.remove(finder)
    if not isinstance(getattr(module.__spec__, "loader", None), _Loader):
        raise RuntimeError(f"{m.module} was not loaded from the mutated source")
    return module


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in MUTANTS:
        print(f"usage: named_mutants.py {{{','.join(MUTANTS)}}} [pytest args]")
        return 2
    install(argv[0])
    import pytest

    return int(pytest.main(argv[1:]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
