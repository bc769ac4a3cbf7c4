"""``spxcc broker snapshot|submit|status|cancel``: a broker account's portfolio, routing one
intent, one intent's state, and canceling its order.

Common options: ``--broker NAME`` (an adapter registered through ``spxcc_register_brokers``:
``tradier``, ``paper``, ...), ``--account ID``, ``--base-url URL`` (API root including
``/v1``), ``--sandbox`` (Tradier's sandbox root), ``--db PATH`` (default ``$SPXCC_DB`` or the
user data folder), ``--key-file PATH`` (master key; default ``$SPXCC_MASTER_KEY``) and
``--option KEY=VALUE`` (repeatable, adapter-specific, e.g. ``--option fill=mid`` for paper).

The adapter is built by its own ``from_config`` from an
:class:`~spxcc_core.broker.interface.AdapterConfig`: the options, ``--account``, ``--sandbox``,
the store when the adapter declares ``uses_store`` (the paper broker keeps its accounts there),
and a lookup of the secrets it declares in ``secret_names``: secret ``NAME`` comes from
``$SPXCC_<NAME>`` when set, else from the vault (the Tradier token: ``$SPXCC_TRADIER_TOKEN`` or
the vault secret ``tradier_token``). The store is opened with every plugin's migrations
(``spxcc_register_migrations``).

``snapshot`` prints a PortfolioSnapshot JSON object (and stores it); ``submit --intent FILE``
reconciles the account (``spxcc reconcile``'s built-in reconcilers and default policy; an entry
is refused while the account is halted or the reconciliation failed, exits still go), then
routes an OrderIntent through the pre-trade checks (market clock, max contracts — default
:data:`DEFAULT_MAX_CONTRACTS` —, max open
risk, buying power of a fresh snapshot minus in-flight reservations) and prints the OrderAck.
Submitting the same intent again prints the same order with ``"duplicate": true``; the ack says
``"duplicate": false`` only when this run placed the order (also when it resumes an intent a
killed run left unsent). A submit racing another process's submit of the same intent waits for
that one's outcome and prints it as a duplicate. Refusals, broker rejections and
unknown outcomes print one line and exit 2.

``status --intent-id ID`` prints one JSON object: the intent's stored state (``state`` etc.,
null when the store does not know the intent) and the broker's order (``order``, a BrokerOrder
found by the stored order id, else by the intent's tag; null when there is none). It writes
nothing, and never creates a missing store (it answers as for an empty one). ``cancel
--intent-id ID`` cancels the broker order found the same way and prints
``{"intentId", "state", "brokerOrderId", "requested", "message"}``; it is idempotent: an order
(or intent) that is already final prints why nothing was requested and exits 0, a queued intent
that never reached the broker is canceled in the store. Exit 2 only on errors (unknown intent
with no order carrying its tag, another account's intent, broker failures).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec

from spxcc_core.broker import BrokerAdapter, broker_adapters, tag_for
from spxcc_core.broker.errors import BrokerRejected, UnknownOrderError
from spxcc_core.broker.interface import AdapterConfig
from spxcc_core.broker.routing import CancelResult, RoutingLimits, RoutingWorker
from spxcc_core.broker.store import BrokerStore, IntentBrief
from spxcc_core.broker.sync import SnapshotSync
from spxcc_core.cli.parser import SafeArgumentParser
from spxcc_core.clock import Clock, SystemClock
from spxcc_core.contracts.broker import (
    TERMINAL_STATUSES,
    BrokerOrder,
    OrderIntent,
    decode_intent,
)
from spxcc_core.errors import ConfigError, InputError, SpxccError
from spxcc_core.outputs import check_paths
from spxcc_core.plugins import get_plugin_manager
from spxcc_core.registry import PluginRegistry
from spxcc_core.store import Store
from spxcc_core.store.existing import StoreRef
from spxcc_core.store.migrations import all_migrations, plugin_migrations
from spxcc_core.store.target import db_argument, store_file

__all__ = ["DEFAULT_MAX_CONTRACTS", "build_adapter", "common_parser", "open_adapter",
           "open_store", "register", "secret_env"]

#: ``broker submit --max-contracts`` when not given: an intent for more contracts is refused.
DEFAULT_MAX_CONTRACTS = 100

_encoder = msgspec.json.Encoder()


def common_parser() -> argparse.ArgumentParser:
    """The options every command acting on one broker account takes (``--broker``,
    ``--account``, ``--base-url``, ``--sandbox``, ``--db``, ``--key-file``, ``--option``), as a
    parent parser."""
    common = SafeArgumentParser(add_help=False)
    common.add_argument("--broker", required=True, help="broker adapter name (tradier, paper)")
    common.add_argument("--account", required=True, metavar="ID", help="account number")
    common.add_argument("--base-url", default=None, metavar="URL",
                        help="broker API root including /v1")
    common.add_argument("--sandbox", action="store_true", help="use Tradier's sandbox root")
    common.add_argument("--db", type=db_argument, default=None, metavar="PATH|URL",
                        help="store: an SQLite file or a postgresql:// URL (default: $SPXCC_DB "
                             "or the user data folder)")
    common.add_argument("--key-file", type=Path, default=None,
                        help="master key file for the vault (default: $SPXCC_MASTER_KEY)")
    common.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="adapter option (repeatable), e.g. fill=mid for paper")
    return common


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = common_parser()
    p = sub.add_parser("broker", help="broker account snapshot, order submission, status "
                       "and cancel",
                       description="Read a broker account, route order intents, show an "
                                   "intent's state and cancel its order.")
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
    t.add_argument("--max-contracts", type=int, default=DEFAULT_MAX_CONTRACTS, metavar="N",
                   help="refuse an intent for more than N contracts (default "
                        f"{DEFAULT_MAX_CONTRACTS})")
    t.add_argument("--max-open-risk", type=float, default=None, metavar="USD")
    t.add_argument("--max-snapshot-age", type=float, default=5.0, metavar="SECONDS",
                   help="use a stored snapshot at most this old, else fetch one (default 5)")
    t.add_argument("--buffer", type=float, default=0.0,
                   help="fraction added to an order's estimated cost for the buying-power "
                        "check (default 0)")
    t.set_defaults(func=_run_submit)

    st = bsub.add_parser("status", parents=[common],
                         help="an intent's stored state and its broker order (by tag)")
    st.add_argument("--intent-id", required=True, metavar="ID", help="the intent's intentId")
    st.set_defaults(func=_run_status)

    c = bsub.add_parser("cancel", parents=[common],
                        help="cancel an intent's broker order (found by tag; idempotent)")
    c.add_argument("--intent-id", required=True, metavar="ID", help="the intent's intentId")
    c.add_argument("--wait", type=float, default=2.0, metavar="SECONDS",
                   help="wait up to this long for the order to be final (default 2)")
    c.set_defaults(func=_run_cancel)


#: Adapter options that carry a secret: refused on the command line (argv is visible to every
#: user of the machine and lands in shell history).
_SECRET_OPTIONS = frozenset({"token", "api_key", "password", "secret"})


def secret_env(name: str) -> str:
    """The environment variable that overrides the vault for secret ``name``:
    ``SPXCC_`` + the name upper-cased (``tradier_token`` → ``SPXCC_TRADIER_TOKEN``)."""
    return "SPXCC_" + name.upper()


def _secret_hint(secret_names: tuple[str, ...]) -> str:
    if not secret_names:
        return "store it with `spxcc secrets set NAME`"
    name = secret_names[0]
    return f"set {secret_env(name)} or store it with `spxcc secrets set {name}`"


def _options(pairs: list[str], secret_names: tuple[str, ...] = ()) -> dict[str, Any]:
    """``--option KEY=VALUE`` pairs as a dict. Errors name the option by its rank (1 = the
    first ``--option``), never its value; a secret-looking key is refused with a hint at the
    adapter's declared secrets."""
    out: dict[str, Any] = {}
    for rank, pair in enumerate(pairs, start=1):
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--option number {rank}: expected KEY=VALUE (the value is not "
                              "shown)")
        if key.strip().lower() in _SECRET_OPTIONS:
            raise ConfigError(f"--option {key.strip()}=...: secrets are never taken from the "
                              f"command line; {_secret_hint(secret_names)}")
        out[key.strip()] = value
    return out


def _secret_lookup(store: Store, key_file: Path | None,
                   declared: tuple[str, ...]) -> Callable[[str], str]:
    """A lookup of the secrets an adapter declared: ``$SPXCC_<NAME>``, else the vault."""

    def lookup(name: str) -> str:
        from spxcc_core.secrets import MasterKeySource, resolve_secret

        if name not in declared:
            raise ConfigError(f"secret {name}: not among the secrets the adapter declares "
                              f"({', '.join(declared) or 'none'})")
        env = secret_env(name)
        try:
            secret = resolve_secret(name, store=store,
                                    key_source=MasterKeySource.from_env_or_file(key_file),
                                    env_var=env)
        except ConfigError as exc:
            raise ConfigError(f"secret {name}: {env} is not set and the vault cannot be "
                              f"read: {exc}") from None
        return secret.reveal()

    return lookup


def build_adapter(name: str, *, account: str, sandbox: bool, option_pairs: list[str],
                  store: Store, key_file: Path | None, base_url: str | None = None,
                  what: str = "--broker") -> BrokerAdapter:
    """The adapter ``name``, built by its ``from_config`` from the options (``KEY=VALUE``
    pairs, secrets refused) and what it declares it needs (the store, its secrets: from
    ``$SPXCC_<NAME>`` or the vault in ``store`` with ``key_file``). ``what`` names the option
    that chose it in errors."""
    registry = broker_adapters(get_plugin_manager())
    cls = registry.get(name)
    if cls is None:
        raise ConfigError(f"{what}: unknown broker (the value is not shown); registered: "
                          f"{', '.join(sorted(registry)) or 'none'}")
    options = _options(option_pairs, cls.secret_names)
    if base_url:
        options["base_url"] = base_url
    config = AdapterConfig(
        options=options, account_id=account, sandbox=sandbox,
        store=store if cls.uses_store else None,
        secret=_secret_lookup(store, key_file, cls.secret_names) if cls.secret_names
        else None)
    return cls.from_config(config)


@contextmanager
def open_adapter(args: argparse.Namespace, store: Store) -> Iterator[BrokerAdapter]:
    """The adapter named by ``--broker``, built by its ``from_config`` from the common options
    and what it declares it needs (the store, its secrets)."""
    adapter = build_adapter(args.broker, account=args.account, sandbox=bool(args.sandbox),
                            option_pairs=args.option, store=store, key_file=args.key_file,
                            base_url=args.base_url)
    try:
        yield adapter
    finally:
        adapter.close()


def open_store(args: argparse.Namespace, *, missing: str = "create") -> Store:
    """The store of ``--db`` (default ``$SPXCC_DB`` or the user data folder) with every
    plugin's migrations; input files of ``args`` must not be the store.

    :param missing: what a missing store file gives: ``"create"`` (commands that write),
        ``"empty"`` (an empty in-memory store in its place, nothing created: commands that only
        read), or any other text: refused with that text as the reason
        (:meth:`~spxcc_core.store.existing.StoreRef.require`).
    :raises InputError: the store file is missing and ``missing`` is a reason.
    """
    ref = StoreRef.of(args.db)
    check_paths({"--db": store_file(ref.target)}, {"--intent": getattr(args, "intent", None),
                                                   "--key-file": args.key_file})
    migrations = all_migrations(plugin_migrations(get_plugin_manager()))
    if missing == "create":
        return Store(ref.target, migrations=migrations)
    if missing == "empty":
        return ref.open_or_empty(migrations)
    ref.require(missing)
    return Store(ref.target, migrations=migrations)


def _run_snapshot(args: argparse.Namespace) -> int:
    with open_store(args) as store, open_adapter(args, store) as adapter:
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
    with open_store(args) as store, open_adapter(args, store) as adapter:
        worker = RoutingWorker(adapter, BrokerStore(store), limits=limits,
                               registry=PluginRegistry(get_plugin_manager()))
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
    if result.state == "submitting":
        raise SpxccError(f"intent {intent.intent_id!r} is being submitted by another process; "
                         "its order is not confirmed yet (run the command again)")
    if result.ack is None:
        if result.reasons:  # the broker was unavailable: the intent stays queued
            raise SpxccError(f"intent {intent.intent_id!r} queued, not sent: "
                             + "; ".join(result.reasons) + " (run the command again)")
        sys.stdout.write(_encoder.encode(result.as_dict()).decode() + "\n")
        return 0
    sys.stdout.write(_encoder.encode(result.ack).decode() + "\n")
    return 0



def _recorded(store: Store, args: argparse.Namespace) -> IntentBrief | None:
    """The stored intent named by ``--intent-id``, checked against ``--broker``/``--account``."""
    brief = BrokerStore(store).brief(args.intent_id)
    if brief is not None and (brief.broker != args.broker or brief.account_id != args.account):
        raise ConfigError(f"intent {args.intent_id!r} was routed to {brief.broker} account "
                          f"{brief.account_id}, not {args.broker} account {args.account}")
    return brief


def _broker_order(adapter: BrokerAdapter, account: str, intent_id: str,
                  order_id: str | None) -> BrokerOrder | None:
    """The intent's broker order: by ``order_id`` when known, else by the intent's tag."""
    if order_id is None:
        ack = adapter.find_by_tag(account, tag_for(intent_id))
        if ack is None:
            return None
        order_id = ack.broker_order_id
    try:
        return adapter.order(account, order_id)
    except UnknownOrderError:
        return None


def _run_status(args: argparse.Namespace) -> int:
    with open_store(args, missing="empty") as store, open_adapter(args, store) as adapter:
        brief = _recorded(store, args)
        rec = BrokerStore(store).get(args.intent_id) if brief is not None else None
        order = _broker_order(adapter, args.account, args.intent_id,
                              rec.broker_order_id if rec is not None else None)
    if rec is None and order is None:
        raise InputError(f"intent {args.intent_id!r}", "not recorded in the store and no "
                         f"order with its tag at {args.broker} account {args.account}")
    out = {
        "intentId": args.intent_id, "tag": tag_for(args.intent_id), "broker": args.broker,
        "accountId": args.account, "state": rec.state if rec else None,
        "brokerOrderId": (rec.broker_order_id if rec else None) or (order.id if order else None),
        "filledQuantity": rec.filled_quantity if rec else None,
        "avgFillPrice": rec.avg_fill_price if rec else None,
        "lastError": rec.last_error if rec else None,
        "order": msgspec.to_builtins(order) if order is not None else None}
    sys.stdout.write(_encoder.encode(out).decode() + "\n")
    return 0


def _run_cancel(args: argparse.Namespace) -> int:
    if args.wait < 0:
        raise ConfigError("--wait must be >= 0 seconds")
    with open_store(args) as store, open_adapter(args, store) as adapter:
        if _recorded(store, args) is not None:
            result = RoutingWorker(adapter, BrokerStore(store)).cancel(args.intent_id,
                                                                       wait_s=args.wait)
        else:
            result = _cancel_unrecorded(adapter, args.account, args.intent_id, args.wait,
                                        SystemClock())
    sys.stdout.write(_encoder.encode(result.as_dict()).decode() + "\n")
    return 0


#: Seconds between reads of an order whose cancel was requested, until it is final.
_CANCEL_POLL_S = 0.2


def _cancel_unrecorded(adapter: BrokerAdapter, account: str, intent_id: str,
                       wait_s: float, clock: Clock) -> CancelResult:
    """Cancel the order carrying an intent's tag when the store does not know the intent
    (e.g. it was routed from another store); nothing is recorded. After the request the
    order is read every :data:`_CANCEL_POLL_S` seconds of ``clock`` until it is final or
    ``wait_s`` has passed."""
    order = _broker_order(adapter, account, intent_id, None)
    if order is None:
        raise InputError(f"intent {intent_id!r}", "not recorded in the store and no order "
                         f"with its tag at {adapter.name} account {account}")
    if order.status in TERMINAL_STATUSES:
        return CancelResult(intent_id, order.status, order.id, False,
                            f"order {order.id} is already {order.status}: nothing to cancel")
    try:
        adapter.cancel(account, order.id)
    except UnknownOrderError:
        raise
    except BrokerRejected:
        now = adapter.order(account, order.id)
        if now.status not in TERMINAL_STATUSES:
            raise
        return CancelResult(intent_id, now.status, order.id, False,
                            f"order {order.id} is already {now.status}: nothing to cancel")
    deadline = clock.monotonic() + wait_s
    now = adapter.order(account, order.id)
    while now.status not in TERMINAL_STATUSES and clock.monotonic() < deadline:
        clock.sleep(_CANCEL_POLL_S)
        now = adapter.order(account, order.id)
    message = (f"order {order.id} canceled" if now.status == "canceled" else
               f"cancel of order {order.id} requested; the broker reports it {now.status}")
    return CancelResult(intent_id, now.status, order.id, True, message)
