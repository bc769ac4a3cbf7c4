"""Verifying golden cases against their expected files, and regenerating them.

A case folder ``<golden_dir>/<case>/`` holds the inputs (``trades.v<N>.jsonl``,
``quotes.v<N>.jsonl``), a reviewer's ``README.md`` and ``expected/`` (:data:`EXPECTED_FILES`).

:func:`verify` replays every case with every detector of the plugin manager. Bars and the
quarantine are compared in full; setups, gate decisions and the report for the detectors the
expected files were reviewed for (those listed in ``expected/report.json``). A detector that
runs but has no expected outputs (a third-party plugin) is checked with
:func:`~spxcc_core.golden.conformance.check_detector` instead. Committed inputs of the current
contract versions must also equal what the seeded generator writes.

:func:`regen` rewrites inputs (unless they were written by an older contract version: those stay
forever) and expected files, and returns a readable diff of what changed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import pluggy

from spxcc_core.errors import ConfigError
from spxcc_core.golden.cases import case_names, get_case
from spxcc_core.golden.conformance import ConformanceReport, check_detector
from spxcc_core.golden.diff import diff_file, diff_outputs
from spxcc_core.golden.io import current_input_files, encode_inputs, input_files, read_inputs
from spxcc_core.golden.run import EXPECTED_FILES, decode_report, restrict, run_case
from spxcc_core.golden.sessions import case_events
from spxcc_core.outputs import atomic_write
from spxcc_core.plugins import call_isolated

__all__ = ["GOLDEN_DIR_ENV", "CaseVerdict", "default_golden_dir", "regen", "verify"]

#: Environment variable naming the golden folder (default: ``tests/golden`` of the checkout).
GOLDEN_DIR_ENV = "SPXCC_GOLDEN_DIR"


@attrs.frozen(eq=False)
class CaseVerdict:
    """The outcome of verifying (or regenerating) one case.

    ``compared`` are the detectors whose outputs were compared with the expected files;
    ``conformance`` the reports of detectors checked by the kit instead; ``lines`` a readable
    account (differences when verifying, the diff when regenerating).
    """

    case: str
    ok: bool
    compared: tuple[str, ...]
    conformance: tuple[ConformanceReport, ...]
    lines: tuple[str, ...]


def default_golden_dir() -> Path:
    """``$SPXCC_GOLDEN_DIR``, else ``tests/golden`` of the source checkout, else of the
    current directory."""
    env = os.environ.get(GOLDEN_DIR_ENV)
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parents[2] / "tests" / "golden"
    return checkout if checkout.is_dir() else Path.cwd() / "tests" / "golden"


def _selected_cases(cases: Sequence[str] | None) -> list[str]:
    if cases:
        for c in cases:
            get_case(c)
        return list(cases)
    return case_names()


def _registered_detectors(pm: pluggy.PluginManager) -> dict[str, Any]:
    classes: dict[str, Any] = {}
    for result in call_isolated(pm, "spxcc_register_detectors", []):
        for cls in result:
            classes[getattr(cls, "name", repr(cls))] = cls
    return classes


def _read_expected(case_dir: Path) -> dict[str, bytes | None]:
    exp = case_dir / "expected"
    return {n: (exp / n).read_bytes() if (exp / n).is_file() else None for n in EXPECTED_FILES}


def _run(case: str, case_dir: Path, pm: pluggy.PluginManager,
         detectors: Sequence[str] | None) -> dict[str, bytes]:
    spec = get_case(case)
    events = read_inputs(case_dir)
    inputs = {n: (case_dir / n).read_bytes() for n in input_files(case_dir)}
    return run_case(case, spec.summary, events, spec.regime.date.isoformat(), inputs, pm=pm,
                    detectors=detectors)


def _report_detectors(files: dict[str, bytes]) -> list[str]:
    return list(decode_report(files["report.json"]).detectors)


def _input_drift(case: str, case_dir: Path) -> list[str]:
    committed = input_files(case_dir)
    fresh = encode_inputs(case_events(case))
    out: list[str] = []
    for name in current_input_files():
        if name in committed and (case_dir / name).read_bytes() != fresh[name]:
            out.append(f"{name}: differs from the seeded generator's output "
                       "(run `spxcc golden regen` and review)")
    return out


def verify(golden_dir: Path | None = None, *, cases: Sequence[str] | None = None,
           detectors: Sequence[str] | None = None,
           pm: pluggy.PluginManager | None = None) -> list[CaseVerdict]:
    """Verify cases against their expected files (see the module docstring).

    :param golden_dir: the golden folder (default :func:`default_golden_dir`).
    :param cases: case names (None: every case).
    :param detectors: run only these detectors (None: every registered detector).
    :param pm: the plugin manager (default: :func:`~spxcc_core.plugins.get_plugin_manager`).
    :raises ConfigError: an unknown case or detector name, or a case without expected files.
    :raises InputError: unreadable inputs or expected files.
    """
    from spxcc_core.plugins import get_plugin_manager

    root = golden_dir if golden_dir is not None else default_golden_dir()
    pm = pm if pm is not None else get_plugin_manager()
    installed = _registered_detectors(pm)
    verdicts: list[CaseVerdict] = []
    checked: dict[str, ConformanceReport] = {}
    for case in _selected_cases(cases):
        case_dir = root / case
        expected = _read_expected(case_dir)
        if expected["report.json"] is None:
            raise ConfigError(f"golden case {case}: no expected files in {case_dir / 'expected'}"
                              " (run `spxcc golden regen`)")
        reviewed = set(decode_report(expected["report.json"] or b"",
                                     str(case_dir / "expected" / "report.json")).detectors)
        ran = set(installed) if detectors is None else set(detectors)
        lines: list[str] = []
        missing = sorted(reviewed - set(installed))
        if detectors is None and missing:
            lines.append(f"detector(s) {', '.join(missing)} have expected outputs but are not "
                         "installed")
        compared = sorted(reviewed & ran)
        actual = _run(case, case_dir, pm, detectors)
        lines.extend(_input_drift(case, case_dir))
        # the profile hash covers every installed detector: comparable only when the same
        # detectors ran as when the case was reviewed
        same_set = set(_report_detectors(actual)) == reviewed
        want = restrict({k: v for k, v in expected.items() if v is not None}, compared,
                        drop_profile_hash=not same_set)
        got = restrict(actual, compared, drop_profile_hash=not same_set)
        for name in EXPECTED_FILES:
            if want.get(name) != got.get(name):
                lines.extend(diff_file(name, want.get(name), got.get(name)))
        reports: list[ConformanceReport] = []
        for extra in sorted(ran - reviewed):
            if extra not in checked and extra in installed:
                checked[extra] = check_detector(installed[extra])
            if extra in checked:
                reports.append(checked[extra])
                if not checked[extra].ok:
                    lines.extend(checked[extra].summary().splitlines())
        verdicts.append(CaseVerdict(case=case, ok=not lines, compared=tuple(compared),
                                    conformance=tuple(reports), lines=tuple(lines)))
    return verdicts


def regen(golden_dir: Path | None = None, *, cases: Sequence[str] | None = None,
          pm: pluggy.PluginManager | None = None) -> list[CaseVerdict]:
    """Rewrite the inputs and expected files of ``cases`` (None: every case) and return, per
    case, a readable diff of what changed. Runs the built-in detectors only (third-party
    plugins are never written into the project's golden files) unless ``pm`` is given.
    Inputs written by an older contract version are kept as they are.

    :raises ConfigError: an unknown case name.
    """
    from spxcc_core.plugins import get_plugin_manager

    root = golden_dir if golden_dir is not None else default_golden_dir()
    pm = pm if pm is not None else get_plugin_manager(load_entrypoints=False)
    verdicts: list[CaseVerdict] = []
    for case in _selected_cases(cases):
        case_dir = root / case
        case_dir.mkdir(parents=True, exist_ok=True)
        lines: list[str] = []
        committed = input_files(case_dir)
        current = current_input_files()
        legacy = [n for n in committed if n not in current]
        if legacy:
            lines.append(f"inputs kept as committed (older contract versions): "
                         f"{', '.join(legacy)}")
        else:
            for name, data in encode_inputs(case_events(case)).items():
                path = case_dir / name
                old = path.read_bytes() if path.is_file() else None
                if old != data:
                    events = data.count(b"\n")
                    lines.append(f"{name}: {'written' if old is None else 'rewritten'} "
                                 f"({events} events)")
                    atomic_write({path: data})
        old_expected = _read_expected(case_dir)
        new_expected = _run(case, case_dir, pm, None)
        lines.extend(diff_outputs(old_expected, dict(new_expected), EXPECTED_FILES))
        exp_dir = case_dir / "expected"
        exp_dir.mkdir(exist_ok=True)
        atomic_write({exp_dir / name: data for name, data in new_expected.items()})
        reviewed = tuple(sorted(decode_report(new_expected["report.json"]).detectors))
        verdicts.append(CaseVerdict(case=case, ok=True, compared=reviewed, conformance=(),
                                    lines=tuple(lines)))
    return verdicts
