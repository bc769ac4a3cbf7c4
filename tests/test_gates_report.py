"""``spxcc gates report``: HTML (self-contained, decision first, charts, the slippage
distribution of an executed run) and Markdown; the page opened in headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import msgspec
import numpy as np
import pytest

from spxcc_core.cli import main
from spxcc_core.contracts.gates import ReleaseDecision
from spxcc_core.contracts.slippage import SlippageRecord
from spxcc_core.detect.profile import DEFAULT_PROFILE_TOML
from spxcc_core.errors import InputError
from spxcc_core.gates.report import (
    html_report,
    markdown_report,
    read_decision,
    read_slippage,
    slippage_bins,
    slippage_summary,
)
from spxcc_core.gates.svg import IntervalRow, bar_chart, histogram_chart, interval_chart
from spxcc_core.replay.cache import ingest
from spxcc_core.sample import generate_session

EXAMPLE = Path(__file__).resolve().parent.parent / "contracts" / "examples" / \
    "release_decision.v1.insufficient-drawdown.json"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    d = tmp_path / "run"
    d.mkdir()
    shutil.copy(EXAMPLE, d / "decision.json")
    return d


# the sample quotes each contract every ~46 s with spreads up to 0.60: accept such quotes
_EXEC = DEFAULT_PROFILE_TOML + "\n[execution]\nmax_quote_age_ms = 120000\nmax_spread = 1.0\n"


@pytest.fixture(scope="module")
def executed_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A gate run with --execute paper on one generated session: the baseline the sample's
    execution profile, the candidate the same with cheaper contracts (target delta 0.2)."""
    root = tmp_path_factory.mktemp("executed-gate")
    cache = ingest(generate_session(root / "sample", scale=0.05).root, root / "cache").root
    (root / "base.toml").write_text(_EXEC, encoding="utf-8")
    (root / "cand.toml").write_text(
        _EXEC.replace("[execution]\n", "[execution]\ntarget_delta = 0.2\n"), encoding="utf-8")
    assert main(["gates", "run", "--candidate", str(root / "cand.toml"), "--baseline",
                 str(root / "base.toml"), "--sessions", str(cache), "--execute", "paper",
                 "--resamples", "100", "--db", str(root / "p.sqlite3"),
                 "--out", str(root / "run")]) == 1
    return root / "run"


def _records(path: Path) -> list[SlippageRecord]:
    return [msgspec.json.decode(line, type=SlippageRecord)
            for line in path.read_bytes().splitlines()]


def _record(dollars: float, ticks: float, i: int = 0) -> SlippageRecord:
    return SlippageRecord(
        fill_id=f"f{i}", intent_id=f"i{i}", setup_id=None, detector=None,
        symbol="O:SPXW251212C06900000", side="buy_to_open", quantity=1.0, fill_price=1.0,
        arrival_bid=1.0, arrival_ask=1.0, arrival_mid=1.0, arrival_spread=0.0, tick_size=0.05,
        slippage_dollars=dollars, slippage_ticks=ticks, slippage_bps=None,
        slippage_spread_fraction=None, time_bucket="open", spread_regime="zero",
        moneyness=None, otm_points=None, dte=0, source="paper", at_ms=0)


def test_html_is_self_contained_and_leads_with_the_decision(run_dir: Path) -> None:
    page = html_report(read_decision(run_dir))
    body = page[page.index("<body>"):]
    first = re.search(r"<h1[^>]*>(.*?)</h1>", body, re.S)
    assert first is not None and body.index("<h1") < body.index("<p")
    assert first.group(1).startswith("Decision: INSUFFICIENT EVIDENCE")
    # no network, no script: nothing is fetched when the page opens
    assert not re.search(r"(src|href)=|https?://(?!www\.w3\.org/2000/svg)|<script|@import",
                         page)
    # one candidate-vs-baseline chart and one delta chart per KPI, plus the block reasons
    assert page.count("<svg") == 2 * 4 + 1
    assert "spxcc profile revert --to e1a954d6a5628683" in page
    assert "ask_bid_size_ratio" in page  # the block-reason mix
    assert html_report(read_decision(run_dir)) == page  # same record, same bytes


def test_markdown_for_ci_logs(run_dir: Path) -> None:
    md = markdown_report(read_decision(run_dir))
    assert md.splitlines()[0].startswith("# Decision: INSUFFICIENT EVIDENCE — candidate looser")
    assert "| max_drawdown_r | 6 [4, 6] | 4 [3, 6.5] | 2 [-1, 2] | 2 | inconclusive |" in md
    assert "| t1_hit_rate >= 0.64 | 70.2% [66.5%, 73.9%] | met |" in md
    assert "| microstructure_unavailable | 97 | 36 |" in md
    assert md.rstrip().endswith("Rollback: `spxcc profile revert --to e1a954d6a5628683`")


def test_cli_writes_html_and_prints_markdown(run_dir: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    html = run_dir / "report.html"  # beside the decision it reads: allowed
    assert main(["gates", "report", str(run_dir), "--html", str(html), "--markdown"]) == 0
    assert html.read_text().startswith("<!DOCTYPE html>")
    assert capsys.readouterr().out.startswith("# Decision: INSUFFICIENT EVIDENCE")
    # its own input is never overwritten
    assert main(["gates", "report", str(run_dir), "--html", str(run_dir / "decision.json")]) \
        == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert (run_dir / "decision.json").read_bytes() == EXAMPLE.read_bytes()


def test_the_report_never_writes_over_its_run(executed_run: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """--html never names the run's own files — however spelt: the decision record, the
    slippage records, the folder itself, any other file already in it, a symbolic or hard link
    to one — only a new file or an earlier report."""
    run = tmp_path / "run"
    shutil.copytree(executed_run, run)
    (run / "notes.txt").write_text("kept\n")
    (tmp_path / "link.html").symlink_to(run / "decision.json")
    os.link(run / "slippage-baseline.jsonl", tmp_path / "hard.html")
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    for target, given in ((run / "decision.json", run), (run, run),
                          (run / "slippage-candidate.jsonl", run),
                          (run / "slippage-baseline.jsonl", run / "decision.json"),
                          (run / "notes.txt", run), (run / "sub" / ".." / "notes.txt", run),
                          (tmp_path / "link.html", run), (tmp_path / "hard.html", run),
                          (run / "decision.json", run / "decision.json")):
        assert main(["gates", "report", str(given), "--html", str(target)]) == 2, target
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "refusing to write over" in err, err
        assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    # a new file beside the decision is fine, and so is replacing that earlier report
    assert main(["gates", "report", str(run), "--html", str(run / "report.html")]) == 0
    assert main(["gates", "report", str(run / "decision.json"), "--html",
                 str(run / "report.html")]) == 0
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.name != "report.html"} == before


def test_bad_run_folders_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gates", "report", str(tmp_path), "--html", str(tmp_path / "r.html")]) == 2
    assert "decision.json: cannot read" in capsys.readouterr().err
    (tmp_path / "decision.json").write_text('{"decision": "maybe"}')
    assert main(["gates", "report", str(tmp_path), "--html", str(tmp_path / "r.html")]) == 2
    assert "not a release_decision@1 record" in capsys.readouterr().err


def test_interval_chart_places_points_by_value() -> None:
    svg = interval_chart("t", [IntervalRow("a", 0.0, -1.0, 1.0, 0),
                               IntervalRow("b", 2.0, None, None, 1),
                               IntervalRow("c", None, None, None, 0)],
                         reference=-0.5, reference_label="tol")
    # axis -1 .. 2 padded by 5 % of 3 = -1.15 .. 2.15 over x 150 .. 548 (398 px):
    # 0.0 -> 150 + 1.15 / 3.3 * 398 = 288.7; 2.0 -> 150 + 3.15 / 3.3 * 398 = 529.9
    assert '<circle cx="288.7"' in svg and '<circle cx="529.9"' in svg
    assert svg.count("<circle") == 2 and "undefined (no trades)" in svg
    # the reference -0.5 -> 150 + 0.65 / 3.3 * 398 = 228.4
    assert 'x1="228.4"' in svg
    # zero=True draws 0 and widens the axis to hold it
    assert 'x1="288.7"' not in svg
    with_zero = interval_chart("t", [IntervalRow("d", 1.0, 0.5, 2.0, 0)], zero=True)
    # axis 0 .. 2 padded to -0.1 .. 2.1 (2.2): 0 -> 150 + 0.1 / 2.2 * 398 = 168.1
    assert '<line x1="168.1"' in with_zero


def test_bar_chart_scales_to_the_largest_count() -> None:
    svg = bar_chart("b", {"candidate": {"spread": 4, "quote": 1}, "baseline": {"spread": 2}})
    # bar area 200 .. 508 (308 px); 4 is the peak: 4 -> 308, 2 -> 154, 1 -> 77
    assert 'width="308"' in svg and 'width="154"' in svg and 'width="77"' in svg
    assert 'width="0"' in svg  # baseline has no "quote" block
    assert "no blocked candidates" in bar_chart("b", {"candidate": {}})


# ----------------------------------------------------------------------------- slippage


def test_slippage_summary_by_hand() -> None:
    # $/contract 225, 2.5, 10, 7.5, 5 (given out of order) sorted: 2.5 5 7.5 10 225
    recs = [_record(d, t, i) for i, (d, t) in enumerate(
        [(225.0, 22.5), (2.5, 0.5), (10.0, 2.0), (7.5, 1.5), (5.0, 1.0)])]
    m = slippage_summary(recs)
    assert m.fills == 5
    # median: h = 4 × 0.5 = 2 → the third, 7.5; p90: h = 4 × 0.9 = 3.6 → 10 + 0.6 × 215 = 139
    assert m.median_dollars == 7.5
    assert m.p90_dollars == pytest.approx(139.0)
    assert m.mean_dollars == 50.0  # 250 / 5
    # ticks 0.5 1 1.5 2 22.5: median 1.5, p90 2 + 0.6 × 20.5 = 14.3, mean 27.5 / 5 = 5.5
    assert (m.median_ticks, m.mean_ticks) == (1.5, 5.5)
    assert m.p90_ticks == pytest.approx(14.3)
    # an even count: the median lies halfway between the middle two
    two = slippage_summary([_record(-2.5, -0.5), _record(5.0, 1.0)])
    assert (two.median_dollars, two.p90_dollars) == (1.25, pytest.approx(4.25))
    one = slippage_summary([_record(-12.5, -2.5)])
    assert (one.median_dollars, one.p90_dollars, one.mean_dollars) == (-12.5, -12.5, -12.5)
    none = slippage_summary([])
    assert none.fills == 0 and none.median_dollars is None and none.mean_ticks is None


def test_slippage_bins_by_hand() -> None:
    # width 2.5: -2.5 → [-2.5, 0); 0 and 2.4 → [0, 2.5); 7.5 → [7.5, 10)
    edges, counts = slippage_bins([[-2.5, 0.0, 2.4], [7.5]], 2.5)
    assert edges == (-2.5, 0.0, 2.5, 5.0, 7.5, 10.0)
    assert counts == [(1, 2, 0, 0, 0), (0, 0, 0, 0, 1)]
    # 0 .. 100 at 2.5 would be 41 bins > 30: the width doubles to 5 (21 bins)
    edges, counts = slippage_bins([[0.0, 100.0], []], 2.5)
    assert (len(edges), edges[1], edges[-1]) == (22, 5.0, 105.0)
    assert counts[0][0] == counts[0][-1] == 1 and sum(counts[0]) == 2 and sum(counts[1]) == 0
    assert slippage_bins([[], []], 2.5) == ((), [(), ()])
    with pytest.raises(ValueError, match="bin width must be > 0"):
        slippage_bins([[1.0]], 0.0)


def test_histogram_chart_places_bars_by_count() -> None:
    svg = histogram_chart("h", (0.0, 1.0, 2.0), {"a": (2, 1), "b": (0, 2)}, unit="$")
    # plot 48 .. 548 (500 px), 2 bins of 250 px, 2 series: bars 250 × 0.9 / 2 = 112.5 wide,
    # the first 12.5 px into its bin; 120 px high for the peak count 2, bottom at y 156
    assert svg.count('class="bar"') == 3  # a zero count draws nothing
    assert '<rect class="bar" x="60.5" y="36" width="112.5" height="120"' in svg  # a: 2
    assert '<rect class="bar" x="310.5" y="96" width="112.5" height="60"' in svg  # a: 1
    assert '<rect class="bar" x="423" y="36" width="112.5" height="120"' in svg  # b: 2
    assert "<title>b: 2 in [1, 2)</title>" in svg
    assert "no measured fills" in histogram_chart("h", (), {"a": ()})
    with pytest.raises(ValueError, match="2 counts for 1 bins"):
        histogram_chart("h", (0.0, 1.0), {"a": (1, 2)})


def test_setups_runs_say_there_is_no_slippage_and_why(run_dir: Path) -> None:
    d = read_decision(run_dir)
    page = html_report(d)
    assert 'id="slippage-charts"' not in page and 'id="slippage-summary"' not in page
    assert "No slippage: trades come from the setups&#x27; own outcomes (trade source setups)" \
        in page and "--execute paper" in page
    assert "Slippage: No slippage: trades come from the setups' own outcomes" in \
        markdown_report(d)
    assert read_slippage(run_dir) is None


def test_an_executed_run_shows_the_slippage_distribution(
        executed_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    html = tmp_path / "report.html"
    assert main(["gates", "report", str(executed_run), "--html", str(html), "--markdown"]) == 0
    md = capsys.readouterr().out
    page = html.read_text()
    charts = page[page.index('id="slippage-charts"'):]
    assert charts.count("<svg") == 2  # $ per contract and ticks
    assert "Slippage per fill ($ per contract)" in charts and "Slippage per fill (ticks)" in charts
    assert page.count("<svg") == 2 * 4 + 1 + 2
    cand = _records(executed_run / "slippage-candidate.jsonl")
    base = _records(executed_run / "slippage-baseline.jsonl")
    assert cand and base
    # the Markdown figures are the records' own, checked against numpy's linear percentiles
    for who, recs in (("candidate", cand), ("baseline", base)):
        d = np.array([r.slippage_dollars for r in recs])
        t = np.array([r.slippage_ticks for r in recs])
        row = (f"| {who} | {len(recs)} | {np.percentile(d, 50):+.2f} | "
               f"{np.percentile(d, 90):+.2f} | {d.mean():+.2f} | {np.percentile(t, 50):+.2f} "
               f"| {np.percentile(t, 90):+.2f} | {t.mean():+.2f} |")
        assert row in md, row
        assert f"{who} ({len(recs)} fills)" in charts
    # every fill is in one bar of each chart (the bars' titles carry the counts)
    dollars_svg = charts[:charts.index("</svg>")]
    counted = [int(n) for n in re.findall(r"<title>candidate \(\d+ fills\): (\d+) in",
                                          dollars_svg)]
    assert sum(counted) == len(cand)
    # the decision file itself names the run too: the records are read beside it
    assert main(["gates", "report", str(executed_run / "decision.json"), "--html",
                 str(tmp_path / "again.html")]) == 0
    assert (tmp_path / "again.html").read_text() == page


def test_broken_slippage_records_are_one_line(executed_run: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    shutil.copytree(executed_run, run)
    (run / "slippage-baseline.jsonl").write_bytes(
        (run / "slippage-baseline.jsonl").read_bytes() + b'{"fillId": 3}\n')
    assert main(["gates", "report", str(run), "--html", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "slippage-baseline.jsonl" in err
    assert "not a slippage_record@1" in err
    (run / "slippage-baseline.jsonl").unlink()
    with pytest.raises(InputError, match="the baseline's slippage records"):
        read_slippage(run)
    # without either file the page says there is nothing to show, and why
    (run / "slippage-candidate.jsonl").unlink()
    page = html_report(read_decision(run), read_slippage(run))
    assert "holds no per-fill slippage records" in page and "slippage-charts" not in page


def test_the_records_agree_with_the_decision_of_a_real_executed_run(
        executed_run: Path) -> None:
    """Per session and profile the trades entered in the records (distinct setups with a
    buy_to_open fill) are at most the decision's count; every record is of a session of the
    decision. In this run every fill was measured, so they are equal; entry fills are not
    trades (a partly filled entry has several)."""
    import json

    from spxcc_core.gates.report import check_slippage, entered_trades
    from spxcc_core.session import ny_date_of_ms

    d = read_decision(executed_run)
    s = read_slippage(executed_run)
    assert s is not None
    check_slippage(d, s, executed_run)
    raw = json.loads((executed_run / "decision.json").read_bytes())
    for who, records in (("candidate", s.candidate), ("baseline", s.baseline)):
        counted = {x["sessionDate"]: x[f"{who}Trades"] for x in raw["sessions"]}
        assert entered_trades(records) == counted and sum(counted.values()) > 0
        assert {ny_date_of_ms(r.at_ms).isoformat() for r in records} == set(counted)


def test_entered_trades_by_hand() -> None:
    """Two partial fills of one entry are one trade; exits and other days count apart."""
    from spxcc_core.gates.report import entered_trades

    day1, day2 = 1_765_204_200_000, 1_765_290_600_000  # 2025-12-08 / -09 14:30 UTC
    r = _record(1.0, 0.2)
    rows = [msgspec.structs.replace(r, setup_id="a", fill_id="1", at_ms=day1),
            msgspec.structs.replace(r, setup_id="a", fill_id="2", at_ms=day1 + 5),
            msgspec.structs.replace(r, setup_id="a", fill_id="3", side="sell_to_close",
                                    at_ms=day1 + 9),
            msgspec.structs.replace(r, setup_id="b", fill_id="4", at_ms=day2),
            msgspec.structs.replace(r, setup_id=None, intent_id="x", fill_id="5",
                                    at_ms=day2)]
    assert entered_trades(rows) == {"2025-12-08": 1, "2025-12-09": 2}
    assert entered_trades([]) == {}


def test_records_of_another_run_are_refused_in_one_line(
        executed_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Records copied from another run: of a day that is no session of the decision, or
    with more entered trades than the decision counts (the records of another profile, here
    the baseline's given as the candidate's, when the baseline entered more) → exit 2, one
    line naming the file, no page written."""
    import json

    run = tmp_path / "run"
    shutil.copytree(executed_run, run)
    html = tmp_path / "r.html"
    cand = run / "slippage-candidate.jsonl"
    original = cand.read_bytes()
    # another day: every time a week later
    moved = b"".join(msgspec.json.encode(msgspec.structs.replace(
        r, at_ms=r.at_ms + 7 * 86_400_000)) + b"\n" for r in _records(cand))
    cand.write_bytes(moved)
    assert main(["gates", "report", str(run), "--html", str(html)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(cand) in err
    assert "none of the decision's sessions: not this run's records" in err
    assert not html.exists()
    # one more entered trade than the decision counts
    recs = _records(cand.with_name("slippage-baseline.jsonl"))
    entry = next(r for r in recs if r.side == "buy_to_open")
    extra = msgspec.structs.replace(entry, setup_id="not-in-this-run", fill_id="extra")
    cand.write_bytes(original + msgspec.json.encode(extra) + b"\n")
    day = json.loads((run / "decision.json").read_bytes())["sessions"][0]
    assert main(["gates", "report", str(run), "--html", str(html)]) == 2
    err = capsys.readouterr().err
    assert err == (f"spxcc: error: {cand}: {day['candidateTrades'] + 1} trades entered on "
                   f"{day['sessionDate']}, but the decision counts {day['candidateTrades']} "
                   "for the candidate that day: not this run's records\n")
    assert not html.exists()
    # fewer records than trades (an unmeasured fill has none): still this run's
    cand.write_bytes(b"")
    assert main(["gates", "report", str(run), "--html", str(html)]) == 0


# ----------------------------------------------------------------------------- browser


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def test_the_page_in_a_headless_browser(run_dir: Path, executed_run: Path,
                                        tmp_path: Path) -> None:
    """The decision, the interval charts and the rollback command are visible; a run that did
    not execute says there is no slippage; an executed run's slippage histograms are drawn
    and visible, bars included."""
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright is not installed (pip install playwright)")
    browser_path = os.environ.get("SPXCC_CHROMIUM") or _chromium()
    if browser_path is None:
        pytest.skip("no Chromium found (apt-get install chromium, or set SPXCC_CHROMIUM)")
    html = tmp_path / "report.html"
    assert main(["gates", "report", str(run_dir), "--html", str(html)]) == 0
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, headless=True,
                                    args=["--no-sandbox"])
        try:
            page = browser.new_page()
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(html.as_uri())
            heading = page.locator("h1").first
            assert heading.is_visible()
            assert heading.inner_text().startswith("Decision: INSUFFICIENT EVIDENCE")
            charts = page.locator("#charts svg")
            assert charts.count() == 8
            for i in range(charts.count()):
                box = charts.nth(i).bounding_box()
                assert box is not None and box["width"] > 100 and box["height"] > 40
                assert charts.nth(i).is_visible()
            # the dots are drawn (an interval chart without them would be empty)
            assert page.locator("#charts circle").count() == 4 * 2 + 4
            assert page.locator("#rollback").inner_text() == \
                "spxcc profile revert --to e1a954d6a5628683"
            note = page.locator("#slippage-note")
            assert note.is_visible() and note.inner_text().startswith("No slippage")
            assert page.locator("#slippage-charts").count() == 0
            assert requests == [html.as_uri()]  # nothing else fetched
            # an executed gate run: the slippage distribution, candidate vs baseline
            executed = tmp_path / "executed.html"
            assert main(["gates", "report", str(executed_run), "--html", str(executed)]) == 0
            requests.clear()
            page.goto(executed.as_uri())
            assert page.locator("h1").first.inner_text().startswith(
                "Decision: INSUFFICIENT EVIDENCE")
            hist = page.locator("#slippage-charts svg")
            assert hist.count() == 2
            for i in range(2):
                hist.nth(i).scroll_into_view_if_needed()
                assert hist.nth(i).is_visible()
                box = hist.nth(i).bounding_box()
                assert box is not None and box["width"] > 100 and box["height"] > 100
                bars = hist.nth(i).locator("rect.bar")
                assert bars.count() > 0
                bar = bars.first.bounding_box()
                assert bar is not None and bar["width"] > 1 and bar["height"] > 1
            rows = page.locator("#slippage-summary tr")
            assert rows.count() == 3 and rows.nth(1).inner_text().startswith("candidate")
            assert page.locator("#slippage-summary").is_visible()
            assert requests == [executed.as_uri()]
        finally:
            browser.close()


def test_example_record_decodes() -> None:
    d = msgspec.json.decode(EXAMPLE.read_bytes(), type=ReleaseDecision)
    assert d.decision == "insufficient_evidence"
