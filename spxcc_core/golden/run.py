"""Running a golden case through the replay pipeline and shaping its expected files.

:func:`run_case` writes the case's events as Massive flat files in a temporary folder and
replays them with :func:`spxcc_core.replay.engine.run_replay` — the same path a real day takes —
then returns the bytes of every expected file (:data:`EXPECTED_FILES`). :func:`restrict` keeps
only some detectors' lines, so a comparison can ignore detectors a case was not reviewed for.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import msgspec
import pluggy

from spxcc_core.aggregate.report import PluginErrorRecord
from spxcc_core.contracts.replay import DetectionReport, GateCounts
from spxcc_core.contracts.setup import SetupInstance
from spxcc_core.golden.generate import GeneratedEvents
from spxcc_core.golden.io import write_flat_files
from spxcc_core.golden.wire import DetectorSummary, GoldenReport
from spxcc_core.setups.lifecycle import summarize

__all__ = ["DETECTOR_FILES", "EXPECTED_FILES", "decode_report", "encode_report", "restrict",
           "run_case"]

#: Files under ``<case>/expected/``, in the order they are compared and shown.
EXPECTED_FILES: tuple[str, ...] = ("microbars.jsonl", "setups.jsonl", "gate_decisions.jsonl",
                                   "quarantine.jsonl", "report.json")
#: Expected files whose lines each belong to one detector (``detector`` field).
DETECTOR_FILES: tuple[str, ...] = ("setups.jsonl", "gate_decisions.jsonl")

_report_encoder = msgspec.json.Encoder(order="deterministic")
_report_decoder = msgspec.json.Decoder(GoldenReport)
_line_encoder = msgspec.json.Encoder()


def encode_report(report: GoldenReport) -> bytes:
    """``report.json`` bytes: indented, keys in a deterministic order, newline at the end."""
    return msgspec.json.format(_report_encoder.encode(report), indent=2) + b"\n"


def decode_report(data: bytes, source: str = "report.json") -> GoldenReport:
    """Decode ``report.json``.

    :raises InputError: not a ``golden_report@1`` object.
    """
    from spxcc_core.errors import InputError

    try:
        return _report_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise InputError(source, f"not a golden report ({exc})") from None


_NO_GATES = GateCounts(evaluated=0, passed=0, blocked=0, reasons={})


def _detector_summaries(detection: DetectionReport,
                        setups: Sequence[SetupInstance]) -> dict[str, DetectorSummary]:
    out: dict[str, DetectorSummary] = {}
    for name, version in sorted(detection.detectors.items()):
        gates = detection.gates.get(name, _NO_GATES)
        mine = [s for s in setups if s.detector == name]
        err = detection.errors.get(name)
        out[name] = DetectorSummary(
            version=version, evaluated=gates.evaluated, passed=gates.passed,
            blocked=gates.blocked, reasons=dict(gates.reasons), setups=len(mine),
            outcomes=summarize(mine),
            errors=[] if err is None else [f"{err.count} x {err.first}"])
    return out


def run_case(case: str, summary: str, events: GeneratedEvents, session_date: str,
             inputs: Mapping[str, bytes], *, pm: pluggy.PluginManager,
             detectors: Sequence[str] | None = None) -> dict[str, bytes]:
    """Replay one case and return the bytes of each of :data:`EXPECTED_FILES`.

    :param case: the case name (written into the report).
    :param summary: the case's one-line description (written into the report).
    :param events: the case's trades and quotes in arrival order.
    :param session_date: the New York date ``YYYY-MM-DD`` of the events.
    :param inputs: input file name → its bytes (hashed into the report).
    :param pm: the plugin manager whose detectors run.
    :param detectors: run only these detectors (None: every registered one).
    :raises ConfigError: an unknown detector name.
    """
    from spxcc_core.replay.engine import run_replay

    with tempfile.TemporaryDirectory(prefix="spxcc-golden-") as tmp:
        flat = Path(tmp) / "flatfiles"
        write_flat_files(events, flat, session_date)
        run = run_replay(flat, detectors=detectors, pm=pm)
    files = run.outputs()
    detection = run.report.detection
    detector_names = set(detection.detectors)
    report = GoldenReport(
        case=case, summary=summary, session_date=session_date,
        inputs={name: hashlib.sha256(data).hexdigest() for name, data in sorted(inputs.items())},
        aggregation=run.report.aggregation,
        profile=f"{detection.profile.name}@{detection.profile.version}",
        detectors=_detector_summaries(detection, run.setups),
        plugin_errors=[PluginErrorRecord(plugin=e.plugin, hook=e.hook, error=e.error)
                       for e in run.report.plugin_errors if e.plugin not in detector_names])
    out = {name: files[name] for name in EXPECTED_FILES if name != "report.json"}
    out["report.json"] = encode_report(report)
    return out


def _keep_lines(data: bytes, names: Collection[str], drop_profile_hash: bool) -> bytes:
    kept: list[bytes] = []
    for line in data.splitlines():
        if not line.strip():
            continue
        rec = msgspec.json.decode(line)
        if rec.get("detector") not in names:
            continue
        if drop_profile_hash and "profileHash" in rec:
            rec["profileHash"] = ""
            line = _line_encoder.encode(rec)
        kept.append(line + b"\n")
    return b"".join(kept)


def restrict(files: Mapping[str, bytes], names: Collection[str], *,
             drop_profile_hash: bool = False) -> dict[str, bytes]:
    """``files`` with only the lines and report entries of the detectors in ``names``.

    :param drop_profile_hash: blank every setup's ``profileHash`` (it covers every installed
        detector's parameters, so it changes when other detectors are installed).
    """
    out = dict(files)
    for name in DETECTOR_FILES:
        if name in out:
            out[name] = _keep_lines(out[name], names, drop_profile_hash)
    if "report.json" in out:
        report = decode_report(out["report.json"])
        report = msgspec.structs.replace(
            report, detectors={k: v for k, v in report.detectors.items() if k in names})
        out["report.json"] = encode_report(report)
    return out
