"""The executor against the real paper broker on hand-built quote streams: entry, T1 partial,
an exit into a zero bid that waits for a bid, the forced flat, slippage lines, determinism."""

from __future__ import annotations

import datetime as dt

import msgspec
import numpy as np
import pytest
from spxcc_paper import PaperBroker

from spxcc_core.aggregate.columns import QuoteColumns, SymbolTable
from spxcc_core.contracts.setup import SetupInstance
from spxcc_core.execute.engine import Executor, intent_id_for
from spxcc_core.execute.policy import ExecutionPolicy
from spxcc_core.gamma import settlement_ms

DAY = "2025-12-12"
CLOSE = settlement_ms(dt.date(2025, 12, 12))  # 16:00 New York, 21:00 UTC
T0 = CLOSE - 6 * 3600 * 1000                  # 10:00 New York
CALL = "O:SPXW251212C06000000"
MS = 1_000_000


class FixedIndex:
    """The index at 6000 whenever asked (SPY at 600: index / entry = 10)."""

    def index_value(self, symbol: str, at_ms: int, max_age_ms: int) -> float | None:
        return 6000.0 if symbol == "I:SPX" else None


def setup(**changes: object) -> SetupInstance:
    base = SetupInstance(id="s-1", session_id=DAY, detector="vwap", detector_version=1,
                         symbol="SPY", direction="long", entry=600.0, stop=599.0, t1=601.0,
                         t2=602.0, detected_ms=T0 - 5000, trigger_deadline_ms=T0 + 60_000)
    return msgspec.structs.replace(base, **changes)


def quotes(table: SymbolTable, *rows: tuple[int, float, float, float, float]) -> QuoteColumns:
    """Quotes of the call: (ts_ms, bid, bid_size, ask, ask_size)."""
    sid = table.intern(CALL)
    n = len(rows)
    return QuoteColumns(ts=[r[0] * MS for r in rows], symbol=np.full(n, sid),
                        seq=np.arange(n), bid=[r[1] for r in rows],
                        bid_size=[r[2] for r in rows], ask=[r[3] for r in rows],
                        ask_size=[r[4] for r in rows], line=np.arange(n))


def make(policy: ExecutionPolicy, latency_ms: int = 0) -> tuple[Executor, SymbolTable]:
    table = SymbolTable()
    broker = PaperBroker.from_config({"account_id": "t", "clock": "replay",
                                      "latency_ms": latency_ms})
    ex = Executor(broker, policy, t1_fraction=0.5, market=FixedIndex(), symbols=table,
                  interval_ms=1000)
    ex.set_session_date(DAY)
    return ex, table


def run_round_trip(latency_ms: int = 0) -> Executor:
    ex, table = make(ExecutionPolicy(risk_budget=2000.0), latency_ms)
    # 09:59:59 quote 9.90 x 10.10; the setup triggered on the bar starting 09:59:59
    ex.step(quotes(table, (T0 - 1000, 9.90, 50, 10.10, 50)),
            [setup(status="triggered", triggered_ms=T0 - 1000)])
    # T1 on the bar starting 10:00:29 -> known at 10:00:30, quote 12.00 x 12.20 in force
    ex.step(quotes(table, (T0 + 30_000, 12.00, 50, 12.20, 50)),
            [setup(status="t1", triggered_ms=T0 - 1000, t1_ms=T0 + 29_000)])
    # breakeven stop at 10:01:00; nobody bids (0 x 0 bid); a bid of 1.00 comes at 10:01:30
    ex.step(quotes(table, (T0 + 60_000, 0.0, 0, 0.05, 10), (T0 + 90_000, 1.00, 5, 1.10, 5)),
            [setup(status="t1", triggered_ms=T0 - 1000, t1_ms=T0 + 29_000,
                   closed_ms=T0 + 59_000, exit_price=600.0)])
    ex.finish([])
    return ex


def test_round_trip_hand_worked():
    ex = run_round_trip()
    out = ex.outputs()
    entry, t1, exit_ = out.intents
    # entry: mid 10.00 + one 0.10 tick = 10.10 (= the ask); d = 1 SPY point x 6000/600 = 10
    # index points; delta ~0.50, gamma ~0.016 (ATM, 6 h, iv ~0.16): loss ~5.0 - 0.8 = 4.2,
    # stop premium ~5.9; risk ~$420 per contract; $2000 budget -> 4 contracts (5 = $2100)
    assert (entry.side, entry.order_type, entry.limit_price) == ("buy_to_open", "limit", 10.10)
    assert entry.quantity == 4
    assert entry.stop_premium == pytest.approx(5.9, abs=0.05)
    assert (entry.arrival_bid, entry.arrival_ask, entry.arrival_bid_size,
            entry.arrival_ts_ms) == (9.90, 10.10, 50, T0 - 1000)
    assert entry.created_at_ms == T0 and entry.intent_id == intent_id_for("s-1", "entry")
    # T1: floor(4 x 0.5) = 2, market; the exit: the other 2
    assert (t1.side, t1.order_type, t1.quantity, t1.entry_intent_id) == (
        "sell_to_close", "market", 2, entry.intent_id)
    assert (exit_.quantity, exit_.created_at_ms, exit_.entry_intent_id) == (
        2, T0 + 60_000, entry.intent_id)
    # fills: 4 @ 10.10 at once (latency 0), 2 @ 12.00 (the bid), 2 @ 1.00 when a bid came
    got = [(f.side, f.quantity, f.price, f.at_ms) for f in out.fills]
    assert got == [("buy_to_open", 4, 10.10, T0), ("sell_to_close", 2, 12.00, T0 + 30_000),
                   ("sell_to_close", 2, 1.00, T0 + 90_000)]
    assert out.positions == []
    # P&L: 2 x 12.00 x 100 + 2 x 1.00 x 100 - 4 x 10.10 x 100 = 2400 + 200 - 4040 = -1440
    assert out.report.realized_pnl == -1440.0
    # R: -1440 / ((10.10 - ~5.9) x 100 x 4 = ~1680) = ~-0.857
    assert out.report.realized_r == pytest.approx(-1440 / ((10.10 - entry.stop_premium) * 400),
                                                  abs=1e-4)  # the report rounds R to 4 places
    assert out.report.exits == {"t1": 1, "t1_remainder": 1}
    # slippage (the ledger's records): buy 10.10 vs mid 10.00 = +0.10 ($10, 1 tick of 0.10,
    # 100 bps, half the 0.20 spread); T1 sell 12.00 vs mid 12.10 = +0.10; the exit's arrival
    # quote had no bid (0 x 0.05): a sell could not trade at arrival, so the ledger has no
    # price to measure the sale at 1.00 (after a bid appeared) against -- counted as
    # no_arrival_side, not booked as a -$97.50 "gain" against a mid of 0.025
    s_entry, s_t1 = out.slippage
    assert (s_entry.slippage_dollars, s_entry.slippage_ticks, s_entry.slippage_bps,
            s_entry.slippage_spread_fraction) == (10.0, 1.0, 100.0, 0.5)
    assert (s_t1.slippage_dollars, s_t1.side) == (10.0, "sell_to_close")
    assert {s.time_bucket for s in out.slippage} == {"morning"}  # 10:00-12:00 New York
    assert {s.source for s in out.slippage} == {"paper"}
    assert all(s.setup_id == "s-1" and s.detector == "vwap" for s in out.slippage)
    # the index was 6000 at each intent: the 6000 call is at the money
    assert s_entry.moneyness == 1.0 and s_entry.otm_points == 0.0 and s_entry.dte == 0
    assert out.report.slippage_unavailable == {"no_arrival_side": 1}
    # the gates' view of the same round trip: one trade, entered at the trigger, T1 sent,
    # R = -1440 / planned risk (the same R as the report: only one trade)
    (trade,) = out.trades
    assert (trade.setup_id, trade.entered_ms, trade.reached_t1, trade.pnl) == (
        "s-1", T0 - 1000, True, -1440.0)
    assert trade.realized_r == pytest.approx(out.report.realized_r, abs=1e-4)
    assert trade.realized_r < -0.8


def test_latency_is_event_time():
    ex = run_round_trip(latency_ms=250)
    got = [(f.side, f.price, f.at_ms) for f in ex.outputs().fills]
    # each order fills on the quote in force 250 ms after it was created
    assert got == [("buy_to_open", 10.10, T0 + 250), ("sell_to_close", 12.00, T0 + 30_250),
                   ("sell_to_close", 1.00, T0 + 90_000)]


def test_rerun_is_identical():
    a, b = run_round_trip(250).outputs(), run_round_trip(250).outputs()
    assert a.files() == b.files()
    assert msgspec.json.encode(a.report) == msgspec.json.encode(b.report)


def test_forced_flat_before_the_close_and_no_entry_after_it():
    ex, table = make(ExecutionPolicy(risk_budget=2000.0, flat_before_close_s=300))
    late = CLOSE - 3600_000  # 15:00 New York
    ex.step(quotes(table, (late - 1000, 9.90, 50, 10.10, 50)),
            [setup(status="triggered", triggered_ms=late - 1000,
                   trigger_deadline_ms=CLOSE)])
    flat = CLOSE - 300_000  # 15:55:00 New York
    # quotes run past the flat time: the flat happens at 15:55:00 on the quote in force then
    ex.step(quotes(table, (flat - 1000, 3.00, 20, 3.10, 20), (flat + 60_000, 2.00, 20, 2.10, 20)),
            [])
    # a setup triggering after the flat time gets no entry
    ex.step(None, [setup(id="s-2", status="triggered", triggered_ms=flat + 61_000,
                         trigger_deadline_ms=CLOSE)])
    ex.finish([])
    out = ex.outputs()
    assert [i.side for i in out.intents] == ["buy_to_open", "sell_to_close"]
    assert out.intents[1].created_at_ms == flat
    assert out.fills[-1].price == 3.00 and out.fills[-1].at_ms == flat
    assert out.report.exits == {"flat": 1}
    assert out.report.skipped == {"after_flat_time": 1}
    assert out.positions == []


def test_a_position_left_at_the_end_of_the_input_is_closed():
    ex, table = make(ExecutionPolicy(risk_budget=2000.0))
    ex.step(quotes(table, (T0 - 1000, 9.90, 50, 10.10, 50)),
            [setup(status="triggered", triggered_ms=T0 - 1000)])
    ex.finish([])
    out = ex.outputs()
    assert out.report.exits == {"flat": 1}
    assert out.positions == []
    assert [f.price for f in out.fills] == [10.10, 9.90]


def test_no_index_value_and_option_setups_are_recorded_reasons():
    class NoIndex:
        def index_value(self, symbol: str, at_ms: int, max_age_ms: int) -> None:
            return None

    table = SymbolTable()
    ex = Executor(PaperBroker.from_config({"account_id": "t", "clock": "replay"}),
                  ExecutionPolicy(), t1_fraction=0.5, market=NoIndex(), symbols=table,
                  interval_ms=1000)
    ex.set_session_date(DAY)
    ex.step(quotes(table, (T0, 9.9, 5, 10.1, 5)),
            [setup(status="triggered", triggered_ms=T0),
             setup(id="s-opt", symbol=CALL, status="triggered", triggered_ms=T0)])
    ex.finish([])
    rep = ex.outputs().report
    assert rep.skipped == {"no_index_value": 1, "option_setup": 1}
    assert rep.entries == 0 and rep.setups == 2
