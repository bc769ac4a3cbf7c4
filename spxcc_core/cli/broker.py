"""``spxcc broker snapshot|submit``: a broker account's portfolio, and routing one intent.

Common options: ``--broker NAME`` (an adapter registered through ``spxcc_register_brokers``:
``tradier``, ``paper``, ...), ``--account ID``, ``--base-url URL`` (API root including
``/v1``), ``--sandbox`` (Tradier's sandbox root), ``--db PATH`` (default ``$SPXCC_DB`` or the
user data folder), ``--key-file PATH`` (master key; default ``$SPXCC_MASTER_KEY``) and
``--option KEY=VALUE`` (repeatable, adapter-specific, e.g. ``--option fill=mid`` for paper).

The Tradier token comes from ``$SPXCC_TRADIER_TOKEN`` when set, else from the vault secret
``tradier_token``. The paper broker keeps its accounts in the store (``--db``).

``snapshot`` prints a PortfolioSnapshot JSON object (and stores it); ``submit --intent FILE``
routes an OrderIntent through the pre-trade checks (market clock, max contracts, max open
risk, buying power of a fresh snapshot minus in-flight reservations) and prints the OrderAck.
Submitting the same intent again prints the same order. Refusals, broker rejections and
unknown outcomes print one line and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec

from spxcc_core.broker import BrokerAdapter, broker_adapters
from spxcc_core.broker.errors import BrokerRejected
from spxcc_core.broker.routing import RoutingLimits, RoutingWorker
from spxcc_core.broker.store import BrokerStore
from spxcc_core.broker.sync import SnapshotSync
from spxcc_core.contracts.broker import OrderIntent, decode_intent
from spxcc_core.errors import ConfigError, InputError, SpxccError
from spxcc_core.plugins import get_plugin_manager
from spxcc_core.store import Store, default_db_path

__all__ = ["TOKEN_ENV", "TOKEN_SECRET", "open_adapter", "register"]

#: Environment variable overriding the vault for the Tradier token.
TOKEN_ENV = "SPXCC_TRADIER_TOKEN"
#: Vault name of the Tradier token.
TOKEN_SECRET = "tradier_token"

_encoder = msgspec.json.Encoder()


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--broker", required=True, help="broker adapter name (tradier, paper)")
    common.add_argument("--account", required=True, metavar="ID", help="account number")
    common.add_argument("--base-url", default=None, metavar="URL",
                        help="broker API root including /v1")
    common.add_argument("--sandbox", action="store_true", help="use Tradier's sandbox root")
    common.add_argument("--db", type=Path, default=None,
                        help="store file (default: $SPXCC_DB or the user data folder)")
    common.add_argument("--key-file", type=Path, default=None,
                        help="master key file for the vault (default: $SPXCC_MASTER_KEY)")
    common.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="adapter option (repeatable), e.g. fill=mid for paper")

    p = sub.add_parser("broker", help="broker account snapshot and order submission",
                       description="Read a broker account and route order intents.")
    bsub = p.add_subparsers(dest="broker_command", metavar="ACTION")
    bsub.required = True

    s = bsub.add_parser("snapshot", parents=[common], help="print a PortfolioSnapshot JSON")
    s.set_defaults(func=_run_snapshot)

    t = bsub.add_parser("submit", parents=[common],
                        help="route an OrderIntent (pre-trade checks, idempotent by tag)")
    t.add_argument("--intent", type=Path, required=True, metavar="FILE",
                   help="OrderIntent JSON file")
    t.add_argument("--after", default=None, metavar="INTENT_ID",
                   help="entry intent an exit must wait for (default: the symbol's open entry)")
    t.add_argument("--max-contracts", type=int, default=None, metavar="N")
    t.add_argument("--max-open-risk", type=float, default=None, metavar="USD")
    t.add_argument("--max-snapshot-age", type=float, default=5.0, metavar="SECONDS",
                   help="use a stored snapshot at most this old, else fetch one (default 5)")
    t.add_argument("--buffer", type=float, default=0.0,
                   help="fraction added to an order's estimated cost for the buying-power "
                        "check (default 0)")
    t.set_defaults(func=_run_submit)


def _options(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--option {pair!r}: expected KEY=VALUE")
        out[key.strip()] = value
    return out


def _token(store: Store, key_file: Path | None) -> str:
    from spxcc_core.secrets import MasterKeySource, resolve_secret

    try:
        secret = resolve_secret(TOKEN_SECRET, store=store,
                                key_source=MasterKeySource.from_env_or_file(key_file),
                                env_var=TOKEN_ENV)
    except ConfigError as exc:
        raise ConfigError(f"tradier token: {TOKEN_ENV} is not set and the vault cannot be "
                          f"read: {exc}") from None
    return secret.reveal()


@contextmanager
def open_adapter(args: argparse.Namespace, store: Store) -> Iterator[BrokerAdapter]:
    """The adapter named by ``--broker``, configured from the common options."""
    registry = broker_adapters(get_plugin_manager())
    cls = registry.get(args.broker)
    if cls is None:
        raise ConfigError(f"--broker {args.broker!r}: unknown broker; registered: "
                          f"{', '.join(sorted(registry)) or 'none'}")
    options = _options(args.option)
    options["account_id"] = args.account
    if args.broker == "paper":
        options["store"] = store
    if args.base_url:
        options["base_url"] = args.base_url
    if args.sandbox:
        options["sandbox"] = True
    if args.broker == "tradier" and "token" not in options:
        options["token"] = _token(store, args.key_file)
    adapter = cls.from_config(options)
    try:
        yield adapter
    finally:
        adapter.close()


def _store(args: argparse.Namespace) -> Store:
    return Store(args.db if args.db is not None else default_db_path())


def _run_snapshot(args: argparse.Namespace) -> int:
    with _store(args) as store, open_adapter(args, store) as adapter:
        stored = SnapshotSync(adapter, BrokerStore(store)).refresh(args.account)
    sys.stdout.write(_encoder.encode(stored.snapshot).decode() + "\n")
    return 0


def _read_intent(path: Path) -> OrderIntent:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), f"cannot read ({exc.strerror or exc})") from None
    return decode_intent(data, source=str(path))


def _run_submit(args: argparse.Namespace) -> int:
    intent = _read_intent(args.intent)
    if intent.account_id is not None and intent.account_id != args.account:
        raise ConfigError(f"{args.intent}: intent accountId {intent.account_id!r} differs "
                          f"from --account {args.account!r}")
    if args.max_snapshot_age < 0:
        raise ConfigError("--max-snapshot-age must be >= 0 seconds")
    try:
        limits = RoutingLimits(max_contracts=args.max_contracts,
                               max_open_risk=args.max_open_risk,
                               max_snapshot_age_ms=round(args.max_snapshot_age * 1000),
                               bp_buffer=args.buffer)
    except ValueError as exc:
        raise ConfigError(f"pre-trade limit: {exc}") from None
    with _store(args) as store, open_adapter(args, store) as adapter:
        worker = RoutingWorker(adapter, BrokerStore(store), limits=limits)
        worker.start(args.account)
        result = worker.route(intent, entry_intent_id=args.after)
    if result.state == "refused":
        raise SpxccError(f"intent {intent.intent_id!r} refused by pre-trade checks: "
                         + "; ".join(result.reasons))
    if result.state == "rejected":
        raise BrokerRejected("; ".join(result.reasons) or "rejected")
    if result.state == "error":
        raise SpxccError(f"intent {intent.intent_id!r} failed: " + "; ".join(result.reasons))
    if result.state == "ambiguous":
        raise SpxccError("; ".join(result.reasons)
                         or f"intent {intent.intent_id!r}: order outcome unknown")
    if result.ack is None:
        if result.reasons:  # the broker was unavailable: the intent stays queued
            raise SpxccError(f"intent {intent.intent_id!r} queued, not sent: "
                             + "; ".join(result.reasons) + " (run the command again)")
        sys.stdout.write(_encoder.encode(result.as_dict()).decode() + "\n")
        return 0
    sys.stdout.write(_encoder.encode(result.ack).decode() + "\n")
    return 0

