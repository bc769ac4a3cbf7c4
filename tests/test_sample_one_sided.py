"""The sample session's SPXW wings: "no bid" written the way Massive does (bid ``0 × 0``) and
applied as one-sided quotes (``spec/microbar.md`` revision 2026-12-06), not quarantined; the
demo's option summary shows it."""

from __future__ import annotations

import json

import numpy as np

from spxcc_core.aggregate import AggregatorConfig, aggregate_columns
from spxcc_core.aggregate.columns import ConditionTable, SymbolTable
from spxcc_core.sample import generate_columns


def test_no_bid_rows_are_zero_by_zero_and_every_option_quote_is_applied() -> None:
    s = generate_columns(scale=0.02)
    c = s.option_quotes.columns
    no_bid = c["bid_price"] == 0
    assert np.count_nonzero(no_bid) > 50  # the wings go bid-less late in the day
    assert np.all(c["bid_size"][no_bid] == 0)  # 0 x 0, as Massive writes it
    assert np.all((c["ask_price"][no_bid] > 0) & (c["ask_size"][no_bid] > 0))
    symbols, conditions = SymbolTable(), ConditionTable()
    res = aggregate_columns(s.option_trades.trade_columns(symbols=symbols, conditions=conditions),
                            s.option_quotes.quote_columns(symbols=symbols), symbols=symbols,
                            conditions=conditions, config=AggregatorConfig())
    # The option tables plant no anomalies: every quote and trade is applied, the bid-less
    # ones included (before the revision of 2026-12-06 each was quarantined as empty_side).
    assert res.report.quarantined == {} and res.report.duplicates == 0
    assert res.report.applied == len(s.option_quotes) + len(s.option_trades)


def test_demo_reports_the_option_bars(tmp_path, capsys) -> None:
    from spxcc_core.cli import main

    assert main(["demo", "--scale", "0.02", "--cache-dir", str(tmp_path), "--json",
                 "--no-replay"]) == 0
    out = json.loads(capsys.readouterr().out)
    options, counts = out["options"], out["session"]["counts"]
    assert options["eventsIn"] == (counts["us_options_opra/trades_v1"]
                                   + counts["us_options_opra/quotes_v1"])
    assert options["quarantined"] == {} and options["applied"] == options["eventsIn"]
    assert options["bars"] > 0 and 0 < options["meanQuoteCoveragePct"] <= 100
    assert main(["demo", "--scale", "0.02", "--cache-dir", str(tmp_path), "--no-replay"]) == 0
    assert "SPXW 0DTE option microbars" in capsys.readouterr().out
