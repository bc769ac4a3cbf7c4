"""The mutation gate behind ``nox -s mutants`` (docs/testing.md).

Runs mutmut 3 over the modules that hold documented rules — the setup lifecycle, the quote-aware
gates, the detector base (T1/T2 R multiples) and the built-in detectors — against the focused
test selection :data:`TESTS`, then fails when a mutant survives that ``mutants-allow.toml`` does
not list as equivalent (with a reason).

mutmut derives a module's dotted name from its path under the working folder, so it cannot
mutate ``plugins/spxcc_detectors`` in place (it would call it ``plugins.spxcc_detectors``). The
gate therefore works in a staging folder, ``.mutants/`` (git-ignored, rebuilt on every run):
``spxcc_core/``, ``spxcc_detectors/`` (from ``plugins/``), ``tests/`` and ``pyproject.toml``
with a generated ``[tool.mutmut]`` table. mutmut puts its mutated copy first on ``sys.path``;
the other plugins still import from the editable install.

Usage: ``python tools/mutation_gate.py [--max-children N] [--keep] [--summary] [GLOB ...]``
(``--keep`` reuses the stage with fresh tests and re-runs the mutants not killed, or those
matching the globs; ``--summary`` only judges the kept results against the allow-list). Exit 0: every mutant killed
or allowed; 1: an unallowed survivor (listed with its diff); 2: bad usage or a broken setup.
The summary is also written to ``.mutants/summary.json``.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGE = ROOT / ".mutants"
ALLOW_FILE = ROOT / "mutants-allow.toml"

#: Files whose mutants must be killed (paths in the stage).
MUTATE: tuple[str, ...] = (
    "spxcc_core/setups/lifecycle.py",
    "spxcc_core/detect/gating.py",
    "spxcc_core/detect/base.py",
    "spxcc_detectors/*.py",
)

#: The tests run against each mutant (mutmut runs only those that reach the mutated function).
TESTS: tuple[str, ...] = (
    "tests/test_setups_lifecycle.py",
    "tests/test_rules_lifecycle.py",
    "tests/test_gating.py",
    "tests/test_rules_gating.py",
    "tests/test_detectors_builtin.py",
    "tests/test_rules_detectors.py",
    "tests/test_golden_detection.py",
)

_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc", ".hypothesis")


def _toml_list(items: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def build_stage() -> None:
    """Recreate ``.mutants/`` from the working tree."""
    if STAGE.exists():
        shutil.rmtree(STAGE)
    STAGE.mkdir()
    shutil.copytree(ROOT / "spxcc_core", STAGE / "spxcc_core", ignore=_IGNORE)
    shutil.copytree(ROOT / "plugins" / "spxcc_detectors", STAGE / "spxcc_detectors",
                    ignore=_IGNORE)
    shutil.copytree(ROOT / "tests", STAGE / "tests", ignore=_IGNORE)
    pyproject = (ROOT / "pyproject.toml").read_text("utf-8")
    pyproject += (
        "\n[tool.mutmut]\n"
        f"source_paths = {_toml_list(['spxcc_core', 'spxcc_detectors'])}\n"
        f"only_mutate = {_toml_list(MUTATE)}\n"
        f"pytest_add_cli_args_test_selection = {_toml_list(TESTS)}\n"
        'pytest_add_cli_args = ["-p", "no:randomly", "-W", "ignore::DeprecationWarning"]\n'
        "use_git_change_detection = false\n"
    )
    (STAGE / "pyproject.toml").write_text(pyproject, "utf-8")


def _mutmut(*args: str, capture: bool = True) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("mutmut")
    cmd = [str(exe) if exe.exists() else "mutmut", *args]
    env = {**os.environ, "SPXCC_DISABLE_PLUGIN_AUTOLOAD": "1", "HYPOTHESIS_PROFILE": "ci"}
    return subprocess.run(cmd, cwd=STAGE, env=env, text=True, capture_output=capture,
                          check=False)


def results() -> dict[str, str]:
    """Mutant name → mutmut status (``killed``, ``survived``, ``no tests``, ``timeout`` ...)."""
    proc = _mutmut("results", "--all", "true")
    out: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and "__mutmut_" in name:
            out[name] = status
    return out


_DIFFS = """
import json, sys
from mutmut.mutation.diff_apply import get_diff_for_mutant
print(json.dumps({n: get_diff_for_mutant(n) for n in json.load(sys.stdin)}))
"""


def diffs(names: list[str]) -> dict[str, str]:
    """Mutant name → its diff, in one interpreter (mutmut's API); ``mutmut show`` per mutant
    if that API is not there."""
    if not names:
        return {}
    proc = subprocess.run([sys.executable, "-c", _DIFFS], cwd=STAGE, input=json.dumps(names),
                          text=True, capture_output=True, check=False)
    if proc.returncode == 0:
        got: dict[str, str] = json.loads(proc.stdout)
        return got
    return {n: _mutmut("show", n).stdout for n in names}


def changed_lines(diff: str) -> tuple[str, str]:
    """The removed and added source lines of a mutant's diff (stripped, joined by newlines)."""
    rem, add = [], []
    for ln in diff.splitlines():
        if ln.startswith(("---", "+++")):
            continue
        if ln.startswith("-"):
            rem.append(ln[1:].strip())
        elif ln.startswith("+"):
            add.append(ln[1:].strip())
    return "\n".join(rem), "\n".join(add)


def load_allow() -> list[dict[str, str]]:
    """The allow-list entries (``function``, ``original``, ``mutated``, ``reason``)."""
    data = tomllib.loads(ALLOW_FILE.read_text("utf-8"))
    entries: list[dict[str, str]] = data.get("allow", [])
    for i, e in enumerate(entries):
        missing = {"function", "original", "mutated", "reason"} - set(e)
        if missing or not str(e.get("reason", "")).strip():
            raise SystemExit(f"{ALLOW_FILE.name}: [[allow]] entry {i + 1}: needs function, "
                             f"original, mutated and a non-empty reason")
    return entries


def split_name(mutant: str) -> tuple[str, str]:
    """``spxcc_core.setups.lifecycle.xǁSetupTrackerǁon_bar__mutmut_3`` →
    (``spxcc_core.setups.lifecycle``, ``SetupTracker.on_bar``); a module-level function
    ``…lifecycle.x_summarize__mutmut_1`` → (``…lifecycle``, ``summarize``)."""
    base = mutant.partition("__mutmut_")[0]
    module, _, func = base.rpartition(".")
    if func.startswith("xǁ"):
        cls, _, method = func[2:].partition("ǁ")
        return module, f"{cls}.{method}"
    return module, func.removeprefix("x_")


def function_of(mutant: str) -> str:
    """The dotted name of the function a mutant changes (``module.Class.method``)."""
    return ".".join(split_name(mutant))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="mutation_gate", description=__doc__.splitlines()[0])
    ap.add_argument("--max-children", type=int, default=2)
    ap.add_argument("--keep", action="store_true",
                    help="reuse .mutants/ (mutmut re-runs only mutants without a result)")
    ap.add_argument("--summary", action="store_true",
                    help="no run: judge the results of the kept stage against the allow-list")
    ap.add_argument("mutants", nargs="*", help="re-run only mutants matching these globs")
    args = ap.parse_args(argv)
    if args.mutants and not args.keep:
        print("mutation_gate: mutant globs need --keep (a stage from a previous run)")
        return 2
    started = time.monotonic()
    names = list(args.mutants)
    if args.summary:
        if not STAGE.exists():
            print("mutation_gate: --summary needs a stage from a previous run")
            return 2
    elif not args.keep or not STAGE.exists():
        build_stage()
    else:
        # triage: the sources must be unchanged (earlier kills stand); the tests are refreshed
        # and every mutant not yet killed runs again
        shutil.rmtree(STAGE / "tests")
        shutil.copytree(ROOT / "tests", STAGE / "tests", ignore=_IGNORE)
        if not names:
            names = [n for n, st in results().items() if st != "killed"]
            if not names:
                print("mutation_gate: every mutant of the kept stage is already killed")
    if not args.summary:
        run = _mutmut("run", "--max-children", str(args.max_children), *names, capture=False)
        if run.returncode != 0:
            print(f"mutation_gate: mutmut run failed (exit {run.returncode})")
            return 2
    status = results()
    if not status:
        print("mutation_gate: mutmut reported no mutants")
        return 2
    allow = load_allow()
    used = [False] * len(allow)
    survivors: list[dict[str, str]] = []
    allowed: list[dict[str, str]] = []
    shown = diffs([n for n, st in status.items() if st != "killed"])
    for name, st in sorted(status.items()):
        if st == "killed":
            continue
        diff = shown[name]
        original, mutated = changed_lines(diff)
        func = function_of(name)
        row = {"mutant": name, "status": st, "function": func, "original": original,
               "mutated": mutated, "diff": diff}
        for i, e in enumerate(allow):
            if (e["function"] == func and e["original"].strip() == original
                    and e["mutated"].strip() == mutated):
                used[i] = True
                row["reason"] = e["reason"]
                allowed.append(row)
                break
        else:
            survivors.append(row)
    by_file: dict[str, dict[str, int]] = {}
    for name, st in status.items():
        module = split_name(name)[0]
        counts = by_file.setdefault(module, {"total": 0, "killed": 0})
        counts["total"] += 1
        counts["killed"] += st == "killed"
    killed = sum(1 for st in status.values() if st == "killed")
    stale = [e for e, u in zip(allow, used, strict=True) if not u]
    summary: dict[str, object] = {
        "total": len(status), "killed": killed, "allowed": len(allowed),
        "survived": len(survivors), "seconds": round(time.monotonic() - started, 1),
        "byModule": dict(sorted(by_file.items())),
        "survivors": [{k: v for k, v in r.items() if k != "diff"} for r in survivors],
        "allowedMutants": [{k: v for k, v in r.items() if k != "diff"} for r in allowed],
        "staleAllowEntries": stale,
    }
    (STAGE / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n",
                                        "utf-8")
    print()
    print(f"mutants: {len(status)}  killed: {killed} ({100.0 * killed / len(status):.1f} %)  "
          f"allowed: {len(allowed)}  unallowed survivors: {len(survivors)}  "
          f"({summary['seconds']} s)")
    for module, c in sorted(by_file.items()):
        print(f"  {module}: {c['killed']}/{c['total']} killed")
    for e in stale:
        print(f"  warning: allow entry matched no survivor: {e['function']}: {e['original']!r}"
              f" -> {e['mutated']!r}")
    if args.mutants:
        survivors = [r for r in survivors
                     if any(fnmatch.fnmatch(r["mutant"], g) for g in args.mutants)]
    for r in survivors:
        print(f"\nSURVIVED ({r['status']}): {r['mutant']}  [{r['function']}]\n{r['diff']}")
    if survivors:
        print(f"\nmutation gate: {len(survivors)} mutant(s) of documented rules survived; "
              f"kill them with a hand-worked test or, if equivalent, list them in "
              f"{ALLOW_FILE.name} with a reason (docs/testing.md)")
        return 1
    print("mutation gate: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
