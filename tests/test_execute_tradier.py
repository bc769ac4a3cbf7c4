"""The executor on a real broker: the Tradier adapter against the fake Tradier server (real
HTTP over loopback), through the routing worker, as live execution runs it. The broker fills on
its own market (the fake's quotes), the worker records each fill and its slippage (source
``broker``), and the executor hears the fills from the worker and sends the exits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from fake_tradier import FakeTradier
from secret_tokens import MASSIVE_TEST_API_KEY, TRADIER_TEST_TOKEN
from spxcc_tradier import TradierAdapter
from test_execute_engine import CALL, DAY, T0, FixedIndex, quotes, setup

from spxcc_core.aggregate.columns import SymbolTable
from spxcc_core.broker import tag_for
from spxcc_core.broker.routing import RoutingWorker
from spxcc_core.broker.store import BrokerStore
from spxcc_core.execute.engine import Executor
from spxcc_core.execute.policy import ExecutionPolicy
from spxcc_core.execute.routing import WorkerRouter
from spxcc_core.slippage.store import SlippageStore
from spxcc_core.store import Store

ACCOUNT = "VA00000001"
TRADIER_SYMBOL = CALL.removeprefix("O:")


@pytest.fixture
def fake() -> Iterator[FakeTradier]:
    with FakeTradier(TRADIER_TEST_TOKEN, accounts={ACCOUNT: "margin"}) as server:
        yield server


def test_live_execution_on_tradier_through_the_routing_worker(fake: FakeTradier,
                                                              tmp_path: Path) -> None:
    table = SymbolTable()
    with Store(tmp_path / "live.sqlite3") as store, TradierAdapter(
            TRADIER_TEST_TOKEN, base_url=fake.url, account_id=ACCOUNT, lookup_window_s=0.5,
            lookup_interval_s=0.05, backoff_s=0.01) as tradier:
        worker = RoutingWorker(tradier, BrokerStore(store))
        ex = Executor(tradier, ExecutionPolicy(risk_budget=2000.0), t1_fraction=0.5,
                      market=FixedIndex(), symbols=table, interval_ms=1000,
                      router=WorkerRouter(worker))
        ex.set_session_date(DAY)
        # a decision waits for an option quote at or after its time (the executor's rule),
        # so each step below releases the event of the step before it
        ex.step(quotes(table, (T0 - 1000, 9.90, 50, 10.10, 50)),
                [setup(status="triggered", triggered_ms=T0 - 1000)])
        # the broker's market: the entry limit (mid 10.00 + 1 tick = 10.10, the ask) is
        # marketable against the fake's 9.90 x 10.10, so it fills at once at 10.10
        fake.set_quote(TRADIER_SYMBOL, 9.90, 10.10)
        ex.step(quotes(table, (T0 + 1, 9.90, 50, 10.10, 50)), [])
        # T1 known at 10:00:30; the broker's bid is 12.00: the market T1 sale fills there
        fake.set_quote(TRADIER_SYMBOL, 12.00, 12.20)
        ex.step(quotes(table, (T0 + 30_000, 12.00, 50, 12.20, 50)),
                [setup(status="t1", triggered_ms=T0 - 1000, t1_ms=T0 + 29_000)])
        # the breakeven stop at 10:01:00 sells the rest at the broker's 11.00 bid
        fake.set_quote(TRADIER_SYMBOL, 11.00, 11.20)
        ex.step(quotes(table, (T0 + 60_000, 11.00, 50, 11.20, 50)),
                [setup(status="t1", triggered_ms=T0 - 1000, t1_ms=T0 + 29_000,
                       closed_ms=T0 + 59_000, exit_price=600.0)])
        worker.poll()
        ex.finish([])
        out = ex.outputs()
        records = {i.intent_id: worker.store.get(i.intent_id) for i in out.intents}
        stored = sorted(SlippageStore(store).records(source="broker"), key=lambda r: r.at_ms)

    entry, t1, exit_ = out.intents
    assert (entry.side, entry.quantity, entry.limit_price) == ("buy_to_open", 4, 10.10)
    assert (t1.quantity, exit_.quantity) == (2, 2)
    assert t1.entry_intent_id == exit_.entry_intent_id == entry.intent_id
    # every leg is at the broker once and filled there
    for intent in out.intents:
        orders = fake.orders_with_tag(ACCOUNT, tag_for(intent.intent_id))
        assert [o.status for o in orders] == ["filled"]
    assert {r.state for r in records.values() if r is not None} == {"filled"}
    # the executor heard the broker's fills from the worker, each naming its intent
    got = sorted((f.intent_id, f.side, f.quantity, f.price) for f in out.fills)
    assert got == sorted([(entry.intent_id, "buy_to_open", 4, 10.10),
                          (t1.intent_id, "sell_to_close", 2, 12.00),
                          (exit_.intent_id, "sell_to_close", 2, 11.00)])
    assert out.positions == []
    # P&L: 2 x 12.00 x 100 + 2 x 11.00 x 100 - 4 x 10.10 x 100 = 2400 + 2200 - 4040 = 560
    assert out.report.realized_pnl == 560.0
    (trade,) = out.trades
    assert trade.pnl == 560.0 and trade.reached_t1 and trade.realized_r > 0
    # the worker measured each fill against its arrival quote, as a broker fill: the entry
    # 10.10 vs mid 10.00 = +$10; the T1 sale 12.00 vs mid 12.10 = +$10; the exit 11.00 vs
    # 11.10 = +$10 per contract
    assert [(r.side, r.slippage_dollars, r.source) for r in stored] == [
        ("buy_to_open", 10.0, "broker"), ("sell_to_close", 10.0, "broker"),
        ("sell_to_close", 10.0, "broker")]
    assert {r.setup_id for r in stored} == {"s-1"}


def test_cli_live_executes_on_tradier(fake: FakeTradier, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """``spxcc live --execute tradier``: the fake Massive feed and the fake Tradier server; the
    session's setups reach the policy with Tradier as the broker (trend_day has no option
    quotes, so each setup is counted with its reason — none placed, none dropped)."""
    from fake_massive import Script
    from test_host_live import _FakeInThread
    from test_live_parity import SUBSCRIPTIONS, index_values, ws_frames, ws_shaped

    from spxcc_core.cli import main
    from spxcc_core.golden.sessions import case_events

    events = ws_shaped(case_events("trend_day"))
    frames = ws_frames(events, seed=7, values=index_values(events))

    for var in ("MASSIVE_API_KEY", "SPXCC_DB", "SPXCC_MASTER_KEY", "HTTP_PROXY", "HTTPS_PROXY",
                "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SPXCC_LIVE_KEY", MASSIVE_TEST_API_KEY)
    monkeypatch.setenv("SPXCC_TRADIER_TOKEN", TRADIER_TEST_TOKEN)
    base = ["live", "--subscribe", ",".join(SUBSCRIPTIONS), "--api-key-env", "SPXCC_LIVE_KEY",
            "--out", str(tmp_path / "out"), "--db", str(tmp_path / "live.sqlite3"),
            "--idle-timeout", "1", "--execute", "tradier"]
    # a real broker needs its account: one line, exit 2, before any connection
    assert main([*base, "--url", "ws://127.0.0.1:9/stocks"]) == 2
    assert capsys.readouterr().err == (
        "spxcc: error: --execute tradier: a real broker needs --execute-account ID\n")
    with _FakeInThread([Script(frames=frames)]) as feed:
        code = main([*base, "--url", feed.url, "--execute-account", ACCOUNT,
                     "--execute-option", f"base_url={fake.url}"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert TRADIER_TEST_TOKEN not in out.out + out.err
    report = msgspec.json.decode((tmp_path / "out" / "report.json").read_bytes())
    execution = report["execution"]
    assert execution["broker"] == "tradier"
    assert execution["setups"] == 6 and execution["entries"] == 0
    assert sum(execution["skipped"].values()) == 6


def test_replay_refuses_a_real_broker_with_the_reason(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Before: "option 'token' ... is required" even with a token set."""
    from spxcc_core.cli import main
    from spxcc_core.sample import generate_session

    monkeypatch.setenv("SPXCC_TRADIER_TOKEN", TRADIER_TEST_TOKEN)
    session = generate_session(tmp_path / "sample", scale=0.005).root
    code = main(["replay", str(session), "--out", str(tmp_path / "out"), "--execute", "tradier"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "--execute tradier: a real broker fills on its own market" in err
    assert "spxcc live --execute tradier --execute-account ID" in err
    assert not (tmp_path / "out").exists()
