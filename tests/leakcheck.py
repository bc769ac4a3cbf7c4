"""pytest plugin: fail the session when a known test secret appears in any captured output.

Enable it for the whole suite with one line in ``tests/conftest.py``::

    pytest_plugins = ["leakcheck"]

(or ad hoc: ``pytest -p leakcheck``, with ``tests/`` on ``sys.path``). It scans, for every test
and collection report, the captured stdout, stderr and log sections, the failure text
(``longrepr``) and every recorded warning, for each value of
``secret_tokens.KNOWN_TEST_TOKENS`` — verbatim, base64-encoded (as in an HTTP Basic header),
hex and URL-encoded (every byte ``%XX``).
At the end of the session it prints a ``SECRET LEAKS`` section naming the test id, where the
token was seen and the token's constant name (never the token), and turns a passing exit status
into 1. Output written with capture disabled (``-s``) is not seen.
"""

from __future__ import annotations

import base64
import importlib.util
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

__all__ = ["LeakChecker", "find_tokens"]


def _load_tokens() -> dict[str, str]:
    module: ModuleType | None = sys.modules.get("secret_tokens")
    if module is None:
        spec = importlib.util.spec_from_file_location(
            "secret_tokens", Path(__file__).with_name("secret_tokens.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    tokens: dict[str, str] = dict(module.KNOWN_TEST_TOKENS)
    return tokens


def _needles(tokens: dict[str, str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, value in tokens.items():
        out.append((name, value))
        raw = value.encode()
        out.append((f"{name} (base64)", base64.b64encode(raw).decode()))
        out.append((f"{name} (hex)", raw.hex()))
        out.append((f"{name} (url-encoded)", "".join(f"%{b:02X}" for b in raw)))
    return out


def find_tokens(text: str, needles: list[tuple[str, str]]) -> list[str]:
    """Names of the needles whose value occurs in ``text``."""
    return [name for name, value in needles if value in text]


class LeakChecker:
    """Collects leaks over the session; registered by :func:`pytest_configure`."""

    def __init__(self) -> None:
        self.needles = _needles(_load_tokens())
        self.leaks: list[tuple[str, str, str]] = []  # (node id, where, token name)

    def _scan(self, nodeid: str, where: str, text: str) -> None:
        for name in find_tokens(text, self.needles):
            entry = (nodeid or "<session>", where, name)
            if entry not in self.leaks:
                self.leaks.append(entry)

    def _scan_report(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        phase = getattr(report, "when", None) or "collect"
        for title, content in report.sections:
            self._scan(report.nodeid, title, content)
        if report.longrepr is not None:
            self._scan(report.nodeid, f"failure report ({phase})", report.longreprtext)

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._scan_report(report)

    @pytest.hookimpl
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self._scan_report(report)

    @pytest.hookimpl
    def pytest_warning_recorded(self, warning_message: warnings.WarningMessage, when: str,
                                nodeid: str, location: Any) -> None:
        self._scan(nodeid, f"warning ({when})", str(warning_message.message))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.leaks and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.leaks:
            return
        tr = terminalreporter
        tr.write_sep("=", f"SECRET LEAKS ({len(self.leaks)})", red=True, bold=True)
        for nodeid, where, name in self.leaks:
            tr.write_line(f"LEAK {nodeid}: {name} in {where}")
        tr.write_line("known test secrets (tests/secret_tokens.py) appeared in captured output; "
                      "the session fails")


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("leakcheck-state"):
        config.pluginmanager.register(LeakChecker(), "leakcheck-state")
