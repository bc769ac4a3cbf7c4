"""Hub fan-out and live-path throughput (issue 13, performance).

``hub_fanout``: one microbar per second per symbol for 20 symbols, published on a
:class:`~spxcc_core.host.hub.Hub` to 500 websocket clients on loopback (each subscribed to
``microbar@2``), 20 s. The hub runs in a fresh process of its own and the clients in two
others (250 each), so the hub's RSS and CPU time are its own and its event loop is not the
clients'. Each client notes, per message, its receive wall time minus the envelope's ``ts``
(the hub's publish time, whole epoch ms: a figure is 0-1 ms above the true delay), i.e. the
delivery latency. The clients are lean: websockets' sans-I/O protocol driven by
``asyncio.Protocol`` callbacks, a message stamped when its bytes reach the client process,
so the figure is the hub's and the machine's, not a client library's. Figures: p50 / p99 /
max latency, messages delivered vs expected, the hub process's resident memory per connected
client (RSS with the clients connected and subscribed minus RSS before, / 500), its CPU time
over the publishing period (share of one core, and per delivered message: less sensitive to
the machine's load than the latency), the clients' CPU share, and the load average.

``hub_fanout_wsclients``: the same with the websockets library's asyncio client (a task per
connection, ``recv()`` per message, compression offered; the hub does not accept it by
default). ``hub_fanout_deflate``: that, with the hub's permessage-deflate on
(``HubConfig(compression=True)``: every client compressed on its own, the hub's behaviour
before compression became opt-in).

``live_events``: a minimal Massive-speaking websocket server in another process sends
200,000 trades and quotes (frames of 100 events, as fast as the socket takes them) to
:func:`~spxcc_core.host.live.run_live` (pipeline, default detectors, in-memory store, no hub
subscriber); events per second over the time from the start to the last message processed
(from the connection attempt to the last message processed: the run's set-up and the silent
tail before the idle end are not counted).

Run: ``python -m benchmarks --only hub_fanout`` (``hub_fanout_wsclients``,
``hub_fanout_deflate``) / ``--only live_events`` (``--quick``: 100 clients for 3 s; 50,000
events).
"""

from __future__ import annotations

import asyncio
import functools
import json
import multiprocessing as mp
import os
import queue
import time
from typing import Any

from benchmarks.registry import BenchContext, BenchResult, benchmark, rss_mb

SYMBOLS = 20
TAIL_S = 60.0  # how long the hub waits after the last bar for every client to have every bar
T0 = 1_709_821_800_000  # 2024-03-07 09:30:00 New York
KEY = "bench-key-not-a-secret"


# ----------------------------------------------------------------------------- fan-out

_SUBSCRIBE = '{"action": "subscribe", "channels": ["microbar@2"]}'


def _latency_ms(body: bytes, now_ms: float) -> float | None:
    """Receive time minus the envelope's ``ts``; None for a ``hub_status`` message."""
    if body.startswith(b'{"type":"hub_status"'):
        return None
    at = body.index(b'"ts":') + 5
    return now_ms - int(body[at:body.index(b",", at)])


def _lean_clients_main(url: str, n: int, seconds: float, expected: int, out: Any, ready: Any,
                       finished: Any) -> None:
    """``n`` clients on websockets' sans-I/O protocol, driven by ``asyncio.Protocol`` callbacks
    (no task per connection, none per message, no compression offered). A message is stamped
    when its bytes reach the process (``data_received``), before it is parsed. Puts 1 on
    ``ready`` when a client is subscribed and on ``finished`` when it has ``expected`` bars;
    the latencies (ms) and the process's CPU share on ``out`` at the end."""
    from websockets.client import ClientProtocol
    from websockets.frames import Frame, Opcode
    from websockets.http11 import Response
    from websockets.uri import parse_uri

    uri = parse_uri(url)
    lat: list[float] = []

    class Client(asyncio.Protocol):
        def __init__(self, done: asyncio.Future[None]) -> None:
            self.ws = ClientProtocol(uri)
            self.done = done
            self.subscribed = False
            self.bars = 0
            self.transport: Any = None

        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            self.ws.send_request(self.ws.connect())
            self.flush()

        def data_received(self, data: bytes) -> None:
            now = time.time() * 1000
            self.ws.receive_data(data)
            for event in self.ws.events_received():
                if isinstance(event, Response):
                    self.ws.send_text(_SUBSCRIBE.encode())
                elif isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                    body = bytes(event.data)
                    ms = _latency_ms(body, now)
                    if ms is not None:
                        lat.append(ms)
                        self.bars += 1
                        if self.bars == expected:
                            finished.put(1)
                    elif not self.subscribed and b'"status":"subscribed"' in body:
                        self.subscribed = True
                        ready.put(1)
            self.flush()

        def flush(self) -> None:
            for data in self.ws.data_to_send():
                if data:
                    self.transport.write(data)
                else:  # the protocol's end of the connection
                    self.transport.close()

        def connection_lost(self, exc: Exception | None) -> None:
            if not self.done.done():
                self.done.set_result(None)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        done: list[asyncio.Future[None]] = []
        for _ in range(n):
            fut: asyncio.Future[None] = loop.create_future()
            await loop.create_connection(functools.partial(Client, fut), uri.host, uri.port)
            done.append(fut)
        await asyncio.wait(done, timeout=seconds)  # the hub closes every connection at the end

    cpu0, wall0 = time.process_time(), time.perf_counter()
    asyncio.run(main())
    out.put((lat, (time.process_time() - cpu0) / (time.perf_counter() - wall0)))


def _library_clients_main(url: str, n: int, seconds: float, expected: int, out: Any,
                          ready: Any, finished: Any) -> None:
    """``n`` clients of the websockets library's asyncio client (a task per connection, its
    default compression offer), stamping each message when ``recv()`` returns it; otherwise as
    :func:`_lean_clients_main`."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    async def one(lat: list[float], deadline: float) -> None:
        async with connect(url, proxy=None, max_queue=None) as ws:
            await ws.recv()
            await ws.send(_SUBSCRIBE)
            await ws.recv()
            ready.put(1)
            bars = 0
            while time.time() < deadline:
                try:
                    message = await asyncio.wait_for(ws.recv(decode=False), deadline - time.time())
                except (TimeoutError, ConnectionClosed):  # the hub closes at the end
                    break
                ms = _latency_ms(message, time.time() * 1000)
                if ms is not None:
                    lat.append(ms)
                    bars += 1
                    if bars == expected:
                        finished.put(1)

    async def main() -> list[float]:
        lat: list[float] = []
        deadline = time.time() + seconds
        await asyncio.gather(*(one(lat, deadline) for _ in range(n)))
        return lat

    cpu0, wall0 = time.process_time(), time.perf_counter()
    lat = asyncio.run(main())
    out.put((lat, (time.process_time() - cpu0) / (time.perf_counter() - wall0)))


def _bar(symbol: str, start_ms: int) -> Any:
    from spxcc_core.contracts.microbar import MicrobarV2

    return MicrobarV2(symbol=symbol, start_ms=start_ms, interval_ms=1000, open=511.0,
                      high=511.5, low=510.5, close=511.25, volume=300.0, trade_count=3,
                      vwap=511.1, delta_volume=-100.0, bid_ask_imbalance=0.25,
                      ask_bid_size_ratio=1.5, quote_coverage_pct=100.0, avg_spread_bps=0.39,
                      bid_size_at_close=4.0, ask_size_at_close=6.0, quote_count=7)


async def _fanout(clients: int, seconds: float, *, lean: bool,
                  hub_options: dict[str, Any]) -> dict[str, Any]:
    from spxcc_core.host.hub import Hub, HubConfig

    ctx = mp.get_context("spawn")
    out, ready, finished = ctx.Queue(), ctx.Queue(), ctx.Queue()
    symbols = [f"S{i:02d}" for i in range(SYMBOLS)]
    expected = SYMBOLS * int(seconds)
    target = _lean_clients_main if lean else _library_clients_main
    rss0 = rss_mb()
    async with Hub(config=HubConfig(max_connections=clients + 10, **hub_options)) as hub:
        procs = [ctx.Process(target=target, args=(hub.url, clients // 2, seconds + TAIL_S + 30,
                                                  expected, out, ready, finished))
                 for _ in range(2)]
        for p in procs:
            p.start()
        loop = asyncio.get_running_loop()
        for _ in range(clients):
            await loop.run_in_executor(None, ready.get)
        await asyncio.sleep(0.5)
        rss1 = rss_mb()
        published = 0
        load0 = os.getloadavg()[0]
        t_start = time.perf_counter()
        cpu0 = time.process_time()
        for second in range(int(seconds)):
            for sym in symbols:  # one bar per symbol per second, spread over the second
                hub.publish([_bar(sym, T0 + second * 1000)])
                published += 1
                await asyncio.sleep(1.0 / SYMBOLS)
        elapsed = time.perf_counter() - t_start
        complete = await _wait_for(finished, clients, TAIL_S)  # every client has every bar
        tail = time.perf_counter() - t_start - elapsed
        cpu = time.process_time() - cpu0
        load1 = os.getloadavg()[0]
        stats = hub.stats()
        await hub.close()
    lat: list[float] = []
    client_cpu: list[float] = []
    for _ in procs:
        got, share = await loop.run_in_executor(None, out.get)
        lat.extend(got)
        client_cpu.append(share)
    for p in procs:
        p.join(10)
    lat.sort()

    def pct(q: float) -> float | None:
        return lat[min(len(lat) - 1, int(q * len(lat)))] if lat else None

    return {"clients": clients, "bars_published": published, "publish_seconds": elapsed,
            "delivered": len(lat), "expected": published * clients,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": lat[-1] if lat else None,
            "rss_per_client_kib": (rss1 - rss0) * 1024 / clients,
            "complete_clients": complete, "tail_seconds": tail,
            "hub_cpu_share": cpu / (elapsed + tail),
            "hub_cpu_us_per_delivery": 1e6 * cpu / len(lat) if lat else None,
            "client_cpu_share": sum(client_cpu) / len(client_cpu),
            "slow_disconnects": stats.slow_disconnects, "load": (load0, load1)}


async def _wait_for(q: Any, n: int, limit_s: float) -> int:
    """Take up to ``n`` items from the process queue ``q`` within ``limit_s``: how many came."""
    loop = asyncio.get_running_loop()
    end = time.perf_counter() + limit_s
    for got in range(n):
        left = end - time.perf_counter()
        try:
            await loop.run_in_executor(None, functools.partial(q.get, timeout=max(left, 0.001)))
        except queue.Empty:
            return got
    return n


def _hub_main(clients: int, seconds: float, lean: bool, hub_options: dict[str, Any],
              out: Any) -> None:
    """The hub's process: :func:`_fanout`'s figures on ``out``."""
    out.put(asyncio.run(_fanout(clients, seconds, lean=lean, hub_options=hub_options)))


def _fanout_result(name: str, ctx: BenchContext, *, lean: bool,
                   hub_options: dict[str, Any]) -> BenchResult:
    clients, seconds = (100, 3.0) if ctx.quick else (500, 20.0)
    spawn = mp.get_context("spawn")
    out = spawn.Queue()  # a fresh process: its RSS and CPU time are the hub's alone
    proc = spawn.Process(target=_hub_main, args=(clients, seconds, lean, hub_options, out))
    proc.start()
    f = out.get(timeout=seconds + 300)
    proc.join(30)
    res = BenchResult(name)
    res.metric("clients", f["clients"], "")
    res.metric("delivered", f["delivered"], "messages",
               f"expected {f['expected']:,}; {f['complete_clients']} clients had every bar "
               f"{f['tail_seconds']:.2f} s after the last was published (limit {TAIL_S:.0f} s)")
    res.metric("latency p50", f["p50_ms"], "ms")
    res.metric("latency p99", f["p99_ms"], "ms")
    res.metric("latency max", f["max_ms"], "ms")
    res.metric("hub RSS per client", f["rss_per_client_kib"], "KiB")
    res.metric("hub process CPU", 100 * f["hub_cpu_share"], "% of one core",
               "from the first bar published to the last delivered")
    res.metric("hub CPU per delivered message", f["hub_cpu_us_per_delivery"], "us",
               "less sensitive to the machine's load than the latency")
    res.metric("client process CPU", 100 * f["client_cpu_share"], "% of one core",
               "mean of the two client processes over their lifetime")
    res.metric("slow disconnects", f["slow_disconnects"], "")
    res.metric("load average (1 min)", max(f["load"]), "",
               f"{f['load'][0]:.2f} at the start of publishing, {f['load'][1]:.2f} at the end; "
               f"{os.cpu_count()} cores")
    p99 = f["p99_ms"]
    res.target("p99 delivery latency < 50 ms", None if p99 is None else p99 < 50,
               f"p99 {p99} ms over {f['delivered']:,} deliveries")
    return res


@benchmark("hub_fanout", "hub: 20 symbols x 1 microbar/s to 500 websocket clients (p99 latency, "
                         "memory and CPU per client)")
def hub_fanout(ctx: BenchContext) -> BenchResult:
    return _fanout_result("hub_fanout", ctx, lean=True, hub_options={})


@benchmark("hub_fanout_wsclients", "hub_fanout with websockets-library asyncio clients (a task "
                                   "per connection; compression offered)")
def hub_fanout_wsclients(ctx: BenchContext) -> BenchResult:
    return _fanout_result("hub_fanout_wsclients", ctx, lean=False, hub_options={})


@benchmark("hub_fanout_deflate", "hub_fanout_wsclients with the hub's permessage-deflate on "
                                 "(HubConfig(compression=True): each client compressed apart)")
def hub_fanout_deflate(ctx: BenchContext) -> BenchResult:
    return _fanout_result("hub_fanout_deflate", ctx, lean=False,
                          hub_options={"compression": True})


# ----------------------------------------------------------------------------- live path


def _server_main(port_out: Any, frames: list[str]) -> None:
    """A Massive-speaking server: handshake, then every frame as fast as it can send."""
    from websockets.asyncio.server import serve

    def status(name: str) -> str:
        return json.dumps([{"ev": "status", "status": name, "message": name}])

    async def handle(ws: Any) -> None:
        await ws.send(status("connected"))
        await ws.recv()
        await ws.send(status("auth_success"))
        await ws.recv()
        await ws.send(status("success"))
        for frame in frames:
            await ws.send(frame)
        await ws.wait_closed()

    async def main() -> None:
        async with serve(handle, "127.0.0.1", 0, max_size=None) as server:
            port_out.put(next(iter(server.sockets)).getsockname()[1])
            await asyncio.Future()

    asyncio.run(main())


def _frames(events: int, per_frame: int = 100) -> list[str]:
    out, batch = [], []
    for i in range(events):
        t = T0 + i // 20  # 20 events per millisecond: 200,000 events span 10 s
        if i % 2:
            batch.append({"ev": "T", "sym": "SPY", "p": 511.0 + (i % 7) * 0.01, "s": 100,
                          "t": t, "q": i})
        else:
            batch.append({"ev": "Q", "sym": "SPY", "bp": 510.99, "bs": 2, "ap": 511.01,
                          "as": 3, "t": t, "q": i})
        if len(batch) == per_frame:
            out.append(json.dumps(batch))
            batch = []
    if batch:
        out.append(json.dumps(batch))
    return out


async def _live_once(frames: list[str]) -> tuple[Any, float]:
    """One session against a server process sending ``frames``: (result, wall seconds)."""
    from spxcc_core.host.live import run_live

    spawn = mp.get_context("spawn")
    port_out = spawn.Queue()
    proc = spawn.Process(target=_server_main, args=(port_out, frames), daemon=True)
    proc.start()
    try:
        loop = asyncio.get_running_loop()
        port = await loop.run_in_executor(None, lambda: port_out.get(timeout=60))
        t0 = time.perf_counter()
        result = await run_live(url=f"ws://127.0.0.1:{port}/stocks", api_key=KEY,
                                subscriptions=["T.SPY", "Q.SPY"], idle_timeout_s=1.0,
                                stall_timeout_s=None,
                                connect_kwargs={"proxy": None, "max_size": None})
        return result, time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.join(10)


@benchmark("live_events", "live path: events/s from a fake Massive feed through run_live")
def live_events(ctx: BenchContext) -> BenchResult:
    n = 50_000 if ctx.quick else 200_000
    warm = asyncio.run(_live_once(_frames(2_000)))  # JIT compile and imports, not measured
    result, wall = asyncio.run(_live_once(_frames(n)))
    del warm
    r = result.report  # from the connection attempt to the last message processed
    busy = (r.ended_ms - r.started_ms) / 1000 - (r.input_end.silent_s or 0.0)
    events = result.run.report.aggregation.events_in
    res = BenchResult("live_events")
    res.metric("events", events, "")
    res.metric("bars", len(result.run.bars), "")
    res.metric("events per second", events / busy, "events/s",
               f"{busy:.2f} s from connecting to the last message processed")
    res.metric("session wall time", wall, "s", "run_live set-up and the idle end included")
    res.target("live path sustains 200,000 events/s", events / busy >= 200_000,
               f"{events / busy:,.0f} events/s")
    return res
