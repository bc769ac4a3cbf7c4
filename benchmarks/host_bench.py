"""The embedded host's replay against the plain replay engine (issue 13 items 1-2).

``host_replay``: one sample session cache (seed 14, scale 0.2; ``--quick`` 0.05) replayed by
:func:`~spxcc_core.replay.engine.run_replay` (60-second steps, nothing published) and by
:meth:`~spxcc_core.host.app.Host.replay` without pacing (``speed=0``), every step's outputs
through a callback and the hub to one websocket subscriber of ``microbar@2``, ``setup@1`` and
``gate_decision@1``: in 60-second steps (what ``spxcc serve --speed 0`` uses) and in 1-second
steps (what a paced replay uses; at ``--speed 60`` the wall time a session needs is its length
/ 60, far above this). Figures: events per second of each, the host's time as a ratio of the
engine's, and the messages the subscriber received. Every run's output files must be identical
(else the benchmark reports a disagreement).

Run: ``python -m benchmarks --only host_replay``.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from benchmarks.registry import BenchContext, BenchResult, benchmark


def _cache(ctx: BenchContext, scale: float) -> Path:
    from spxcc_core.replay.cache import ingest, is_session_cache
    from spxcc_core.sample import default_cache_root, generate_session

    root = ctx.cache_dir or default_cache_root()
    sample = generate_session(root, seed=14, scale=scale)
    cache = root / f"cache-{sample.root.name}"
    if not is_session_cache(cache):
        ingest(sample.root, cache)
    return cache


async def _host_replay(cache_path: Path, step_ms: int) -> tuple[Any, int, int, float]:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    from spxcc_core.host.app import Host
    from spxcc_core.host.config import HostConfig, HubSection
    from spxcc_core.replay.cache import open_cache
    from spxcc_core.replay.steps import cache_session

    bars = 0

    def count(_: object) -> None:
        nonlocal bars
        bars += 1

    async def listen(ws: Any) -> int:
        n = 0
        try:
            async for message in ws:
                if not str(message).startswith('{"type":"hub_status"'):
                    n += 1
        except ConnectionClosed:
            pass
        return n

    host = Host(HostConfig(hub=HubSection(bind="127.0.0.1:0", page=False)))
    host.on_microbar(count)
    async with host:
        ws = await connect(host.hub.url, proxy=None, max_queue=None)
        await ws.send(json.dumps({"action": "subscribe",
                                  "channels": ["microbar@2", "setup@1", "gate_decision@1"]}))
        listener = asyncio.ensure_future(listen(ws))
        await asyncio.sleep(0.2)
        t = time.perf_counter()
        result = await host.replay(cache_session(open_cache(cache_path), step_ms=step_ms),
                                   speed=0)
        seconds = time.perf_counter() - t
    received = await asyncio.wait_for(listener, 60)
    return result, bars, received, seconds


@benchmark("host_replay", "host: Host.replay (1 s steps, callbacks, hub subscriber) vs run_replay")
def host_replay(ctx: BenchContext) -> BenchResult:
    from spxcc_core.replay.cache import open_cache
    from spxcc_core.replay.engine import run_replay

    res = BenchResult("host_replay")
    cache_path = _cache(ctx, 0.05 if ctx.quick else 0.2)
    events = open_cache(cache_path).total_events
    run_replay(cache_path)  # warm-up: imports, kernels, calendar
    t = time.perf_counter()
    engine = run_replay(cache_path)
    engine_s = time.perf_counter() - t
    res.metric("events", float(events), "")
    res.metric("run_replay (60 s steps)", events / engine_s, "events/s")
    for step_ms in (60_000, 1000):
        host, bars, received, host_s = asyncio.run(_host_replay(cache_path, step_ms))
        if host.outputs() != engine.outputs():
            res.disagreements.append(f"Host.replay ({step_ms} ms steps): output files differ "
                                     "from run_replay's")
        if bars != len(engine.bars):
            res.disagreements.append(f"the microbar callback saw {bars} bars, the run has "
                                     f"{len(engine.bars)}")
        label = f"Host.replay ({step_ms // 1000} s steps)"
        res.metric(label, events / host_s, "events/s")
        res.metric(f"{label} / run_replay time", host_s / engine_s, "x")
        res.metric(f"{label}: messages received", float(received), "",
                   f"{len(engine.bars)} bars, {len(engine.decisions)} decisions, the rest "
                   "setup changes")
    return res
