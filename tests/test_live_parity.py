"""Live == replay, byte for byte, gamma context included.

A golden session (``gap_and_flush``: pre-market, a gap, a flush, a passed and a blocked setup,
late / duplicate / crossed events) plus ``I:SPX`` index values (``V`` events) is served by the
fake Massive server on 127.0.0.1 as websocket frames; the live runner consumes it with an option
chain snapshot, records it and publishes on the hub to a real websocket subscriber on loopback.
Then ``spxcc replay`` runs on the recording (``--chain``, the same snapshot) and on the same
events as Massive flat files (index values and the snapshot beside them). Microbars, setups and
gate decisions must be byte-identical across the three, the recording's replay must reproduce
every live output file (quarantine and report included), the ``gamma`` context the detectors
saw bar by bar and at the session end must be the same in all three, and the subscriber must
have received exactly the bars (as v1 and v2), setups and decisions, each channel's ``seq``
running 1, 2, 3, ...

Websocket timestamps are milliseconds and websocket trades carry no correction flag, so the
events are first put in that shape (ns truncated to ms, corrections 0) for all three paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import itertools
import json
import random
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import attrs
import msgspec
import pytest
from fake_massive import FakeMassive, Script
from secret_tokens import MASSIVE_TEST_API_KEY
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from spxcc_core.cli import main
from spxcc_core.contracts.envelope import decode_envelope
from spxcc_core.contracts.market import Quote, Trade
from spxcc_core.contracts.microbar import MicrobarV1, MicrobarV2
from spxcc_core.detect.base import ContextProvider
from spxcc_core.detect.context import BarContext
from spxcc_core.golden.generate import GeneratedEvents
from spxcc_core.golden.io import write_flat_files
from spxcc_core.golden.sessions import case_events
from spxcc_core.host.hub import CHANNELS, Hub
from spxcc_core.host.live import LiveResult, run_live
from spxcc_core.plugins import get_plugin_manager, hookimpl
from spxcc_core.replay.engine import run_replay
from spxcc_core.session import get_calendar

CASE = "gap_and_flush"
DATE = "2024-03-07"
MS = 1_000_000
COMPARED = ("microbars.jsonl", "setups.jsonl", "gate_decisions.jsonl")
SUBSCRIPTIONS = ["T.SPY", "Q.SPY", "V.I:SPX"]
HANDSHAKE = 2 + len(SUBSCRIPTIONS)  # connected, auth_success, one success per channel
NINE_TWENTY_MS = 1_709_821_200_000  # 2024-03-07 09:20:00 New York (14:20 UTC)
CLOSE_MS = get_calendar().session(DATE).close_ms
assert CLOSE_MS == NINE_TWENTY_MS + (6 * 60 + 40) * 60_000  # 16:00 New York
CLOSE_VALUE = 5123.5  # the I:SPX value stamped 2 s before the close


class IndexValue(NamedTuple):
    """One ``I:SPX`` value (``ts`` epoch ns, a whole millisecond)."""

    ts: int
    value: float


def index_values(events: GeneratedEvents) -> list[IndexValue]:
    """``I:SPX`` at ``s.250`` of every second ``k`` (from 09:20:00) up to the last event's
    second, worth ``5100 + (k mod 40) × 0.25``, then one value 2 s before the 16:00 close."""
    last = max(max(t.ts for t in events.trades), max(q.ts for q in events.quotes)) // MS
    out = [IndexValue(ts=(NINE_TWENTY_MS + k * 1000 + 250) * MS, value=5100 + (k % 40) * 0.25)
           for k in range((last - NINE_TWENTY_MS) // 1000 + 1)]
    out.append(IndexValue(ts=(CLOSE_MS - 2000) * MS, value=CLOSE_VALUE))
    return out


def chain_json() -> bytes:
    """A Massive options-chain snapshot of 0DTE SPXW 5100 and 5125 calls and puts."""
    results = []
    for strike, oi_call, oi_put in ((5100, 1500, 2500), (5125, 3000, 800)):
        for kind, oi in (("call", oi_call), ("put", oi_put)):
            ticker = f"O:SPXW240307{kind[0].upper()}0{strike}000"
            results.append({"details": {"contract_type": kind, "expiration_date": DATE,
                                        "shares_per_contract": 100, "strike_price": strike,
                                        "ticker": ticker},
                            "implied_volatility": 0.14, "open_interest": oi,
                            "underlying_asset": {"ticker": "I:SPX", "value": 5105.0}})
    return json.dumps({"status": "OK", "results": results}).encode()


def write_index_flat_file(values: list[IndexValue], folder: Path) -> None:
    """The values as a Massive ``us_indices/values_v1`` flat file of the day."""
    vdir = folder / "us_indices" / "values_v1"
    vdir.mkdir(parents=True)
    rows = ["ticker,value,timestamp", *(f"I:SPX,{v.value!r},{v.ts}" for v in values)]
    (vdir / f"{DATE}.csv").write_text("\n".join(rows) + "\n")


class _GammaProbe(ContextProvider):
    """Records the ``ctx.gamma`` every bar leaves the providers with — what the detectors see
    (providers run in name order: ``gamma`` before ``zz_gamma_probe``). It publishes nothing
    and, not being a detector, changes no output (the profile hash covers detectors only)."""

    name: ClassVar[str] = "zz_gamma_probe"
    version: ClassVar[int] = 1
    seen: ClassVar[list[tuple[int, int, float, str, float] | tuple[int, None]]] = []

    def on_bar(self, bar: MicrobarV1, ctx: BarContext) -> None:
        g = ctx.gamma
        type(self).seen.append((bar.start_ms, None) if g is None else
                               (bar.start_ms, g.as_of_ms, g.spot, g.source, g.total_gex))


class _ProbePlugin:
    @hookimpl
    def spxcc_register_context_providers(self) -> list[type[ContextProvider]]:
        return [_GammaProbe]


def probe_pm() -> Any:
    """The default plugins plus the gamma probe (a manager of its own)."""
    pm = get_plugin_manager()
    pm.register(_ProbePlugin(), name="gamma-probe")
    return pm


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


def _event(e: Trade | Quote | IndexValue) -> dict[str, Any]:
    if isinstance(e, IndexValue):
        return {"ev": "V", "T": "I:SPX", "val": e.value, "t": e.ts // MS}
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


def ws_frames(events: GeneratedEvents, seed: int,
              values: list[IndexValue] | None = None) -> list[str]:
    """Both feeds (and the index values) merged by time (each keeping its own arrival order,
    so the late trade stays late), cut into frames of 1–40 events."""
    merged = list(heapq.merge(events.trades, events.quotes, values or [],
                              key=lambda e: e.ts))
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


async def _live(tmp: Path, frames: list[str],
                pm: Any) -> tuple[LiveResult, list[bytes], FakeMassive]:
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
                    url=fake.url, api_key=MASSIVE_TEST_API_KEY, subscriptions=SUBSCRIPTIONS,
                    hub=hub, out_dir=tmp / "live", record=tmp / "recording.jsonl",
                    idle_timeout_s=1.0, connect_kwargs={"proxy": None}, pm=pm,
                    chain=tmp / "chain.json")
                await hub.close()
                messages = await asyncio.wait_for(collector, 10)
        finally:
            await hub.close()
    return result, messages, fake


@pytest.fixture(scope="module")
def parity(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("parity")
    events = ws_shaped(case_events(CASE))
    values = index_values(events)
    write_flat_files(events, tmp / "flat", DATE)
    write_index_flat_file(values, tmp / "flat")
    (tmp / "chain.json").write_bytes(chain_json())
    (tmp / "flat" / "us_options_opra" / "chain_snapshot").mkdir(parents=True)
    (tmp / "flat" / "us_options_opra" / "chain_snapshot" / f"{DATE}.json").write_bytes(
        chain_json())
    frames = ws_frames(events, seed=20240307, values=values)
    pm = probe_pm()
    seen: dict[str, list[Any]] = {}
    _GammaProbe.seen = []
    result, messages, fake = asyncio.run(asyncio.wait_for(_live(tmp, frames, pm), 120))
    seen["live"], _GammaProbe.seen = _GammaProbe.seen, []
    rec_run = run_replay(tmp / "recording.jsonl", pm=pm, chain=tmp / "chain.json")
    seen["rec"], _GammaProbe.seen = _GammaProbe.seen, []
    flat_run = run_replay(tmp / "flat", pm=pm)
    seen["flat"], _GammaProbe.seen = _GammaProbe.seen, []
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("SPXCC_DB", raising=False)
        assert main(["replay", str(tmp / "recording.jsonl"), "--out", str(tmp / "rec"),
                     "--chain", str(tmp / "chain.json")]) == 0
        assert main(["replay", str(tmp / "flat"), "--out", str(tmp / "flat-out")]) == 0
    return {"tmp": tmp, "result": result, "messages": messages, "fake": fake,
            "frames": frames, "events": events, "values": values, "seen": seen,
            "rec_run": rec_run, "flat_run": flat_run}


def _read(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes()
            for name in (*COMPARED, "quarantine.jsonl", "report.json")}


def test_live_equals_replay_of_recording_and_of_flat_files(parity: dict[str, Any]) -> None:
    tmp = parity["tmp"]
    live, rec, flat = _read(tmp / "live"), _read(tmp / "rec"), _read(tmp / "flat-out")
    # the same plugins in the replays through the Python API (with the gamma probe, like live)
    rec_api, flat_api = parity["rec_run"].outputs(), parity["flat_run"].outputs()
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
        assert live[name] == rec_api[name] == flat_api[name], name
    # the recording reproduces every live output, quarantine and report included
    assert live == rec == rec_api
    reasons = sorted(json.loads(line)["reason"] for line in live["quarantine.jsonl"].splitlines())
    assert reasons == ["crossed_quote", "duplicate", "late"]  # the correction is a ws-less flag


def test_live_report_records_the_end_of_input(parity: dict[str, Any]) -> None:
    result: LiveResult = parity["result"]
    r = result.report
    assert r.stop_reason == "idle" and r.input_end.reason == "idle"
    assert r.input_end.silent_s is not None and r.input_end.silent_s >= 1.0
    # the last bar (and any after the last quote's watermark) waits for the end of the input
    assert r.input_end.bars_released >= 1
    events = parity["events"]
    last_ms = max(max(t.ts for t in events.trades), max(q.ts for q in events.quotes)) // MS
    assert r.input_end.last_event_ms == last_ms  # index values are not trades or quotes
    assert r.connections == 1 and r.problems == [] and r.error is None
    # handshake: connected, auth_success, one success per channel; then every frame
    assert r.messages == HANDSHAKE + len(parity["frames"])
    assert r.recording == "recording.jsonl" and r.feeds == ["trades", "quotes"]
    live_json = json.loads((parity["tmp"] / "live" / "live.json").read_bytes())
    assert live_json["stopReason"] == "idle"
    assert live_json["digests"] == r.digests
    files = parity["tmp"] / "live"
    for name, digest in r.digests.items():
        assert hashlib.sha256((files / name).read_bytes()).hexdigest() == digest


def test_recording_holds_every_message_received(parity: dict[str, Any]) -> None:
    lines = (parity["tmp"] / "recording.jsonl").read_bytes().splitlines()
    assert len(lines) == HANDSHAKE + len(parity["frames"])
    statuses = [json.loads(line)[0]["status"] for line in lines[:HANDSHAKE]]
    assert statuses == ["connected", "auth_success", "success", "success", "success"]
    assert [json.loads(line) for line in lines[HANDSHAKE:]] == \
        [json.loads(f) for f in parity["frames"]]
    assert MASSIVE_TEST_API_KEY.encode() not in (parity["tmp"] / "recording.jsonl").read_bytes()
    # the chain snapshot the session used is copied beside its outputs, unchanged
    assert (parity["tmp"] / "live" / "chain_snapshot.json").read_bytes() == chain_json()
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
    assert sorted(got) == ["feed_status@1", "gate_decision@1", "hub_status@1", "microbar@1",
                           "microbar@2", "setup@1"]
    # the feed connected once and never dropped: one ``connected`` feed status, no gap
    assert [json.loads(bytes(e.data))["event"] for e in got["feed_status@1"]] == ["connected"]
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


def _session_end(folder: Path) -> Any:
    return json.loads((folder / "report.json").read_bytes())["detection"]["sessionEnd"]


def test_the_gamma_context_is_the_same_live_and_in_replay(parity: dict[str, Any]) -> None:
    seen = parity["seen"]
    live = seen["live"]
    # every SPY bar of the session went past the probe, in each of the three runs
    assert len(live) == len(parity["result"].run.bars) == 1773
    assert seen["rec"] == live, "gamma live != gamma in the replay of the recording"
    assert seen["flat"] == live, "gamma live != gamma in the replay of the flat files"
    by_start = {x[0]: x for x in live}
    # 09:20:15 (first bar, no price yet: no gamma); 09:21:10, the first bar of the 09:21 slot,
    # ends 09:21:11.000: the newest I:SPX value before it is 09:21:10.250, k = 70 →
    # 5100 + (70 mod 40) × 0.25 = 5107.5 (SPY × 10 would be 5059.1)
    t = NINE_TWENTY_MS
    assert by_start[t + 15_000] == (t + 15_000, None)
    assert by_start[t + 70_000][1:4] == (t + 71_000, 5107.5, "oi_baseline")
    # 09:45:03 ends 09:45:04.000: value of 09:45:03.250, k = 1503 → 5100 + 23 × 0.25 = 5105.75
    assert by_start[t + 1_503_000][1:4] == (t + 1_504_000, 5105.75, "oi_baseline")
    # within a slot the value stays: the next bar of 09:45 still sees the 09:45:03 computation
    nxt = min(x for x in by_start if t + 1_503_000 < x < t + 1_560_000)
    assert by_start[nxt][1:] == by_start[t + 1_503_000][1:]
    # no bar of the session fell back to SPY × 10: the index was fresh every time
    assert {x[2] for x in live if len(x) > 2} <= {5100 + i * 0.25 for i in range(40)}
    # session end: spot = the value 2 s before the close (fresher than index_max_age_s = 5)
    tmp = parity["tmp"]
    end = _session_end(tmp / "live")
    assert end == _session_end(tmp / "rec") == _session_end(tmp / "flat-out")
    assert end == parity["flat_run"].report.detection.session_end
    close = end[DATE]["SPY"]["gamma"]
    assert (close["asOfMs"], close["spot"], close["underlying"], close["source"]) == \
        (CLOSE_MS, CLOSE_VALUE, "I:SPX", "oi_baseline")
    assert [s["strike"] for s in close["strikes"]] == [5100.0, 5125.0]
    # index values: counted alike in the three runs
    n = len(parity["values"])
    assert parity["result"].run.report.index_values == n
    assert parity["rec_run"].report.index_values == parity["flat_run"].report.index_values == n


# -- two connections: stocks (T.SPY, Q.SPY) and indices (V.I:SPX), merged into one stream -----

STOCKS_SUBS = ["T.SPY", "Q.SPY"]
INDICES_SUBS = ["V.I:SPX"]
# connected, auth_success, one success per channel — on each connection
HANDSHAKE_2 = (2 + len(STOCKS_SUBS)) + (2 + len(INDICES_SUBS))


def cluster_frames(events: GeneratedEvents, seed: int,
                   values: list[IndexValue]) -> list[tuple[str, str]]:
    """The events merged by time as :func:`ws_frames` does, but every frame holds one
    cluster's events only (``V`` → ``indices``, ``T``/``Q`` → ``stocks``): ``(cluster,
    frame)`` in the order the session must receive them."""
    merged: list[Trade | Quote | IndexValue] = list(
        heapq.merge(events.trades, events.quotes, values, key=lambda e: e.ts))
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(merged):
        is_value = isinstance(merged[i], IndexValue)
        n = rng.randint(1, 40)
        j = i
        while j < len(merged) and j - i < n and isinstance(merged[j], IndexValue) == is_value:
            j += 1
        out.append(("indices" if is_value else "stocks",
                    json.dumps([_event(e) for e in merged[i:j]])))
        i = j
    return out


class _Turns:
    """Lets a fake server send the plan's frame ``g`` once the session's recording (flushed
    per message) holds ``g`` data frames — so the two connections' frames reach the host in
    the plan's order, as a real merged stream would in time order."""

    def __init__(self, recording: Path) -> None:
        self.recording = recording
        self.data_lines = 0
        self._offset = 0
        self._partial = b""

    def _read(self) -> None:
        if not self.recording.exists():
            return
        with open(self.recording, "rb") as f:
            f.seek(self._offset)
            chunk = f.read()
        self._offset += len(chunk)
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        self.data_lines += sum(1 for line in lines if b'"status"' not in line)

    async def wait(self, g: int) -> None:
        while True:
            self._read()
            if self.data_lines >= g:
                return
            await asyncio.sleep(0.0005)


@attrs.define
class _PlannedMassive(FakeMassive):
    """The fake Massive server sending its share of a two-cluster plan: frame ``g`` of the plan
    after :class:`_Turns` says the frames before it were received (only needed when frame
    ``g − 1`` came from the other server: one connection keeps its own order)."""

    plan: list[tuple[int, str, bool]] = attrs.field(factory=list)  # (g, frame, switch)
    turns: _Turns | None = None
    seen_url: str = ""  # the URL while it served

    def __repr__(self) -> str:  # never the key, even in a failure report
        return f"_PlannedMassive({self.path!r}, frames={len(self.plan)})"

    async def _handle(self, ws: Any) -> None:
        from fake_massive import status

        self.connections += 1
        await ws.send(status("connected", "Connected Successfully"))
        auth = json.loads(await ws.recv())
        self.auths.append(auth.get("params", ""))
        assert auth == {"action": "auth", "params": self.api_key}
        await ws.send(status("auth_success", "authenticated"))
        sub = json.loads(await ws.recv())
        assert sub["action"] == "subscribe", sub
        self.subscriptions.append(sub["params"])
        for channel in sub["params"].split(","):
            await ws.send(status("success", f"subscribed to: {channel}"))
        assert self.turns is not None
        for g, frame, switch in self.plan:
            if switch:
                await self.turns.wait(g)
            await ws.send(frame)
        with contextlib.suppress(asyncio.CancelledError):
            await ws.wait_closed()


def _planned(path: str, plan: list[tuple[str, str]], cluster: str,
             turns: _Turns) -> _PlannedMassive:
    fake = _PlannedMassive(MASSIVE_TEST_API_KEY, [Script()], path=path)
    fake.plan = [(g, frame, g > 0 and plan[g - 1][0] != cluster)
                 for g, (c, frame) in enumerate(plan) if c == cluster]
    fake.turns = turns
    return fake


async def _live_two(tmp: Path, plan: list[tuple[str, str]],
                    pm: Any) -> tuple[LiveResult, _PlannedMassive, _PlannedMassive]:
    turns = _Turns(tmp / "recording2.jsonl")
    async with _planned("/stocks", plan, "stocks", turns) as stocks, \
            _planned("/indices", plan, "indices", turns) as indices:
        stocks.seen_url, indices.seen_url = stocks.url, indices.url
        result = await run_live(
            url=[stocks.url, indices.url], api_key=MASSIVE_TEST_API_KEY,
            subscriptions=SUBSCRIPTIONS, out_dir=tmp / "live2", record=tmp / "recording2.jsonl",
            idle_timeout_s=1.0, connect_kwargs={"proxy": None}, pm=pm, chain=tmp / "chain.json")
    return result, stocks, indices


@pytest.fixture(scope="module")
def parity_two(parity: dict[str, Any]) -> dict[str, Any]:
    tmp = parity["tmp"]
    plan = cluster_frames(parity["events"], seed=20240308, values=parity["values"])
    pm = probe_pm()
    _GammaProbe.seen = []
    result, stocks, indices = asyncio.run(asyncio.wait_for(_live_two(tmp, plan, pm), 180))
    seen_live, _GammaProbe.seen = _GammaProbe.seen, []
    rec_run = run_replay(tmp / "recording2.jsonl", pm=pm, chain=tmp / "chain.json")
    seen_rec, _GammaProbe.seen = _GammaProbe.seen, []
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("SPXCC_DB", raising=False)
        assert main(["replay", str(tmp / "recording2.jsonl"), "--out", str(tmp / "rec2"),
                     "--chain", str(tmp / "chain.json")]) == 0
    return {"tmp": tmp, "plan": plan, "result": result, "stocks": stocks, "indices": indices,
            "seen_live": seen_live, "seen_rec": seen_rec, "rec_run": rec_run}


def test_two_connections_live_equals_replay_of_recording_and_of_flat_files(
        parity: dict[str, Any], parity_two: dict[str, Any]) -> None:
    tmp = parity["tmp"]
    live, rec, flat = _read(tmp / "live2"), _read(tmp / "rec2"), _read(tmp / "flat-out")
    plan = parity_two["plan"]
    # a plan worth merging: the clusters alternate hundreds of times
    switches = sum(1 for a, b in itertools.pairwise(plan) if a[0] != b[0])
    assert switches > 1000
    for name in COMPARED:
        assert live[name] == rec[name], f"live (2 connections) != replay of recording: {name}"
        assert live[name] == flat[name], f"live (2 connections) != replay of flat files: {name}"
    # the recording reproduces every live output, quarantine (message indexes) and report too
    assert live == rec == parity_two["rec_run"].outputs()
    # and the one-connection session gave the very same bars, setups and decisions
    one = _read(tmp / "live")
    assert all(live[name] == one[name] for name in COMPARED)


def test_two_connections_gamma_is_the_index_value_as_in_replay(
        parity: dict[str, Any], parity_two: dict[str, Any]) -> None:
    live = parity_two["seen_live"]
    assert len(live) == 1773
    assert parity_two["seen_rec"] == live
    assert parity["seen"]["flat"] == live
    t = NINE_TWENTY_MS
    by_start = {x[0]: x for x in live}
    # as in the one-connection session: 09:21:10 sees the 09:21:10.250 value, k = 70
    assert by_start[t + 70_000][1:4] == (t + 71_000, 5107.5, "oi_baseline")
    tmp = parity["tmp"]
    end = _session_end(tmp / "live2")
    assert end == _session_end(tmp / "flat-out")
    assert end[DATE]["SPY"]["gamma"]["spot"] == CLOSE_VALUE
    assert parity_two["result"].run.report.index_values == len(parity["values"])


def test_two_connections_are_recorded_as_one_stream(parity_two: dict[str, Any]) -> None:
    tmp, plan = parity_two["tmp"], parity_two["plan"]
    lines = (tmp / "recording2.jsonl").read_bytes().splitlines()
    assert len(lines) == HANDSHAKE_2 + len(plan)
    data = [json.loads(line) for line in lines if b'"status"' not in line]
    assert data == [json.loads(frame) for _, frame in plan]  # the plan's order, merged
    statuses = sorted(json.loads(line)[0]["status"] for line in lines if b'"status"' in line)
    assert statuses == ["auth_success"] * 2 + ["connected"] * 2 + ["success"] * 3
    assert MASSIVE_TEST_API_KEY.encode() not in (tmp / "recording2.jsonl").read_bytes()
    for name in (*COMPARED, "quarantine.jsonl", "report.json", "live.json"):
        assert MASSIVE_TEST_API_KEY.encode() not in (tmp / "live2" / name).read_bytes()
    # each cluster got its own channels and the key once
    stocks, indices = parity_two["stocks"], parity_two["indices"]
    assert stocks.subscriptions == ["T.SPY,Q.SPY"] and indices.subscriptions == ["V.I:SPX"]
    assert stocks.auths == [MASSIVE_TEST_API_KEY] == indices.auths
    # message indexes run across the merged stream: a quarantined event's ``line`` is its
    # position among every event of the recording (statuses included)
    events = [e for line in lines for e in json.loads(line)]
    quarantined = [json.loads(q) for q in (tmp / "live2" / "quarantine.jsonl").read_bytes()
                   .splitlines()]
    assert len(quarantined) == 3
    for q in quarantined:
        e = events[q["line"] - 1]
        assert e["ev"] in ("T", "Q") and e["t"] * MS == q["ts"], q


def test_two_connections_report(parity: dict[str, Any], parity_two: dict[str, Any]) -> None:
    r = parity_two["result"].report
    plan = parity_two["plan"]
    n_stocks = sum(1 for c, _ in plan if c == "stocks")
    assert r.stop_reason == "idle" and r.error is None and r.problems == []
    assert r.connections == 2 and r.messages == HANDSHAKE_2 + len(plan)
    assert r.subscriptions == SUBSCRIPTIONS and r.feeds == ["trades", "quotes"]
    stocks, indices = parity_two["stocks"], parity_two["indices"]
    assert r.url == stocks.seen_url
    assert [(x.url, x.subscriptions, x.connections, x.messages) for x in r.links] == [
        (stocks.seen_url, STOCKS_SUBS, 1, 4 + n_stocks),
        (indices.seen_url, INDICES_SUBS, 1, 3 + len(plan) - n_stocks)]
    report = json.loads((parity_two["tmp"] / "live2" / "report.json").read_bytes())
    # the pipeline's websocket counts are over both connections (as the recording's replay)
    assert report["websocket"]["statuses"] == {"auth_success": 2, "connected": 2, "success": 3}
    assert report["websocket"]["values"] == len(parity["values"])
