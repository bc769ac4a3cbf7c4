"""Live == replay, byte for byte.

A golden session (``gap_and_flush``: pre-market, a gap, a flush, a passed and a blocked setup,
late / duplicate / crossed events) is served by the fake Massive server on 127.0.0.1 as websocket
frames; the live runner consumes it, records it and publishes on the hub to a real websocket
subscriber on loopback. Then ``spxcc replay`` runs on the recording and on the same events as
Massive flat files. Microbars, setups and gate decisions must be byte-identical across the three,
the recording's replay must reproduce every live output file (quarantine and report included),
and the subscriber must have received exactly the bars (as v1 and v2), setups and decisions,
each channel's ``seq`` running 1, 2, 3, ...

Websocket timestamps are milliseconds and websocket trades carry no correction flag, so the
events are first put in that shape (ns truncated to ms, corrections 0) for all three paths.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import json
import random
from pathlib import Path
from typing import Any

import msgspec
import pytest
from fake_massive import FakeMassive, Script
from secret_tokens import MASSIVE_TEST_API_KEY
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from spxcc_core.cli import main
from spxcc_core.contracts.base import decode_envelope
from spxcc_core.contracts.market import Quote, Trade
from spxcc_core.contracts.microbar import MicrobarV1, MicrobarV2
from spxcc_core.golden.generate import GeneratedEvents
from spxcc_core.golden.io import write_flat_files
from spxcc_core.golden.sessions import case_events
from spxcc_core.host.hub import CHANNELS, Hub
from spxcc_core.host.live import LiveResult, run_live

CASE = "gap_and_flush"
DATE = "2024-03-07"
MS = 1_000_000
COMPARED = ("microbars.jsonl", "setups.jsonl", "gate_decisions.jsonl")


class _Raw(msgspec.Struct):
    type: str
    version: int
    seq: int
    ts: int
    data: msgspec.Raw


_raw = msgspec.json.Decoder(_Raw)


def ws_shaped(events: GeneratedEvents) -> GeneratedEvents:
    """The events as a websocket can carry them: ms timestamps, no correction flag."""
    return GeneratedEvents(
        trades=[msgspec.structs.replace(t, ts=t.ts // MS * MS, correction=0)
                for t in events.trades],
        quotes=[msgspec.structs.replace(q, ts=q.ts // MS * MS) for q in events.quotes])


def _event(e: Trade | Quote) -> dict[str, Any]:
    if isinstance(e, Trade):
        ev: dict[str, Any] = {"ev": "T", "sym": e.symbol, "p": e.price, "s": e.size,
                              "t": e.ts // MS}
        if e.conditions:
            ev["c"] = list(e.conditions)
        if e.exchange is not None:
            ev["x"] = e.exchange
    else:
        ev = {"ev": "Q", "sym": e.symbol, "bp": e.bid, "bs": e.bid_size, "ap": e.ask,
              "as": e.ask_size, "t": e.ts // MS}
    if e.seq is not None:
        ev["q"] = e.seq
    return ev


def ws_frames(events: GeneratedEvents, seed: int) -> list[str]:
    """Both feeds merged by time (each keeping its own arrival order, so the late trade stays
    late), cut into frames of 1–40 events."""
    merged = list(heapq.merge(events.trades, events.quotes, key=lambda e: e.ts))
    rng = random.Random(seed)
    frames: list[str] = []
    i = 0
    while i < len(merged):
        n = rng.randint(1, 40)
        frames.append(json.dumps([_event(e) for e in merged[i:i + n]]))
        i += n
    return frames


async def _collect(ws: Any) -> list[bytes]:
    out: list[bytes] = []
    try:
        async for message in ws:
            out.append(message.encode() if isinstance(message, str) else message)
    except ConnectionClosed:
        pass
    return out


async def _live(tmp: Path, frames: list[str]) -> tuple[LiveResult, list[bytes], FakeMassive]:
    async with FakeMassive(MASSIVE_TEST_API_KEY, [Script(frames=frames, then="hold")]) as fake:
        hub = await Hub().start()
        try:
            async with connect(hub.url, proxy=None) as sub:
                hello = json.loads(await sub.recv())
                assert hello["type"] == "hub_status" and hello["data"]["status"] == "connected"
                await sub.send(json.dumps({"action": "subscribe", "channels": list(CHANNELS)}))
                ack = json.loads(await sub.recv())
                assert ack["data"] == {"status": "subscribed", "channels": sorted(CHANNELS),
                                       "message": ack["data"]["message"]}
                collector = asyncio.create_task(_collect(sub))
                result = await run_live(
                    url=fake.url, api_key=MASSIVE_TEST_API_KEY, subscriptions=["T.SPY", "Q.SPY"],
                    hub=hub, out_dir=tmp / "live", record=tmp / "recording.jsonl",
                    idle_timeout_s=1.0, connect_kwargs={"proxy": None})
                await hub.close()
                messages = await asyncio.wait_for(collector, 10)
        finally:
            await hub.close()
    return result, messages, fake


@pytest.fixture(scope="module")
def parity(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("parity")
    events = ws_shaped(case_events(CASE))
    write_flat_files(events, tmp / "flat", DATE)
    frames = ws_frames(events, seed=20240307)
    result, messages, fake = asyncio.run(asyncio.wait_for(_live(tmp, frames), 120))
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("SPXCC_DB", raising=False)
        assert main(["replay", str(tmp / "recording.jsonl"), "--out", str(tmp / "rec")]) == 0
        assert main(["replay", str(tmp / "flat"), "--out", str(tmp / "flat-out")]) == 0
    return {"tmp": tmp, "result": result, "messages": messages, "fake": fake,
            "frames": frames, "events": events}


def _read(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes()
            for name in (*COMPARED, "quarantine.jsonl", "report.json")}


def test_live_equals_replay_of_recording_and_of_flat_files(parity: dict[str, Any]) -> None:
    tmp = parity["tmp"]
    live, rec, flat = _read(tmp / "live"), _read(tmp / "rec"), _read(tmp / "flat-out")
    bars = live["microbars.jsonl"].splitlines()
    setups = live["setups.jsonl"].splitlines()
    decisions = live["gate_decisions.jsonl"].splitlines()
    # a session worth comparing: the case's bars, its passed vwap setup and blocked decisions
    assert len(bars) > 1000
    assert any(b'"detector":"vwap"' in s for s in setups)
    assert any(b'"passed":false' in d for d in decisions)
    assert any(b'"passed":true' in d for d in decisions)
    for name in COMPARED:
        assert live[name] == rec[name], f"live != replay of the recording: {name}"
        assert live[name] == flat[name], f"live != replay of the flat files: {name}"
    # the recording reproduces every live output, quarantine and report included
    assert live["quarantine.jsonl"] == rec["quarantine.jsonl"]
    assert live["report.json"] == rec["report.json"]
    reasons = sorted(json.loads(line)["reason"] for line in live["quarantine.jsonl"].splitlines())
    assert reasons == ["crossed_quote", "duplicate", "late"]  # the correction is a ws-less flag


def test_live_report_records_the_end_of_input(parity: dict[str, Any]) -> None:
    result: LiveResult = parity["result"]
    r = result.report
    assert r.stop_reason == "idle" and r.input_end.reason == "idle"
    assert r.input_end.silent_s is not None and r.input_end.silent_s >= 1.0
    # the last bar (and any after the last quote's watermark) waits for the end of the input
    assert r.input_end.bars_released >= 1
    last_trade_ms = max(t.ts for t in parity["events"].trades) // MS
    assert r.input_end.last_event_ms is not None and r.input_end.last_event_ms >= last_trade_ms
    assert r.connections == 1 and r.problems == [] and r.error is None
    # handshake: connected, auth_success, one success per channel; then every frame
    assert r.messages == 4 + len(parity["frames"])
    assert r.recording == "recording.jsonl" and r.feeds == ["trades", "quotes"]
    live_json = json.loads((parity["tmp"] / "live" / "live.json").read_bytes())
    assert live_json["stopReason"] == "idle"
    assert live_json["digests"] == r.digests
    files = parity["tmp"] / "live"
    for name, digest in r.digests.items():
        assert hashlib.sha256((files / name).read_bytes()).hexdigest() == digest


def test_recording_holds_every_message_received(parity: dict[str, Any]) -> None:
    lines = (parity["tmp"] / "recording.jsonl").read_bytes().splitlines()
    assert len(lines) == 4 + len(parity["frames"])
    statuses = [json.loads(line)[0]["status"] for line in lines[:4]]
    assert statuses == ["connected", "auth_success", "success", "success"]
    assert [json.loads(line) for line in lines[4:]] == [json.loads(f) for f in parity["frames"]]
    assert MASSIVE_TEST_API_KEY.encode() not in (parity["tmp"] / "recording.jsonl").read_bytes()
    for name in (*COMPARED, "quarantine.jsonl", "report.json", "live.json"):
        assert MASSIVE_TEST_API_KEY.encode() not in (parity["tmp"] / "live" / name).read_bytes()
    assert parity["fake"].auths == [MASSIVE_TEST_API_KEY]


def _by_channel(messages: list[bytes]) -> dict[str, list[_Raw]]:
    out: dict[str, list[_Raw]] = {}
    for m in messages:
        env = _raw.decode(m)
        out.setdefault(f"{env.type}@{env.version}", []).append(env)
    return out


def test_subscriber_received_exactly_the_outputs(parity: dict[str, Any]) -> None:
    live = _read(parity["tmp"] / "live")
    got = _by_channel(parity["messages"])
    assert sorted(got) == ["gate_decision@1", "hub_status@1", "microbar@1", "microbar@2",
                           "setup@1"]
    for channel, envs in got.items():
        first = 3 if channel == "hub_status@1" else 1  # connected, subscribed came before
        assert [e.seq for e in envs] == list(range(first, first + len(envs))), channel
    assert [json.loads(bytes(e.data))["status"] for e in got["hub_status@1"]] == ["end"]
    # v2: every bar, in order, the very bytes of microbars.jsonl (one symbol: emission order
    # is the file's order)
    assert [bytes(e.data) for e in got["microbar@2"]] == live["microbars.jsonl"].splitlines()
    # v1: the same bars holding only the v1 fields
    v1_names = set(json.loads(bytes(got["microbar@1"][0].data)))
    assert v1_names == {"symbol", "startMs", "intervalMs", "open", "high", "low", "close",
                        "volume", "tradeCount", "vwap", "deltaVolume", "bidAskImbalance"}
    v2 = [json.loads(line) for line in live["microbars.jsonl"].splitlines()]
    v1 = [json.loads(bytes(e.data)) for e in got["microbar@1"]]
    assert v1 == [{k: bar[k] for k in bar if k in v1_names} for bar in v2]
    env, payload = decode_envelope(parity["messages"][
        next(i for i, m in enumerate(parity["messages"]) if b'"microbar","version":1' in m)])
    assert type(payload) is MicrobarV1 and env.version == 1
    env, payload = decode_envelope(parity["messages"][
        next(i for i, m in enumerate(parity["messages"]) if b'"microbar","version":2' in m)])
    assert type(payload) is MicrobarV2 and env.version == 2
    # gate decisions: all of them, in the file's order
    assert [bytes(e.data) for e in got["gate_decision@1"]] == \
        live["gate_decisions.jsonl"].splitlines()
    # setups: every state change; the last one per id is the file's final state
    final: dict[str, bytes] = {}
    for e in got["setup@1"]:
        final[json.loads(bytes(e.data))["id"]] = bytes(e.data)
    expected = live["setups.jsonl"].splitlines()
    assert sorted(final.values()) == sorted(expected)
    assert len(got["setup@1"]) > len(expected)  # detected, then triggered/stopped/expired
