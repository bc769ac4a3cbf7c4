"""The ``ev_floor`` gate on the golden cases' committed microbars: a floor nothing clears blocks
every valid candidate (and the conformance checks accept those decisions); a floor everything
clears leaves every setup exactly as without the table (the gate only adds its checks)."""

from __future__ import annotations

from pathlib import Path

import attrs
import msgspec
import pytest

from spxcc_core.contracts.microbar import MicrobarV2
from spxcc_core.contracts.setup import GateDecision
from spxcc_core.detect.runner import DetectorRunner
from spxcc_core.golden.cases import case_names
from spxcc_core.golden.conformance import check_decisions
from spxcc_core.plugins import get_plugin_manager
from spxcc_core.slippage.ev_floor import EvFloorConfig

GOLDEN = Path(__file__).resolve().parent / "golden"


def _run(bars: list[MicrobarV2], ev: EvFloorConfig | None) -> tuple[list[GateDecision], bytes]:
    """Gate decisions and setups (profile hash blanked: the table changes it) of the built-in
    detectors on ``bars`` with their default profile plus ``ev`` as its ``[ev_floor]``."""
    pm = get_plugin_manager(load_entrypoints=False)
    profile = attrs.evolve(DetectorRunner(pm).profile, ev_floor=ev)
    runner = DetectorRunner(pm, profile)
    decisions = [o for bar in bars for o in runner.on_bar(bar) if isinstance(o, GateDecision)]
    runner.finish()
    setups = msgspec.json.Encoder().encode_lines(
        [msgspec.structs.replace(s, profile_hash="") for s in runner.setups()])
    return decisions, setups


@pytest.mark.parametrize("case", case_names()[:2])
def test_the_gate_blocks_or_leaves_setups_alone_on_golden_bars(case: str) -> None:
    dec = msgspec.json.Decoder(MicrobarV2)
    raw = (GOLDEN / case / "expected" / "microbars.jsonl").read_bytes().splitlines()
    bars = [dec.decode(ln) for ln in raw if ln.strip()]
    base_decisions, base_setups = _run(bars, None)
    assert base_decisions, f"{case}: no candidates to gate"
    blocked, _ = _run(bars, EvFloorConfig(base_floor_r=100.0, warmup="block"))
    assert check_decisions(blocked) == []
    valid = [d for d in blocked if d.checks[0].gate != "candidate_invalid"]
    assert valid and not any(d.passed for d in valid)
    assert all(any(c.gate == "ev_floor" and not c.passed for c in d.checks) for d in valid)
    open_gate, open_setups = _run(bars, EvFloorConfig(base_floor_r=-100.0))
    assert [d.passed for d in open_gate] == [d.passed for d in base_decisions]
    assert open_setups == base_setups
