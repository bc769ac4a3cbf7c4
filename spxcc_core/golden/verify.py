"""Verifying golden cases against their expected files, and regenerating them.

A case folder ``<golden_dir>/<case>/`` holds the inputs (``trades.v<N>.jsonl``,
``quotes.v<N>.jsonl``), a reviewer's ``README.md`` and ``expected/`` (:data:`EXPECTED_FILES`).

:func:`verify` replays every case with every detector of the plugin manager. Bars and the
quarantine are compared in full; setups, gate decisions and the report for the detectors the
expected files were reviewed for (those listed in ``expected/report.json``). Separately from
the byte comparison, the outputs are checked against the case's stated expectations
(``expect.toml``, :mod:`spxcc_core.golden.expect`; limited to the detectors that ran). A detector that
runs but has no expected outputs (a third-party plugin) is checked with
:func:`~spxcc_core.golden.conformance.check_detector` instead. Committed inputs of the current
contract versions must also equal what the seeded generator writes.

:func:`regen` rewrites inputs (unless they were written by an older contract version: those stay
forever) and expected files, and returns a readable diff of what changed — unless the new
outputs contradict ``expect.toml``: then it writes nothing and lists the contradictions.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import attrs
import msgspec
import pluggy

from spxcc_core.detect.runner import DETECTORS
from spxcc_core.errors import ConfigError, InputError
from spxcc_core.golden.cases import case_names, get_case
from spxcc_core.golden.conformance import ConformanceReport, check_detector
from spxcc_core.golden.diff import diff_file, diff_outputs
from spxcc_core.golden.expect import (
    EXPECT_FILE,
    check_expected_files,
    load_expectations,
    restrict_expectations,
    unstated_bursts,
)
from spxcc_core.golden.io import current_input_files, encode_inputs, input_files, read_inputs
from spxcc_core.golden.run import EXPECTED_FILES, decode_report, restrict, run_case
from spxcc_core.golden.sessions import case_events
from spxcc_core.outputs import atomic_write
from spxcc_core.registry import PluginRegistry

__all__ = ["GOLDEN_DIR_ENV", "PACKAGED_GOLDEN_DIR", "CaseVerdict", "default_golden_dir", "regen",
           "verify"]

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


#: The golden cases shipped with the package (``tests/golden`` of a checkout links here).
PACKAGED_GOLDEN_DIR = Path(__file__).resolve().parent / "fixtures"


def default_golden_dir() -> Path:
    """``$SPXCC_GOLDEN_DIR``, else the cases shipped inside the package
    (:data:`PACKAGED_GOLDEN_DIR`, the same files in a checkout and in a wheel install)."""
    env = os.environ.get(GOLDEN_DIR_ENV)
    if env:
        return Path(env)
    return PACKAGED_GOLDEN_DIR


def _selected_cases(cases: Sequence[str] | None) -> list[str]:
    if cases:
        for c in cases:
            get_case(c)
        return list(cases)
    return case_names()


def _registered_detectors(pm: pluggy.PluginManager) -> tuple[dict[str, Any], list[str]]:
    """The installed detectors by name, and a line per plugin that failed to register its
    detectors (that plugin's detectors are not verified: a case fails with it)."""
    registry = PluginRegistry(pm)
    installed = registry.by_name(DETECTORS)
    return installed, [f"plugin {f.plugin!r} failed in {f.hook}: {f.error}"
                       for f in registry.failures]


def _read_expected(case_dir: Path) -> dict[str, bytes | None]:
    exp = case_dir / "expected"
    return {n: _checked_expected(exp / n) if (exp / n).is_file() else None
            for n in EXPECTED_FILES}


def _previous_expected(case_dir: Path) -> tuple[dict[str, bytes | None], list[str]]:
    """The expected files ``regen`` replaces, a damaged one counting as absent, and a line
    naming each damaged one (regenerating is how a damaged file is repaired)."""
    out: dict[str, bytes | None] = {}
    notes: list[str] = []
    for name in EXPECTED_FILES:
        path = case_dir / "expected" / name
        try:
            out[name] = _checked_expected(path) if path.is_file() else None
        except InputError as exc:
            out[name] = None
            notes.append(f"{name}: the previous file was unreadable ({exc}); replaced")
    return out, notes


_object_decoder = msgspec.json.Decoder(dict[str, Any])


def _checked_expected(path: Path) -> bytes:
    """The bytes of an expected file, each JSON Lines line (or the whole ``.json`` file) a JSON
    object in UTF-8.

    :raises InputError: unreadable, truncated, not UTF-8 or not JSON (naming the file and line).
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), f"cannot read ({exc.strerror or exc})") from None
    lines = [data] if path.suffix == ".json" else data.splitlines()
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            _object_decoder.decode(line)
        except msgspec.DecodeError as exc:
            raise InputError(str(path), f"not a JSON object ({exc}); restore the file or run "
                             "`spxcc golden regen` and review", row=None if path.suffix == ".json" else i
                             ) from None
    return data


def _run(case: str, case_dir: Path, pm: pluggy.PluginManager,
         detectors: Sequence[str] | None,
         inputs: dict[str, bytes] | None = None) -> dict[str, bytes]:
    spec = get_case(case)
    if inputs is None:
        events = read_inputs(case_dir)
        inputs = {n: (case_dir / n).read_bytes() for n in input_files(case_dir)}
    else:
        events = case_events(case)
    return run_case(case, spec.summary, events, spec.regime.date.isoformat(), inputs, pm=pm,
                    detectors=detectors)


def _expectation_problems(case: str, case_dir: Path, files: dict[str, bytes],
                          ran: Collection[str] | None = None) -> list[str]:
    """Where ``files`` (a run's outputs) contradict the case's ``expect.toml``, each line
    prefixed ``expect.toml:``; a case without the file is itself a problem. ``ran``: the
    detectors that ran when not all did (the statements are limited to them)."""
    path = case_dir / EXPECT_FILE
    if not path.is_file():
        return [f"{EXPECT_FILE}: missing (state the case's expectations first, docs/golden.md)"]
    exp = load_expectations(path)
    spec = get_case(case)
    if ran is not None:
        exp = restrict_expectations(exp, ran)
    problems = check_expected_files(exp, files, spec.regime.date)
    problems += unstated_bursts(exp, spec.regime)
    return [f"{EXPECT_FILE}: {p}" for p in problems]


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
    installed, failed = _registered_detectors(pm)
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
        lines: list[str] = list(failed)
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
        # the stated expectations, checked on what ran, independently of the byte diff
        lines.extend(_expectation_problems(case, case_dir, actual,
                                           None if detectors is None else ran))
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

    A case whose new outputs contradict its ``expect.toml`` (or that has none) is **not
    written**: its verdict has ``ok`` False and lists the contradictions — edit the
    expectations first, with the reason, in the same change.

    :raises ConfigError: an unknown case name.
    """
    from spxcc_core.plugins import get_plugin_manager

    root = golden_dir if golden_dir is not None else default_golden_dir()
    pm = pm if pm is not None else get_plugin_manager(load_entrypoints=False)
    verdicts: list[CaseVerdict] = []
    for case in _selected_cases(cases):
        case_dir = root / case
        lines: list[str] = []
        committed = input_files(case_dir)
        current = current_input_files()
        legacy = [n for n in committed if n not in current]
        new_inputs: dict[str, bytes] = {}
        if legacy:
            lines.append(f"inputs kept as committed (older contract versions): "
                         f"{', '.join(legacy)}")
            new_expected = _run(case, case_dir, pm, None)
        else:
            new_inputs = encode_inputs(case_events(case))
            new_expected = _run(case, case_dir, pm, None, inputs=new_inputs)
        reviewed = tuple(sorted(decode_report(new_expected["report.json"]).detectors))
        refused = _expectation_problems(case, case_dir, new_expected)
        if refused:
            verdicts.append(CaseVerdict(
                case=case, ok=False, compared=reviewed, conformance=(),
                lines=("nothing written: the new outputs contradict the stated expectations "
                       "(edit expect.toml first, with the reason)", *refused)))
            continue
        case_dir.mkdir(parents=True, exist_ok=True)
        for name, data in new_inputs.items():
            path = case_dir / name
            old = path.read_bytes() if path.is_file() else None
            if old != data:
                events = data.count(b"\n")
                lines.append(f"{name}: {'written' if old is None else 'rewritten'} "
                             f"({events} events)")
                atomic_write({path: data})
        old_expected, damaged = _previous_expected(case_dir)
        lines.extend(damaged)
        lines.extend(diff_outputs(old_expected, dict(new_expected), EXPECTED_FILES))
        exp_dir = case_dir / "expected"
        exp_dir.mkdir(exist_ok=True)
        atomic_write({exp_dir / name: data for name, data in new_expected.items()})
        verdicts.append(CaseVerdict(case=case, ok=True, compared=reviewed, conformance=(),
                                    lines=tuple(lines)))
    return verdicts
