"""Shared test configuration: plugin autoload off, hypothesis profiles, shared-data paths."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

os.environ["SPXCC_DISABLE_PLUGIN_AUTOLOAD"] = "1"
# The suite never reads or writes the user's own data folder (the default store of commands
# run without --db, e.g. the active profile replay and live read): a private one per session,
# inherited by the commands the tests start as processes.
_DATA_HOME = tempfile.mkdtemp(prefix="spxcc-test-data-")
os.environ["XDG_DATA_HOME"] = _DATA_HOME
os.environ.pop("SPXCC_DB", None)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remove the session's private data folder."""
    import shutil

    shutil.rmtree(_DATA_HOME, ignore_errors=True)

# Suite-wide secret-leak check: fails the session if a known test token reaches any output.
pytest_plugins = ["leakcheck", "pgstore"]

settings.register_profile("ci", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=150, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` next to the checkout; tests using it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent (a user's clone has none)")
    return SHARED_DATA
