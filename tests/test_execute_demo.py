"""``spxcc demo`` executes on paper by default: its summary's orders, fills, P&L in dollars and
R and slippage by bucket, worked by hand for the seeded 0.05-scale session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spxcc_core.cli import main


@pytest.mark.slow
def test_demo_summary_shows_the_paper_execution(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]):
    assert main(["demo", "--scale", "0.05", "--cache-dir", str(tmp_path), "--json"]) == 0
    x = json.loads(capsys.readouterr().out)["replay"]["execution"]
    # one entry: 10 puts (6890) bought at 0.90 (bid 0.80, ask 0.90: mid 0.85 + one 0.05 tick);
    # its exit sold 8 at 0.75 (the bid size) and 2 at 0.60 on the next quote
    assert (x["orders"], x["entries"], x["exits"], x["fills"]) == (2, 1, 1, 3)
    assert x["filledContracts"] == 20
    # P&L: 8 x 0.75 x 100 + 2 x 0.60 x 100 - 10 x 0.90 x 100 = 600 + 120 - 900 = -180
    assert x["realizedPnl"] == -180.0
    # R: -180 / ((0.90 - stop premium 0.7864) x 100 x 10 = 113.6) = -1.5845
    assert x["realizedR"] == pytest.approx(-1.5845, abs=1e-4)
    # slippage (positive = cost), per contract: buy 0.90 - 0.85 = 0.05 ($5, 1 tick);
    # sells against the exit's arrival mid 0.825 (0.75 x 0.90): 0.075 ($7.50, 1.5 ticks) and
    # 0.225 ($22.50, 4.5 ticks); weighted by contracts: (5x10 + 7.5x8 + 22.5x2) / 20 = 7.75,
    # ticks (1x10 + 1.5x8 + 4.5x2) / 20 = 1.55
    assert x["slippage"] == {"morning": {"fills": 3, "contracts": 20.0, "meanDollars": 7.75,
                                         "meanTicks": 1.55}}  # 10:06-10:07 New York
    assert x["openPositions"] == 0
    # every other triggered setup says why it got no order
    assert x["skipped"] == {"after_flat_time": 1, "no_contract": 23}

    # the table names the same figures; --no-execute replays without executing
    assert main(["demo", "--scale", "0.05", "--cache-dir", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "execution (paper)" in text and "$-180.00 (-1.58R)" in text
    assert main(["demo", "--scale", "0.05", "--cache-dir", str(tmp_path), "--json",
                 "--no-execute"]) == 0
    assert json.loads(capsys.readouterr().out)["replay"]["execution"] is None
