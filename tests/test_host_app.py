"""The embeddable host: its configuration file, the bind rule, a paced replay that equals
``spxcc replay`` with every output through the callbacks and the hub, the page on the hub's
port, host hookspecs and plugins, the execution seam, and fills / positions / reconciliation
from a routing worker on the paper broker."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs
import pytest
from host_session import write_flat_folder, write_recording
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from spxcc_core.broker.interface import AdapterConfig
from spxcc_core.clock import ManualClock
from spxcc_core.contracts.broker import Fill, OrderIntent
from spxcc_core.contracts.microbar import MicrobarV2
from spxcc_core.contracts.reconcile import ReconcileRun
from spxcc_core.contracts.setup import GateDecision, SetupInstance
from spxcc_core.errors import ConfigError, InputError, PluginError
from spxcc_core.hookspecs import hookimpl, hookspec
from spxcc_core.host.app import Host, check_bind
from spxcc_core.host.auth import TokenHash, hash_token
from spxcc_core.host.config import (
    HostConfig,
    HubSection,
    is_loopback,
    load_host_config,
    parse_host_config,
)
from spxcc_core.host.pace import Pacer
from spxcc_core.replay.engine import run_replay
from spxcc_core.store import Store

T = TypeVar("T")
LOOPBACK_ANY_PORT = HostConfig(hub=HubSection(bind="127.0.0.1:0"))
TOKEN = "host-test-token"


def run(coro: Coroutine[Any, Any, T]) -> T:
    async def guarded() -> T:
        return await asyncio.wait_for(coro, 120)
    return asyncio.run(guarded())


# ----------------------------------------------------------------------------- configuration


def test_config_file_every_section_and_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "host.toml").write_text('''
db = "state/spxcc.sqlite3"
[hub]
bind = "127.0.0.1:9000"
allowed_origins = ["http://127.0.0.1:9000"]
page = false
[pipeline]
profile = "profile.toml"
detectors = ["vwap"]
[plugins]
blocked = ["spxcc_gamma"]
load_entrypoints = false
[live]
urls = ["wss://socket.massive.com/stocks"]
subscribe = ["T.SPY", "Q.SPY"]
idle_timeout_s = 30
[replay]
session = "/data/rec.jsonl"
speed = 0
[routing]
poll_interval_s = 0.5
''')
    cfg = load_host_config(tmp_path / "host.toml")
    assert cfg.db == str(tmp_path / "state" / "spxcc.sqlite3")  # relative to the file
    assert cfg.pipeline.profile == str(tmp_path / "profile.toml")
    assert cfg.replay.session == "/data/rec.jsonl"  # absolute: kept
    assert (cfg.hub.bind, cfg.hub.page, cfg.pipeline.detectors) == ("127.0.0.1:9000", False,
                                                                     ["vwap"])
    assert cfg.live.idle_timeout_s == 30.0 and isinstance(cfg.live.idle_timeout_s, float)
    assert (cfg.replay.speed, cfg.routing.poll_interval_s) == (0.0, 0.5)
    # a PostgreSQL URL is not a path
    assert parse_host_config('db = "postgresql://u@h/db"', base=tmp_path).db == \
        "postgresql://u@h/db"


@pytest.mark.parametrize(("text", "message"), [
    ('[hub]\nbnid = "0.0.0.0:1"', "unknown field `bnid`"),
    ('colour = "red"', "unknown field `colour`"),
    ('[replay]\nspeed = "fast"', "Expected `float`, got `str`"),
    ('[replay]\nspeed = -1', "speed must be >= 0"),
    ('[hub]\npage = 1', "Expected `bool`, got `int`"),
    ("[hub\n", "not valid TOML"),
])
def test_config_errors_name_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"host\.toml") as err:
        parse_host_config(text, "host.toml")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_bind_rule() -> None:
    assert [is_loopback(h) for h in ("127.0.0.1", "127.5.5.5", "::1", "[::1]", "localhost",
                                     "0.0.0.0", "10.1.2.3", "example.org")] == \
        [True, True, True, True, True, False, False, False]
    check_bind("127.0.0.1", bind_any=False, token_hash=None)
    with pytest.raises(ConfigError, match=r"not a loopback address.*--bind-any"):
        check_bind("0.0.0.0", bind_any=False, token_hash=None)
    with pytest.raises(ConfigError, match="needs a hub token hash"):
        check_bind("0.0.0.0", bind_any=True, token_hash=None)
    check_bind("0.0.0.0", bind_any=True, token_hash=TokenHash.parse(hash_token(TOKEN)))
    with pytest.raises(ConfigError, match="not a loopback"):
        Host(HostConfig(hub=HubSection(bind="0.0.0.0:0")))


# ----------------------------------------------------------------------------- pacing


def test_pacer_waits_in_event_time_times_speed() -> None:
    clock = ManualClock(start_ms=0)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    async def go() -> list[float]:
        pacer = Pacer(60, clock=clock, sleep=sleep)
        s = 1_000_000_000
        t0 = 1_709_821_200 * s
        # first step: due at once; +30 s of events at 60x: 0.5 s; a late event (+20 s) does
        # not move time back: no wait; +90 s: 1.5 s after the start, 1.0 s after now;
        # a step without events: no wait
        return [await pacer.wait_for(t) for t in (t0, t0 + 30 * s, t0 + 20 * s, t0 + 90 * s,
                                                  None)]

    assert run(go()) == [0.0, 0.5, 0.0, 1.0, 0.0]
    assert slept == [0, 0.5, 0, 1.0, 0]  # a zero sleep only yields to the event loop
    with pytest.raises(ConfigError, match="speed must be a number >= 0"):
        Pacer(-1)


def test_pacer_speed_zero_never_waits() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def go() -> None:
        pacer = Pacer(0, sleep=sleep)
        for t in (0, 10**12, 10**15):
            assert await pacer.wait_for(t) == 0.0

    run(go())
    assert slept == [0, 0, 0]


# ----------------------------------------------------------------------------- replay


async def _collect(ws: ClientConnection) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    async for message in ws:
        env = json.loads(message)
        out.append(env)
        if env["type"] == "hub_status" and env["data"]["status"] == "end":
            break
    return out


def test_replay_equals_spxcc_replay_and_reaches_callbacks_and_hub(tmp_path: Path) -> None:
    rec = write_recording(tmp_path / "rec.jsonl")
    expected = run_replay(rec)
    bars: list[MicrobarV2] = []
    setups: list[SetupInstance] = []
    decisions: list[GateDecision] = []

    async def go() -> tuple[Any, list[dict[str, Any]]]:
        host = Host(LOOPBACK_ANY_PORT)
        host.on_microbar(bars.append)
        host.on_setup(setups.append)
        host.on_gate_decision(decisions.append)
        async with host:
            ws = await connect(host.hub.url, proxy=None)
            await ws.send(json.dumps({"action": "subscribe",
                                      "channels": ["setup@1", "gate_decision@1"]}))
            listener = asyncio.ensure_future(_collect(ws))
            await asyncio.sleep(0.2)
            result = await host.replay(rec, speed=0)
        return result, await listener

    result, received = run(go())
    # the host's pipeline is replay's: the same bytes in every output file
    assert result.outputs() == expected.outputs()
    # every output went through the callbacks, in production order (one symbol: the same
    # order as the report's), and each setup's last state is the one reported
    assert bars == expected.bars and len(bars) == 1773
    assert decisions == expected.decisions
    assert [d.passed for d in decisions] == [True, False]  # the golden case: one blocked
    assert {s.id: s for s in setups} == {s.id: s for s in expected.setups}
    # and through the hub, numbered from 1 on each channel
    by_type: dict[str, list[dict[str, Any]]] = {}
    for env in received:
        by_type.setdefault(env["type"], []).append(env)
    assert [e["seq"] for e in by_type["gate_decision"]] == [1, 2]
    assert [e["data"]["passed"] for e in by_type["gate_decision"]] == [True, False]
    assert [e["data"]["id"] for e in by_type["setup"]] == [s.id for s in setups]
    assert "microbar" not in by_type  # not subscribed


def test_a_session_cache_in_one_second_steps_equals_spxcc_replay(tmp_path: Path) -> None:
    from spxcc_core.replay.cache import ingest
    from spxcc_core.replay.steps import cache_session

    cache = ingest(write_flat_folder(tmp_path / "flat"), tmp_path / "cache")
    expected = run_replay(cache)  # the engine's 60-second steps
    steps: list[int] = []

    async def go() -> Any:
        async with Host(LOOPBACK_ANY_PORT) as host:
            session = cache_session(cache)
            counted = attrs.evolve(session, steps=(steps.append(s.until_ns) or s
                                                   for s in session.steps))
            return await host.replay(counted, speed=0)

    result = run(go())
    assert result.outputs() == expected.outputs()
    # one step per second that has events: each ends on a whole second, none twice
    assert all(t % 1_000_000_000 == 0 for t in steps) and steps == sorted(set(steps))
    assert len(steps) > 1000


def test_stop_ends_a_paced_replay_early(tmp_path: Path) -> None:
    rec = write_recording(tmp_path / "rec.jsonl")

    async def go() -> int:
        async with Host(LOOPBACK_ANY_PORT) as host:
            host.on_microbar(lambda bar: host.request_stop() if bar.start_ms else None)
            result = await host.replay(rec, speed=1)  # real time: over an hour unless stopped
        return len(result.bars)

    n = run(go())
    assert 1 <= n < 1773


def test_replay_errors(tmp_path: Path) -> None:
    async def go(session: str | None) -> None:
        async with Host(LOOPBACK_ANY_PORT) as host:
            await host.replay(session, speed=0)

    with pytest.raises(ConfigError, match="no session given"):
        run(go(None))
    with pytest.raises(InputError, match="recording not found"):
        run(go(str(tmp_path / "missing.jsonl")))
    (tmp_path / "bars.csv").write_text("x\n")
    with pytest.raises(InputError, match="not a recording"):
        run(go(str(tmp_path / "bars.csv")))
    with pytest.raises(RuntimeError, match="not started"):
        _ = Host(LOOPBACK_ANY_PORT).hub


def test_a_failing_callback_is_recorded_and_the_session_goes_on(tmp_path: Path) -> None:
    rec = write_recording(tmp_path / "rec.jsonl")
    seen: list[int] = []

    def broken(bar: MicrobarV2) -> None:
        raise ValueError("callback bug")

    async def go() -> Host:
        host = Host(LOOPBACK_ANY_PORT)
        host.on_microbar(broken)
        host.on_microbar(lambda bar: seen.append(bar.start_ms))
        async with host:
            await host.replay(rec, speed=0)
        return host

    host = run(go())
    assert len(seen) == 1773  # the next callback still ran for every bar
    [failure] = host.failures()
    assert (failure.hook, failure.plugin) == ("on_microbar", "host:" + broken.__qualname__)
    assert failure.error == "ValueError: callback bug (1773 times)"


def test_live_through_the_host_equals_a_replay_of_its_recording(tmp_path: Path) -> None:
    """``Host.live`` against the fake Massive server on loopback: the callbacks get the
    feed's connect status and every bar; the recording it writes replays to the same
    bytes."""
    from fake_massive import FakeMassive, Script
    from secret_tokens import MASSIVE_TEST_API_KEY
    from test_live_parity import ws_frames, ws_shaped

    from spxcc_core.golden.sessions import case_events
    from spxcc_core.host.config import LiveSection

    frames = ws_frames(ws_shaped(case_events("gap_and_flush")), 11)
    bars: list[MicrobarV2] = []
    events: list[str] = []

    async def go() -> Any:
        async with FakeMassive(MASSIVE_TEST_API_KEY, [Script(frames=frames)]) as fake:
            cfg = HostConfig(hub=HubSection(bind="127.0.0.1:0"), live=LiveSection(
                urls=[fake.url], subscribe=["T.SPY", "Q.SPY"], idle_timeout_s=1.0))
            host = Host(cfg)
            host.on_microbar(bars.append)
            host.on_feed_status(lambda status: events.append(status.event))
            async with host:
                return await host.live(api_key=MASSIVE_TEST_API_KEY,
                                       record=tmp_path / "rec.jsonl",
                                       connect_kwargs={"proxy": None})

    result = run(go())
    assert result.report.stop_reason == "idle" and events == ["connected"]
    assert bars == result.run.bars and len(bars) == 1773
    assert run_replay(tmp_path / "rec.jsonl").outputs()["microbars.jsonl"] == \
        result.run.outputs()["microbars.jsonl"]
    with pytest.raises(ConfigError, match=r"set live\.urls and live\.subscribe"):
        run(Host(LOOPBACK_ANY_PORT).live(api_key="k"))


# ----------------------------------------------------------------------------- the page


def _get(url: str, header: str = "Content-Type") -> tuple[int, str, bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=10) as resp:
            return resp.status, resp.headers[header], resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers[header], exc.read()


def test_the_page_is_served_on_the_hub_port_and_may_connect() -> None:
    async def go() -> tuple[list[tuple[int, str, bytes]], int]:
        async with Host(LOOPBACK_ANY_PORT) as host:
            base = host.page_url
            pages = [await asyncio.to_thread(_get, base + p)
                     for p in ("", "command-center.js", "command-center.css", "nope")]
            _, policy, _ = await asyncio.to_thread(_get, base, "Content-Security-Policy")
            assert "connect-src 'self'" in policy and "frame-ancestors 'none'" in policy
            port = int(host.hub.url.rsplit(":", 1)[1])
            # the page's own origin is allowed; another origin is refused
            for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
                ws = await connect(host.hub.url, proxy=None, origin=origin)  # type: ignore[arg-type]
                await ws.close()
            try:
                await connect(host.hub.url, proxy=None,
                              origin="http://evil.example")  # type: ignore[arg-type]
            except InvalidStatus as exc:
                return pages, exc.response.status_code
            return pages, 101

    pages, refused = run(go())
    assert [(s, t.split(";")[0]) for s, t, _ in pages] == [
        (200, "text/html"), (200, "text/javascript"), (200, "text/css"), (404, "text/plain")]
    assert pages[0][2].startswith(b"<!DOCTYPE html>")
    assert b'src="/command-center.js"' in pages[0][2]
    assert refused == 403


def test_no_page_when_switched_off() -> None:
    async def go() -> int:
        async with Host(HostConfig(hub=HubSection(bind="127.0.0.1:0", page=False))) as host:
            status, _, _ = await asyncio.to_thread(_get, host.page_url)
            return status

    assert run(go()) == 426  # a plain GET to a websocket-only server: upgrade required


# ----------------------------------------------------------------------------- extension


class AlertSpecs:
    @hookspec
    def myapp_on_alert(self, text: str) -> str | None:  # type: ignore[empty-body]
        """A host application's own hook."""


class AlertPlugin:
    @hookimpl
    def myapp_on_alert(self, text: str) -> str:
        return text.upper()


def test_host_hookspecs_and_plugins() -> None:
    host = Host(LOOPBACK_ANY_PORT, hookspecs=[AlertSpecs], plugins=[AlertPlugin()])
    assert host.pm.hook.myapp_on_alert(text="vwap long") == ["VWAP LONG"]
    # without the host's hookspec the plugin implements a hook nobody specified: refused
    with pytest.raises(PluginError, match="myapp_on_alert"):
        Host(LOOPBACK_ANY_PORT, plugins=[AlertPlugin()])
    # a blocked built-in is not registered
    blocked = Host(HostConfig(hub=HubSection(bind="127.0.0.1:0"),
                              plugins=parse_host_config('[plugins]\nblocked = ["spxcc_gamma"]')
                              .plugins))
    assert blocked.pm.get_plugin("spxcc_gamma") is None and host.pm.get_plugin("spxcc_gamma")


class RecordingExecutor:
    def __init__(self) -> None:
        self.steps: list[list[str]] = []

    def on_setups(self, setups: Sequence[SetupInstance], host: Host) -> None:
        self.steps.append([s.status for s in setups])


def test_the_execution_seam_gets_every_setup_change_once(tmp_path: Path) -> None:
    rec = write_recording(tmp_path / "rec.jsonl")
    executor = RecordingExecutor()

    async def go() -> list[SetupInstance]:
        async with Host(LOOPBACK_ANY_PORT, executor=executor) as host:
            result = await host.replay(rec, speed=0)
        return result.setups

    [setup] = run(go())
    # the golden setup: detected, then triggered, then stopped — each change handed over once
    flat = [status for step in executor.steps for status in step]
    assert flat[0] == "detected" and flat[-1] == setup.status == "stopped"
    assert "triggered" in flat and len(flat) == len(set(flat))


# ----------------------------------------------------------------------------- account data

SYM = "SPXW991218C05900000"
T0 = 1_790_000_000 * 10**9


def test_fills_positions_and_reconciliation_reach_callbacks_and_account_channels(
        tmp_path: Path) -> None:
    from spxcc_paper import PaperBroker

    fills: list[Fill] = []
    runs: list[ReconcileRun] = []

    async def go() -> list[dict[str, Any]]:
        with Store(tmp_path / "host.sqlite3") as store:
            paper = PaperBroker.from_config(AdapterConfig(
                options={"clock": "replay", "hours": "always"}, account_id="A", store=store))
            paper.on_quote(SYM, T0, 2.90, 50, 3.00, 50)
            cfg = HostConfig(hub=HubSection(bind="127.0.0.1:0", token_hash=hash_token(TOKEN)))
            host = Host(cfg, store=store, broker=paper,
                        clock=ManualClock(start_ms=1_790_000_000_000))
            host.on_fill(fills.append)
            host.on_reconcile(runs.append)
            async with host:
                ws = await connect(host.hub.url, proxy=None,
                                   additional_headers={"Authorization": f"Bearer {TOKEN}"})
                await ws.send(json.dumps({"action": "subscribe", "channels": [
                    "broker_order@1", "fill@1", "position@1", "reconcile_status@1"]}))
                # the start-up reconciliation was published before this client connected:
                # the hub retained it
                await ws.send(json.dumps({"action": "replay", "channel": "reconcile_status@1",
                                          "fromSeq": 1}))
                listener = asyncio.ensure_future(_collect(ws))
                await asyncio.sleep(0.2)
                result = host.submit(OrderIntent(
                    intent_id="e1", option_symbol=SYM, underlying="SPX", side="buy_to_open",
                    quantity=2, order_type="limit", limit_price=3.00))
                assert result.state == "filled"
                # a reconciliation run between two routing steps is published by the next
                run_ = host.router.reconcile("A")  # type: ignore[union-attr]
                assert run_ is not None
                host.submit(OrderIntent(intent_id="x1", option_symbol=SYM, underlying="SPX",
                                        side="sell_to_close", quantity=1, order_type="limit",
                                        limit_price=2.90))
            return await listener

    received = run(go())
    assert [(f.side, f.quantity, f.price) for f in fills] == [("buy_to_open", 2.0, 3.0),
                                                             ("sell_to_close", 1.0, 2.9)]
    assert [r.trigger for r in runs] == ["startup", "manual"]
    data = [(e["type"], e["seq"], e["data"]) for e in received
            if e["type"] not in ("hub_status", "hub_reply")]
    assert [(t, d["quantity"]) for t, _, d in data if t in ("fill", "position")] == [
        ("fill", 2.0), ("position", 2.0), ("fill", 1.0), ("position", 1.0)]  # after each fill
    # each order once, filled (the paper broker fills a marketable limit at once)
    assert [(d["side"], d["status"], d["filledQuantity"]) for t, _, d in data
            if t == "broker_order"] == [("buy_to_open", "filled", 2.0),
                                        ("sell_to_close", "filled", 1.0)]
    assert [(seq, d["status"], d["accountId"]) for t, seq, d in data
            if t == "reconcile_status"] == [(1, "clean", "A"), (2, "clean", "A")]


def test_an_executing_replay_through_the_host_trades_like_spxcc_replay(tmp_path: Path) -> None:
    """The host with the paper broker executes the seeded sample session's triggered setups
    through its routing worker: the same intents, fills, positions and slippage as
    ``spxcc replay --execute paper``, and every fill reaches the host's fill callback."""
    from spxcc_core.detect.profile import DEFAULT_PROFILE_TOML
    from spxcc_core.replay.cache import ingest
    from spxcc_core.replay.engine import replay_session
    from spxcc_core.replay.steps import cache_session
    from spxcc_core.run.setup import execution_broker
    from spxcc_core.sample import generate_session

    sample = generate_session(tmp_path / "sample", scale=0.05)
    cache = ingest(sample.root, tmp_path / "cache")
    profile = tmp_path / "profile.toml"
    profile.write_text(DEFAULT_PROFILE_TOML + "\n[execution]\nmax_quote_age_ms = 120000\n"
                       "max_spread = 1.0\n", encoding="utf-8")
    replay_session(cache.root, out_dir=tmp_path / "replay", profile=profile, execute="paper")
    fills: list[Fill] = []

    async def go() -> Any:
        with Store(tmp_path / "host.sqlite3") as store:
            from spxcc_core.plugins import get_plugin_manager

            broker = execution_broker(get_plugin_manager(), "paper")
            host = Host(LOOPBACK_ANY_PORT, store=store, broker=broker, profile=str(profile))
            host.on_fill(fills.append)
            async with host:
                return await host.replay(cache_session(cache, with_option_quotes=True),
                                         speed=0)

    run_ = run(go())
    assert run_.execution is not None and run_.execution.fills
    files = run_.execution.files()
    for name in ("intents.jsonl", "fills.jsonl", "positions.jsonl", "slippage.jsonl"):
        assert files[name] == (tmp_path / "replay" / name).read_bytes(), name
    assert sorted(f.fill_id for f in fills) == sorted(f.fill_id for f in run_.execution.fills)
