"""The shared CME ES recordings (Massive stocks flat-file shape) read end to end.

Row counts and ranges are those of ``/work/shared/data/README.md``; skipped when the folder is
absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spxcc_core.aggregate.columns import ConditionTable, SymbolTable
from spxcc_core.massive import open_quotes, open_trades

pytestmark = pytest.mark.shared_data

SETS = {
    # name: (ticker, trades, contracts, quotes, last sequence_number)
    "glbx_esu4_2024-07-01_mbp1": ("ESU4", 120, 253, 2_167, 2_287),
    "glbx_esh4_2023-12-25_from_mbo": ("ESH4", 2_973, 9_892, 25_439, 28_412),
}


@pytest.mark.parametrize("name", sorted(SETS))
def test_shared_es_sets(shared_data: Path, name: str) -> None:
    ticker, n_trades, contracts, n_quotes, last_seq = SETS[name]
    symbols, conditions = SymbolTable(), ConditionTable()
    trades = list(open_trades(shared_data / f"{name}.trades.csv.gz", ticker=None,
                              symbols=symbols, conditions=conditions, chunk_rows=1_000))
    quotes = list(open_quotes(shared_data / f"{name}.quotes.csv.gz", ticker=ticker,
                              symbols=symbols, chunk_rows=10_000))
    assert symbols.names == [ticker]
    t_line = np.concatenate([b.line for b in trades])
    q_line = np.concatenate([b.line for b in quotes])
    assert t_line.tolist() == list(range(1, n_trades + 1))
    assert q_line.tolist() == list(range(1, n_quotes + 1))
    assert float(sum(b.size.sum() for b in trades)) == contracts
    assert conditions.sets == [()]  # no condition codes in these files
    assert all((b.correction == 0).all() for b in trades)
    # Trades and quotes share one sequence numbering 1..N without gaps or repeats.
    seq = np.sort(np.concatenate([b.seq for b in trades] + [b.seq for b in quotes]))
    assert seq.tolist() == list(range(1, last_seq + 1))
    ts = np.concatenate([b.ts for b in quotes])
    assert (np.diff(ts) >= 0).all()  # timestamps never decrease
    assert ts.dtype == np.int64 and ts[0] > 1_700_000_000 * 10**9


def test_esh4_crossed_quotes_pass_through(shared_data: Path) -> None:
    (q,) = list(open_quotes(shared_data / "glbx_esh4_2023-12-25_from_mbo.quotes.csv.gz",
                            ticker="ESH4", symbols=SymbolTable()))
    assert int((q.bid > q.ask).sum()) == 15
