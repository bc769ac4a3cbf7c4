"""``spxcc serve``: run the host — live from Massive or a recorded session at a chosen speed —
with the websocket hub and the command-center page on one port."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from spxcc_core.cli.live import API_KEY_ENV, API_KEY_SECRET, HUB_TOKEN_HASH_ENV
from spxcc_core.cli.parser import examples
from spxcc_core.cli.runargs import (
    DB_HELP,
    add_execute_args,
    add_selection_args,
    db_argument,
    detector_names,
    execute_options,
    option_given,
    run_profile,
)
from spxcc_core.errors import ConfigError

if TYPE_CHECKING:
    from spxcc_core.host.app import Host
    from spxcc_core.host.config import HostConfig
    from spxcc_core.run.steps import RecordedSession

__all__ = ["LIVE_ONLY", "REPLAY_ONLY", "check_mode_options", "register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve", help="run the host: live or a replayed session, with the command-center page",
        description="Run the embedded host (docs/embedding.md): the pipeline, the websocket hub "
                    "and the command-center page at http://HOST:PORT/ (same port). --live "
                    "reads Massive (the API key from --api-key-env or the vault, as spxcc "
                    "live); --replay plays a recorded session (a .jsonl recording, a session "
                    "cache or flat files) paced in event time x --speed, so the page can be tried without a market-data account. Binds "
                    "127.0.0.1 unless --bind-any, which needs a hub token hash. An option of "
                    "the other mode (marked --live: or --replay: below) is refused, exit 2: "
                    "it would have no effect.",
        **examples('spxcc serve --replay session.jsonl --speed 60', 'spxcc serve --replay cache/2025-12-12 --speed 0 --execute paper', 'spxcc serve --live --url wss://socket.massive.com/stocks --subscribe T.SPY,Q.SPY'))
    source = p.add_mutually_exclusive_group()
    source.add_argument("--live", action="store_true",
                        help="run live from Massive (--url and --subscribe, or [live] in "
                             "--config)")
    source.add_argument("--replay", type=Path, default=None, metavar="SESSION",
                        help="replay a websocket recording (.jsonl / .jsonl.gz, e.g. from "
                             "spxcc live --record), a session cache or a folder of Massive "
                             "flat files")
    p.add_argument("--config", type=Path, default=None, metavar="HOST.toml",
                   help="host configuration file (docs/embedding.md); options given here "
                        "override it")
    p.add_argument("--speed", type=float, default=None, metavar="X",
                   help="--replay: pace, event seconds per wall second (default 60; 0: as fast "
                        "as possible)")
    p.add_argument("--linger", type=float, default=None, metavar="S",
                   help="--replay: after the replay ends, keep serving the page S seconds (default: until "
                        "Ctrl-C)")
    p.add_argument("--bind", default=None, metavar="HOST:PORT",
                   help="where the hub and the page listen (default 127.0.0.1:8765; port 0: "
                        "any free port)")
    p.add_argument("--bind-any", action="store_true",
                   help="allow a non-loopback --bind (refused without a hub token hash)")
    p.add_argument("--hub-token-hash", default=None, metavar="sha256:HEX",
                   help=f"hash of the token that unlocks the account channels; default "
                        f"${HUB_TOKEN_HASH_ENV}")
    p.add_argument("--hub-origin", action="append", default=[], metavar="ORIGIN",
                   help="another browser origin allowed to connect (the page's own is)")
    p.add_argument("--no-page", action="store_true", help="serve the hub only, no page")
    p.add_argument("--db", type=db_argument, default=None, metavar="PATH|URL",
                   help=f"{DB_HELP} (default: db of --config, else memory)")
    add_selection_args(p)
    add_execute_args(p, "--replay: execute triggered setups on this broker (paper) with the "
                        "profile's [execution] policy, every intent through the host's routing "
                        "worker: orders, fills and positions on the page (docs/execution.md)")
    p.add_argument("--url", action="append", default=None, metavar="WS_URL",
                   help="--live: Massive websocket URL (repeat per cluster)")
    p.add_argument("--subscribe", default=None, metavar="T.SPY,Q.SPY",
                   help="--live: comma-separated channel params")
    p.add_argument("--api-key-env", default=None, metavar="VAR",
                   help=f"--live: variable holding the API key (default: live.api_key_env of "
                        f"--config, else {API_KEY_ENV}); when unset the vault's "
                        f"{API_KEY_SECRET!r} is used")
    p.add_argument("--key-file", type=Path, default=None, metavar="PATH",
                   help="--live: vault master key file, to read the API key from the vault "
                        "(default $SPXCC_MASTER_KEY)")
    p.add_argument("--connect-timeout", type=float, default=None, metavar="S",
                   help="--live: exit 2 when no handshake succeeded after S seconds "
                        "(default 30)")
    p.add_argument("--duration", type=float, default=None, metavar="S",
                   help="--live: end the session after S seconds")
    p.set_defaults(func=_run)


def _config(args: argparse.Namespace) -> HostConfig:
    """The configuration file (or the defaults) with the command-line options applied."""
    from spxcc_core.host.auth import TokenHash
    from spxcc_core.host.config import HostConfig, load_host_config
    from spxcc_core.host.hub import parse_hostport

    cfg = load_host_config(args.config) if args.config is not None else HostConfig()
    hub = cfg.hub
    if args.bind is not None:  # named as given (the file's hub.bind is checked by the Host)
        parse_hostport(args.bind, option="--bind")
    token_hash = args.hub_token_hash or hub.token_hash
    if args.hub_token_hash:
        TokenHash.parse(args.hub_token_hash, where="--hub-token-hash")
    if token_hash is None and hub.token_hash_env is None:
        token_hash = os.environ.get(HUB_TOKEN_HASH_ENV) or None
        if token_hash is not None:
            TokenHash.parse(token_hash, where=f"${HUB_TOKEN_HASH_ENV}")
    hub = attrs.evolve(hub, bind=args.bind or hub.bind, bind_any=args.bind_any or hub.bind_any,
                       token_hash=token_hash, page=hub.page and not args.no_page,
                       allowed_origins=[*hub.allowed_origins, *args.hub_origin])
    live = cfg.live
    if args.url:
        live = attrs.evolve(live, urls=list(args.url))
    if args.subscribe is not None:
        subs = [s.strip() for s in args.subscribe.split(",") if s.strip()]
        if not subs:
            raise ConfigError("--subscribe: give at least one channel, e.g. T.SPY,Q.SPY")
        live = attrs.evolve(live, subscribe=subs)
    if args.connect_timeout is not None:
        if not args.connect_timeout > 0:
            raise ConfigError(f"--connect-timeout must be > 0 seconds, got {args.connect_timeout}")
        live = attrs.evolve(live, connect_timeout_s=args.connect_timeout)
    if args.api_key_env is not None:
        live = attrs.evolve(live, api_key_env=args.api_key_env)
    replay = cfg.replay
    if args.replay is not None:
        replay = attrs.evolve(replay, session=str(args.replay))
    if args.speed is not None:
        if not args.speed >= 0:
            raise ConfigError(f"--speed must be >= 0 (0: as fast as possible), got {args.speed}")
        replay = attrs.evolve(replay, speed=args.speed)
    pipeline = cfg.pipeline
    names = detector_names(args.detectors)
    if names is not None:
        pipeline = attrs.evolve(pipeline, detectors=names)
    if args.profile is not None:
        pipeline = attrs.evolve(pipeline, profile=str(args.profile))
    db = str(args.db) if args.db is not None else cfg.db
    return attrs.evolve(cfg, db=db, hub=hub, live=live, replay=replay, pipeline=pipeline)


#: Options of one mode only, with what they do: given in the other mode, they would do
#: nothing, so the run is refused (:func:`check_mode_options`).
REPLAY_ONLY: tuple[tuple[str, str], ...] = (
    ("--speed", "speed"), ("--linger", "linger"), ("--execute", "execute"),
    ("--execute-option", "execute_option"))
LIVE_ONLY: tuple[tuple[str, str], ...] = (
    ("--url", "url"), ("--subscribe", "subscribe"), ("--api-key-env", "api_key_env"),
    ("--key-file", "key_file"), ("--connect-timeout", "connect_timeout"),
    ("--duration", "duration"))


def check_mode_options(args: argparse.Namespace, *, live: bool, why: str) -> None:
    """Refuse an option of the other mode: ``--speed``, ``--linger``, ``--execute`` and
    ``--execute-option`` apply to ``--replay`` only; ``--url``, ``--subscribe``,
    ``--api-key-env``, ``--key-file``, ``--connect-timeout`` and ``--duration`` to ``--live``
    only. Also ``--execute-option`` without ``--execute``. Looks only at ``args``.

    :param live: the run's mode (True: live, False: replay).
    :param why: how the mode was chosen, for the message (e.g. ``"--live"`` or ``"[live] in
        --config"``).
    :raises ConfigError: one line naming the first such option and the mode it belongs to.
    """
    if live and args.execute is not None:
        raise ConfigError(f"spxcc serve --execute runs with --replay, this run is live "
                          f"({why}); to execute live use spxcc live --execute NAME (with "
                          f"--serve for the hub)")
    other, mode = (REPLAY_ONLY, "--replay") if live else (LIVE_ONLY, "--live")
    for option, dest in other:
        if option_given(getattr(args, dest)):
            raise ConfigError(f"spxcc serve: {option} is an option of {mode}, and this run is "
                              f"{'live' if live else 'a replay'} ({why}): it would have no "
                              f"effect")
    if args.execute_option and args.execute is None:
        raise ConfigError("spxcc serve: --execute-option needs --execute BROKER (it would "
                          "have no effect)")


def _run(args: argparse.Namespace) -> int:
    """Check every input, then serve: the hub binds (and its address is printed) only once the
    options, the configuration, the profile, the detectors, the chain snapshot, the store, the
    execution broker, the feed's URLs and channels and its key (``--live``) or the whole
    session (``--replay``) have been read and found good; a bad one is one line, exit 2. An
    option of the other mode is refused (:func:`check_mode_options`)."""
    from spxcc_core.host.app import Host

    if args.live or args.replay is not None:  # the mode is given: check before any value
        check_mode_options(args, live=args.live, why="--live" if args.live else "--replay")
    if args.linger is not None and not args.linger >= 0:
        raise ConfigError(f"--linger must be >= 0 seconds, got {args.linger}")
    if args.duration is not None and not args.duration > 0:
        raise ConfigError(f"--duration must be > 0 seconds, got {args.duration}")
    cfg = _config(args)
    live = args.live or (args.replay is None and cfg.replay.session is None and bool(
        cfg.live.urls))
    if not live and cfg.replay.session is None:
        raise ConfigError("spxcc serve: give --live or --replay SESSION (or [live] / "
                          "[replay] in --config)")
    if not args.live and args.replay is None:  # the mode comes from --config
        check_mode_options(args, live=live, why=f"[{'live' if live else 'replay'}] in --config")
    # no profile given: the profile store's active one, as spxcc replay and live (else default)
    profile = run_profile(None) if cfg.pipeline.profile is None else None
    broker = None
    if args.execute is not None:  # a replay (check_mode_options)
        from spxcc_core.plugins import get_plugin_manager
        from spxcc_core.run.setup import execution_broker

        broker = execution_broker(get_plugin_manager(), args.execute,
                                  execute_options(args.execute, args.execute_option))
    # refuses a non-loopback bind without --bind-any + hash
    host = Host(cfg, profile=profile, broker=broker)
    key = None
    with contextlib.ExitStack() as stack:
        session: Path | RecordedSession | None = None
        if live:
            if not cfg.live.urls or not cfg.live.subscribe:
                raise ConfigError("--live needs --url and --subscribe (or [live] in --config)")
            from spxcc_core.cli.live import api_key_of
            from spxcc_core.host.live import check_routes

            check_routes(cfg.live.urls, cfg.live.subscribe)  # before the key is read
            args.db = args.db if args.db is not None else cfg.db
            args.api_key_env = cfg.live.api_key_env
            key = api_key_of(args)
        else:
            # the whole session is read (a recording) or opened (a cache, flat files ingested)
            # before the hub binds: a bad one never follows the address line
            session = _session(cfg, stack, execute=args.execute is not None)
        # Host.start checks the store, profile, detectors and chain before it binds
        return asyncio.run(_serve(host, args, key, session))


async def _serve(host: Host, args: argparse.Namespace, key: str | None,
                 session: Path | RecordedSession | None) -> int:
    loop = asyncio.get_running_loop()
    ended = asyncio.Event()

    def on_signal() -> None:
        host.request_stop()
        ended.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, on_signal)
    try:
        async with host:
            print(f"serving the command center on {host.page_url} (hub {host.hub.url})",
                  flush=True)
            if key is not None:
                return await _live(host, args, key)
            assert session is not None
            run = await host.replay(session)
            print(f"replay ended: {run.report.aggregation.events_in:,} events, "
                  f"{len(run.bars):,} bars, {len(run.setups)} setups, "
                  f"{len(run.decisions)} gate decisions", flush=True)
            if run.execution is not None:
                from spxcc_core.cli.replay import execution_lines

                for line in execution_lines(run.execution.report):
                    print(line, flush=True)
            if not host.stop_requested:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ended.wait(), timeout=args.linger)
            return 0
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)


def _session(cfg: HostConfig, stack: contextlib.ExitStack, *,
             execute: bool = False) -> Path | RecordedSession:
    """The configured replay session, checked: a recording as is, once read whole
    (:func:`~spxcc_core.replay.engine.check_recording`); a session cache (opened, its datasets
    checked) or a folder of flat files (ingested into a temporary cache, removed by ``stack``)
    as timed steps (1 s of event time when paced, 60 s at speed 0).

    :raises InputError: no such session, not one of the three, or an unreadable, malformed or
        empty one.
    """
    from spxcc_core.replay.cache import ingest, open_cache
    from spxcc_core.replay.engine import DEFAULT_STEP_MS, check_recording, session_kind
    from spxcc_core.replay.steps import cache_session

    assert cfg.replay.session is not None
    path = Path(cfg.replay.session)
    kind = session_kind(path)
    if kind == "websocket":
        check_recording(path)
        return path
    if kind == "cache":
        cache = open_cache(path)
    else:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="spxcc-serve-")))
        cache = ingest(path, tmp / "cache")
    # paced: 1-second steps of event time (smooth on the page); as fast as possible: the
    # replay engine's 60-second steps (same outputs, far fewer pipeline steps)
    step_ms = DEFAULT_STEP_MS if cfg.replay.speed == 0 else 1000
    return cache_session(cache, kind=kind, step_ms=step_ms,
                         with_index=True if cfg.pipeline.chain is not None or execute else None,
                         with_option_quotes=execute)


async def _live(host: Host, args: argparse.Namespace, key: str) -> int:
    from spxcc_core.cli.live import no_data_error

    result = await host.live(api_key=key, duration_s=args.duration)
    r = result.report
    print(f"live session ended ({r.stop_reason}): {result.run.report.aggregation.events_in:,} "
          f"events, {len(result.run.bars):,} bars, {len(result.run.setups)} setups, "
          f"{r.connections} connection(s)", flush=True)
    for g in r.gaps:
        print(f"feed gap: {g.url}: events {g.from_ms} .. {g.to_ms} ms ({g.reason})")
    if r.error is not None:
        print(f"spxcc: error: {r.error}", file=sys.stderr)
        return 2
    return no_data_error(result)
