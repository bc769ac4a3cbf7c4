"""The suite-wide secret-leak checker (``tests/leakcheck.py``) catches leaks and only leaks.

Each test runs an inner pytest in a subprocess on a temporary project whose ``conftest.py``
enables the checker with the exact line the suite's ``tests/conftest.py`` uses.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent

LEAKY = textwrap.dedent('''
    import logging
    import sys
    import warnings

    from secret_tokens import MASSIVE_TEST_API_KEY, TEST_MASTER_KEY, TRADIER_TEST_TOKEN

    from spxcc_core.secrets import Secret

    def test_prints_token():
        print("auth header: Bearer " + TRADIER_TEST_TOKEN)

    def test_stderr_master_key():
        sys.stderr.write("key=" + TEST_MASTER_KEY + "\\n")

    def test_logs_token():
        logging.getLogger("x").warning("token is %s", MASSIVE_TEST_API_KEY)

    def test_basic_auth_header():
        import base64
        print("Authorization: Basic " + base64.b64encode(TRADIER_TEST_TOKEN.encode()).decode())

    def test_warns_token():
        warnings.warn("bad token " + TRADIER_TEST_TOKEN)

    def test_clean_redacted_secret():
        s = Secret(TRADIER_TEST_TOKEN, name="tradier_token")
        print(repr(s), str(s), f"{s}")
        logging.getLogger("x").warning("token is %s", s)

    def test_clean_plain():
        print("nothing secret here")
''')

CLEAN = textwrap.dedent('''
    from secret_tokens import TRADIER_TEST_TOKEN

    from spxcc_core.secrets import Secret

    def test_uses_token_without_printing():
        s = Secret(TRADIER_TEST_TOKEN, name="tradier_token")
        assert s.reveal() == TRADIER_TEST_TOKEN
        print(s)
''')

FAILING_NO_LEAK = textwrap.dedent('''
    def test_fails():
        raise AssertionError("ordinary failure")
''')


def _run_inner(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["leakcheck"]\n')
    (tmp_path / "test_inner.py").write_text(source)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(TESTS_DIR), *filter(None, [env.get("PYTHONPATH")])])
    env["SPXCC_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         "-W", "default", "test_inner.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)


def _leak_lines(out: str) -> list[str]:
    return sorted(line for line in out.splitlines() if line.startswith("LEAK "))


@pytest.mark.slow
def test_checker_fails_session_and_names_each_leaking_test(tmp_path: Path) -> None:
    result = _run_inner(tmp_path, LEAKY)
    assert result.returncode == 1, "a leak must fail an otherwise passing session"
    assert "7 passed" in result.stdout
    assert "SECRET LEAKS (5)" in result.stdout
    assert _leak_lines(result.stdout) == [
        "LEAK test_inner.py::test_basic_auth_header: TRADIER_TEST_TOKEN (base64) in "
        "Captured stdout call",
        "LEAK test_inner.py::test_logs_token: MASSIVE_TEST_API_KEY in Captured log call",
        "LEAK test_inner.py::test_prints_token: TRADIER_TEST_TOKEN in Captured stdout call",
        "LEAK test_inner.py::test_stderr_master_key: TEST_MASTER_KEY in Captured stderr call",
        "LEAK test_inner.py::test_warns_token: TRADIER_TEST_TOKEN in warning (runtest)",
    ]


@pytest.mark.slow
def test_checker_passes_a_clean_session(tmp_path: Path) -> None:
    result = _run_inner(tmp_path, CLEAN)
    assert result.returncode == 0
    assert "1 passed" in result.stdout
    assert "SECRET LEAKS" not in result.stdout


@pytest.mark.slow
def test_checker_keeps_an_ordinary_failure_status(tmp_path: Path) -> None:
    result = _run_inner(tmp_path, FAILING_NO_LEAK)
    assert result.returncode == 1
    assert "1 failed" in result.stdout
    assert "SECRET LEAKS" not in result.stdout
