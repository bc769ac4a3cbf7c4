"""The kernel on real CME ES data (``../shared/data``, skipped when absent).

Counts come from ``shared/data/README.md``; the exchange-reported aggressor side is the ground
truth for Lee–Ready (README: the quote rule with the tick rule agrees on 119 of 119 ESU4 trades
that have an earlier quote; the first trade precedes every quote row).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pytest

from spxcc_core.aggregate import AggregatorConfig, aggregate_columns
from spxcc_core.aggregate.columns import ConditionTable, SymbolTable
from spxcc_core.massive import open_quotes, open_trades

pytestmark = pytest.mark.shared_data

ESU4 = "glbx_esu4_2024-07-01_mbp1"
ESH4 = "glbx_esh4_2023-12-25_from_mbo"


def _run(data: Path, name: str, config: AggregatorConfig, engine: str = "batch"):
    symbols, conds = SymbolTable(), ConditionTable()
    trades = open_trades(data / f"{name}.trades.csv.gz", ticker=None, symbols=symbols,
                         conditions=conds, chunk_rows=500)
    quotes = open_quotes(data / f"{name}.quotes.csv.gz", ticker=None, symbols=symbols,
                         chunk_rows=500)
    return aggregate_columns(trades, quotes, symbols=symbols, conditions=conds, config=config,
                             engine=engine)


@pytest.mark.parametrize(("name", "bars", "volume", "events", "quarantined"), [
    (ESU4, 44, 253.0, 2287, {}),
    (ESH4, 986, 9892.0, 28412, {"crossed_quote": 15}),
])
def test_counts_match_the_readme(shared_data, name, bars, volume, events, quarantined) -> None:
    res = _run(shared_data, name, AggregatorConfig())
    assert len(res.bars) == bars  # trades fall in this many distinct seconds
    assert sum(b.volume for b in res.bars) == volume
    assert res.report.events_in == events and res.report.quarantined == quarantined
    stream = _run(shared_data, name, AggregatorConfig(), engine="stream")
    assert stream.bars == res.bars and stream.report == res.report


def test_lee_ready_agrees_with_the_exchange_aggressor(shared_data) -> None:
    """Each trade's side = change in total deltaVolume when the trade is added (quotes never
    stale here: ``stale_ms`` one day)."""
    path = shared_data / f"{ESU4}.trades.csv.gz"
    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        column_types={"aggressor": "string", "conditions": "string"}))
    aggressor = table.column("aggressor").to_pylist()
    size = table.column("size").to_numpy()
    symbols, conds = SymbolTable(), ConditionTable()
    trades = next(open_trades(path, ticker=None, symbols=symbols, conditions=conds))
    quotes = next(open_quotes(shared_data / f"{ESU4}.quotes.csv.gz", ticker=None,
                              symbols=symbols))
    config = AggregatorConfig(stale_ms=86_400_000)
    previous = 0.0
    sides = []
    for i in range(len(trades)):
        res = aggregate_columns(trades.take(np.arange(i + 1)), quotes, symbols=symbols,
                                conditions=conds, config=config)
        total = sum(b.delta_volume for b in res.bars)
        sides.append(round((total - previous) / size[i]))
        previous = total
    truth = [{"B": 1, "A": -1}[a] for a in aggressor]
    assert sides[0] == 0  # before any quote and without an earlier price: unclassified
    assert sides[1:] == truth[1:]  # 119 of 119
