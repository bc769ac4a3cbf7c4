"""Pinned digests of the end-to-end outputs of a generated sample session.

The architecture work (issue 10) must leave every output byte-identical; golden cases are
compared byte for byte by ``spxcc golden verify``, and this test pins the replay outputs of a
small seeded sample session (SPY, I:SPX and SPXW options through ingest, the microbar kernel,
the detectors, the gates and the setup lifecycle). A change of any digest is a change of output:
it must be deliberate, explained in the commit, and the digests below updated in the same change.
The SQLite store is left out (its bookkeeping columns hold wall-clock times, docs/replay.md).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from spxcc_core.cli import main

PINNED = {
    "gate_decisions.jsonl": "0395b555080241dc5cb88d609bba2052ea823514f08866b1f2b1b162d049bede",
    "microbars.jsonl": "e398992e4d1ec13c6f1f907a7a5bd88a8b662fa822afaaf1429f32ecb8062294",
    "quarantine.jsonl": "c8fbe4a2a156237ec6edf2c0625b8a289f174737362d560307ce61174b9719df",
    # the demo executes on paper (issue 11): the report gains its ``execution`` section and
    # the four execution files are written; at this scale one setup finds a contract with a
    # quote at most 5 s old (1 entry of 10 contracts, its exit filled in two parts);
    # slippage.jsonl holds the slippage ledger's slippage_record@1 lines
    "report.json": "e39b18717031438ed8cb2c34492517848f72d6a76376c19b53d0c0def5c91c3e",
    "intents.jsonl": "43dfbd5b1c88f64ffa6d904f5ec0b7774295f88162e0418cd33923309c973d62",
    "fills.jsonl": "47fa82e6108d1c773142b6d5dea989aac452a817d1b8d94d460362a0f027cdd0",
    "positions.jsonl": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "slippage.jsonl": "192dc1ac12c5ef1a2f5e8367c459883a8fdfa5953944ed9d612292e5301d8bec",
    "setups.jsonl": "e76023c3b9abc15631df23724411c0ad3d78df394b060c94a93678cc568b94d1",
}


@pytest.mark.slow
def test_sample_session_outputs_are_pinned(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["demo", "--scale", "0.05", "--cache-dir", str(tmp_path), "--json"]) == 0
    capsys.readouterr()
    out = tmp_path / "replay-14-2025-12-12-0.05"
    got = {name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in PINNED}
    assert got == PINNED
