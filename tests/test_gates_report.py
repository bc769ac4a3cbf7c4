"""``spxcc gates report``: HTML (self-contained, decision first, charts) and Markdown; the
page opened in headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import msgspec
import pytest

from spxcc_core.cli import main
from spxcc_core.contracts.gates import ReleaseDecision
from spxcc_core.gates.report import html_report, markdown_report, read_decision
from spxcc_core.gates.svg import IntervalRow, bar_chart, interval_chart

EXAMPLE = Path(__file__).resolve().parent.parent / "contracts" / "examples" / \
    "release_decision.v1.insufficient-drawdown.json"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    d = tmp_path / "run"
    d.mkdir()
    shutil.copy(EXAMPLE, d / "decision.json")
    return d


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


# ----------------------------------------------------------------------------- browser


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def test_the_page_in_a_headless_browser(run_dir: Path, tmp_path: Path) -> None:
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
            assert requests == [html.as_uri()]  # nothing else fetched
        finally:
            browser.close()


def test_example_record_decodes() -> None:
    d = msgspec.json.decode(EXAMPLE.read_bytes(), type=ReleaseDecision)
    assert d.decision == "insufficient_evidence"
