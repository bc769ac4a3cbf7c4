"""Golden replay fixtures: seeded regime sessions, their expected outputs, verify / regen, and
the detector conformance check the pytest plugin (:mod:`spxcc_core.testing`) exposes.

Public API::

    CASES, GoldenCase, case_names, get_case          the cases (spxcc_core.golden.cases)
    GoldenSession, golden_sessions, case_events      the cases as bars / events
    verify, regen, CaseVerdict, default_golden_dir   ``spxcc golden verify|regen``
    check_detector, assert_conforms, ConformanceReport, ConformanceError
    check_golden_expectations, assert_golden_expectations   stated expectations (expect.toml)
    Expectations, load_expectations, check_expectations

Names are imported lazily so that importing the package does not load the aggregation kernel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spxcc_core._lazy import lazy_exports

if TYPE_CHECKING:
    from spxcc_core.golden.cases import CASES, GoldenCase, case_names, get_case
    from spxcc_core.golden.conformance import (
        ConformanceError,
        ConformanceFailure,
        ConformanceReport,
        assert_conforms,
        assert_golden_expectations,
        check_detector,
        check_golden_expectations,
    )
    from spxcc_core.golden.expect import Expectations, check_expectations, load_expectations
    from spxcc_core.golden.sessions import GoldenSession, case_events, golden_sessions
    from spxcc_core.golden.verify import CaseVerdict, default_golden_dir, regen, verify

__all__ = [
    "CASES",
    "CaseVerdict",
    "ConformanceError",
    "ConformanceFailure",
    "ConformanceReport",
    "Expectations",
    "GoldenCase",
    "GoldenSession",
    "assert_conforms",
    "assert_golden_expectations",
    "case_events",
    "case_names",
    "check_detector",
    "check_expectations",
    "check_golden_expectations",
    "default_golden_dir",
    "get_case",
    "golden_sessions",
    "load_expectations",
    "regen",
    "verify",
]

_WHERE = {
    "CASES": "cases", "GoldenCase": "cases", "case_names": "cases", "get_case": "cases",
    "ConformanceError": "conformance", "ConformanceFailure": "conformance",
    "ConformanceReport": "conformance", "assert_conforms": "conformance",
    "check_detector": "conformance", "check_golden_expectations": "conformance",
    "assert_golden_expectations": "conformance",
    "Expectations": "expect", "check_expectations": "expect", "load_expectations": "expect",
    "GoldenSession": "sessions", "case_events": "sessions", "golden_sessions": "sessions",
    "CaseVerdict": "verify", "default_golden_dir": "verify", "regen": "verify",
    "verify": "verify",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__, globals())
