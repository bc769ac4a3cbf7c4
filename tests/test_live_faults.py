"""Fault tests of the live path (issue 13, item 7).

The fake Massive websocket server on loopback replays a recorded session — the golden
``gap_and_flush`` case cut into websocket frames, as ``tests/test_live_parity.py`` serves it —
with faults injected, over four connections:

1. the first part, with one frame sent twice, two neighbouring frames swapped (out of order
   within the aggregator's lateness) and four malformed messages among them; then the TCP
   link is aborted and the next frames are lost (Massive does not resend);
2. the next part, then silence: the client's stall timeout drops the link; more frames lost;
3. the rest, then silence again; 4. a connection on which nothing comes (the idle timeout
   ends the session).

Expected: no crash, no duplicate bar (in ``microbars.jsonl`` nor on the hub), every malformed
message quarantined with its reason, each outage recorded as a gap whose window is exactly the
newest event before it and the oldest after it, the live outputs equal to the replay of the live
recording (byte for byte), and the live bars equal to the replay of the clean session's bars
outside the recorded gaps.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from fake_massive import FakeMassive, Script
from secret_tokens import MASSIVE_TEST_API_KEY
from test_live_parity import CASE, ws_frames, ws_shaped
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from spxcc_core.aggregate.config import AggregatorConfig
from spxcc_core.cli import main
from spxcc_core.golden.sessions import case_events
from spxcc_core.host.hub import Hub
from spxcc_core.host.live import LiveResult, run_live
from spxcc_core.massive.live import Backoff
from spxcc_core.replay.engine import run_replay

CONFIG = AggregatorConfig(lateness_ms=30_000)  # absorbs reordering within 30 s
STALE_MS = CONFIG.stale_ms
LOST = 15  # frames lost at each outage
MALFORMED = ["garbage that is not json {", '{"ev": 7}',
             json.dumps([{"ev": "T", "sym": "SPY", "p": "511.00", "s": 1, "t": 1}]),
             json.dumps([{"ev": "Q", "sym": "", "bp": 1.0, "bs": 1, "ap": 1.1, "as": 1,
                          "t": 1}])]


def stamps(frame: str) -> list[int]:
    return [e["t"] for e in json.loads(frame)]


def find_swappable(frames: list[str], lo: int, hi: int) -> int:
    """A frame ``s`` in ``[lo, hi)`` whose successor is newer but lies within the lateness of
    it: sending ``s + 1`` first makes ``s`` arrive out of order yet not late."""
    for s in range(lo, hi):
        a, b = stamps(frames[s]), stamps(frames[s + 1])
        if min(b) > max(a) and max(b) - min(a) < CONFIG.lateness_ms:
            return s
    raise AssertionError("no swappable pair")


def plan(frames: list[str]) -> dict[str, Any]:
    n = len(frames)
    a, b = n // 3, 2 * n // 3
    dup = a // 2
    swap = find_swappable(frames, a // 4, dup - 2)
    first: list[str] = []
    for i in range(a):
        if i in (a // 5, a // 3 + 1, 2 * a // 5 + 2, 3 * a // 5):
            first.append(MALFORMED[len([f for f in first if f in MALFORMED])])
        if i == swap:
            first.append(frames[swap + 1])
        elif i == swap + 1:
            first.append(frames[swap])
        else:
            first.append(frames[i])
        if i == dup:
            first.append(frames[dup])  # the same batch again
    second = frames[a + LOST:b]
    third = frames[b + LOST:]
    scripts = [Script(frames=first, then="drop"), Script(frames=second, then="hold"),
               Script(frames=third, then="hold"), Script(frames=[], then="hold")]
    return {"scripts": scripts, "dup": frames[dup], "gaps": [
        (max(max(stamps(f)) for f in frames[:a]), min(stamps(frames[a + LOST]))),
        (max(max(stamps(f)) for f in second), min(stamps(frames[b + LOST]))),
        (max(max(stamps(f)) for f in third), None)]}


async def _collect(ws: Any) -> list[bytes]:
    out: list[bytes] = []
    try:
        async for message in ws:
            out.append(message.encode() if isinstance(message, str) else message)
    except ConnectionClosed:
        pass
    return out


async def _live(tmp: Path, scripts: list[Script]) -> tuple[LiveResult, list[bytes], int]:
    async with FakeMassive(MASSIVE_TEST_API_KEY, scripts) as fake:
        hub = await Hub().start()
        try:
            async with connect(hub.url, proxy=None) as sub:
                await sub.recv()
                await sub.send(json.dumps({"action": "subscribe",
                                           "channels": ["microbar@2", "feed_status@1"]}))
                await sub.recv()
                collector = asyncio.create_task(_collect(sub))
                result = await run_live(
                    url=fake.url, api_key=MASSIVE_TEST_API_KEY, subscriptions=["T.SPY", "Q.SPY"],
                    hub=hub, out_dir=tmp / "live", record=tmp / "recording.jsonl",
                    idle_timeout_s=1.5, stall_timeout_s=0.5, config=CONFIG,
                    backoff=Backoff(initial_s=0.01, max_s=0.05),
                    connect_kwargs={"proxy": None})
                await hub.close()
                messages = await asyncio.wait_for(collector, 20)
        finally:
            await hub.close()
        return result, messages, fake.connections


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("faults")
    frames = ws_frames(ws_shaped(case_events(CASE)), seed=20261206)
    p = plan(frames)
    clean = tmp / "clean.jsonl"
    clean.write_text("".join(f + "\n" for f in frames))
    result, messages, served = asyncio.run(asyncio.wait_for(_live(tmp, p["scripts"]), 120))
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("SPXCC_DB", raising=False)
        replayed = run_replay(tmp / "recording.jsonl", config=CONFIG).outputs()
    return {"tmp": tmp, "frames": frames, "plan": p, "result": result, "messages": messages,
            "served": served, "clean": run_replay(clean, config=CONFIG), "replayed": replayed}


def test_no_crash_and_every_outage_is_a_gap_with_its_exact_window(
        faults: dict[str, Any]) -> None:
    r = faults["result"].report
    assert r.stop_reason == "idle" and r.error is None
    # connections 4, 5, ... are silent: each stalls until the idle timeout ends the session
    assert faults["served"] >= 4 and r.connections == faults["served"]
    assert [(g.from_ms, g.to_ms) for g in r.gaps] == faults["plan"]["gaps"]
    assert r.gaps[0].reason == "connection lost without a close frame (code 1006)"
    assert r.gaps[1].reason == r.gaps[2].reason == "stalled: no message for 0.5 s"
    assert all(g.attempts == 1 for g in r.gaps[:2])


def test_every_malformed_message_is_quarantined_with_a_reason(faults: dict[str, Any]) -> None:
    r = faults["result"].report
    assert r.quarantined_frame_count == len(MALFORMED) == len(r.quarantined_frames)
    assert [q.excerpt for q in r.quarantined_frames] == [m[:80] for m in MALFORMED]
    expected = ["not a JSON array of events (", "event 1 is not an object with a string 'ev'",
                "event 1 ('T'): Expected `float`, got `str`", "empty ticker"]
    for q, start in zip(r.quarantined_frames, expected, strict=True):
        assert q.reason.startswith(start), (q.reason, start)
    live = json.loads((faults["tmp"] / "live" / "live.json").read_bytes())
    assert live["quarantinedFrameCount"] == 4


def test_no_duplicate_bar_in_the_file_or_on_the_hub(faults: dict[str, Any]) -> None:
    lines = (faults["tmp"] / "live" / "microbars.jsonl").read_bytes().splitlines()
    keys = [(b["symbol"], b["startMs"]) for b in map(json.loads, lines)]
    assert len(keys) == len(set(keys)) > 1000
    envs = [json.loads(m) for m in faults["messages"]]
    hub_bars = [e for e in envs if e["type"] == "microbar"]
    assert [json.dumps(e["data"], separators=(",", ":")).encode() for e in hub_bars] == lines
    assert [e["seq"] for e in hub_bars] == list(range(1, len(lines) + 1))
    events = [e["data"]["event"] for e in envs if e["type"] == "feed_status"]
    assert events[:9] == ["connected", "disconnected", "reconnected", "gap", "disconnected",
                          "reconnected", "gap", "disconnected", "reconnected"]
    # the silent connections that follow drop and come back inside the last, open window
    assert all(e == ("disconnected", "reconnected")[i % 2] for i, e in enumerate(events[9:]))


def test_the_duplicated_batch_is_counted_not_applied(faults: dict[str, Any]) -> None:
    live = faults["result"].run.report.aggregation
    clean = faults["clean"].report.aggregation
    dup_events = len(json.loads(faults["plan"]["dup"]))
    assert live.duplicates == clean.duplicates + dup_events
    assert live.late == clean.late  # the swapped pair arrived out of order, not late


def test_live_outputs_equal_the_replay_of_the_live_recording(faults: dict[str, Any]) -> None:
    folder = faults["tmp"] / "live"
    for name, data in faults["replayed"].items():
        assert (folder / name).read_bytes() == data, name


def test_live_bars_equal_the_clean_replay_outside_the_gaps(faults: dict[str, Any]) -> None:
    """A bar can differ only if it overlaps a gap or follows one by less than the quote
    staleness (a quote lost in the gap would still have been in force) plus one bar (the tick
    test of the first trade after it)."""
    live = faults["result"].run.bars
    clean = faults["clean"].bars
    windows = [(g.from_ms // 1000 * 1000, (g.to_ms if g.to_ms is not None else 2**62)
                + STALE_MS + 1000) for g in faults["result"].report.gaps]

    def outside(start: int) -> bool:
        return not any(lo <= start < hi for lo, hi in windows)

    enc = msgspec.json.encode
    live_out = [enc(b) for b in live if outside(b.start_ms)]
    clean_out = [enc(b) for b in clean if outside(b.start_ms)]
    assert live_out == clean_out
    assert len(live_out) > 0.8 * len(clean)  # two outages of 15 frames each
    # and the gaps really cost bars: the clean session has bars the live one never saw
    live_starts = {b.start_ms for b in live}
    lost = [b for b in clean if b.start_ms not in live_starts]
    assert lost and not any(outside(b.start_ms) for b in lost)


def test_the_cli_replays_the_faulty_recording_too(faults: dict[str, Any],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPXCC_DB", raising=False)
    tmp = faults["tmp"]
    assert main(["replay", str(tmp / "recording.jsonl"), "--out", str(tmp / "again")]) == 0
    # without the live lateness setting the bars still come out once each
    keys = [(b["symbol"], b["startMs"]) for b in
            map(json.loads, (tmp / "again" / "microbars.jsonl").read_bytes().splitlines())]
    assert len(keys) == len(set(keys))
