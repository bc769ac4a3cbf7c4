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


def test_the_account_panel_with_a_token_in_the_address(tmp_path: Path) -> None:
    """A host with the paper broker: two orders filled; the page opened with ``#token=...``
    unlocks the account channels and shows orders, fills, positions and reconciliation, and
    the token leaves the address at once."""
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright is not installed (pip install playwright)")
    browser_path = os.environ.get("SPXCC_CHROMIUM") or _chromium()
    if browser_path is None:
        pytest.skip("no Chromium found (apt-get install chromium, or set SPXCC_CHROMIUM)")
    import asyncio
    import queue
    import threading

    from spxcc_paper import PaperBroker

    from spxcc_core.broker.interface import AdapterConfig
    from spxcc_core.contracts.broker import OrderIntent
    from spxcc_core.host.app import Host
    from spxcc_core.host.auth import hash_token
    from spxcc_core.host.config import HostConfig, HubSection
    from spxcc_core.store import Store

    token, sym = "page-test-token", "SPXW991218C05900000"
    urls: queue.Queue[str] = queue.Queue()
    done = threading.Event()

    async def serve() -> None:
        with Store(tmp_path / "host.sqlite3") as store:
            paper = PaperBroker.from_config(AdapterConfig(
                options={"clock": "replay", "hours": "always"}, account_id="A", store=store))
            paper.on_quote(sym, 1_790_000_000 * 10**9, 2.90, 50, 3.00, 50)
            host = Host(HostConfig(hub=HubSection(bind="127.0.0.1:0",
                                                  token_hash=hash_token(token))),
                        store=store, broker=paper)
            async with host:
                for iid, side, qty, limit in (("e1", "buy_to_open", 3, 3.00),
                                              ("x1", "sell_to_close", 1, 2.90)):
                    host.submit(OrderIntent(intent_id=iid, option_symbol=sym, underlying="SPX",
                                            side=side, quantity=qty,  # type: ignore[arg-type]
                                            order_type="limit", limit_price=limit))
                urls.put(host.page_url)
                while not done.is_set():
                    await asyncio.sleep(0.05)

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    try:
        url = urls.get(timeout=60)
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=browser_path, headless=True,
                                        args=["--no-sandbox"])
            try:
                page = browser.new_page()
                page.goto(f"{url}#token={token}")
                page.wait_for_function(  # functions, not strings: the page's policy forbids eval
                    "() => document.querySelectorAll('#orders tbody tr').length === 2",
                    timeout=30_000)
                assert "#" not in page.url and token not in page.url
                assert page.locator("#auth-state").inner_text() == "account channels unlocked"
                orders = [r.locator("td").all_inner_texts()[1:]
                          for r in page.locator("#orders tbody tr").all()]
                # newest first: symbol, side, qty, limit, status, filled, avg
                assert orders == [[sym, "sell_to_close", "1", "2.90", "filled", "1", "2.90"],
                                  [sym, "buy_to_open", "3", "3.00", "filled", "3", "3.00"]]
                assert page.locator("#fills tbody tr").count() == 2
                page.wait_for_function(
                    "() => document.querySelector('#positions tbody tr td:nth-child(2)')"
                    "?.textContent === '2'")  # 3 bought, 1 sold
                assert page.locator("#recon").inner_text().startswith(
                    "reconciliation A: clean")
                assert token not in page.content()
            finally:
                browser.close()
    finally:
        done.set()
        thread.join(timeout=30)
