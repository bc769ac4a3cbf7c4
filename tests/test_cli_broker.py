"""``spxcc broker snapshot|submit`` and ``spxcc size`` end to end: against the fake Tradier
server (real HTTP on loopback) and the paper broker, through ``main([...])`` and a real
subprocess, with real SQLite store files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from broker_cli_helpers import ACCOUNT, SYM, intent_file, run
from fake_tradier import FakeTradier
from secret_tokens import TEST_MASTER_KEY, TRADIER_TEST_TOKEN

from spxcc_core.broker import tag_for
from spxcc_core.secrets import Vault, parse_master_key
from spxcc_core.secrets.keys import MasterKeyring
from spxcc_core.store import Store


@pytest.fixture
def fake() -> Iterator[FakeTradier]:
    with FakeTradier(TRADIER_TEST_TOKEN, accounts={ACCOUNT: "margin"}) as server:
        yield server


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.sqlite3"
    monkeypatch.setenv("SPXCC_DB", str(path))
    monkeypatch.delenv("SPXCC_MASTER_KEY", raising=False)
    monkeypatch.delenv("SPXCC_TRADIER_TOKEN", raising=False)
    return path


def tradier_args(fake: FakeTradier, action: str) -> list[str]:
    return ["broker", action, "--broker", "tradier", "--account", ACCOUNT,
            "--base-url", fake.url]


# --- tradier ----------------------------------------------------------------------------------

def test_tradier_snapshot_prints_snapshot_json(fake: FakeTradier, db: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SPXCC_TRADIER_TOKEN", TRADIER_TEST_TOKEN)
    fake.add_position(ACCOUNT, SYM, 2, 640.0)
    code, out, err = run(capsys, *tradier_args(fake, "snapshot"))
    assert (code, err) == (0, "")
    snap = json.loads(out)
    assert snap["accountId"] == ACCOUNT and snap["accountType"] == "margin"
    for key in ("optionBuyingPower", "stockBuyingPower", "totalEquity"):
        assert isinstance(snap[key], float)
    assert snap["dayTradeBuyingPower"] is None and snap["cashAvailable"] is None  # margin
    assert [(p["symbol"], p["quantity"], p["costBasis"]) for p in snap["positions"]] == [
        (SYM, 2.0, 640.0)]
    assert snap["openOrders"] == []
    with Store(db) as store:  # the snapshot was stored with its fetch time
        assert store.conn.execute("SELECT COUNT(*) FROM spx_broker_snapshots").fetchone()[0] == 1
    assert TRADIER_TEST_TOKEN not in out + err


def test_tradier_submit_is_idempotent(fake: FakeTradier, db: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SPXCC_TRADIER_TOKEN", TRADIER_TEST_TOKEN)
    fake.set_quote(SYM, 3.00, 3.20)
    path = intent_file(tmp_path, "cli-t-1")
    code, out, err = run(capsys, *tradier_args(fake, "submit"), "--intent", str(path))
    assert (code, err) == (0, "")
    ack = json.loads(out)
    assert ack["intentId"] == "cli-t-1" and ack["tag"] == tag_for("cli-t-1")
    assert ack["brokerOrderId"] and ack["status"] and ack["duplicate"] is False
    code, out2, _ = run(capsys, *tradier_args(fake, "submit"), "--intent", str(path))
    again = json.loads(out2)
    assert code == 0 and again["brokerOrderId"] == ack["brokerOrderId"] and again["duplicate"]
    assert len(fake.orders_with_tag(ACCOUNT, tag_for("cli-t-1"))) == 1
    code, out3, _ = run(capsys, *tradier_args(fake, "snapshot"))
    assert [o["tag"] for o in json.loads(out3)["openOrders"]] == [tag_for("cli-t-1")]


def test_tradier_rejection_exits_2_with_broker_reason(fake: FakeTradier, db: Path,
                                                      tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SPXCC_TRADIER_TOKEN", TRADIER_TEST_TOKEN)
    path = intent_file(tmp_path, "cli-t-rej", side="sell_to_close")  # no position to sell
    code, out, err = run(capsys, *tradier_args(fake, "submit"), "--intent", str(path))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert err.startswith("spxcc: error: broker rejected: ") and "UnexpectedSellOrderOption" in err


def test_tradier_market_closed_refused(fake: FakeTradier, db: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SPXCC_TRADIER_TOKEN", TRADIER_TEST_TOKEN)
    fake.clock_state = "closed"
    path = intent_file(tmp_path, "cli-t-closed")
    code, _, err = run(capsys, *tradier_args(fake, "submit"), "--intent", str(path))
    assert code == 2
    assert err == ("spxcc: error: intent 'cli-t-closed' refused by pre-trade checks: market is "
                   "not open (broker clock state closed)\n")
    assert fake.orders_with_tag(ACCOUNT, tag_for("cli-t-closed")) == []


def test_tradier_token_from_vault(fake: FakeTradier, db: Path, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    key = parse_master_key(TEST_MASTER_KEY, source="test")
    with Store(db) as store:
        Vault(store, MasterKeyring(key)).put("tradier_token", TRADIER_TEST_TOKEN)
    code, _, err = run(capsys, *tradier_args(fake, "snapshot"))
    assert code == 2 and "SPXCC_TRADIER_TOKEN is not set" in err  # no master key given
    monkeypatch.setenv("SPXCC_MASTER_KEY", TEST_MASTER_KEY)
    code, out, err = run(capsys, *tradier_args(fake, "snapshot"))
    assert (code, err) == (0, "") and json.loads(out)["accountId"] == ACCOUNT
    assert TRADIER_TEST_TOKEN not in out


def test_wrong_token_is_one_line(fake: FakeTradier, db: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SPXCC_TRADIER_TOKEN", "not-the-token")
    code, out, err = run(capsys, *tradier_args(fake, "snapshot"))
    assert (code, out) == (2, "") and err.startswith("spxcc: error: ") and err.count("\n") == 1
    assert "not-the-token" not in err


# --- paper ------------------------------------------------------------------------------------

def paper_args(action: str) -> list[str]:
    return ["broker", action, "--broker", "paper", "--account", "P1", "--option", "cash=5000"]


def test_paper_submit_snapshot_and_size(db: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    path = intent_file(tmp_path, "cli-p-1")  # 2 × 1.50 × 100 = 300 held while open
    code, out, err = run(capsys, *paper_args("submit"), "--intent", str(path))
    assert (code, err) == (0, "")
    ack = json.loads(out)
    assert (ack["intentId"], ack["brokerOrderId"], ack["tag"]) == ("cli-p-1", "1",
                                                                    tag_for("cli-p-1"))
    code, out, _ = run(capsys, *paper_args("snapshot"))
    snap = json.loads(out)
    assert snap["optionBuyingPower"] == 4_700.0  # 5000 − 300
    assert [(o["id"], o["status"], o["tag"]) for o in snap["openOrders"]] == [
        ("1", "open", tag_for("cli-p-1"))]
    snap_file = tmp_path / "snap.json"
    snap_file.write_text(out)
    # risk (3.20 − 1.60) × 100 = 160 → 1000/160 = 6; bp 4700 / (320 × 1.05 = 336) = 13.99 → 13
    code, out, _ = run(capsys, "size", "--snapshot", str(snap_file), "--premium", "3.20",
                       "--stop-premium", "1.60", "--risk-budget", "1000")
    assert json.loads(out) == {"contracts": 6, "limitedBy": "risk", "reasons": []}
    code, out, _ = run(capsys, "size", "--snapshot", str(snap_file), "--premium", "3.20",
                       "--stop-premium", "1.60", "--risk-budget", "100000",
                       "--max-contracts", "20")
    assert json.loads(out) == {"contracts": 13, "limitedBy": "buying_power", "reasons": []}


def test_paper_submit_twice_in_two_processes_one_order(db: Path, tmp_path: Path) -> None:
    path = intent_file(tmp_path, "cli-p-2")
    env = {**os.environ, "SPXCC_DB": str(db), "SPXCC_DISABLE_PLUGIN_AUTOLOAD": "1"}
    cmd = [sys.executable, "-c", "import sys; from spxcc_core.cli import main; sys.exit(main())",
           *paper_args("submit"), "--intent", str(path)]
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    assert a["brokerOrderId"] == b["brokerOrderId"] and (a["duplicate"], b["duplicate"]) == (
        False, True)
    with Store(db) as store:
        rows = store.conn.execute("SELECT COUNT(*) FROM spx_broker_intents").fetchone()[0]
    assert rows == 1


def test_paper_refusal_lists_every_reason(db: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = intent_file(tmp_path, "cli-p-3", quantity=40, limitPrice=2.0)  # 8000 > 5000
    code, out, err = run(capsys, *paper_args("submit"), "--intent", str(path),
                         "--max-contracts", "10")
    assert (code, out) == (2, "")
    assert err == ("spxcc: error: intent 'cli-p-3' refused by pre-trade checks: quantity 40 > "
                   "max contracts 10; insufficient buying power: needs 8000.00, "
                   "optionBuyingPower 5000.00 minus 0.00 reserved in flight\n")


# --- bad input --------------------------------------------------------------------------------

def test_bad_intent_file_is_one_line(db: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = intent_file(tmp_path, "cli-bad", side="buy")
    code, out, err = run(capsys, *paper_args("submit"), "--intent", str(path))
    assert (code, out) == (2, "")
    assert err.startswith(f"spxcc: error: {path}: ") and "side" in err and err.count("\n") == 1
    code, _, err = run(capsys, *paper_args("submit"), "--intent", str(tmp_path / "none.json"))
    assert code == 2 and "cannot read" in err


def test_unknown_broker_and_bad_option(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "broker", "snapshot", "--broker", "ib", "--account", "X")
    assert code == 2 and "unknown broker" in err and "paper" in err and "tradier" in err
    code, _, err = run(capsys, *paper_args("snapshot"), "--option", "fill")
    assert code == 2 and "expected KEY=VALUE" in err


def test_size_bad_snapshot_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "snap.json"
    bad.write_text('{"accountId": "A"}')
    code, out, err = run(capsys, "size", "--snapshot", str(bad), "--premium", "1",
                         "--stop-premium", "0.5", "--risk-budget", "100")
    assert (code, out) == (2, "") and err.startswith(f"spxcc: error: {bad}: not a "
                                                     "PortfolioSnapshot")
    good = tmp_path / "ok.json"
    good.write_text(json.dumps({"accountId": "A", "accountType": "cash", "optionBuyingPower": None,
                                "stockBuyingPower": None, "dayTradeBuyingPower": None,
                                "cashAvailable": None, "totalEquity": None}))
    code, out, _ = run(capsys, "size", "--snapshot", str(good), "--premium", "1",
                       "--stop-premium", "0.5", "--risk-budget", "100")
    assert json.loads(out) == {"contracts": 0, "limitedBy": "buying_power", "reasons": [
        "buying power is null in the snapshot (cashAvailable, accountType cash)"]}
