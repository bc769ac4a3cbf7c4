"""Live execution through the fake Massive server and the paper broker: the live run writes
the same execution outputs as ``replay --execute paper`` of its own recording."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest
from fake_massive import FakeMassive, Script
from secret_tokens import MASSIVE_TEST_API_KEY
from spxcc_paper import PaperBroker
from test_live_parity import SUBSCRIPTIONS, index_values, ws_frames, ws_shaped

from spxcc_core.golden.sessions import case_events
from spxcc_core.host.live import run_live
from spxcc_core.replay.engine import PAPER_REPLAY_OPTIONS, REPLAY_ACCOUNT, replay_session

EXEC_FILES = ("intents.jsonl", "fills.jsonl", "positions.jsonl", "slippage.jsonl")


async def _live(tmp: Path, frames: list[str]):
    broker = PaperBroker.from_config({**PAPER_REPLAY_OPTIONS, "account_id": REPLAY_ACCOUNT})
    async with FakeMassive(MASSIVE_TEST_API_KEY, [Script(frames=frames, then="hold")]) as fake:
        return await run_live(url=fake.url, api_key=MASSIVE_TEST_API_KEY,
                              subscriptions=SUBSCRIPTIONS, out_dir=tmp / "live",
                              record=tmp / "recording.jsonl", idle_timeout_s=1.0,
                              connect_kwargs={"proxy": None}, broker=broker)


def test_live_executes_like_the_replay_of_its_recording(tmp_path: Path):
    events = ws_shaped(case_events("trend_day"))
    frames = ws_frames(events, seed=7, values=index_values(events))
    result = asyncio.run(asyncio.wait_for(_live(tmp_path, frames), 120))
    live = result.run.report.execution
    assert not isinstance(live, msgspec.UnsetType)
    # trend_day: 6 setups, all triggered; SPY and a sparse I:SPX only, no option quotes: no
    # order, and each setup is counted with its reason, none silently dropped
    assert live.setups == 6 and live.entries == 0 and sum(live.skipped.values()) == 6
    rec = replay_session(tmp_path / "recording.jsonl", out_dir=tmp_path / "rec",
                         execute="paper")
    assert not isinstance(rec.report.execution, msgspec.UnsetType)
    assert msgspec.json.encode(rec.report.execution) == msgspec.json.encode(live)
    for name in EXEC_FILES:
        assert (tmp_path / "live" / name).read_bytes() == (tmp_path / "rec" / name).read_bytes()


def test_a_broker_without_an_event_time_feed_is_refused():
    from spxcc_core.aggregate.columns import SymbolTable
    from spxcc_core.broker.interface import BrokerAdapter
    from spxcc_core.errors import ConfigError
    from spxcc_core.execute.engine import Executor
    from spxcc_core.execute.policy import ExecutionPolicy

    class NoFeed(PaperBroker):
        on_quote = None  # type: ignore[assignment]

    broker: BrokerAdapter = NoFeed(account_id="a")
    with pytest.raises(ConfigError, match="cannot execute"):
        Executor(broker, ExecutionPolicy(), t1_fraction=0.5, market=None, symbols=SymbolTable(),
                 interval_ms=1000)


def _frames_of_cache(cache_root: Path, per_frame: int = 250) -> list[str]:
    """The sample session as websocket frames: every trade, quote and index value of the
    cache merged by time (ms, as the feed stamps them)."""
    import heapq
    import json

    from spxcc_core.replay.cache import open_cache

    cache = open_cache(cache_root)
    names = cache.symbol_table().names
    sets = cache.condition_table().sets
    streams: list[list[tuple[int, int, dict[str, object]]]] = []
    for kind in ("stocks_trades", "options_trades"):
        rows = []
        for b in cache.batches(kind):
            for ts, sid, seq, p, sz, c in zip(b.ts.tolist(), b.symbol.tolist(), b.seq.tolist(),
                                              b.price.tolist(), b.size.tolist(),
                                              b.cond.tolist(), strict=True):
                ev: dict[str, object] = {"ev": "T", "sym": names[sid], "p": p, "s": sz,
                                         "t": ts // 1_000_000, "q": seq}
                if sets[c]:
                    ev["c"] = list(sets[c])
                rows.append((ts, len(rows), ev))
        streams.append(rows)
    for kind in ("stocks_quotes", "options_quotes"):
        rows = []
        for b in cache.batches(kind):
            for ts, sid, seq, bp, bs, ap, az in zip(
                    b.ts.tolist(), b.symbol.tolist(), b.seq.tolist(), b.bid.tolist(),
                    b.bid_size.tolist(), b.ask.tolist(), b.ask_size.tolist(), strict=True):
                rows.append((ts, len(rows), {"ev": "Q", "sym": names[sid], "bp": bp, "bs": bs,
                                             "ap": ap, "as": az, "t": ts // 1_000_000,
                                             "q": seq}))
        rows.sort(key=lambda r: r[0])  # flat files list options by contract: the feed by time
        streams.append(rows)
    values = []
    for b in cache.batches("index_values"):
        for ts, sid, v in zip(b.ts.tolist(), b.symbol.tolist(), b.value.tolist(), strict=True):
            values.append((ts, len(values), {"ev": "V", "T": names[sid], "val": v,
                                             "t": ts // 1_000_000}))
    streams.append(values)
    merged = [e for _, _, e in heapq.merge(*streams, key=lambda r: r[0])]
    return [json.dumps(merged[i:i + per_frame]) for i in range(0, len(merged), per_frame)]


async def _live_sample(tmp: Path, frames: list[str], profile: Path):
    broker = PaperBroker.from_config({**PAPER_REPLAY_OPTIONS, "account_id": REPLAY_ACCOUNT})
    async with FakeMassive(MASSIVE_TEST_API_KEY, [Script(frames=frames, then="hold")]) as fake:
        return await run_live(url=fake.url, api_key=MASSIVE_TEST_API_KEY,
                              subscriptions=["T.SPY", "Q.SPY", "V.I:SPX", "T.O:SPXW*",
                                             "Q.O:SPXW*"],
                              out_dir=tmp / "live", record=tmp / "recording.jsonl",
                              idle_timeout_s=1.0, connect_kwargs={"proxy": None},
                              broker=broker, profile=profile)


@pytest.mark.slow
def test_live_sample_session_trades_through_the_routing_worker(tmp_path: Path):
    """The seeded sample session streamed by the fake Massive server: the live run's orders go
    through the routing worker (recorded in the store, every one final), and its execution
    outputs equal the direct replay of its own recording."""
    from spxcc_core.broker.store import BrokerStore
    from spxcc_core.detect.profile import DEFAULT_PROFILE_TOML
    from spxcc_core.replay.cache import ingest
    from spxcc_core.sample import generate_session
    from spxcc_core.slippage.store import SlippageStore
    from spxcc_core.store.sqlite import Store

    sample = generate_session(tmp_path / "sample", scale=0.05)
    ingest(sample.root, tmp_path / "cache")
    profile = tmp_path / "profile.toml"
    profile.write_text(DEFAULT_PROFILE_TOML + "\n[execution]\nmax_quote_age_ms = 120000\n"
                       "max_spread = 1.0\n", encoding="utf-8")
    frames = _frames_of_cache(tmp_path / "cache")
    result = asyncio.run(asyncio.wait_for(_live_sample(tmp_path, frames, profile), 300))
    live = result.run.execution
    assert live is not None and len(live.intents) > 4 and live.fills
    assert live.positions == []
    rec = replay_session(tmp_path / "recording.jsonl", out_dir=tmp_path / "rec",
                         execute="paper", profile=profile)
    assert not isinstance(rec.report.execution, msgspec.UnsetType)
    assert msgspec.json.encode(rec.report.execution) == msgspec.json.encode(live.report)
    for name in EXEC_FILES:
        assert (tmp_path / "live" / name).read_bytes() == (tmp_path / "rec" / name).read_bytes()
    with Store(tmp_path / "live" / "spxcc.sqlite3") as store:
        routed = BrokerStore(store)
        states = {i.intent_id: routed.get(i.intent_id) for i in live.intents}
        stored = list(SlippageStore(store).records(source="paper"))
    # the worker measured every fill as the executor did, bucketed by the recorded origin
    key = lambda r: r.fill_id  # noqa: E731
    assert sorted(stored, key=key) == sorted(live.slippage, key=key)
    assert all(rec is not None for rec in states.values())
    filled = {f.intent_id for f in live.fills}
    for intent_id, record in states.items():
        assert record is not None
        assert record.state in ("filled", "canceled"), (intent_id, record.state)
        assert (record.state == "filled") == (intent_id in filled) or record.state == "canceled"
