"""``spxcc slippage report``: the paper model's predicted slippage, the histogram bins, the
report's numbers by hand, the SVG/PNG writers and the command on a real store file."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import msgspec
import pytest
from prices import px
from spxcc_paper.fill_model import FillModel, QuoteState
from test_slippage_rolling import rec

from spxcc_core.cli import main
from spxcc_core.contracts.slippage import SlippageReport
from spxcc_core.slippage.model import model_fill_price, predicted_slippage_dollars
from spxcc_core.slippage.plot import histogram_scene, render_png, render_svg
from spxcc_core.slippage.report import build_report, histogram_edges
from spxcc_core.slippage.rolling import RollingConfig
from spxcc_core.slippage.store import SlippageStore
from spxcc_core.store import Store


def test_model_prices_by_hand() -> None:
    assert model_fill_price("mid", True, 3.0, 3.2) == px(3.1)        # (3.0 + 3.2) / 2
    assert model_fill_price("touch", True, 3.0, 3.2) == 3.2           # a buy takes the ask
    assert model_fill_price("touch", False, 3.0, 3.2) == 3.0          # a sell the bid
    assert model_fill_price("touch_ticks", True, 3.0, 3.2, ticks=2) == px(3.3)   # 3.2 + 2×0.05
    assert model_fill_price("touch_ticks", False, 3.0, 3.2, ticks=2) == px(2.9)  # 3.0 − 0.10
    # a sell is never priced below one tick: max(0.05 − 0.10, 0.05)
    assert model_fill_price("touch_ticks", False, 0.05, 0.10, ticks=2) == px(0.05)


@pytest.mark.parametrize("kind", ["mid", "touch", "touch_ticks"])
def test_the_paper_broker_fills_at_the_core_model_price(kind: str) -> None:
    model = FillModel(kind=kind, ticks=1)  # type: ignore[arg-type]
    q = QuoteState(ts_ns=0, bid=2.40, bid_size=5, ask=2.60, ask_size=5)
    for buy in (True, False):
        assert model.price(buy, q) == model_fill_price(kind, buy, 2.40, 2.60,  # type: ignore[arg-type]
                                                       ticks=1)


def _quote_rec(side: str, bid: float, ask: float) -> object:
    r = rec(0.0)
    return msgspec.structs.replace(r, side=side, arrival_bid=bid, arrival_ask=ask,
                                   arrival_mid=(bid + ask) / 2)


def test_predicted_slippage_by_hand() -> None:
    buy = _quote_rec("buy_to_open", 3.0, 3.2)
    sell = _quote_rec("sell_to_close", 3.0, 3.2)
    assert predicted_slippage_dollars(buy, "touch") == px(10.0)     # (3.2 − 3.1) × 100
    assert predicted_slippage_dollars(sell, "touch") == px(10.0)    # (3.1 − 3.0) × 100
    assert predicted_slippage_dollars(buy, "mid") == px(0.0)
    assert predicted_slippage_dollars(buy, "touch_ticks", ticks=1) == px(15.0)  # 3.25 − 3.10
    zero_bid = _quote_rec("sell_to_close", 0.0, 0.10)
    assert predicted_slippage_dollars(zero_bid, "touch") is None     # nobody to sell to
    assert predicted_slippage_dollars(_quote_rec("buy_to_open", 0.0, 0.10), "mid") is None


def test_histogram_edges_by_hand() -> None:
    # −3 → floor(−1.2) = −2 → −5.0; 7.4 → floor(2.96) + 1 = 3 → 7.5
    assert histogram_edges([-3.0, 0.0, 7.4], 2.5) == (-5.0, -2.5, 0.0, 2.5, 5.0, 7.5)
    # 0..1000: 2.5 → 401 bins, 5 → 201, 10 → 101, 20 → 51 ≤ 60: edges 0, 20, ..., 1020
    edges = histogram_edges([0.0, 1000.0], 2.5)
    assert (edges[0], edges[1], edges[-1], len(edges)) == (0.0, 20.0, 1020.0, 52)
    assert histogram_edges([], 2.5) == ()


def _three() -> list:  # type: ignore[type-arg]
    return [rec(5.0, n=1), rec(15.0, n=2), rec(2.5, source="paper", n=3)]


def test_report_numbers_by_hand() -> None:
    report = build_report(_three(), [], config=RollingConfig(halflife_fills=1.0, min_samples=1))
    assert (report.fills_broker, report.fills_paper) == (2, 1)
    fine = report.buckets[0]
    assert (fine.source, fine.level, fine.label) == ("broker", "detector_time_spread",
                                                     "orb × open × tight")
    assert fine.ewma_dollars == px(10.0)       # α = 0.5: 5 → 5 + 0.5 × (15 − 5)
    assert fine.p50_dollars == px(10.0)        # midway between 5 and 15
    assert fine.p90_dollars == px(14.0)        # 5 + 0.9 × (15 − 5)
    assert [f.difference_dollars for f in report.fill_realism] == [px(7.5)] * 4   # 10 − 2.5
    h = report.histogram
    # values 5, 15 (broker), 2.5 (paper), 0, 0, 0 (touch on bid = ask = 1.00): 0 .. 17.5
    assert h.edges == (0.0, 2.5, 5.0, 7.5, 10.0, 12.5, 15.0, 17.5)
    assert [(s.name, s.counts) for s in h.series] == [
        ("realized: broker", (0, 0, 1, 0, 0, 0, 1)),
        ("realized: paper", (0, 1, 0, 0, 0, 0, 0)),
        ("predicted: paper model (touch)", (3, 0, 0, 0, 0, 0, 0))]


def test_images_are_an_svg_document_and_a_decodable_png() -> None:
    scene = histogram_scene(build_report(_three(), []).histogram, "t")
    svg = render_svg(scene)
    assert svg.startswith(b"<svg ") and svg.rstrip().endswith(b"</svg>")
    assert svg.count(b'fill="#d62728"') == 3   # two broker bars and the legend swatch
    png = render_png(scene)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    (idat_len,) = struct.unpack(">I", png[33:37])
    raw = zlib.decompress(png[41:41 + idat_len])
    assert len(raw) == height * (1 + 3 * width)   # one filter byte + RGB per row
    assert render_png(scene) == png               # same scene, same bytes
    empty = histogram_scene(build_report([], []).histogram, "t")
    assert b"NO FILLS RECORDED" in render_svg(empty)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "slip.sqlite3"
    with Store(path) as store:
        slip = SlippageStore(store)
        for r in _three():
            slip.record(r)
    return path


def test_the_command_prints_the_report_as_json(db: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["slippage", "report", "--db", str(db), "--json", "--halflife", "1"]) == 0
    first = capsys.readouterr().out
    report = msgspec.json.decode(first, type=SlippageReport)
    assert report.buckets[0].ewma_dollars == px(10.0)
    assert main(["slippage", "report", "--db", str(db), "--json", "--halflife", "1"]) == 0
    assert capsys.readouterr().out == first       # same store, same bytes


def test_the_command_prints_a_table_and_writes_the_plots(
        db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    svg, png = tmp_path / "h.svg", tmp_path / "h.png"
    assert main(["slippage", "report", "--db", str(db), "--plot", str(svg)]) == 0
    out = capsys.readouterr().out
    assert "orb × open × tight" in out and f"histogram written to {svg}" in out
    assert svg.read_bytes().startswith(b"<svg ")
    assert main(["slippage", "report", "--db", str(db), "--plot", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_bad_input_is_one_line_and_exit_2(db: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "none.sqlite3"
    assert main(["slippage", "report", "--db", str(missing)]) == 2
    assert capsys.readouterr().err == (f"spxcc: error: --db {missing}: no such store file "
                                       "(a report never creates one)\n")
    assert not missing.exists()
    assert main(["slippage", "report", "--db", str(db), "--plot", str(tmp_path / "h.jpg")]) == 2
    assert "must end in .svg or .png" in capsys.readouterr().err
    before = db.read_bytes()
    plot_over_db = tmp_path / "x.svg"
    db.rename(plot_over_db)
    assert main(["slippage", "report", "--db", str(plot_over_db), "--plot",
                 str(plot_over_db)]) == 2
    assert "refusing to write over an input" in capsys.readouterr().err
    assert plot_over_db.read_bytes() == before
    assert main(["slippage", "report", "--db", str(plot_over_db), "--window", "0"]) == 2
    assert "--window/--halflife" in capsys.readouterr().err
    for value in ("inf", "nan", "0"):
        assert main(["slippage", "report", "--db", str(plot_over_db), "--model-tick",
                     value]) == 2
        assert "spxcc: error: --model-tick: must be a finite number > 0" in \
            capsys.readouterr().err
    # a bin narrower than a hundredth of a cent would collapse the rounded edges (a review
    # found a ZeroDivisionError traceback at 1e-12)
    for value in ("inf", "nan", "0", "1e-12", "1e-20"):
        assert main(["slippage", "report", "--db", str(plot_over_db), "--bin-dollars",
                     value]) == 2
        err = capsys.readouterr().err
        assert err.startswith("spxcc: error: --bin-dollars: must be a finite number >= 0.0001")
        assert err.count("\n") == 1
