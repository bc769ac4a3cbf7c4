"""The four mutants named in issue 9 must each make the rule tests fail.

Each runs the rule tests in a fresh interpreter with the module's source patched
(``tests/named_mutants.py``); the run must fail, and every test listed as the mutant's killer
must be among the failures. A control run with no mutant passes.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from named_mutants import MUTANTS, ROOT, mutated_source

SCRIPT = ROOT / "tests" / "named_mutants.py"


def run_under(name: str, tests: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SPXCC_DISABLE_PLUGIN_AUTOLOAD": "1"}
    return subprocess.run([sys.executable, str(SCRIPT), name, "-q", "-rf", "-p", "no:randomly",
                           "-p", "no:cacheprovider", *tests],
                          cwd=ROOT, env=env, text=True, capture_output=True, check=False)


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_each_mutation_site_exists_once(name: str) -> None:
    m = MUTANTS[name]
    source = mutated_source(m)  # raises when a replacement's text is gone or ambiguous
    assert source != (ROOT / m.path).read_text("utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_named_mutant_is_killed(name: str) -> None:
    m = MUTANTS[name]
    files = sorted({k.partition("::")[0] for k in m.killers})
    proc = run_under(name, files)
    assert proc.returncode == 1, f"{name} ({m.rule}) survived:\n{proc.stdout[-3000:]}"
    failed = {ln.split()[1].split(" - ")[0] for ln in proc.stdout.splitlines()
              if ln.startswith("FAILED ")}
    missing = [k for k in m.killers if k not in failed]
    assert not missing, f"{name}: these tests did not fail: {missing}\n{proc.stdout[-3000:]}"


@pytest.mark.slow
def test_control_run_without_a_mutant_passes() -> None:
    files = sorted({k.partition("::")[0] for m in MUTANTS.values() for k in m.killers})
    env = {**os.environ, "SPXCC_DISABLE_PLUGIN_AUTOLOAD": "1"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly",
                           "-p", "no:cacheprovider", *files],
                          cwd=ROOT, env=env, text=True, capture_output=True, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
