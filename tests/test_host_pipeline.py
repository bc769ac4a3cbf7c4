"""The host's per-frame step over the replay engine's pipeline."""

from __future__ import annotations

from pathlib import Path

from test_live_parity import CASE, ws_frames, ws_shaped

from spxcc_core.aggregate.engine import StreamingAggregator
from spxcc_core.detect.profile import default_profile
from spxcc_core.golden.sessions import case_events
from spxcc_core.host.pipeline import HostPipeline, StepOutputs
from spxcc_core.massive.websocket import iter_ws_decoded
from spxcc_core.plugins import get_plugin_manager
from spxcc_core.replay.engine import run_replay
from spxcc_core.store.sqlite import Store


def test_steps_report_exactly_what_a_replay_outputs(tmp_path: Path) -> None:
    rec = tmp_path / "session.jsonl"
    rec.write_text("\n".join(ws_frames(ws_shaped(case_events(CASE)), seed=7)) + "\n")
    pm = get_plugin_manager()
    store = Store(":memory:")
    pipes = [HostPipeline(pm, default_profile(), store, StreamingAggregator()) for _ in range(2)]
    steps: list[list[StepOutputs]] = [[], []]
    for pipe, out in zip(pipes, steps, strict=True):  # two runs on one plugin manager
        agg = pipe.aggregator
        for frame in iter_ws_decoded(rec, ticker=None, symbols=agg.symbols,
                                     conditions=agg.conditions):
            out.append(pipe.push(frame.trades, frame.quotes))
        out.append(pipe.finish())
        assert pipe.finish() == StepOutputs()  # idempotent
    replay = run_replay(rec)
    for out in steps:
        assert [b for s in out for b in s.bars] == replay.bars  # one symbol: emission order
        assert [d for s in out for d in s.decisions] == replay.decisions
        changes = [u for s in out for u in s.setups]
        final = {u.id: u for u in changes}  # each run saw its own changes only, once
        assert sorted(final.values(), key=lambda u: (u.detected_ms, u.id)) == replay.setups
        assert [u.status for u in changes] == ["detected", "triggered", "stopped"]
    assert sum(len(s) for s in steps[0]) == len(replay.bars) + len(replay.decisions) + 3
    for pipe in pipes:
        pipe.close()
        pipe.close()
    assert not [name for name, _ in pm.list_name_plugin() if name.startswith("spxcc-host-")]
    store.close()
