"""``spxcc live``: the Massive live feed through the session pipeline, served on a websocket hub."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from spxcc_core.cli.runargs import (
    DB_HELP,
    add_execute_args,
    add_selection_args,
    db_argument,
    detector_names,
    execute_options,
    option_given,
    run_profile,
    store_path,
)
from spxcc_core.errors import ConfigError

if TYPE_CHECKING:
    from spxcc_core.broker.interface import BrokerAdapter
    from spxcc_core.host.hub import HubConfig
    from spxcc_core.host.live import LiveResult

__all__ = ["API_KEY_ENV", "API_KEY_SECRET", "EXECUTE_OPTIONS", "HUB_OPTIONS", "HUB_TOKEN_HASH_ENV",
           "api_key_of", "check_dependent_options", "no_data_error", "register"]

#: Default environment variable holding the Massive API key.
API_KEY_ENV = "MASSIVE_API_KEY"
#: Vault name of the Massive API key (``spxcc secrets set massive_api_key``).
API_KEY_SECRET = "massive_api_key"
#: Environment variable holding the hub token's hash (``sha256:<hex>``).
HUB_TOKEN_HASH_ENV = "SPXCC_HUB_TOKEN_HASH"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "live", help="run the live Massive feed through the pipeline; serve outputs on a hub",
        description="Connect to a Massive websocket, push every frame through the same pipeline "
                    "as `spxcc replay` (microbars, detectors, gating, setup lifecycle, store) "
                    "and publish microbars, setups and gate decisions on a websocket hub. The "
                    "API key comes from --api-key-env or the vault (secret massive_api_key), "
                    "never from the command line. Several --url open one connection per "
                    "Massive cluster (e.g. stocks and indices), merged into one stream. The session ends after --duration, after "
                    "--idle-timeout without a trade or quote, or on Ctrl-C; --record writes a "
                    "recording that `spxcc replay` turns into byte-identical outputs. The hub "
                    "options (--bind-any ... --hub-compression) need --serve, and "
                    "--execute-option, --execute-account, --execute-sandbox and "
                    "--reconcile-policy need --execute: without it they would have no effect, "
                    "so they are refused (exit 2).")
    p.add_argument("--url", required=True, action="append", metavar="WS_URL",
                   help="Massive websocket URL, e.g. wss://socket.massive.com/stocks; repeat "
                        "it for one connection per cluster (e.g. also .../indices for V.I:SPX): "
                        "each channel goes to its cluster's URL, the messages are merged into "
                        "one stream")
    p.add_argument("--subscribe", required=True, metavar="T.SPY,Q.SPY",
                   help="comma-separated channel params (T.* trades, Q.* quotes, V.* values); "
                        "with several --url, V.* and I:* go to indices, O:* to options, the "
                        "rest to stocks")
    p.add_argument("--api-key-env", default=API_KEY_ENV, metavar="VAR",
                   help=f"environment variable holding the API key (default {API_KEY_ENV}); "
                        f"when unset the vault's {API_KEY_SECRET!r} is used")
    p.add_argument("--api-key", nargs="?", action=_RefuseKey, help=argparse.SUPPRESS)
    p.add_argument("--key-file", type=Path, default=None, metavar="PATH",
                   help="vault master key file (default $SPXCC_MASTER_KEY)")
    p.add_argument("--serve", default=None, metavar="HOST:PORT",
                   help="serve the websocket hub here (port 0: any free port); default: no hub")
    p.add_argument("--bind-any", action="store_true",
                   help="allow a non-loopback --serve address (refused without a hub token "
                        "hash), as spxcc serve")
    p.add_argument("--queue-size", type=int, default=None, metavar="N",
                   help="messages a hub subscriber may fall behind before it is dropped "
                        "(default 10000)")
    p.add_argument("--queue-bytes", type=int, default=None, metavar="BYTES",
                   help="bytes a hub subscriber may fall behind before it is dropped "
                        "(default 8 MiB)")
    p.add_argument("--max-connections", type=int, default=None, metavar="N",
                   help="hub connections at most; more are refused (HTTP 503; default 1000)")
    p.add_argument("--retain", type=int, default=None, metavar="N",
                   help="messages the hub keeps per channel for clients that ask for a replay "
                        "(default 10000; 0: no replay)")
    p.add_argument("--hub-token-hash", default=None, metavar="sha256:HEX",
                   help=f"hash of the token that unlocks the account channels (fill@1, "
                        f"position@1, reconcile_status@1); default ${HUB_TOKEN_HASH_ENV}; "
                        "none: those channels are off. python -m spxcc_core.host.auth prints "
                        "a new token and its hash")
    p.add_argument("--hub-origin", action="append", default=[], metavar="ORIGIN",
                   help="browser origin allowed to connect to the hub, e.g. "
                        "http://127.0.0.1:8765 (repeat it; requests without an Origin header "
                        "are always allowed)")
    p.add_argument("--v1-only", action="store_true",
                   help="serve microbar@1 only (the rollback switch: microbar@2 is off)")
    p.add_argument("--hub-compression", action="store_true",
                   help="accept permessage-deflate from hub clients that offer it (off by "
                        "default: it costs CPU and memory per client; worth it only on slow "
                        "links)")
    p.add_argument("--record", type=Path, default=None, metavar="FILE.jsonl",
                   help="record every received message (replayable with spxcc replay)")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="write microbars.jsonl, setups.jsonl, gate_decisions.jsonl, "
                        "quarantine.jsonl, report.json and live.json here")
    p.add_argument("--db", type=db_argument, default=None, metavar="PATH|URL",
                   help=f"{DB_HELP} (default: $SPXCC_DB, else DIR/spxcc.sqlite3, else memory)")
    p.add_argument("--duration", type=float, default=None, metavar="S",
                   help="end the session after S seconds")
    p.add_argument("--idle-timeout", type=float, default=60.0, metavar="S",
                   help="end the session after S seconds without a trade or quote "
                        "(default 60; 0: never)")
    p.add_argument("--stall-timeout", type=float, default=15.0, metavar="S",
                   help="re-establish a connection that received no message for S seconds "
                        "(recorded as a gap; default 15; 0: never)")
    p.add_argument("--connect-timeout", type=float, default=30.0, metavar="S",
                   help="exit 2 when a connection's first handshake has not succeeded after "
                        "S seconds (default 30; 0: keep trying)")
    add_selection_args(p)
    p.add_argument("--chain", type=Path, default=None, metavar="FILE.json",
                   help="option-chain snapshot (Massive snapshot JSON) for the gamma context; "
                        "subscribe to V.I:SPX too so the spot is the index value")
    add_execute_args(p, "execute triggered setups on this broker (paper, tradier) through the "
                        "routing worker, with the received option quotes (subscribe to V.I:SPX "
                        "and the SPXW quotes); writes intents, fills, positions and slippage "
                        "(docs/execution.md)")
    p.add_argument("--execute-account", default=None, metavar="ID",
                   help="with --execute: the account of the real broker given to --execute (its credentials: "
                        "$SPXCC_<NAME> or the vault of --db, as for spxcc broker)")
    p.add_argument("--execute-sandbox", action="store_true",
                   help="with --execute: the broker's sandbox (Tradier: sandbox.tradier.com)")
    p.add_argument("--reconcile-policy", type=Path, default=None, metavar="FILE.toml",
                   help="with --execute: the [reconcile] table (actions per difference kind, "
                        "limits) the routing worker reconciles with, as spxcc reconcile "
                        "--policy (default: docs/execution.md#reconciliation)")
    p.set_defaults(func=_run)


class _RefuseKey(argparse.Action):
    """``--api-key`` exists only to refuse a key on the command line (argv is visible to every
    user of the machine) without ever repeating it."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        parser.error(f"{option_string}: the API key is never taken from the command line; put "
                     f"it in an environment variable (--api-key-env, default {API_KEY_ENV}) or "
                     f"the vault (spxcc secrets set {API_KEY_SECRET})")


def api_key_of(args: argparse.Namespace) -> str:
    """The Massive API key: ``args.api_key_env``'s variable when set, else the vault's
    ``massive_api_key`` (store ``args.db``, master key ``args.key_file``); also used by
    ``spxcc serve --live``. A missing store file is not created (no vault: no key).

    :raises ConfigError: neither gives a key (never repeating any value).
    """
    from spxcc_core.secrets import (
        MasterKeySource,
        check_env_var_name,
        env_var_label,
        resolve_secret,
    )
    from spxcc_core.store.existing import StoreRef
    from spxcc_core.store.sqlite import Store

    env_var = check_env_var_name("--api-key-env", args.api_key_env) if args.api_key_env else None
    if env_var and os.environ.get(env_var):
        return resolve_secret(API_KEY_SECRET, store=None, key_source=None,
                              env_var=env_var).reveal()
    ref = StoreRef.of(args.db or None)
    what = env_var_label(env_var) if env_var else "no environment variable"
    if ref.missing:  # no vault to read: looking the key up never creates a store
        from spxcc_core.secrets.keys import MASTER_KEY_ENV

        raise ConfigError(f"massive api key: {what} is not set and there is no vault: "
                          f"{ref.label}: no such store file (none was created); store the key "
                          f"with `spxcc secrets set {API_KEY_SECRET}` (master key "
                          f"${MASTER_KEY_ENV} or --key-file)")
    store = Store(ref.target)
    try:
        secret = resolve_secret(API_KEY_SECRET, store=store,
                                key_source=MasterKeySource.from_env_or_file(args.key_file),
                                env_var=env_var)
    except ConfigError as exc:
        raise ConfigError(f"massive api key: {what} is not set and the vault cannot be read: "
                          f"{exc}") from None
    finally:
        store.close()
    return secret.reveal()


def _seconds(name: str, value: float | None, *, zero_is_none: bool = False) -> float | None:
    if value is None or (zero_is_none and value == 0):
        return None
    if not value > 0:
        raise ConfigError(f"{name} must be a positive number of seconds, got {value}")
    return value


#: The hub's options (they need ``--serve``) and the defaults of the numeric ones.
HUB_OPTIONS: tuple[tuple[str, str], ...] = (
    ("--bind-any", "bind_any"), ("--queue-size", "queue_size"), ("--queue-bytes", "queue_bytes"),
    ("--max-connections", "max_connections"), ("--retain", "retain"),
    ("--hub-token-hash", "hub_token_hash"), ("--hub-origin", "hub_origin"),
    ("--v1-only", "v1_only"), ("--hub-compression", "hub_compression"))
_HUB_DEFAULTS: dict[str, int] = {"queue_size": 10_000, "queue_bytes": 8 * 1024 * 1024,
                                 "max_connections": 1000, "retain": 10_000}
#: The options of ``--execute`` (they need it).
EXECUTE_OPTIONS: tuple[tuple[str, str], ...] = (
    ("--execute-option", "execute_option"), ("--execute-account", "execute_account"),
    ("--execute-sandbox", "execute_sandbox"), ("--reconcile-policy", "reconcile_policy"))


def check_dependent_options(args: argparse.Namespace) -> None:
    """Refuse an option that would have no effect: a hub option (:data:`HUB_OPTIONS`) without
    ``--serve``, an execution option (:data:`EXECUTE_OPTIONS`) without ``--execute``. Looks
    only at ``args``.

    :raises ConfigError: one line naming the first such option and the option it needs.
    """
    if args.serve is None:
        for option, dest in HUB_OPTIONS:
            if option_given(getattr(args, dest)):
                raise ConfigError(f"spxcc live: {option} is an option of the hub and needs "
                                  f"--serve HOST:PORT (without it, it would have no effect)")
    if args.execute is None:
        for option, dest in EXECUTE_OPTIONS:
            if option_given(getattr(args, dest)):
                raise ConfigError(f"spxcc live: {option} is an option of --execute and needs "
                                  f"--execute BROKER (without it, it would have no effect)")


def _run(args: argparse.Namespace) -> int:
    from spxcc_core.host.hub import parse_hostport
    from spxcc_core.host.live import check_live_paths, check_routes

    check_dependent_options(args)  # before any value is checked
    for dest, default in _HUB_DEFAULTS.items():
        if getattr(args, dest) is None:
            setattr(args, dest, default)
    if args.execute in (None, "paper") and (args.execute_account is not None
                                            or args.execute_sandbox):
        raise ConfigError("--execute-account and --execute-sandbox are for a real broker "
                          "(--execute tradier); the paper broker keeps its own account")
    execute_options(args.execute, args.execute_option)  # a malformed pair: before the key
    subs = [s.strip() for s in args.subscribe.split(",") if s.strip()]
    if not subs:
        raise ConfigError("--subscribe: give at least one channel, e.g. T.SPY,Q.SPY")
    detectors = detector_names(args.detectors)
    duration = _seconds("--duration", args.duration)
    idle = _seconds("--idle-timeout", args.idle_timeout, zero_is_none=True)
    stall = _seconds("--stall-timeout", args.stall_timeout, zero_is_none=True)
    connect = _seconds("--connect-timeout", args.connect_timeout, zero_is_none=True)
    serve = parse_hostport(args.serve) if args.serve is not None else None
    if args.queue_size < 1:
        raise ConfigError(f"--queue-size must be >= 1, got {args.queue_size}")
    hub_config = _hub_config(args)
    if serve is not None:
        from spxcc_core.host.app import check_bind

        check_bind(serve[0], bind_any=args.bind_any, token_hash=hub_config.token_hash,
                   option="--serve")
    db = store_path(args.db, None)
    check_live_paths(out_dir=args.out, record=args.record, store=db, chain=args.chain,
                     profile=args.profile)
    # a bad URL / channel combination (or a delayed feed left with no channel) fails before
    # the key is read
    check_routes(args.url, subs)
    if args.chain is not None:  # a bad snapshot fails before the key is read or a hub starts
        from spxcc_core.chain import load_chain_snapshot

        load_chain_snapshot(args.chain)
    # --profile, else the store's active profile: a bad store fails before a hub starts
    args.run_profile = run_profile(args.profile)
    # --reconcile-policy is read (it needs --execute: check_dependent_options) before the key
    args.parsed_reconcile_policy = None
    if args.reconcile_policy is not None:
        from spxcc_core.broker.reconcile import ReconcilePolicy

        args.parsed_reconcile_policy = ReconcilePolicy.from_toml(args.reconcile_policy)
    key = api_key_of(args)
    timeouts = _Timeouts(duration=duration, idle=idle, stall=stall, connect=connect)
    return asyncio.run(_session(args, key, subs, detectors, timeouts, serve, hub_config, db))


@attrs.frozen
class _Timeouts:
    duration: float | None
    idle: float | None
    stall: float | None
    connect: float | None


def _hub_config(args: argparse.Namespace) -> HubConfig:
    """The hub's limits and access rules from the options (checked before the key is read)."""
    from spxcc_core.host.auth import TokenHash
    from spxcc_core.host.hub import HubConfig

    for option, value, least in (("--queue-bytes", args.queue_bytes, 1),
                                 ("--max-connections", args.max_connections, 1),
                                 ("--retain", args.retain, 0)):
        if value < least:
            raise ConfigError(f"{option} must be >= {least}, got {value}")
    hashed = args.hub_token_hash or os.environ.get(HUB_TOKEN_HASH_ENV) or None
    where = "--hub-token-hash" if args.hub_token_hash else HUB_TOKEN_HASH_ENV
    return HubConfig(queue_size=args.queue_size, queue_bytes=args.queue_bytes,
                     max_connections=args.max_connections, retain_messages=args.retain,
                     token_hash=TokenHash.parse(hashed, where=where) if hashed else None,
                     allowed_origins=tuple(args.hub_origin), v1_only=args.v1_only,
                     compression=args.hub_compression)


def _execution_broker(args: argparse.Namespace, db: str | Path | None) -> BrokerAdapter | None:
    """The broker of ``--execute``: the paper broker on the stream's quotes and time, or a
    real broker (``--execute-account``; credentials from ``$SPXCC_<NAME>`` or the vault of
    ``--db``, else the default store) that fills on its own market."""
    from spxcc_core.plugins import get_plugin_manager
    from spxcc_core.run.setup import execution_broker

    if args.execute is None or args.execute == "paper":
        if args.execute_account is not None or args.execute_sandbox:
            raise ConfigError("--execute-account and --execute-sandbox are for a real broker "
                              "(--execute tradier); the paper broker keeps its own account")
        return execution_broker(get_plugin_manager(), args.execute,
                                execute_options(args.execute, args.execute_option))
    if not args.execute_account:
        raise ConfigError(f"--execute {args.execute}: a real broker needs --execute-account ID")
    from spxcc_core.cli.broker import build_adapter
    from spxcc_core.store import Store
    from spxcc_core.store.sqlite import default_db_path

    with Store(db if db is not None else default_db_path()) as store:
        return build_adapter(args.execute, account=args.execute_account,
                             sandbox=args.execute_sandbox, option_pairs=args.execute_option,
                             store=store, key_file=args.key_file, what="--execute")


async def _session(args: argparse.Namespace, key: str, subs: list[str],
                   detectors: list[str] | None, timeouts: _Timeouts,
                   serve: tuple[str, int] | None, hub_config: HubConfig,
                   db: str | Path | None) -> int:
    from spxcc_core.host.hub import Hub
    from spxcc_core.host.live import run_live

    policy = args.parsed_reconcile_policy
    broker = _execution_broker(args, db)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    hub = Hub(serve[0], serve[1], config=hub_config) if serve is not None else None

    async def listen() -> None:
        # every input is checked (and the store, --out and --record are open) by now: only
        # then does the hub bind and say where it listens
        if hub is not None:
            await hub.start()
            print(f"hub listening on {hub.url}", flush=True)

    try:
        result = await run_live(url=args.url, api_key=key, subscriptions=subs, hub=hub,
                                out_dir=args.out, store=db, record=args.record,
                                duration_s=timeouts.duration, idle_timeout_s=timeouts.idle,
                                profile=args.run_profile, detectors=detectors, stop=stop,
                                chain=args.chain, stall_timeout_s=timeouts.stall,
                                connect_timeout_s=timeouts.connect, broker=broker,
                                reconcile_policy=policy, on_ready=listen)
    finally:
        if hub is not None:
            await hub.close()
        if broker is not None:
            broker.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
    r = result.report
    run = result.run
    why = {"idle": f"no trade or quote for {r.idle_timeout_s:g} s" if r.idle_timeout_s else "idle",
           "duration": f"duration {r.duration_s:g} s" if r.duration_s else "duration",
           "stopped": "stopped", "feed_error": "feed error"}[r.stop_reason]
    print(f"live session ended ({why}): {run.report.aggregation.events_in:,} events, "
          f"{len(run.bars):,} bars ({r.input_end.bars_released} released at the end), "
          f"{len(run.setups)} setups, {r.connections} connection(s)")
    for e in run.report.plugin_errors:
        print(f"plugin error: {e.plugin} ({e.hook}): {e.error}")
    for g in r.gaps:
        print(f"feed gap: {g.url}: events {g.from_ms} .. {g.to_ms} ms ({g.reason})")
    if r.quarantined_frame_count:
        print(f"{r.quarantined_frame_count} malformed message(s) quarantined (live.json)")
    for note in r.notes:
        print(f"note: {note}")
    if args.record is not None:
        print(f"recording -> {args.record}")
    if args.out is not None:
        print(f"outputs -> {args.out}")
    if r.error is not None:
        print(f"spxcc: error: {r.error}", file=sys.stderr)
        return 2
    return no_data_error(result)


def no_data_error(result: LiveResult) -> int:
    """Exit 2 with one line when the session never connected or received no event (a
    session that saw nothing must not look like a success); else 0."""
    r = result.report
    if r.connections == 0:
        why = result.last_failure or "no connection attempt completed"
        print(f"spxcc: error: never connected to the feed ({why}); no data received",
              file=sys.stderr)
        return 2
    if result.run.report.aggregation.events_in == 0 and result.run.report.index_values == 0:
        print(f"spxcc: error: connected ({r.connections} connection(s), {r.messages} "
              "message(s)) but received no trade, quote or index value; check --subscribe "
              "and the market hours", file=sys.stderr)
        return 2
    return 0
