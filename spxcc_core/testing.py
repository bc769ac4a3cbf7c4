"""pytest plugin for spxcc plugin authors (loaded through the ``pytest11`` entry point).

Fixtures:

- ``spxcc_pm``: a fresh plugin manager with third-party autoload off (built-ins only).
- ``spxcc_register``: ``spxcc_register(plugin, name=None)`` registers a plugin on ``spxcc_pm``
  and unregisters it at teardown.
- ``spxcc_golden_sessions``: the golden sessions as bars (:class:`GoldenSession` list:
  ``name``, ``session_date``, ``bars``), generated from the seeded generator shipped in the
  package, so nothing under the project's ``tests/`` is needed.

The conformance check, one call::

    from spxcc_core.testing import assert_conforms, check_detector

    def test_my_detector_conforms():
        assert_conforms(MyDetector)          # raises with a readable summary on failure

:func:`check_detector` returns a :class:`ConformanceReport` instead of raising (see
:mod:`spxcc_core.golden.conformance` for the checks: contracts, consistency, gate reasons,
exceptions, determinism, chunking invariance).

Beyond conformance, state what your detector must do on a golden session in an
``expect.toml`` (the format of the project's own cases, :mod:`spxcc_core.golden.expect`;
docs/golden.md) and check it::

    from spxcc_core.testing import assert_golden_expectations

    def test_my_detector_on_gap_and_flush():
        assert_golden_expectations(MyDetector, Path(__file__).parent / "gap_and_flush.expect.toml")

:func:`check_golden_expectations` returns the contradictions as a list instead.

A detector offering a compiled :meth:`~spxcc_core.detect.base.Detector.scan` (fast screening
of many profiles by ``spxcc optimize``) is checked against its ``on_bar`` by the conformance
check ``scan``; :func:`scan_differences` runs that comparison on any bars and parameters
(hypothesis-drawn, for instance).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pluggy
import pytest

from spxcc_core.detect.scancheck import scan_differences
from spxcc_core.golden.conformance import (
    ConformanceError,
    ConformanceFailure,
    ConformanceReport,
    assert_conforms,
    assert_golden_expectations,
    check_decisions,
    check_detector,
    check_golden_expectations,
)
from spxcc_core.golden.expect import Expectations, load_expectations
from spxcc_core.golden.sessions import GoldenSession, golden_sessions
from spxcc_core.plugins import get_plugin_manager

__all__ = [
    "ConformanceError",
    "ConformanceFailure",
    "ConformanceReport",
    "Expectations",
    "GoldenSession",
    "assert_conforms",
    "assert_golden_expectations",
    "check_decisions",
    "check_detector",
    "check_golden_expectations",
    "golden_sessions",
    "load_expectations",
    "scan_differences",
    "spxcc_golden_sessions",
    "spxcc_pm",
    "spxcc_register",
]


@pytest.fixture
def spxcc_pm() -> pluggy.PluginManager:
    """A fresh plugin manager with built-ins only (entry points never loaded)."""
    return get_plugin_manager(load_entrypoints=False)


@pytest.fixture
def spxcc_register(spxcc_pm: pluggy.PluginManager) -> Iterator[Callable[..., Any]]:
    """Register plugins on ``spxcc_pm`` for one test; all are unregistered at teardown."""
    registered: list[object] = []

    def register(plugin: object, name: str | None = None) -> object:
        spxcc_pm.register(plugin, name=name)
        registered.append(plugin)
        return plugin

    yield register
    for plugin in reversed(registered):
        if spxcc_pm.is_registered(plugin):
            spxcc_pm.unregister(plugin)


@pytest.fixture(scope="session")
def spxcc_golden_sessions() -> list[GoldenSession]:
    """Every golden session as ``microbar@2`` bars (generated once per test session)."""
    return golden_sessions()
