"""The command-center page in headless Chromium against ``spxcc serve --replay`` of the golden
``gap_and_flush`` session: microbars with their telemetry, the setup with its levels drawn in
price order, the blocked candidate's gate reasons, nothing fetched from elsewhere, no script
error; a screenshot is written (``SPXCC_DOCS_SCREENSHOT=1`` also writes the one in
``docs/images/command-center.png``). Skips with the reason when Playwright or Chromium is
missing."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from host_session import write_recording
from test_gates_report import _chromium

from spxcc_core.replay.engine import run_replay

DOCS_SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "images" / \
    "command-center.png"
NY = ZoneInfo("America/New_York")


def _ny(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, NY).strftime("%H:%M:%S")


def test_the_command_center_in_a_headless_browser(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright is not installed (pip install playwright)")
    browser_path = os.environ.get("SPXCC_CHROMIUM") or _chromium()
    if browser_path is None:
        pytest.skip("no Chromium found (apt-get install chromium, or set SPXCC_CHROMIUM)")
    rec = write_recording(tmp_path / "rec.jsonl")
    expected = run_replay(rec)
    [setup] = expected.setups
    [blocked] = [d for d in expected.decisions if not d.passed]
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from spxcc_core.cli import main; "
         "sys.exit(main(sys.argv[1:]))", "serve", "--replay", str(rec), "--speed", "0",
         "--bind", "127.0.0.1:0", "--linger", "300"],
        stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        found = re.search(r"on (http://127\.0\.0\.1:\d+/)", first)
        assert found, first
        url = found.group(1)
        assert proc.stdout.readline().startswith("replay ended: ")  # the page comes late
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=browser_path, headless=True,
                                        args=["--no-sandbox"])
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                problems: list[str] = []
                requests: list[str] = []
                page.on("pageerror", lambda e: problems.append(str(e)))
                page.on("console", lambda m: problems.append(m.text)
                        if m.type == "error" else None)
                page.on("request", lambda r: requests.append(r.url))
                page.goto(url)
                # the session so far is asked for on connect: the last bar ends up at the top
                last = expected.bars[-1]
                page.wait_for_function(
                    "t => document.querySelector('#bars tbody tr td')?.textContent === t",
                    arg=_ny(last.start_ms), timeout=30_000)
                assert page.locator("#bars tbody tr").count() == 40  # the table keeps 40
                row = page.locator("#bars tbody tr").first.locator("td").all_inner_texts()
                assert row[:2] == [_ny(last.start_ms), last.symbol]
                assert row[3] == f"{last.volume:.0f}" and row[4] == f"{last.delta_volume:.0f}"
                assert row[8] == f"{last.quote_coverage_pct:.1f}"
                # the setup and its levels
                page.wait_for_selector("#setups tbody tr")
                cells = page.locator("#setups tbody tr").first.locator("td").all_inner_texts()
                assert cells[1:4] == [setup.detector, setup.direction, setup.status]
                assert cells[4:8] == [f"{v:.2f}" for v in (setup.entry, setup.stop, setup.t1,
                                                           setup.t2)]
                page.wait_for_selector(f"#chart line.level-t2[data-setup='{setup.id}']",
                                       state="attached")  # a 0-px-high line: "hidden"
                ys = {name: float(page.locator(f"#chart line.level-{name}").first
                                  .get_attribute("y1") or "nan")
                      for name in ("entry", "stop", "t1", "t2")}
                # a long: the stop is drawn lowest (largest y), then entry, T1, T2
                assert setup.direction == "long"
                assert ys["stop"] > ys["entry"] > ys["t1"] > ys["t2"]
                assert page.locator("#chart path.close").get_attribute("d")
                assert page.locator("#chart path.vwap").get_attribute("d")
                # the blocked candidate and why
                reasons = page.locator("#gates li.blocked .why").all_inner_texts()
                failing = [c.gate for c in blocked.checks if not c.passed]
                assert [r.split(":")[0] for r in reasons] == failing
                assert page.locator("#gates li.passed").count() == 1
                shot = tmp_path / "command-center.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
                if os.environ.get("SPXCC_DOCS_SCREENSHOT") == "1":
                    shutil.copyfile(shot, DOCS_SCREENSHOT)
                assert problems == []
                assert all(r.startswith(url) for r in requests), requests
            finally:
                browser.close()
    finally:
        proc.terminate()  # SIGTERM: the host stops cleanly
        assert proc.wait(timeout=30) == 0
