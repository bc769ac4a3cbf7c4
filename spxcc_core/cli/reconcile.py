"""``spxcc reconcile``: compare our book of one broker account with the broker's, take the
policy's action on each difference, and clear a halt.

Options: the broker account options of ``spxcc broker`` (``--broker``, ``--account``,
``--db``, ...), ``--json``, ``--clear`` (clear the account's halt, acknowledging the
differences that halted it, then reconcile), ``--policy FILE.toml`` (its ``[reconcile]``
table) and ``--action KIND=ACTION`` (repeatable, overrides the policy).

Exit codes: 0 clean, 1 differences found, 3 the account is halted (by this run or an earlier
one not cleared), 2 bad input or no usable broker answer (nothing compared: an empty or failed
answer is never read as flat). ``--json`` prints one object
``{"status", "differences": [{"kind", "symbol", "internal", "broker", "severity", "action",
"detail"}, ...]}``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import msgspec

from spxcc_core.broker.reconcile import ReconcilePolicy, parse_actions, reconciler_classes
from spxcc_core.broker.reconcile.engine import summary
from spxcc_core.broker.routing import RoutingWorker
from spxcc_core.broker.store import BrokerStore
from spxcc_core.cli.broker import common_parser, open_adapter, open_store
from spxcc_core.cli.parser import examples
from spxcc_core.contracts.reconcile import ReconcileRun
from spxcc_core.errors import ConfigError, SpxccError
from spxcc_core.outputs import check_paths
from spxcc_core.plugins import get_plugin_manager
from spxcc_core.registry import PluginRegistry
from spxcc_core.store.target import is_postgres_url, redact_dsn, store_file

__all__ = ["EXIT_CODES", "register"]

#: Exit code per run status (``failed`` is an error: exit 2 with one line on stderr).
EXIT_CODES = {"clean": 0, "differences": 1, "halted": 3}

_encoder = msgspec.json.Encoder()


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "reconcile", parents=[common_parser()],
        help="compare our positions and orders with the broker's (exit 0 clean, 1 "
             "differences, 3 halted)",
        description="Diff the internal book of a broker account against the broker's "
                    "snapshot and orders, take each difference's policy action "
                    "(alert/adopt/halt) and store the run.",
        **examples('spxcc reconcile --broker paper --account P1 --db trading.sqlite3', 'spxcc reconcile --broker tradier --account VA00000001 --sandbox --json', 'spxcc reconcile --broker paper --account P1 --db trading.sqlite3 --clear'))
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--clear", action="store_true",
                   help="clear the account's halt (acknowledging the differences that "
                        "halted it), then reconcile")
    p.add_argument("--policy", type=Path, default=None, metavar="FILE.toml",
                   help="TOML file whose [reconcile] table sets actions and limits")
    p.add_argument("--action", action="append", default=[], metavar="KIND=ACTION",
                   help="action for one difference kind (alert, adopt, halt; repeatable)")
    p.set_defaults(func=_run)


def _policy(args: argparse.Namespace) -> ReconcilePolicy:
    policy = ReconcilePolicy.from_toml(args.policy) if args.policy else ReconcilePolicy()
    return policy.with_actions(parse_actions(args.action))


def _run(args: argparse.Namespace) -> int:
    if args.policy is not None:
        check_paths({"--db": store_file(args.db)}, {"--policy": args.policy})
    policy = _policy(args)
    registry = PluginRegistry(get_plugin_manager())
    classes = reconciler_classes(registry)
    if not classes:
        raise ConfigError("no reconciler is registered (spxcc_register_reconcilers): "
                          "nothing could be compared")
    cleared = False
    with (open_store(args, missing="reconciliation compares what a store recorded with the "
                                   "broker; it never creates a store") as store,
          open_adapter(args, store) as adapter):
        worker = RoutingWorker(adapter, BrokerStore(store), registry=registry,
                               reconcilers=classes, reconcile_policy=policy)
        engine = worker.guard.engine
        assert engine is not None
        if args.clear:
            cleared = engine.clear(args.account)
        run = worker.reconcile(args.account, trigger="clear" if args.clear else "cli")
    assert run is not None
    if run.status == "failed":
        raise SpxccError(f"reconcile {args.broker} account {args.account}: {run.error}")
    if args.json:
        sys.stdout.write(_encoder.encode(summary(run)).decode() + "\n")
    else:
        _print_text(run, args, cleared)
    return EXIT_CODES[run.status]


def _print_text(run: ReconcileRun, args: argparse.Namespace, cleared: bool) -> None:
    out = sys.stdout
    if args.clear:
        out.write(f"halt of {args.broker} account {args.account} "
                  + ("cleared" if cleared else "was not set") + "\n")
    n = len(run.differences)
    out.write(f"reconcile {args.broker} account {args.account} (run {run.run_id}): "
              f"{run.positions_compared} positions, {run.orders_compared} orders compared; "
              f"{n} difference{'s' if n != 1 else ''}\n")
    for d in run.differences:
        applied = " (recorded now)" if d.applied else ""
        out.write(f"  {d.kind:<20} {d.severity:<8} {d.action:<7} {d.detail}{applied}\n")
    out.write(f"status: {run.status}\n")
    if run.halted:
        out.write("the account opens no new risk until a person clears the halt: "
                  f"{_clear_command(args)}\n")


def _clear_command(args: argparse.Namespace) -> str:
    """The command that clears this account's halt, with the store and broker options given
    (``--option`` values are never secrets: those are refused), so it acts on the same store."""
    parts = ["spxcc", "reconcile", "--broker", args.broker, "--account", args.account]
    if args.db is not None:
        db = str(args.db)
        parts += ["--db", redact_dsn(db) if is_postgres_url(db) else db]
    if args.sandbox:
        parts.append("--sandbox")
    if args.base_url:
        parts += ["--base-url", args.base_url]
    for pair in args.option:
        parts += ["--option", pair]
    parts.append("--clear")
    return " ".join(shlex.quote(p) for p in parts)
