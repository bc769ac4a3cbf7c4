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
