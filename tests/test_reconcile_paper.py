"""Reconciliation with the paper broker on a real SQLite file: clean after normal trading, an
external position, a fill we never saw adopted once (and observed through ``spxcc_on_fill``),
a halt that blocks new entries but not exits until ``spxcc reconcile --clear``, and the CLI's
exit codes and JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from broker_cli_helpers import run
from spxcc_paper import PaperBroker

from spxcc_core.broker.interface import AdapterConfig
from spxcc_core.broker.reconcile import ReconcilePolicy, ReconcileStore
from spxcc_core.broker.routing import RoutingWorker
from spxcc_core.broker.store import BrokerStore
from spxcc_core.clock import ManualClock
from spxcc_core.contracts.broker import Fill, OrderIntent
from spxcc_core.hookspecs import hookimpl
from spxcc_core.plugins import get_plugin_manager
from spxcc_core.registry import PluginRegistry
from spxcc_core.store import Store

SYM = "SPXW991218C05900000"  # not expired at any date the suite runs
SYM2 = "SPXW991218P05800000"
T0 = 1_790_000_000 * 10**9
ACCOUNT = "A"


class FillLog:
    """A test plugin observing ``spxcc_on_fill``."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str, float]] = []

    @hookimpl
    def spxcc_on_fill(self, fill: Fill, intent: OrderIntent, context: Mapping[str, Any]) -> None:
        self.seen.append((fill.fill_id, intent.intent_id, context["source"],
                          context["filled_quantity"]))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "recon.sqlite3"


@pytest.fixture
def store(db: Path) -> Iterator[Store]:
    with Store(db) as s:
        yield s


def paper_on(store: Store) -> PaperBroker:
    paper = PaperBroker.from_config(AdapterConfig(
        options={"clock": "replay", "hours": "always"}, account_id=ACCOUNT, store=store))
    paper.on_quote(SYM, T0, 2.90, 50, 3.00, 50)
    paper.on_quote(SYM2, T0, 1.90, 50, 2.00, 50)
    return paper


def worker_on(paper: PaperBroker, store: Store, *, registry: PluginRegistry | None = None,
              policy: ReconcilePolicy | None = None,
              clock: ManualClock | None = None) -> RoutingWorker:
    return RoutingWorker(paper, BrokerStore(store), registry=registry or PluginRegistry(
        get_plugin_manager()), reconcile_policy=policy,
        clock=clock or ManualClock(start_ms=1_790_000_000_000))


def intent(iid: str, side: str = "buy_to_open", qty: int = 1, limit: float = 3.00,
           symbol: str = SYM) -> OrderIntent:
    return OrderIntent(intent_id=iid, option_symbol=symbol, underlying="SPX",
                       side=side, quantity=qty, order_type="limit",  # type: ignore[arg-type]
                       limit_price=limit)


def external(paper: PaperBroker, iid: str, qty: int = 2, symbol: str = SYM2) -> None:
    """An order placed at the broker behind our back (another tool, a person)."""
    paper.submit(intent(iid, qty=qty, limit=2.00, symbol=symbol))


def paper_args(db: Path, *extra: str) -> list[str]:
    return ["reconcile", "--broker", "paper", "--account", ACCOUNT, "--db", str(db),
            "--option", "clock=replay", *extra]


def test_clean_after_normal_trading_and_the_startup_run_is_stored(store: Store) -> None:
    paper = paper_on(store)
    worker = worker_on(paper, store)
    worker.start(ACCOUNT)
    assert worker.route(intent("e1", qty=2)).state == "filled"
    assert worker.route(intent("x1", side="sell_to_close", qty=1, limit=2.90)).state == "filled"
    run = worker.reconcile(ACCOUNT)
    assert run is not None and (run.status, run.differences) == ("clean", ())
    runs = ReconcileStore(BrokerStore(store)).runs("paper", ACCOUNT)
    assert [r.trigger for r in runs] == ["startup", "manual"]
    assert all(r.status == "clean" for r in runs)
    # both sides hold 1 contract bought at 3.00: $300 (average cost: the sale took half)
    book = ReconcileStore(BrokerStore(store)).book("paper", ACCOUNT)
    assert (book.positions[SYM].quantity, book.positions[SYM].cost_basis) == (1.0, 300.0)


def test_external_position_is_unknown_at_broker_and_adopted_once_across_restarts(
        store: Store, db: Path) -> None:
    paper = paper_on(store)
    external(paper, "outside-1", qty=2)
    worker = worker_on(paper, store)
    first = worker.reconcile(ACCOUNT)
    assert first is not None and first.status == "differences"
    [diff] = first.differences
    assert (diff.kind, diff.symbol, diff.action, diff.severity) == (
        "unknown_at_broker", SYM2, "alert", "warning")
    assert (diff.internal.present, diff.broker.quantity, diff.broker.cost_basis) == (
        False, 2.0, 400.0)  # 2 contracts × $2.00 × 100
    adopting = ReconcilePolicy(actions={"unknown_at_broker": "adopt"})
    worker = worker_on(paper, store, policy=adopting)
    second = worker.reconcile(ACCOUNT)
    assert second is not None and [(d.action, d.applied) for d in second.differences] == [
        ("adopt", True)]
    third = worker.reconcile(ACCOUNT)
    assert third is not None and third.status == "clean"
    with Store(db) as again:  # another process, same file: nothing applied twice
        w2 = worker_on(paper_on(again), again, policy=adopting)
        assert (run := w2.reconcile(ACCOUNT)) is not None and run.status == "clean"
        assert ReconcileStore(BrokerStore(again)).adoption_count("paper", ACCOUNT) == 1
        book = ReconcileStore(BrokerStore(again)).book("paper", ACCOUNT)
        assert (book.positions[SYM2].quantity, book.positions[SYM2].cost_basis) == (2.0, 400.0)


def test_a_fill_we_never_saw_is_adopted_once_and_observed(store: Store) -> None:
    log = FillLog()
    pm = get_plugin_manager()
    pm.register(log, name="fill-log")
    paper = paper_on(store)
    worker = worker_on(paper, store, registry=PluginRegistry(pm))
    worker.start(ACCOUNT)
    resting = worker.route(intent("e1", qty=3, limit=2.50))  # below the ask: rests
    assert resting.state == "acked"
    paper.on_quote(SYM, T0 + 10**9, 2.40, 50, 2.50, 50)  # fills now; we do not poll
    assert BrokerStore(store).get("e1").filled_quantity == 0  # type: ignore[union-attr]
    run = worker.reconcile(ACCOUNT)
    assert run is not None
    [diff] = run.differences
    assert (diff.kind, diff.action, diff.applied) == ("unrecorded_fill", "adopt", True)
    assert (diff.internal.filled_quantity, diff.broker.filled_quantity) == (0.0, 3.0)
    rec = BrokerStore(store).get("e1")
    assert rec is not None and (rec.state, rec.filled_quantity, rec.avg_fill_price) == (
        "filled", 3.0, 2.5)
    order_id = rec.broker_order_id
    assert log.seen == [(f"{order_id}-3", "e1", "reconcile", 3.0)]
    worker.poll()  # the broker's own event for the same execution: already recorded
    again = worker.reconcile(ACCOUNT)
    assert again is not None and again.status == "clean"
    assert BrokerStore(store).fills("e1") == [(f"{ACCOUNT}/{order_id}-3", 3.0, 2.5)]
    assert len(log.seen) == 1


def test_routing_records_fills_through_spxcc_on_fill(store: Store) -> None:
    log = FillLog()
    pm = get_plugin_manager()
    pm.register(log, name="fill-log")
    worker = worker_on(paper_on(store), store, registry=PluginRegistry(pm))
    assert worker.route(intent("e1", qty=2)).state == "filled"
    order_id = BrokerStore(store).get("e1").broker_order_id  # type: ignore[union-attr]
    assert log.seen == [(f"{order_id}-2", "e1", "routing", 2.0)]


def test_a_failing_observer_does_not_stop_routing(store: Store) -> None:
    class Broken:
        @hookimpl
        def spxcc_on_fill(self, fill: Fill) -> None:
            raise RuntimeError("observer bug")

    pm = get_plugin_manager()
    pm.register(Broken(), name="broken")
    registry = PluginRegistry(pm)
    worker = worker_on(paper_on(store), store, registry=registry)
    assert worker.route(intent("e1")).state == "filled"
    assert [(f.plugin, f.hook) for f in registry.failures] == [("broken", "spxcc_on_fill")]


def test_halt_blocks_new_entries_not_exits_until_cleared(
        store: Store, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paper = paper_on(store)
    clock = ManualClock(start_ms=1_790_000_000_000)
    worker = worker_on(paper, store, clock=clock, policy=ReconcilePolicy(actions={
        "unknown_at_broker": "halt"}))
    worker.start(ACCOUNT)
    assert worker.route(intent("e1", qty=2)).state == "filled"
    external(paper, "outside-1")
    run = worker.reconcile(ACCOUNT)
    assert run is not None and (run.status, run.halted) == ("halted", True)
    refused = worker.route(intent("e2"))
    assert refused.state == "refused"
    assert any("halted by reconciliation" in r and "spxcc reconcile --clear" in r
               for r in refused.reasons)
    assert worker.route(intent("x1", side="sell_to_close", limit=2.90)).state == "filled"
    # the CLI reports the halt (exit 3) and, with --clear, lifts it (the external position is
    # acknowledged: it is still reported, as an alert)
    code, out, err = run_cli(capsys, db, "--json", "--action", "unknown_at_broker=halt")
    assert (code, err) == (3, "")
    assert json.loads(out)["status"] == "halted"
    code, out, err = run_cli(capsys, db, "--json", "--clear", "--action",
                             "unknown_at_broker=halt")
    assert (code, err) == (1, "")
    body = json.loads(out)
    assert body["status"] == "differences"
    assert [(d["kind"], d["symbol"], d["action"]) for d in body["differences"]] == [
        ("unknown_at_broker", SYM2, "alert")]
    # the worker reads the halt flag from the store again after at most a second
    assert worker.route(intent("e3")).state == "refused"
    clock.advance(1.0)
    assert worker.route(intent("e4")).state == "filled"


def run_cli(capsys: pytest.CaptureFixture[str], db: Path, *extra: str) -> tuple[int, str, str]:
    return run(capsys, *paper_args(db, *extra))


def test_cli_exit_codes_text_and_json(store: Store, db: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    paper = paper_on(store)
    code, out, err = run_cli(capsys, db)
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == "status: clean"
    external(paper, "outside-1")
    code, out, err = run_cli(capsys, db, "--json")
    assert (code, err) == (1, "")
    body = json.loads(out)
    assert list(body) == ["status", "differences"]
    [d] = body["differences"]
    assert list(d) == ["kind", "symbol", "internal", "broker", "severity", "action", "detail"]
    assert (d["kind"], d["severity"], d["action"]) == ("unknown_at_broker", "warning", "alert")
    assert d["broker"]["quantity"] == 2.0 and d["internal"]["present"] is False
    code, out, err = run_cli(capsys, db)
    assert code == 1 and "unknown_at_broker" in out and out.splitlines()[-1] == (
        "status: differences")


@pytest.mark.parametrize(("extra", "message"), [
    (("--action", "unknown_at_broker=ignore"), "'ignore' is not one of alert, adopt, halt"),
    (("--action", "sideways=alert"), "unknown difference kind"),
    (("--action", "unknown_at_broker"), "expected KIND=ACTION"),
])
def test_cli_bad_input_exits_2_with_one_line(db: Path, capsys: pytest.CaptureFixture[str],
                                              extra: tuple[str, ...], message: str) -> None:
    code, out, err = run_cli(capsys, db, *extra)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and message in err


def test_cli_policy_file_unknown_key_is_named(tmp_path: Path, db: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("[reconcile]\nstuck_after_s = 30\nhalt_everything = true\n")
    code, out, err = run_cli(capsys, db, "--policy", str(policy))
    assert (code, out) == (2, "")
    assert "unknown key 'halt_everything'" in err and str(policy) in err
    policy.write_text("[reconcile]\nstuck_after_s = 30\n[reconcile.actions]\n"
                      "unknown_at_broker = \"halt\"\n")
    assert ReconcilePolicy.from_toml(policy) == ReconcilePolicy(
        actions={"unknown_at_broker": "halt"}, stuck_after_ms=30_000)
    # a misspelt table is not silently the defaults
    policy.write_text("[reconcille]\nstuck_after_s = 30\n")
    code, out, err = run_cli(capsys, db, "--policy", str(policy))
    assert (code, out) == (2, "")
    assert err == (f"spxcc: error: {policy}: no [reconcile] table (tables found: "
                   "[reconcille])\n")


def test_cli_live_reconcile_policy_needs_execute(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("[reconcile.actions]\nunknown_at_broker = \"halt\"\n")
    code, out, err = run(capsys, "live", "--url", "ws://127.0.0.1:9/stocks", "--subscribe",
                         "T.SPY", "--reconcile-policy", str(policy))
    assert (code, out) == (2, "")
    assert err == ("spxcc: error: spxcc live: --reconcile-policy is an option of --execute and "
                   "needs --execute BROKER (without it, it would have no effect)\n")


def test_cli_submit_refuses_an_entry_of_a_halted_account(
        store: Store, db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paper = paper_on(store)
    external(paper, "outside-1")
    worker = worker_on(paper, store, policy=ReconcilePolicy(actions={
        "unknown_at_broker": "halt"}))
    run_ = worker.reconcile(ACCOUNT)
    assert run_ is not None and run_.halted
    path = tmp_path / "entry.json"
    path.write_text(json.dumps({"intentId": "cli-e1", "optionSymbol": SYM, "underlying": "SPX",
                                "side": "buy_to_open", "quantity": 1, "orderType": "limit",
                                "limitPrice": 3.0}))
    code, out, err = run(capsys, "broker", "submit", "--broker", "paper", "--account", ACCOUNT,
                         "--db", str(db), "--option", "clock=replay", "--intent", str(path))
    assert (code, out) == (2, "")
    assert "refused by pre-trade checks" in err and "halted by reconciliation" in err
    assert err.count("\n") == 1


def test_the_halt_hint_clears_the_same_store(store: Store, db: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """The printed command names the store it was run on (a review ran the hint as printed:
    without --db it cleared nothing in the default store and said "clean")."""
    paper = paper_on(store)
    external(paper, "outside-1")
    code, out, _ = run_cli(capsys, db, "--action", "unknown_at_broker=halt")
    assert code == 3
    hint = out.splitlines()[-1]
    assert hint == ("the account opens no new risk until a person clears the halt: "
                    f"spxcc reconcile --broker paper --account {ACCOUNT} --db {db} "
                    "--option clock=replay --clear")
    # the hint as printed lifts this store's halt (the difference stays, as an alert)
    argv = hint.split(": ", 1)[1].split()[1:]
    code, out, _ = run(capsys, *argv, "--action", "unknown_at_broker=halt")
    assert code == 1 and "cleared" in out and out.splitlines()[-1] == "status: differences"


def test_a_missing_store_is_refused_not_created(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "typo" / "recon.sqlite3"
    code, out, err = run_cli(capsys, missing)
    assert (code, out) == (2, "")
    assert err == (f"spxcc: error: --db {missing}: no such store file (reconciliation compares "
                   "what a store recorded with the broker; it never creates a store)\n")
    assert not missing.parent.exists()
