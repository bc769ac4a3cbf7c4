"""Hub security and flow against real websocket clients on loopback: the account-channel token
(hashed, constant-time), the Origin allow list, connection and queued-byte limits, the default
``microbar@1`` for clients that never ask, replay from a sequence number within the retention
window, the v1-only switch, and no secret on any channel."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_host_hub import DECISION, EXAMPLES, SETUP, T0, bar, drain, recv
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from spxcc_core.contracts.broker import Fill, Position
from spxcc_core.errors import ConfigError
from spxcc_core.host.auth import TokenHash, hash_token, new_token
from spxcc_core.host.hub import ACCOUNT_CHANNELS, Hub, HubConfig
from spxcc_core.host.wire import FeedStatus, ReconcileStatus

R = TypeVar("R")
TOKEN = "hub-test-token-7Qv2ZpLx0aWc9RfT3nYb"
HASH = TokenHash.parse(hash_token(TOKEN))

FILL = msgspec.json.decode((EXAMPLES / "fill.v1.one-contract.json").read_bytes(), type=Fill)
POSITION = msgspec.json.decode((EXAMPLES / "position.v1.long-call.json").read_bytes(),
                               type=Position)
RECON = ReconcileStatus(account_id="VA00000001", at_ms=T0 + 62_000, status="clean",
                        halted=False, differences=0, message="book and broker agree")


def run(coro: Awaitable[R]) -> R:
    async def guarded() -> R:
        return await asyncio.wait_for(coro, 30)
    return asyncio.run(guarded())


async def opened(hub: Hub, **kw: Any) -> ClientConnection:
    ws = await connect(hub.url, proxy=None, **kw)
    hello = await recv(ws)
    assert hello["data"]["status"] == "connected"
    return ws


async def ask(ws: ClientConnection, request: dict[str, Any]) -> dict[str, Any]:
    await ws.send(json.dumps(request))
    return await recv(ws)


def test_token_hash_format_and_matching() -> None:
    # SHA-256("abc") is the FIPS 180-2 test vector
    assert hash_token("abc") == ("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61"
                                 "f20015ad")
    h = TokenHash.parse(hash_token("abc"))
    assert h.matches("abc") and not h.matches("abd") and not h.matches("")
    assert repr(h) == "TokenHash(sha256:…)"
    token = new_token()
    assert len(token) == 43 and new_token() != token
    for bad in ("abc", "sha256:XYZ", "md5:" + "0" * 32, "sha256:" + "A" * 64, TOKEN):
        with pytest.raises(ConfigError) as info:
            TokenHash.parse(bad)
        assert bad not in str(info.value)  # a token pasted by mistake is not repeated
    with pytest.raises(ConfigError, match="queue_bytes must be a positive integer"):
        HubConfig(queue_bytes=0)
    with pytest.raises(ConfigError, match="allowed origin"):
        HubConfig(allowed_origins=("file:///tmp/page.html",))


def test_account_channels_need_the_token_and_only_authorized_clients_get_them(
        caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with Hub(config=HubConfig(token_hash=HASH)) as hub:
            anon = await opened(hub)
            out["locked"] = await ask(anon, {"action": "subscribe", "channels": ["fill@1"]})
            out["wrong"] = await ask(anon, {"action": "auth", "token": "not-the-token"})
            await ask(anon, {"action": "subscribe", "channels": ["setup@1"]})
            trader = await opened(hub)
            out["auth"] = await ask(trader, {"action": "auth", "token": TOKEN})
            out["sub"] = await ask(trader, {"action": "subscribe",
                                            "channels": [*ACCOUNT_CHANNELS, "setup@1"]})
            assert hub.publish_on("fill@1", FILL) == 1
            hub.publish([POSITION, RECON, SETUP])
            await hub.close()
            out["anon"], out["trader"] = await drain(anon), await drain(trader)
            out["stats"] = hub.stats()
        return out

    with caplog.at_level(logging.DEBUG):
        out = run(scenario())
    assert out["locked"]["data"]["status"] == "error"
    assert "fill@1: account channels need a token" in out["locked"]["data"]["message"]
    assert out["locked"]["data"]["channels"] == ["microbar@1"]  # nothing changed
    wrong = out["wrong"]
    assert (wrong["type"], wrong["seq"]) == ("hub_reply", 1)
    assert wrong["data"] == {"request": "auth", "ok": False,
                             "message": "wrong token (2 attempts left)", "channel": None,
                             "fromSeq": None, "toSeq": None, "oldestSeq": None}
    assert out["auth"]["data"]["ok"] is True
    assert out["sub"]["data"]["channels"] == sorted([*ACCOUNT_CHANNELS, "setup@1"])
    got = [(m["type"], m["version"]) for m in out["trader"]]
    assert got == [("fill", 1), ("position", 1), ("reconcile_status", 1), ("setup", 1),
                   ("hub_status", 1)]
    assert out["trader"][0]["data"]["fillId"] == "228175-1"
    assert out["trader"][2]["data"]["status"] == "clean"
    assert [(m["type"], m["version"]) for m in out["anon"]] == [("setup", 1), ("hub_status", 1)]
    stats = out["stats"]
    assert stats.auth_failures == 1 and stats.sent["fill@1"] == 1
    everything = json.dumps([out["anon"], out["trader"], out["locked"], out["wrong"]])
    # the hub's side logs no frame (the test's own client logs what it sends, token included)
    hub_logs = "\n".join(r.getMessage() for r in caplog.records
                         if not r.name.startswith("websockets.client"))
    assert "spxcc.host.hub" in {r.name.rsplit(".", 1)[0] for r in caplog.records}
    assert TOKEN not in everything and TOKEN not in hub_logs
    assert hash_token(TOKEN)[7:] not in everything + hub_logs


def test_a_bearer_header_authorizes_at_connect_and_a_wrong_one_is_refused() -> None:
    async def scenario() -> tuple[dict[str, Any], int, Any]:
        async with Hub(config=HubConfig(token_hash=HASH)) as hub:
            ws = await opened(hub, additional_headers={"Authorization": f"Bearer {TOKEN}"})
            sub = await ask(ws, {"action": "subscribe", "channels": ["position@1"]})
            with pytest.raises(InvalidStatus) as info:
                await connect(hub.url, proxy=None,
                              additional_headers={"Authorization": "Bearer nope"})
            await ws.close()
            return sub, info.value.response.status_code, hub.stats()

    sub, code, stats = run(scenario())
    assert sub["data"]["status"] == "subscribed" and sub["data"]["channels"] == ["position@1"]
    assert code == 401 and stats.refused == {"token": 1}


def test_repeated_wrong_tokens_close_the_connection() -> None:
    async def scenario() -> tuple[list[dict[str, Any]], Any, Any]:
        async with Hub(config=HubConfig(token_hash=HASH, max_auth_failures=2)) as hub:
            ws = await opened(hub)
            got = [await ask(ws, {"action": "auth", "token": "a"})]
            await ws.send(json.dumps({"action": "auth", "token": "b"}))
            got += await drain(ws)
            return got, ws.close_code, hub.stats()

    got, code, stats = run(scenario())
    assert [m["data"].get("ok", m["data"].get("status")) for m in got] == \
        [False, "disconnected"]  # the second reply went with the discarded backlog
    assert got[0]["data"]["message"] == "wrong token (1 attempt left)"
    assert got[-1]["data"]["message"] == "2 wrong tokens"
    assert code == 1008 and stats.dropped == {"auth_failures": 1} and stats.auth_failures == 2


def test_a_hub_without_a_token_keeps_account_channels_off() -> None:
    async def scenario() -> tuple[dict[str, Any], dict[str, Any], int]:
        async with Hub() as hub:
            ws = await opened(hub)
            auth = await ask(ws, {"action": "auth", "token": TOKEN})
            sub = await ask(ws, {"action": "subscribe", "channels": ["reconcile_status@1"]})
            queued = hub.publish_on("fill@1", FILL)
            await ws.close()
            return auth, sub, queued

    auth, sub, queued = run(scenario())
    assert auth["data"]["ok"] is False and "no token configured" in auth["data"]["message"]
    assert "account channels are off" in sub["data"]["message"] and queued == 0


def test_origin_allow_list() -> None:
    async def scenario() -> tuple[list[int], Any]:
        cfg = HubConfig(allowed_origins=("http://127.0.0.1:8765/",))
        codes = []
        async with Hub(config=cfg) as hub:
            ok = await opened(hub, origin="http://127.0.0.1:8765")  # type: ignore[arg-type]
            plain = await opened(hub)  # no Origin: not a browser
            for origin in ("http://evil.example", "http://127.0.0.1:8766", "null"):
                with pytest.raises(InvalidStatus) as info:
                    await connect(hub.url, proxy=None, origin=origin)  # type: ignore[arg-type]
                codes.append(info.value.response.status_code)
            await ok.close()
            await plain.close()
            return codes, hub.stats()

    codes, stats = run(scenario())
    assert codes == [403, 403, 403]
    assert stats.refused == {"origin": 3} and stats.connections == 2


def test_connections_beyond_the_limit_are_refused() -> None:
    async def scenario() -> tuple[int, Any, int]:
        async with Hub(config=HubConfig(max_connections=2)) as hub:
            a, b = await opened(hub), await opened(hub)
            with pytest.raises(InvalidStatus) as info:
                await connect(hub.url, proxy=None)
            await a.close()
            while hub.subscribers > 1:
                await asyncio.sleep(0.01)
            c = await opened(hub)  # a freed slot is usable again
            n = hub.subscribers
            await b.close()
            await c.close()
            return info.value.response.status_code, hub.stats(), n

    code, stats, n = run(scenario())
    assert code == 503 and stats.refused == {"connections": 1} and n == 2


def test_queued_bytes_are_bounded_per_client() -> None:
    async def scenario() -> tuple[int, int, list[dict[str, Any]], Any, Any]:
        async with Hub(config=HubConfig(queue_bytes=1000)) as hub:
            probe = await opened(hub)
            await ask(probe, {"action": "subscribe", "channels": ["microbar@2"]})
            hub.publish([bar(0)])
            size = len(await asyncio.wait_for(probe.recv(), 5))
            await probe.close()
            slow = await opened(hub)
            await ask(slow, {"action": "subscribe", "channels": ["microbar@2"]})
            queued = hub.publish([bar(i) for i in range(1, 6)])  # no await: nothing is sent
            got = await drain(slow)
            return size, queued, got, slow.close_code, hub.stats()

    size, queued, got, code, stats = run(scenario())
    # one microbar@2 envelope is 334..500 bytes: two fit in 1000 bytes, the third does not
    assert 334 <= size <= 500, size
    assert queued == 2
    assert [m["data"]["status"] for m in got] == ["disconnected"]
    assert "bytes waiting (limit 1,000)" in got[0]["data"]["message"]
    assert code == 1008 and stats.dropped == {"slow_bytes": 1} and stats.slow_disconnects == 1


def test_a_client_that_never_asks_gets_microbar_v1_only() -> None:
    async def scenario() -> list[dict[str, Any]]:
        async with Hub() as hub:
            ws = await opened(hub)
            hub.publish([bar(0), SETUP, DECISION, bar(1)])
            await hub.close()
            return await drain(ws)

    got = run(scenario())
    assert [(m["type"], m["version"], m["seq"]) for m in got] == [
        ("microbar", 1, 1), ("microbar", 1, 2), ("hub_status", 1, 2)]
    assert "askBidSizeRatio" not in got[0]["data"] and got[1]["data"]["startMs"] == T0 + 1000


def test_v1_only_switch_serves_no_microbar_v2() -> None:
    async def scenario() -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]], Any]:
        async with Hub(config=HubConfig(v1_only=True)) as hub:
            ws = await connect(hub.url, proxy=None)
            hello = await recv(ws)
            refused = await ask(ws, {"action": "subscribe",
                                     "channels": ["microbar@1", "microbar@2"]})
            await ask(ws, {"action": "subscribe", "channels": ["microbar@1"]})
            hub.publish([bar(0)])
            await hub.close()
            return hello, refused, await drain(ws), hub.stats()

    hello, refused, got, stats = run(scenario())
    assert "microbar@2" not in hello["data"]["channels"]
    assert "microbar@1" in hello["data"]["channels"]
    assert refused["data"]["status"] == "error"
    assert "microbar@2 is switched off" in refused["data"]["message"]
    assert [(m["type"], m["version"]) for m in got] == [("microbar", 1), ("hub_status", 1)]
    assert "microbar@2" not in stats.sent


def test_replay_from_a_sequence_number_within_the_retention_window() -> None:
    async def scenario() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with Hub(config=HubConfig(retain_messages=3)) as hub:
            hub.publish([bar(i) for i in range(5)])  # seq 1..5; nobody listens; 3..5 kept
            ws = await opened(hub)
            await ask(ws, {"action": "subscribe", "channels": ["microbar@2"]})
            await ws.send(json.dumps({"action": "replay", "channel": "microbar@2",
                                      "fromSeq": 4}))
            out["replayed"] = [await recv(ws) for _ in range(3)]
            out["too_old"] = await ask(ws, {"action": "replay", "channel": "microbar@2",
                                            "fromSeq": 2})
            out["ahead"] = await ask(ws, {"action": "replay", "channel": "microbar@2",
                                          "fromSeq": 9})
            out["nothing"] = await ask(ws, {"action": "replay", "channel": "microbar@2",
                                            "fromSeq": 6})
            out["status"] = await ask(ws, {"action": "replay", "channel": "hub_status@1",
                                           "fromSeq": 1})
            hub.publish([bar(5)])
            out["live"] = await recv(ws)
            await ws.close()
            out["stats"] = hub.stats()
        return out

    out = run(scenario())
    a, b, reply = out["replayed"]
    assert [(m["type"], m["seq"], m["data"]["startMs"]) for m in (a, b)] == [
        ("microbar", 4, T0 + 3000), ("microbar", 5, T0 + 4000)]
    assert reply["type"] == "hub_reply" and reply["data"] == {
        "request": "replay", "ok": True, "message": "replayed seq 4..5 of microbar@2",
        "channel": "microbar@2", "fromSeq": 4, "toSeq": 5, "oldestSeq": 3}
    too_old = out["too_old"]["data"]
    assert too_old["ok"] is False and too_old["oldestSeq"] == 3
    assert too_old["message"].startswith("seq 2 of microbar@2 is no longer retained (the "
                                         "oldest retained is seq 3; the hub keeps the newest 3")
    assert out["ahead"]["data"]["message"] == \
        "fromSeq 9 is outside 1..6 (the newest microbar@2 is seq 5)"
    assert out["nothing"]["data"]["ok"] is True and out["nothing"]["data"]["toSeq"] is None
    assert "cannot be replayed" in out["status"]["data"]["message"]
    assert (out["live"]["seq"], out["live"]["data"]["startMs"]) == (6, T0 + 5000)
    assert (out["stats"].replays, out["stats"].replayed) == (1, 2)


def test_nothing_a_client_sends_as_a_token_comes_back_on_any_channel() -> None:
    async def scenario() -> list[dict[str, Any]]:
        async with Hub(config=HubConfig(token_hash=HASH)) as hub:
            ws = await opened(hub)
            answers = []
            for request in (
                    f'{{"action": "subscribe", "channels": ["{TOKEN}"]}}',
                    f'{{"action": "replay", "channel": "{TOKEN}", "fromSeq": 1}}',
                    f'{{"action": "{TOKEN}", "channels": []}}',
                    f'{{"action": "auth", "token": "{TOKEN}x"}}',
                    f'{{"action": "auth", "token": {json.dumps(TOKEN)}, "x": 1}}',
                    f'{{"action": "auth", "token": "{TOKEN}"'):
                answers.append(await _raw_ask(ws, request))
            hub.publish([FeedStatus(event="connected", url="ws://127.0.0.1:1/stocks",
                                    at_ms=T0)])
            await hub.close()
            return answers + await drain(ws)

    got = run(scenario())
    assert len(got) == 6 + 1
    text = json.dumps(got)
    assert TOKEN not in text and hash_token(TOKEN)[7:] not in text
    assert "(not a channel name)" in got[0]["data"]["message"]


async def _raw_ask(ws: ClientConnection, text: str) -> dict[str, Any]:
    await ws.send(text)
    return await recv(ws)


def test_publish_on_checks_the_channel_and_the_type() -> None:
    async def scenario() -> None:
        async with Hub(config=HubConfig(token_hash=HASH)) as hub:
            with pytest.raises(ValueError, match="no channel 'trade@1'"):
                hub.publish_on("trade@1", FILL)
            with pytest.raises(TypeError, match="position@1 carries Position, not Fill"):
                hub.publish_on("position@1", FILL)
            with pytest.raises(TypeError, match="microbar@2 carries MicrobarV2"):
                hub.publish_on("microbar@2", SETUP)
            assert hub.publish_on("microbar@2", bar(0)) == 0

    run(scenario())


def test_dropped_clients_reconnect_and_replay_what_they_missed() -> None:
    """The flow a slow client follows: dropped (1008), reconnect, replay from its last seq + 1,
    then live again — no message lost, none twice."""
    rounds: list[int | None] = []

    async def scenario() -> list[int]:
        async with Hub(config=HubConfig(queue_size=3)) as hub:
            ws = await opened(hub)
            await ask(ws, {"action": "subscribe", "channels": ["microbar@2"]})
            hub.publish([bar(0)])
            seen = [(await recv(ws))["seq"]]
            hub.publish([bar(i) for i in range(1, 8)])  # a burst: the queue overflows
            with pytest.raises(ConnectionClosed):
                while True:
                    m = await recv(ws)
                    if m["type"] == "microbar":
                        seen.append(m["seq"])
            ws = await opened(hub)
            await ask(ws, {"action": "subscribe", "channels": ["microbar@2"]})
            while True:  # the queue takes 3 at a time: replay in rounds until nothing is left
                await ws.send(json.dumps({"action": "replay", "channel": "microbar@2",
                                          "fromSeq": seen[-1] + 1}))
                while (m := await recv(ws))["type"] == "microbar":
                    seen.append(m["seq"])
                rounds.append(m["data"]["toSeq"])
                if m["data"]["toSeq"] is None:
                    break
            hub.publish([bar(8)])
            seen.append((await recv(ws))["seq"])
            await ws.close()
            return seen

    assert run(scenario()) == list(range(1, 10))
    # dropped at the burst's fourth bar (seq 5): rounds of at most 2 (3 slots, one for the reply)
    assert rounds[-1] is None and len(rounds) >= 3


@settings(max_examples=25, deadline=None)
@given(retain=st.integers(1, 8), published=st.integers(0, 20), from_seq=st.integers(-1, 24))
def test_replay_returns_exactly_the_retained_suffix(retain: int, published: int,
                                                    from_seq: int) -> None:
    """A model of the window: the hub keeps seq max(1, K − R + 1) .. K of K published; a replay
    from F re-sends F..K when F is inside it, says "nothing" for F = K + 1 and refuses the rest;
    the next live message is K + 1 either way."""
    async def scenario() -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
        async with Hub(config=HubConfig(retain_messages=retain)) as hub:
            hub.publish([bar(i) for i in range(published)])
            ws = await opened(hub)
            await ask(ws, {"action": "subscribe", "channels": ["microbar@2"]})
            await ws.send(json.dumps({"action": "replay", "channel": "microbar@2",
                                      "fromSeq": from_seq}))
            got = []
            while (m := await recv(ws))["type"] == "microbar":
                got.append(m)
            hub.publish([bar(published)])
            nxt = await recv(ws)
            await ws.close()
            return got, m, nxt

    got, reply, nxt = run(scenario())
    oldest = max(1, published - retain + 1) if published else None
    inside = oldest is not None and oldest <= from_seq <= published
    assert [m["seq"] for m in got] == (list(range(from_seq, published + 1)) if inside else [])
    assert all(m["data"]["startMs"] == T0 + 1000 * (m["seq"] - 1) for m in got)
    assert reply["data"]["ok"] is (inside or from_seq == published + 1)
    assert reply["data"]["oldestSeq"] == oldest
    assert reply["data"]["toSeq"] == (published if inside else None)
    assert nxt["seq"] == published + 1


def test_another_authorization_scheme_is_not_a_wrong_token() -> None:
    """A reverse proxy's ``Authorization: Basic ...`` is not ours to judge (a review saw it
    refused with 401 "wrong token")."""
    async def scenario() -> Any:
        async with Hub(config=HubConfig(token_hash=HASH)) as hub:
            ws = await opened(hub, additional_headers={"Authorization": "Basic YWxhZGRpbjpv"})
            sub = await ask(ws, {"action": "subscribe", "channels": ["position@1"]})
            await ws.close()
            return sub, hub.stats()

    sub, stats = run(scenario())
    assert stats.refused == {}
    assert sub["data"]["status"] != "subscribed"  # account channels still need the token


def test_a_page_served_on_every_interface_may_connect_from_the_address_it_was_opened_at(
        ) -> None:
    """Bound to 0.0.0.0, the page is opened as http://<the machine's address>:PORT: that
    origin (= the Host the browser connected to) is admitted; another origin is not, and a
    hub bound to loopback keeps to its own list."""
    page = {"/": ("text/html", b"<p>page</p>")}

    async def scenario() -> list[int]:
        codes = []
        async with Hub("0.0.0.0", 0, pages=page) as hub:
            port = hub.url.rsplit(":", 1)[1]
            url = f"ws://127.0.0.1:{port}"
            ok = await connect(url, proxy=None,
                               origin=f"http://127.0.0.1:{port}")  # type: ignore[arg-type]
            await ok.close()
            for origin in (f"http://evil.example:{port}", f"http://10.9.8.7:{port}"):
                with pytest.raises(InvalidStatus) as info:
                    await connect(url, proxy=None, origin=origin)  # type: ignore[arg-type]
                codes.append(info.value.response.status_code)
        async with Hub("127.0.0.1", 0, pages=page) as loop_hub:
            port = loop_hub.url.rsplit(":", 1)[1]
            ok = await connect(loop_hub.url, proxy=None,
                               origin=f"http://127.0.0.1:{port}")  # type: ignore[arg-type]
            await ok.close()
        return codes

    assert run(scenario()) == [403, 403]
