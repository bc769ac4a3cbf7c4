"""The golden cases' detection outputs, recomputed from their committed microbars.

``spxcc golden verify`` replays every case from its trades and quotes (about a minute on a
shared core). The detection half of that check — detectors, quote-aware gates and the setup
lifecycle — only needs the committed ``expected/microbars.jsonl``: this test feeds those bars to
a :class:`~spxcc_core.detect.DetectorRunner` with the built-in plugins and the default profile
(what the replay does after aggregation) and compares the setups and gate decisions with the
committed expected files byte for byte. It takes about a second, so the mutation gate
(``nox -s mutants``, docs/testing.md) can run it against every mutant of those modules.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from spxcc_core.contracts.microbar import MicrobarV2
from spxcc_core.contracts.setup import GateDecision
from spxcc_core.detect.runner import DetectorRunner
from spxcc_core.golden.cases import case_names
from spxcc_core.golden.run import decode_report, restrict
from spxcc_core.plugins import get_plugin_manager

GOLDEN = Path(__file__).resolve().parent / "golden"


def detection_outputs(bars: list[MicrobarV2]) -> dict[str, bytes]:
    """``setups.jsonl`` and ``gate_decisions.jsonl`` bytes of the built-in detectors on
    ``bars``, ordered as the replay writes them (setups by detection; decisions by bar start,
    symbol, then production order)."""
    runner = DetectorRunner(get_plugin_manager(load_entrypoints=False))
    ranked: list[tuple[int, str, int, GateDecision]] = []
    for bar in bars:
        for out in runner.on_bar(bar):
            if isinstance(out, GateDecision):
                ranked.append((out.bar_start_ms, out.symbol, len(ranked), out))
    runner.finish()
    enc = msgspec.json.Encoder()
    return {"setups.jsonl": enc.encode_lines(runner.setups()),
            "gate_decisions.jsonl": enc.encode_lines(
                [d for *_, d in sorted(ranked, key=lambda x: x[:3])])}


@pytest.mark.parametrize("case", case_names())
def test_detection_on_committed_bars_matches_expected_files(case: str) -> None:
    expected_dir = GOLDEN / case / "expected"
    dec = msgspec.json.Decoder(MicrobarV2)
    bars = [dec.decode(ln) for ln in (expected_dir / "microbars.jsonl").read_bytes().splitlines()
            if ln.strip()]
    reviewed = sorted(decode_report((expected_dir / "report.json").read_bytes()).detectors)
    assert reviewed, f"{case}: expected/report.json names no detector"
    got = restrict(detection_outputs(bars), reviewed)
    for name, data in got.items():
        want = restrict({name: (expected_dir / name).read_bytes()}, reviewed)[name]
        assert data.splitlines() == want.splitlines(), f"{case}/expected/{name} differs"
