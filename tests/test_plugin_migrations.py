"""Plugins bring their own tables (``spxcc_register_migrations``), adapters are built from a
typed ``AdapterConfig`` by a CLI that names none of them, and the routing worker's waits run on
the injected clock."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, ClassVar, Self

import pluggy
import pytest
from broker_cli_helpers import run
from secret_tokens import TRADIER_TEST_TOKEN
from spxcc_paper import PaperBroker
from spxcc_paper.store import MIGRATIONS as PAPER_MIGRATIONS
from spxcc_tradier import TradierAdapter

from spxcc_core import hookspecs
from spxcc_core.broker.interface import AdapterConfig
from spxcc_core.broker.routing import RoutingWorker
from spxcc_core.broker.store import BrokerStore
from spxcc_core.clock import ManualClock
from spxcc_core.contracts.broker import OrderIntent
from spxcc_core.errors import ConfigError, PluginError
from spxcc_core.plugins import get_plugin_manager
from spxcc_core.store import Migration, Store, all_migrations
from spxcc_core.store.broker_schema import MIGRATIONS as BROKER_MIGRATIONS
from spxcc_core.store.migrations import plugin_migrations

ROOT = Path(__file__).resolve().parent.parent
SYM = "SPXW991218C05900000"

#: The table as core's ``broker`` migration 1 created it before the paper plugin owned it.
OLD_PAPER_TABLE = """CREATE TABLE spx_paper_state (
            account_id TEXT PRIMARY KEY,
            payload BLOB NOT NULL,
            rev INTEGER NOT NULL,
            updated_ms INTEGER NOT NULL)"""


def tables(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return sorted(r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'spx_%'"))


def applied(path: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(path) as conn:
        return sorted(conn.execute("SELECT component, version FROM spxcc_schema").fetchall())


def all_with_plugins() -> list[Migration]:
    return all_migrations(plugin_migrations(get_plugin_manager(load_entrypoints=False)))


# --- spxcc_register_migrations ----------------------------------------------------------------

def test_paper_plugin_brings_its_table_through_spxcc_register_migrations(
        tmp_path: Path) -> None:
    found = plugin_migrations(get_plugin_manager(load_entrypoints=False))
    assert [(m.component, m.version) for m in found] == [("paper", 1)]
    core_only = tmp_path / "core.sqlite3"
    Store(core_only).close()
    assert "spx_paper_state" not in tables(core_only)  # core creates no plugin table
    assert ("paper", 1) not in applied(core_only)
    full = tmp_path / "full.sqlite3"
    Store(full, migrations=all_with_plugins()).close()
    assert "spx_paper_state" in tables(full)
    assert ("paper", 1) in applied(full)
    Store(full, migrations=all_with_plugins()).close()  # idempotent
    assert applied(full).count(("paper", 1)) == 1


def test_plugin_migrations_may_not_use_a_core_component_or_break_numbering() -> None:
    with pytest.raises(RuntimeError, match="'broker' 2: the component name is core's"):
        all_migrations([Migration("broker", 2, ("CREATE TABLE x (a)",))])
    with pytest.raises(RuntimeError, match=r"'paper' are not numbered 1\.\.n: \[1, 1\]"):
        all_migrations([*PAPER_MIGRATIONS, *PAPER_MIGRATIONS])  # two plugins, one component
    with pytest.raises(RuntimeError, match=r"not numbered 1\.\.n: \[2\]"):
        all_migrations([Migration("acme", 2, ("CREATE TABLE acme (a)",))])


def test_a_hook_returning_something_else_is_a_plugin_error() -> None:
    class Bad:
        @hookspecs.hookimpl
        def spxcc_register_migrations(self) -> list[str]:
            return ["CREATE TABLE nope (a)"]

    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    pm.register(Bad())
    with pytest.raises(PluginError, match="returned 'CREATE TABLE nope \\(a\\)', not a Migration"):
        plugin_migrations(pm)


def test_store_made_by_the_old_code_keeps_its_paper_accounts(tmp_path: Path) -> None:
    """A store whose paper table was created by core's ``broker`` 1 (the old layout) opens
    with the plugin's migration: nothing created twice, the account kept, ``paper`` 1 recorded."""
    # a real account row, written by the paper broker into a scratch store
    scratch = Store(tmp_path / "scratch.sqlite3", migrations=all_with_plugins())
    paper = PaperBroker(account_id="P1", cash=12_345.0, store=scratch, clock=None)
    paper.snapshot("P1")
    row = scratch.conn.execute(
        "SELECT account_id, payload, rev, updated_ms FROM spx_paper_state").fetchone()
    scratch.close()
    # the old code's store: broker 1 with the paper table in it, and that account
    old = tmp_path / "old.sqlite3"
    old_broker_1 = BROKER_MIGRATIONS[0]
    legacy = Migration("broker", 1, (*old_broker_1.statements, OLD_PAPER_TABLE))
    core_rest = [m for m in all_migrations() if m.component != "broker"]
    with Store(old, migrations=[legacy, *core_rest]) as store:
        store.conn.execute("INSERT INTO spx_paper_state VALUES (?, ?, ?, ?)", tuple(row))
    assert ("paper", 1) not in applied(old)

    with Store(old, migrations=all_with_plugins()) as store:  # the new code opens it
        assert ("paper", 1) in applied(old) and applied(old).count(("broker", 1)) == 1
        assert [tuple(r) for r in store.conn.execute(
            "SELECT account_id, payload, rev, updated_ms FROM spx_paper_state")] == [tuple(row)]
        reopened = PaperBroker(account_id="P1", cash=1.0, store=store, clock=None)
        assert reopened.snapshot("P1").total_equity == 12_345.0
    with Store(old) as store:  # and core alone still opens it (the table is not core's now)
        assert store.schema_versions()["paper"] == 1


def test_paper_adapter_on_a_core_only_store_applies_its_own_migration(tmp_path: Path) -> None:
    path = tmp_path / "core.sqlite3"
    with Store(path) as store:
        PaperBroker(account_id="P1", store=store, clock=None).snapshot("P1")
    assert "spx_paper_state" in tables(path) and ("paper", 1) in applied(path)


# --- from_config(AdapterConfig) -----------------------------------------------------------------

def test_paper_from_config_takes_the_store_and_account_from_the_config(tmp_path: Path) -> None:
    with Store(tmp_path / "p.sqlite3") as store:
        paper = PaperBroker.from_config(AdapterConfig(options={"fill": "mid"}, account_id="P9",
                                                      store=store))
        assert paper.store is store and paper.default_account_id == "P9"
        assert paper.model.kind == "mid"
    assert PaperBroker.uses_store and PaperBroker.secret_names == ()


def test_tradier_from_config_asks_the_lookup_for_its_declared_secret() -> None:
    asked: list[str] = []

    def lookup(name: str) -> str:
        asked.append(name)
        return TRADIER_TEST_TOKEN

    config = AdapterConfig(account_id="VA1", sandbox=True, secret=lookup)
    adapter = TradierAdapter.from_config(config)
    assert asked == list(TradierAdapter.secret_names) == ["tradier_token"]
    assert adapter.base_url == "https://sandbox.tradier.com/v1"
    assert adapter.default_account_id == "VA1"
    assert TRADIER_TEST_TOKEN not in repr(config) and "lookup" not in repr(config)
    with pytest.raises(ConfigError, match="'token' \\(secret tradier_token\\) is required"):
        TradierAdapter.from_config(AdapterConfig(account_id="VA1"))


class Acme(PaperBroker):
    """A third-party adapter the CLI has never heard of."""

    name: ClassVar[str] = "acme"
    secret_names: ClassVar[tuple[str, ...]] = ("acme_key",)
    seen: ClassVar[list[AdapterConfig]] = []

    @classmethod
    def from_config(cls, config: AdapterConfig | Any) -> Self:
        assert isinstance(config, AdapterConfig)
        cls.seen.append(config)
        assert config.secret is not None
        key = config.secret("acme_key")
        assert key == "acme-secret-value"
        with pytest.raises(ConfigError, match="not among the secrets the adapter declares"):
            config.secret("tradier_token")
        return super().from_config(AdapterConfig(options=config.options,
                                                 account_id=config.account_id,
                                                 store=config.store))


def test_cli_builds_an_adapter_it_does_not_know_by_name(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("spxcc_core.cli.broker.broker_adapters", lambda _pm: {"acme": Acme})
    monkeypatch.setenv("SPXCC_ACME_KEY", "acme-secret-value")
    code, out, err = run(capsys, "broker", "snapshot", "--broker", "acme", "--account", "A1",
                         "--db", str(tmp_path / "acme.sqlite3"), "--option", "cash=500")
    assert (code, err) == (0, "")
    assert '"accountId":"A1"' in out and "acme-secret-value" not in out
    (config,) = Acme.seen
    assert config.account_id == "A1" and config.options == {"cash": "500"}
    assert isinstance(config.store, Store)  # declared (uses_store, from the paper broker)
    assert "spx_paper_state" in tables(tmp_path / "acme.sqlite3")


def test_cli_source_names_no_adapter() -> None:
    code = (ROOT / "spxcc_core" / "cli" / "broker.py").read_text(encoding="utf-8")
    body = code[code.index('"""', 3) + 3:]  # after the module docstring
    for name in ('"paper"', '"tradier"', "'paper'", "'tradier'", "TOKEN_SECRET"):
        assert name not in body


def test_routing_and_paper_adapter_run_no_sql_of_their_own() -> None:
    for rel in ("spxcc_core/broker/routing.py", "spxcc_core/broker/book.py",
                "spxcc_core/broker/checks.py", "plugins/spxcc_paper/adapter.py"):
        text = (ROOT / rel).read_text(encoding="utf-8")
        for needle in (".conn", ".execute(", '"SELECT ', '"INSERT ', '"UPDATE ', '"BEGIN'):
            assert needle not in text, f"{rel}: {needle}"


# --- the injected clock ---------------------------------------------------------------------------

class CancelLater(PaperBroker):
    """Accepts a cancel request and leaves the order working (a broker that cancels later)."""

    def cancel(self, account_id: str, order_id: str) -> None:
        return None


def test_cancel_waits_on_the_injected_clock(tmp_path: Path) -> None:
    clock = ManualClock()
    with Store(tmp_path / "c.sqlite3") as store:
        paper = CancelLater(account_id="A", cash=10_000.0, clock=None)
        worker = RoutingWorker(paper, BrokerStore(store), clock=clock)
        intent = OrderIntent(intent_id="c1", option_symbol=SYM, underlying="SPX",
                             side="buy_to_open", quantity=1, order_type="limit",
                             limit_price=1.0)
        assert worker.route(intent).state == "acked"
        result = worker.cancel("c1", wait_s=1.0, poll_interval_s=0.25)
    assert result.requested and result.message.endswith("the broker reports it open")
    assert (clock.sleeps, clock.monotonic()) == (4, 1.0)  # 0.25 s steps up to the 1 s wait
