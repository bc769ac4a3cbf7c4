"""The Massive readers hand one-sided quotes to the kernel (``spec/microbar.md`` revision
2026-12-06): flat files write "no bid" as ``0,0``, REST pages omit the bid fields, websocket
``Q`` events carry ``bp: 0, bs: 0`` (or omit them). None of them rejects or drops such a row;
the kernel applies it as the quote in force.

Each case: a two-sided quote at +100 ms (0.05 × 10 / 0.10 × 30), then "no bid" at +300 ms
(0 × 0 / 0.05 × 120), and one trade at 0.05 at +500 ms. Expected bar (hand-worked): quote count
2, coverage 90 % (fresh from +100), imbalance (−0.5·200 − 1·700) / 900 = −8/9, spread only
over the two-sided [100, 300): 0.05 / 0.075 × 10⁴ = 6666.67 bps, close sizes 0 / 120, ratio null
(no bid), nothing quarantined.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spxcc_core.aggregate import AggregatorConfig, aggregate_columns
from spxcc_core.aggregate.columns import ConditionTable, SymbolTable
from spxcc_core.massive import iter_ws_decoded, open_quotes, open_trades

SYM = "O:SPXW240102C04900000"
T0 = 1704205800_000_000_000  # 2024-01-02 14:30:00 UTC, a second boundary
MS = 1_000_000


def _check(res: object) -> None:
    (bar,) = res.bars  # type: ignore[attr-defined]
    assert res.report.quarantined == {} and res.report.applied == 3  # type: ignore[attr-defined]
    assert bar.quote_count == 2 and bar.quote_coverage_pct == pytest.approx(90.0)
    assert bar.bid_ask_imbalance == pytest.approx(-8.0 / 9.0)
    assert bar.avg_spread_bps == pytest.approx(6666.666666666667)
    assert (bar.bid_size_at_close, bar.ask_size_at_close, bar.ask_bid_size_ratio) == (
        0.0, 120.0, None)


def _files(tmp_path: Path, trades: str, quotes: str, suffix: str) -> tuple[Path, Path]:
    t, q = tmp_path / f"trades{suffix}", tmp_path / f"quotes{suffix}"
    t.write_text(trades)
    q.write_text(quotes)
    return t, q


def _aggregate(t: Path, q: Path) -> object:
    symbols, conditions = SymbolTable(), ConditionTable()
    return aggregate_columns(open_trades(t, ticker=None, symbols=symbols, conditions=conditions),
                             open_quotes(q, ticker=None, symbols=symbols),
                             symbols=symbols, conditions=conditions, config=AggregatorConfig())


def test_flat_file_zero_by_zero_side(tmp_path: Path) -> None:
    quotes = ("ticker,ask_exchange,ask_price,ask_size,bid_exchange,bid_price,bid_size,"
              "sequence_number,sip_timestamp\n"
              f"{SYM},302,0.1,30,302,0.05,10,1,{T0 + 100 * MS}\n"
              f"{SYM},302,0.05,120,302,0,0,2,{T0 + 300 * MS}\n")
    trades = ("ticker,conditions,correction,exchange,participant_timestamp,price,sip_timestamp,"
              f"size\n{SYM},,0,302,{T0 + 500 * MS - 1000},0.05,{T0 + 500 * MS},1\n")
    _check(_aggregate(*_files(tmp_path, trades, quotes, ".csv")))


def test_rest_page_with_the_bid_fields_omitted(tmp_path: Path) -> None:
    quotes = {"status": "OK", "results": [
        {"ask_exchange": 302, "ask_price": 0.1, "ask_size": 30, "bid_exchange": 302,
         "bid_price": 0.05, "bid_size": 10, "sequence_number": 1, "sip_timestamp": T0 + 100 * MS},
        {"ask_exchange": 302, "ask_price": 0.05, "ask_size": 120, "sequence_number": 2,
         "sip_timestamp": T0 + 300 * MS}],
        "next_url": f"https://api.massive.com/v3/quotes/{SYM}?cursor=x"}
    trades = {"status": "OK", "results": [
        {"price": 0.05, "size": 1, "sip_timestamp": T0 + 500 * MS, "sequence_number": 1}],
        "next_url": f"https://api.massive.com/v3/trades/{SYM}?cursor=y"}
    _check(_aggregate(*_files(tmp_path, json.dumps(trades), json.dumps(quotes), ".json")))


@pytest.mark.parametrize("no_bid", [{"bp": 0, "bs": 0}, {}])
def test_websocket_quote_with_zero_or_missing_bid(tmp_path: Path, no_bid: dict[str, int]) -> None:
    t0_ms = T0 // MS
    frames = [
        [{"ev": "Q", "sym": SYM, "bp": 0.05, "bs": 10, "ap": 0.1, "as": 30, "t": t0_ms + 100,
          "q": 1}],
        [{"ev": "Q", "sym": SYM, **no_bid, "ap": 0.05, "as": 120, "t": t0_ms + 300, "q": 2}],
        [{"ev": "T", "sym": SYM, "p": 0.05, "s": 1, "t": t0_ms + 500, "q": 3}],
    ]
    path = tmp_path / "rec.jsonl"
    path.write_text("\n".join(json.dumps(f) for f in frames) + "\n")
    symbols, conditions = SymbolTable(), ConditionTable()
    decoded = list(iter_ws_decoded(path, ticker=None, symbols=symbols, conditions=conditions))
    res = aggregate_columns([f.trades for f in decoded], [f.quotes for f in decoded],
                            symbols=symbols, conditions=conditions, config=AggregatorConfig())
    _check(res)
