"""A live feed that tells the truth (issue 13, item 6), against the fake Massive server on
loopback: jittered reconnect backoff, every gap recorded as a window and published on
``feed_status@1``, bars in a gap carrying the coverage they really had, a delayed feed's
missing quotes stated, stalls detected, and ``spxcc live`` exiting 2 when it never connects."""

from __future__ import annotations

import asyncio
import json
import random
import socket
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fake_massive import FakeMassive, Script
from secret_tokens import MASSIVE_TEST_API_KEY
from test_host_live import T0, quote, trade
from test_live_no_data import env  # noqa: F401 - fixture
from websockets.asyncio.client import connect

from spxcc_core.aggregate.columns import ConditionTable, SymbolTable
from spxcc_core.cli import main
from spxcc_core.errors import ConfigError
from spxcc_core.host.hub import Hub
from spxcc_core.host.live import LiveResult, is_delayed, run_live
from spxcc_core.massive.live import Backoff, LiveClient

R = TypeVar("R")
KEY = MASSIVE_TEST_API_KEY
NO_PROXY = {"proxy": None}
FAST = Backoff(initial_s=0.01, factor=2.0, max_s=0.05, max_attempts=3)


def run(coro: Awaitable[R]) -> R:
    async def guarded() -> R:
        return await asyncio.wait_for(coro, 60)
    return asyncio.run(guarded())


def frame(*events: dict[str, Any]) -> str:
    return json.dumps(list(events))


def test_backoff_jitter_shortens_the_delay_by_at_most_the_jitter_fraction() -> None:
    b = Backoff(initial_s=0.5, factor=2.0, max_s=3.0, jitter=0.2)
    # attempt 3: 0.5 × 2² = 2.0 s; u = 0.5 takes 0.2 × 0.5 = 10 % off → 1.8 s
    assert b.delay(3, 0.5) == pytest.approx(1.8)
    assert b.delay(3) == 2.0  # u = 0: the plain exponential delay
    # attempt 5: 0.5 × 2⁴ = 8 s, capped at 3 s; u → 1 takes at most 20 % off → 2.4 s
    assert b.delay(5, 0.999999) == pytest.approx(2.4, abs=1e-5)
    with pytest.raises(ValueError):
        Backoff(jitter=1.5)


def test_reconnect_sleeps_are_jittered_within_the_bounds() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    c = LiveClient(url=f"ws://127.0.0.1:{port}/stocks", api_key=KEY, subscriptions=["T.SPY"],
                   ticker=None, symbols=SymbolTable(), conditions=ConditionTable(),
                   backoff=Backoff(initial_s=1.0, factor=2.0, max_s=4.0, max_attempts=6,
                                   jitter=0.5),
                   connect_kwargs=NO_PROXY, sleep=sleep, rng=random.Random(7))

    async def main_() -> None:
        async for _ in c.frames():
            pass

    with pytest.raises(Exception, match="no connection after 6 attempts"):
        run(main_())
    bases = [1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    assert len(slept) == 6
    for got, base in zip(slept, bases, strict=True):
        assert base * 0.5 <= got <= base, (got, base)
    assert len(set(slept[2:])) == 4  # the capped delays differ: they are jittered


# Coverage across a gap, worked by hand (stale after 2,000 ms; quotes 511.00 x 2 / 511.02 x 3):
#   connection 1: quote +100, trade +200, trade +900, quote +950, then the TCP link drops;
#   lost (never sent again, as Massive does): quote +1500, trade +1600;
#   connection 2: quote +3200, trade +3500, then trade +4100, quote +4200.
# Bar +0     [0, 1000):    fresh quote from 100 to 1000           -> 900/1000 = 90.0 %
# Bar +3000  [3000, 4000): the +950 quote went stale at 2950; the +3200 one is fresh from 3200
#                          -> 800/1000 = 80.0 % (with the lost +1500 quote it would be 100 %)
# Bar +4000  [4000, 5000): +3200 fresh until 5200, +4200 after it    -> 100.0 %
# No bar for seconds 1 and 2: the +1600 trade never arrived.
# Gap: from the newest event before the drop (+950) to the oldest of the first data after (+3200)
GAP_SCRIPTS = [
    Script(frames=[frame(quote(100, 1), trade(200, 511.01, 100, 2)),
                   frame(trade(900, 511.02, 10, 3), quote(950, 4))], then="drop"),
    Script(frames=[frame(quote(3200, 7), trade(3500, 511.05, 20, 8)),
                   frame(trade(4100, 511.06, 5, 9), quote(4200, 10))], then="hold"),
]


def test_a_gap_is_recorded_published_and_its_bars_carry_their_real_coverage(
        tmp_path: Path) -> None:
    async def scenario() -> tuple[LiveResult, list[dict[str, Any]]]:
        async with FakeMassive(KEY, GAP_SCRIPTS) as fake, Hub() as hub, \
                connect(hub.url, proxy=None) as sub:
            await sub.recv()
            await sub.send('{"action": "subscribe", "channels": ["feed_status@1"]}')
            await sub.recv()
            result = await run_live(url=fake.url, api_key=KEY, subscriptions=["T.SPY", "Q.SPY"],
                                    hub=hub, out_dir=tmp_path, idle_timeout_s=0.6,
                                    stall_timeout_s=None, connect_kwargs=NO_PROXY,
                                    backoff=FAST)
            statuses = [json.loads(await asyncio.wait_for(sub.recv(), 5)) for _ in range(4)]
        return result, statuses

    result, statuses = run(scenario())
    bars = [json.loads(b) for b in (tmp_path / "microbars.jsonl").read_bytes().splitlines()]
    assert [(b["startMs"] - T0, b["quoteCoveragePct"]) for b in bars] == [
        (0, 90.0), (3000, 80.0), (4000, 100.0)]
    r = result.report
    assert r.connections == 2 and r.stop_reason == "idle"
    (gap,) = r.gaps
    assert (gap.from_ms, gap.to_ms) == (T0 + 950, T0 + 3200)
    assert gap.attempts == 1 and gap.reconnected_at_ms is not None
    assert gap.reason == "connection lost without a close frame (code 1006)"  # TCP aborted
    assert gap.disconnected_at_ms <= gap.reconnected_at_ms
    live = json.loads((tmp_path / "live.json").read_bytes())
    assert live["gaps"][0]["fromMs"] == T0 + 950 and live["gaps"][0]["toMs"] == T0 + 3200
    assert live["quarantinedFrameCount"] == 0 and live["notes"] == []
    # on the hub: connected, disconnected (open window), reconnected, gap (closed window)
    assert [(m["type"], m["data"]["event"]) for m in statuses] == [
        ("feed_status", "connected"), ("feed_status", "disconnected"),
        ("feed_status", "reconnected"), ("feed_status", "gap")]
    assert statuses[1]["data"]["gap"]["toMs"] is None
    assert statuses[3]["data"]["gap"] == live["gaps"][0]
    assert [m["seq"] for m in statuses] == [1, 2, 3, 4]


def test_a_stalled_feed_is_re_established_and_the_silence_recorded() -> None:
    scripts = [Script(frames=[frame(quote(0, 1), trade(100, 511.0, 10, 2))], then="hold"),
               Script(frames=[frame(trade(1100, 511.1, 10, 3), quote(1200, 4))], then="hold"),
               Script(frames=[], then="hold")]

    async def scenario() -> tuple[LiveResult, int]:
        async with FakeMassive(KEY, scripts) as fake:
            result = await run_live(url=fake.url, api_key=KEY, subscriptions=["T.SPY", "Q.SPY"],
                                    idle_timeout_s=0.9, stall_timeout_s=0.4,
                                    connect_kwargs=NO_PROXY, backoff=FAST)
            return result, fake.connections

    result, served = run(scenario())
    r = result.report
    assert r.stall_timeout_s == 0.4 and r.stop_reason == "idle"
    first, last = r.gaps[0], r.gaps[-1]
    assert (first.from_ms, first.to_ms) == (T0 + 100, T0 + 1100)
    assert first.reason == "stalled: no message for 0.4 s"
    # the second connection stalled too and no data came after it: an open window
    assert len(r.gaps) == 2 and last.from_ms == T0 + 1200 and last.to_ms is None
    assert served >= 3 and r.connections == served
    assert [b.start_ms - T0 for b in result.run.bars] == [0, 1000]


def test_malformed_messages_are_quarantined_not_recorded_and_the_feed_goes_on(
        tmp_path: Path) -> None:
    bad = ["this is not json {", '{"ev": 5}',
           frame({"ev": "T", "sym": "SPY", "p": "high", "s": 1, "t": T0}),
           frame({"ev": "Q", "sym": "", "bp": 1.0, "bs": 1, "ap": 1.1, "as": 1, "t": T0})]
    frames = [frame(quote(0, 1), trade(100, 511.0, 10, 2)), *bad,
              frame(trade(1100, 511.1, 10, 3), quote(1200, 4))]

    async def scenario() -> LiveResult:
        async with FakeMassive(KEY, [Script(frames=frames, then="hold")]) as fake:
            return await run_live(url=fake.url, api_key=KEY, subscriptions=["T.SPY", "Q.SPY"],
                                  out_dir=tmp_path / "out", record=tmp_path / "rec.jsonl",
                                  idle_timeout_s=0.5, connect_kwargs=NO_PROXY)

    result = run(scenario())
    r = result.report
    assert r.quarantined_frame_count == 4 and r.error is None and r.stop_reason == "idle"
    # handshake: connected, auth_success, success x2 = messages 1-4; data 5; bad 6-9
    assert [q.message for q in r.quarantined_frames] == [6, 7, 8, 9]
    reasons = [q.reason for q in r.quarantined_frames]
    assert reasons[0].startswith("not a JSON array of events")
    assert reasons[1] == "event 1 is not an object with a string 'ev'"
    assert reasons[2].startswith("event 1 ('T'): Expected `float`")
    assert reasons[3] == "empty ticker"
    assert r.quarantined_frames[0].excerpt == "this is not json {"
    assert [b.start_ms - T0 for b in result.run.bars] == [0, 1000]
    recording = (tmp_path / "rec.jsonl").read_bytes().splitlines()
    assert len(recording) == 4 + 2  # the handshake and the two good frames, nothing else
    assert r.messages == 6
    # the recording replays to the live outputs, byte for byte
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("SPXCC_DB", raising=False)
        assert main(["replay", str(tmp_path / "rec.jsonl"), "--out", str(tmp_path / "rep")]) == 0
    for name in ("microbars.jsonl", "quarantine.jsonl", "report.json"):
        assert (tmp_path / "rep" / name).read_bytes() == (tmp_path / "out" / name).read_bytes()


def test_a_delayed_feed_gets_no_quote_subscription_and_says_coverage_is_zero(
        tmp_path: Path) -> None:
    frames = [frame(trade(100, 511.0, 10, 1)), frame(trade(1100, 511.1, 10, 2))]

    async def scenario() -> tuple[LiveResult, list[str]]:
        async with FakeMassive(KEY, [Script(frames=frames, then="hold")]) as fake:
            port = int(fake.url.split(":")[2].split("/")[0])
            url = f"ws://delayed.massive.com:{port}/stocks"  # connected to the fake on loopback
            result = await run_live(url=url, api_key=KEY, subscriptions=["T.SPY", "Q.SPY"],
                                    out_dir=tmp_path, idle_timeout_s=0.4,
                                    connect_kwargs={**NO_PROXY, "host": "127.0.0.1",
                                                    "port": port})
            return result, fake.subscriptions

    result, subscribed = run(scenario())
    assert subscribed == ["T.SPY"]
    r = result.report
    assert r.feeds == ["trades"]
    assert r.notes == [f"ws://delayed.massive.com:{r.url.split(':')[2].split('/')[0]}/stocks "
                       "is a 15-minute delayed feed: it carries no quotes (no NBBO stream), so "
                       "Q.SPY was not subscribed and every bar's quoteCoveragePct is 0"]
    bars = [json.loads(b) for b in (tmp_path / "microbars.jsonl").read_bytes().splitlines()]
    assert [(b["startMs"] - T0, b["quoteCoveragePct"]) for b in bars] == [(0, 0.0), (1000, 0.0)]
    assert json.loads((tmp_path / "live.json").read_bytes())["notes"] == r.notes


def test_delayed_urls_and_quotes_only_on_a_delayed_feed() -> None:
    assert is_delayed("wss://delayed.massive.com/stocks")
    assert is_delayed("wss://delayed-business.massive.com/stocks")
    assert not is_delayed("wss://socket.massive.com/stocks")
    assert not is_delayed("ws://127.0.0.1:9/delayed")
    with pytest.raises(ConfigError, match="a delayed feed carries no quotes"):
        run(run_live(url="wss://delayed.massive.com/stocks", api_key=KEY,
                     subscriptions=["Q.SPY"]))


def test_a_quotes_feed_that_never_quoted_is_stated(tmp_path: Path) -> None:
    frames = [frame(trade(100, 511.0, 10, 1)), frame(trade(1100, 511.1, 10, 2))]

    async def scenario() -> LiveResult:
        async with FakeMassive(KEY, [Script(frames=frames, then="hold")]) as fake:
            return await run_live(url=fake.url, api_key=KEY, subscriptions=["T.SPY", "Q.SPY"],
                                  idle_timeout_s=0.4, connect_kwargs=NO_PROXY)

    r = run(scenario()).report
    assert r.notes == ["no quote was received: every bar's quoteCoveragePct is 0"]


def test_cli_exits_2_when_it_never_connects_within_the_connect_timeout(
        tmp_path: Path, env: pytest.MonkeyPatch,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"ws://127.0.0.1:{port}/stocks"
    code = main(["live", "--url", url, "--subscribe", "T.SPY", "--api-key-env",
                 "SPXCC_LIVE_KEY", "--idle-timeout", "0", "--connect-timeout", "0.5",
                 "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"spxcc: error: never connected within 0.5 s ({url}: network error")
    assert KEY not in out + err
    assert not (tmp_path / "out" / "live.json").exists()


def test_cli_hub_options_reach_the_hub(tmp_path: Path, env: pytest.MonkeyPatch,  # noqa: F811
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """``spxcc live --serve`` with ``--v1-only``, a token hash, an origin allow list and
    ``--hub-compression``: a client on loopback finds microbar@2 switched off, the token
    accepted, a foreign origin refused, its offer of permessage-deflate taken."""
    import threading

    from test_host_live import FRAMES, _FakeInThread
    from websockets.exceptions import InvalidStatus

    from spxcc_core.host.auth import hash_token

    token = "cli-hub-token-Wq81ZrT0pXv5"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    seen: dict[str, Any] = {}

    async def client() -> None:
        url = f"ws://127.0.0.1:{port}"
        for _ in range(200):  # until the CLI's hub listens
            try:
                ws = await connect(url, proxy=None)
                break
            except OSError:
                await asyncio.sleep(0.05)
        seen["extensions"] = [e.name for e in ws.protocol.extensions]
        await ws.recv()
        await ws.send('{"action": "subscribe", "channels": ["microbar@2"]}')
        seen["v2"] = json.loads(await ws.recv())
        await ws.send(json.dumps({"action": "auth", "token": token}))
        seen["auth"] = json.loads(await ws.recv())
        try:
            await connect(url, proxy=None, origin="http://evil.example")  # type: ignore[arg-type]
        except InvalidStatus as exc:
            seen["origin"] = exc.response.status_code
        await ws.close()

    thread = threading.Thread(target=lambda: asyncio.run(client()))
    with _FakeInThread([Script(frames=FRAMES)]) as fake:
        thread.start()
        code = main(["live", "--url", fake.url, "--subscribe", "T.SPY,Q.SPY",
                     "--api-key-env", "SPXCC_LIVE_KEY", "--serve", f"127.0.0.1:{port}",
                     "--v1-only", "--hub-token-hash", hash_token(token),
                     "--hub-origin", "http://127.0.0.1:8765", "--hub-compression",
                     "--idle-timeout", "2"])
        thread.join(10)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "microbar@2 is switched off" in seen["v2"]["data"]["message"]
    assert seen["auth"]["data"]["ok"] is True
    assert seen["origin"] == 403
    assert seen["extensions"] == ["permessage-deflate"]
    assert token not in out + err
