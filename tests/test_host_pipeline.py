"""The public per-batch pipeline (``spxcc_core.pipeline.Pipeline``) stepped frame by frame, as
the live host drives it: each step reports exactly its share of what a replay outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_live_parity import CASE, ws_frames, ws_shaped

from spxcc_core.errors import ConfigError
from spxcc_core.golden.sessions import case_events
from spxcc_core.massive.columns import IndexColumns
from spxcc_core.massive.websocket import iter_ws_decoded
from spxcc_core.pipeline import Pipeline, StepOutputs
from spxcc_core.plugins import get_plugin_manager
from spxcc_core.replay.engine import run_replay
from spxcc_core.replay.wire import ReplaySource
from spxcc_core.store.sqlite import Store


def test_steps_report_exactly_what_a_replay_outputs(tmp_path: Path) -> None:
    rec = tmp_path / "session.jsonl"
    rec.write_text("\n".join(ws_frames(ws_shaped(case_events(CASE)), seed=7)) + "\n")
    pm = get_plugin_manager()
    store = Store(":memory:")
    pipes = [Pipeline(pm, store=store, run_id_prefix=p) for p in ("live", "live")]
    assert pipes[0].run_id.startswith("live-") and pipes[0].run_id != pipes[1].run_id
    steps: list[list[StepOutputs]] = [[], []]
    for pipe, out in zip(pipes, steps, strict=True):  # two runs on one plugin manager
        agg = pipe.aggregator
        for frame in iter_ws_decoded(rec, ticker=None, symbols=agg.symbols,
                                     conditions=agg.conditions):
            out.append(pipe.push(frame.trades, frame.quotes, frame.values))
        assert pipe.session_date == "2024-03-07"  # from the first step with trades or quotes
        out.append(pipe.finish())
        assert pipe.finish() == StepOutputs()  # idempotent
        with pytest.raises(RuntimeError, match="after finish"):
            pipe.push(None, None)
    replay = run_replay(rec)
    for out in steps:
        assert [b for s in out for b in s.bars] == replay.bars  # one symbol: emission order
        assert [d for s in out for d in s.decisions] == replay.decisions
        changes = [u for s in out for u in s.setups]
        final = {u.id: u for u in changes}  # each run saw its own changes only, once
        assert sorted(final.values(), key=lambda u: (u.detected_ms, u.id)) == replay.setups
        assert [u.status for u in changes] == ["detected", "triggered", "stopped"]
    assert sum(len(s) for s in steps[0]) == len(replay.bars) + len(replay.decisions) + 3
    # the report a live run writes is the replay's, byte for byte (source aside)
    source = replay.report.source
    run = pipes[0].report(source, websocket=replay.report.websocket)
    assert run.outputs() == replay.outputs()
    with pytest.raises(RuntimeError, match="already"):
        pipes[0].report(source)
    store.close()


def test_index_values_reach_the_market_before_the_steps_bars() -> None:
    pipe = Pipeline(get_plugin_manager(), store=Store(":memory:"), run_id_prefix="replay")
    sid = pipe.aggregator.symbols.intern("I:SPX")
    other = pipe.aggregator.symbols.intern("I:VIX")
    ms = 1_709_821_800_000  # 2024-03-07 09:30 New York
    values = IndexColumns(ts=np.array([ms, ms + 1000, ms + 500]) * 1_000_000,
                          symbol=np.array([sid, sid, other]),
                          value=np.array([5100.25, 5101.5, 14.5]), line=np.array([1, 2, 3]))
    out = pipe.push(None, None, values)
    assert out == StepOutputs() and pipe.index_values == 3
    assert pipe.session_date is None  # index values do not date the session
    assert pipe.market.index_value("I:SPX", ms + 1001, 5_000) == 5101.5
    assert pipe.market.index_value("I:SPX", ms + 1000, 5_000) == 5100.25  # strictly before
    assert pipe.market.index_value("I:VIX", ms + 600, 5_000) == 14.5
    run = pipe.report(ReplaySource(kind="websocket", session_date="2024-03-07"))
    assert run.report.index_values == 3 and run.bars == []


@pytest.mark.parametrize("prefix", ["", "Live", "-x", "live-", 3])
def test_run_id_prefix_is_checked(prefix: object) -> None:
    with pytest.raises(ConfigError, match="run id prefix"):
        Pipeline(get_plugin_manager(), store=Store(":memory:"),
                 run_id_prefix=prefix)  # type: ignore[arg-type]


def test_unknown_detector_is_named() -> None:
    with pytest.raises(ConfigError, match="unknown detector 'nope'"):
        Pipeline(get_plugin_manager(), detectors=["nope"], store=Store(":memory:"),
                 run_id_prefix="replay")
