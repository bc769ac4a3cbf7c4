"""The speed anchor (benchmarks/polars_fast.py) computes the same bars as the engine, so the
ratios the benchmarks print compare equal work: on the generated sample (flat files, every
dataset, three configurations), on a hand-worked case, and on random streams."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings

pl = pytest.importorskip("polars")

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from test_polars_reference import CONFIGS, _streams  # noqa: E402

from benchmarks.polars_fast import flat_file_bars, microbars_fast  # noqa: E402
from benchmarks.polars_reference import compare_bars, compare_reports  # noqa: E402
from spxcc_core.aggregate import AggregatorConfig, aggregate_columns, aggregate_events  # noqa: E402
from spxcc_core.aggregate.columns import ConditionTable, SymbolTable  # noqa: E402
from spxcc_core.massive import open_quotes, open_trades  # noqa: E402

MS = 1_000_000


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from spxcc_core.sample import generate_session

    return generate_session(tmp_path_factory.mktemp("sample"), scale=0.05)


@pytest.mark.parametrize("dataset", ["us_stocks_sip", "us_options_opra"])
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(map(str, c.values())))
def test_fast_pipeline_agrees_with_engine_on_sample_files(sample: Any, dataset: str,
                                                          config: dict[str, int]) -> None:
    t_path = sample.paths[f"{dataset}/trades_v1"]
    q_path = sample.paths[f"{dataset}/quotes_v1"]
    symbols, conds = SymbolTable(), ConditionTable()
    result = aggregate_columns(
        open_trades(t_path, ticker=None, symbols=symbols, conditions=conds),
        open_quotes(q_path, ticker=None, symbols=symbols), symbols=symbols, conditions=conds,
        config=AggregatorConfig(**config))
    fast = flat_file_bars(t_path, q_path, **config)
    assert len(fast.bars) > 100
    assert compare_bars(fast.bars, [msgspec.to_builtins(b) for b in result.bars]) == []
    assert compare_reports(fast.report, msgspec.to_builtins(result.report)) == []


def test_fast_pipeline_ticker_filter(sample: Any) -> None:
    t_path = sample.paths["us_stocks_sip/trades_v1"]
    q_path = sample.paths["us_stocks_sip/quotes_v1"]
    symbols, conds = SymbolTable(), ConditionTable()
    result = aggregate_columns(
        open_trades(t_path, ticker="SPY", symbols=symbols, conditions=conds),
        open_quotes(q_path, ticker="SPY", symbols=symbols), symbols=symbols,
        conditions=conds, config=AggregatorConfig(ticker="SPY"))
    fast = flat_file_bars(t_path, q_path, ticker="SPY")
    assert set(fast.bars.get_column("symbol")) == {"SPY"}
    assert compare_bars(fast.bars, [msgspec.to_builtins(b) for b in result.bars]) == []
    assert compare_reports(fast.report, msgspec.to_builtins(result.report)) == []


def test_time_weighting_across_buckets_by_hand() -> None:
    # q1 at 0.5 s (100 x 300, spread 0.02) is in force to 1.25 s; q2 (200 x 200, 0.01) from
    # 1.25 s, fresh to 3.25 s (stale 2 s). A segment crosses the 1 s boundary and is clipped.
    quotes = pl.DataFrame(
        [("X", 500 * MS, 1, 10.00, 100.0, 10.02, 300.0),
         ("X", 1250 * MS, 2, 10.00, 200.0, 10.01, 200.0)],
        schema={"symbol": pl.String, "ts": pl.Int64, "seq": pl.Int64, "bid": pl.Float64,
                "bid_size": pl.Float64, "ask": pl.Float64, "ask_size": pl.Float64},
        orient="row")
    trades = pl.DataFrame(
        [("X", 800 * MS, 1, 10.02, 100.0, "", 0), ("X", 1250 * MS, 2, 10.00, 50.0, "", 0),
         ("X", 4000 * MS, 3, 10.005, 10.0, "", 0)],
        schema={"symbol": pl.String, "ts": pl.Int64, "seq": pl.Int64, "price": pl.Float64,
                "size": pl.Float64, "conditions": pl.String, "correction": pl.Int64},
        orient="row")
    bars = {r["startMs"]: r for r in microbars_fast(trades, quotes).bars.iter_rows(named=True)}
    assert sorted(bars) == [0, 1000, 4000]
    assert bars[0]["quoteCoveragePct"] == pytest.approx(50.0, abs=1e-12)
    assert bars[0]["deltaVolume"] == 100  # above the mid of q1: a buy
    assert bars[1000]["bidAskImbalance"] == pytest.approx(0.25 * -0.5, abs=1e-12)
    assert bars[1000]["avgSpreadBps"] == pytest.approx(
        0.25 * 0.02 / 10.01 * 1e4 + 0.75 * 0.01 / 10.005 * 1e4, rel=1e-12)
    assert bars[1000]["deltaVolume"] == -50  # q2 has the same ts: q1 in force, below its mid
    assert (bars[1000]["bidSizeAtClose"], bars[1000]["askBidSizeRatio"]) == (200.0, 1.0)
    assert bars[4000]["quoteCoveragePct"] == 0.0 and bars[4000]["bidSizeAtClose"] is None
    assert bars[4000]["deltaVolume"] == 10  # stale quote: tick test, up from 10.00


@settings(max_examples=60, deadline=None)
@given(_streams())
def test_fast_pipeline_agrees_with_engine_on_random_streams(case: Any) -> None:
    from spxcc_core.contracts.market import Quote, Trade

    trades, quotes, config = case
    result = aggregate_events([Trade(**t) for t in trades], [Quote(**q) for q in quotes],
                              config=AggregatorConfig(**config))
    t_df = pl.DataFrame(
        [{**t, "conditions": ",".join(map(str, t["conditions"]))} for t in trades],
        schema={"symbol": pl.String, "ts": pl.Int64, "seq": pl.Int64, "price": pl.Float64,
                "size": pl.Float64, "conditions": pl.String, "correction": pl.Int64})
    q_df = pl.DataFrame(quotes, schema={"symbol": pl.String, "ts": pl.Int64, "seq": pl.Int64,
                                        "bid": pl.Float64, "bid_size": pl.Float64,
                                        "ask": pl.Float64, "ask_size": pl.Float64})
    fast = microbars_fast(t_df, q_df, **config)
    assert compare_bars(fast.bars, [msgspec.to_builtins(b) for b in result.bars]) == []
    assert compare_reports(fast.report, msgspec.to_builtins(result.report)) == []
