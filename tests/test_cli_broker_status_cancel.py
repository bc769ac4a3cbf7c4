"""``spxcc broker status`` and ``spxcc broker cancel`` end to end through ``main([...])``:
against the fake Tradier server (real HTTP on loopback) and the paper broker, with real SQLite
store files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from broker_cli_helpers import ACCOUNT, SYM, intent_file, run
from fake_tradier import FakeTradier, Fault
from secret_tokens import TRADIER_TEST_TOKEN
from spxcc_tradier import TradierAdapter

from spxcc_core.broker import tag_for
from spxcc_core.broker.store import BrokerStore
from spxcc_core.contracts.broker import OrderIntent
from spxcc_core.store import Store


@pytest.fixture
def fake() -> Iterator[FakeTradier]:
    with FakeTradier(TRADIER_TEST_TOKEN, accounts={ACCOUNT: "margin"}) as server:
        server.set_quote(SYM, 3.00, 3.20)
        yield server


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.sqlite3"
    monkeypatch.setenv("SPXCC_DB", str(path))
    monkeypatch.delenv("SPXCC_MASTER_KEY", raising=False)
    monkeypatch.setenv("SPXCC_TRADIER_TOKEN", TRADIER_TEST_TOKEN)
    return path


def tradier(fake: FakeTradier, action: str, *extra: str) -> list[str]:
    return ["broker", action, "--broker", "tradier", "--account", ACCOUNT,
            "--base-url", fake.url, *extra]


def stored_state(db: Path, intent_id: str) -> str:
    with Store(db) as store:
        rec = BrokerStore(store).get(intent_id)
        assert rec is not None
        return rec.state


# --- tradier ----------------------------------------------------------------------------------

def test_status_then_cancel_then_cancel_again(fake: FakeTradier, db: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = intent_file(tmp_path, "st-1")  # limit 1.50 under the 3.20 ask: rests open
    code, out, _ = run(capsys, *tradier(fake, "submit", "--intent", str(path)))
    assert code == 0
    order_id = json.loads(out)["brokerOrderId"]

    code, out, err = run(capsys, *tradier(fake, "status", "--intent-id", "st-1"))
    assert (code, err) == (0, "") and out.count("\n") == 1
    status = json.loads(out)
    assert {k: status[k] for k in ("intentId", "tag", "broker", "accountId", "state",
                                   "brokerOrderId", "filledQuantity", "avgFillPrice",
                                   "lastError")} == {
        "intentId": "st-1", "tag": tag_for("st-1"), "broker": "tradier", "accountId": ACCOUNT,
        "state": "acked", "brokerOrderId": order_id, "filledQuantity": 0.0,
        "avgFillPrice": None, "lastError": None}
    order = status["order"]
    assert (order["id"], order["status"], order["tag"], order["quantity"],
            order["limitPrice"]) == (order_id, "open", tag_for("st-1"), 2.0, 1.5)

    code, out, err = run(capsys, *tradier(fake, "cancel", "--intent-id", "st-1"))
    assert (code, err) == (0, "")
    assert json.loads(out) == {"intentId": "st-1", "state": "canceled",
                               "brokerOrderId": order_id, "requested": True,
                               "message": f"order {order_id} canceled"}
    [placed] = fake.orders_with_tag(ACCOUNT, tag_for("st-1"))
    assert placed.status == "canceled"
    assert stored_state(db, "st-1") == "canceled"
    deletes = [p for m, p, _ in fake.requests if m == "DELETE"]
    assert deletes == [f"/accounts/{ACCOUNT}/orders/{order_id}"]

    # idempotent: nothing is sent again
    code, out, err = run(capsys, *tradier(fake, "cancel", "--intent-id", "st-1"))
    assert (code, err) == (0, "")
    assert json.loads(out) == {"intentId": "st-1", "state": "canceled",
                               "brokerOrderId": order_id, "requested": False,
                               "message": "intent is already canceled: nothing to cancel"}
    assert [p for m, p, _ in fake.requests if m == "DELETE"] == deletes

    code, out, _ = run(capsys, *tradier(fake, "status", "--intent-id", "st-1"))
    assert (json.loads(out)["state"], json.loads(out)["order"]["status"]) == (
        "canceled", "canceled")


def test_cancel_of_an_order_filled_at_the_broker(fake: FakeTradier, db: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = intent_file(tmp_path, "st-fill")
    code, out, _ = run(capsys, *tradier(fake, "submit", "--intent", str(path)))
    order_id = json.loads(out)["brokerOrderId"]
    fake.fill(ACCOUNT, order_id, 1.40)  # the store still says acked
    code, out, err = run(capsys, *tradier(fake, "cancel", "--intent-id", "st-fill"))
    assert (code, err) == (0, "")
    assert json.loads(out) == {"intentId": "st-fill", "state": "filled",
                               "brokerOrderId": order_id, "requested": False,
                               "message": f"order {order_id} is already filled: nothing to "
                                          "cancel"}
    assert not [m for m, _, _ in fake.requests if m == "DELETE"]
    with Store(db) as store:  # the fill the store had missed is recorded
        rec = BrokerStore(store).get("st-fill")
        assert rec is not None
        assert (rec.state, rec.filled_quantity, rec.avg_fill_price) == ("filled", 2.0, 1.4)


def test_unrecorded_intent_is_found_by_tag(fake: FakeTradier, db: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    # routed from another machine: the order exists, this store has never heard of it
    with TradierAdapter(TRADIER_TEST_TOKEN, base_url=fake.url, account_id=ACCOUNT) as other:
        ack = other.submit(OrderIntent(intent_id="elsewhere-1", option_symbol=SYM,
                                       underlying="SPX", side="buy_to_open", quantity=1,
                                       order_type="limit", limit_price=1.0))
    code, out, err = run(capsys, *tradier(fake, "status", "--intent-id", "elsewhere-1"))
    assert (code, err) == (0, "")
    assert not db.exists()  # status only reads: a missing store is read as empty, not created
    status = json.loads(out)
    assert (status["state"], status["brokerOrderId"], status["order"]["status"]) == (
        None, ack.broker_order_id, "open")
    code, out, _ = run(capsys, *tradier(fake, "cancel", "--intent-id", "elsewhere-1"))
    assert json.loads(out) == {"intentId": "elsewhere-1", "state": "canceled",
                               "brokerOrderId": ack.broker_order_id, "requested": True,
                               "message": f"order {ack.broker_order_id} canceled"}


def test_errors_are_one_line_exit_2(fake: FakeTradier, db: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    for action in ("status", "cancel"):
        code, out, err = run(capsys, *tradier(fake, action, "--intent-id", "nope"))
        assert (code, out) == (2, "")
        assert err == ("spxcc: error: intent 'nope': not recorded in the store and no order "
                       f"with its tag at tradier account {ACCOUNT}\n")
    path = intent_file(tmp_path, "st-acct")
    run(capsys, *tradier(fake, "submit", "--intent", str(path)))
    code, out, err = run(capsys, "broker", "cancel", "--broker", "tradier", "--account",
                         "VA00000009", "--base-url", fake.url, "--intent-id", "st-acct")
    assert (code, out) == (2, "")
    assert err == ("spxcc: error: intent 'st-acct' was routed to tradier account "
                   f"{ACCOUNT}, not tradier account VA00000009\n")
    # the broker drops the cancel request: not confirmed, exit 2, the order is untouched
    fake.inject(Fault("drop", method="DELETE", path="/orders/"))
    code, out, err = run(capsys, *tradier(fake, "cancel", "--intent-id", "st-acct"))
    assert (code, out) == (2, "") and err.count("\n") == 1
    assert err.startswith("spxcc: error: cancel of order ") and "not confirmed" in err
    assert stored_state(db, "st-acct") == "acked"
    assert TRADIER_TEST_TOKEN not in err


# --- paper ------------------------------------------------------------------------------------

def paper(action: str, *extra: str) -> list[str]:
    return ["broker", action, "--broker", "paper", "--account", "P1", "--option", "cash=5000",
            *extra]


def test_paper_status_and_cancel(db: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    entry = intent_file(tmp_path, "pe-1")  # no quotes fed: rests open, holds 300
    code, out, _ = run(capsys, *paper("submit", "--intent", str(entry)))
    assert code == 0 and json.loads(out)["brokerOrderId"] == "1"
    exit_ = intent_file(tmp_path, "px-1", side="sell_to_close")
    code, out, _ = run(capsys, *paper("submit", "--intent", str(exit_), "--after", "pe-1"))
    assert code == 0 and json.loads(out)["state"] == "queued"  # waits for the entry's fill

    # the exit never reached the broker: canceled in the store, so nobody sends it later
    code, out, err = run(capsys, *paper("cancel", "--intent-id", "px-1"))
    assert (code, err) == (0, "")
    assert json.loads(out) == {"intentId": "px-1", "state": "canceled", "brokerOrderId": None,
                               "requested": False,
                               "message": "canceled before it was sent: no broker order"}
    code, out, _ = run(capsys, *paper("status", "--intent-id", "px-1"))
    status = json.loads(out)
    assert (status["state"], status["brokerOrderId"], status["order"]) == ("canceled", None,
                                                                          None)

    code, out, _ = run(capsys, *paper("cancel", "--intent-id", "pe-1"))
    assert json.loads(out) == {"intentId": "pe-1", "state": "canceled", "brokerOrderId": "1",
                               "requested": True, "message": "order 1 canceled"}
    code, out, _ = run(capsys, *paper("snapshot"))
    snap = json.loads(out)
    assert (snap["optionBuyingPower"], snap["openOrders"]) == (5_000.0, [])  # hold released
    code, out, _ = run(capsys, *paper("cancel", "--intent-id", "pe-1"))
    assert json.loads(out)["message"] == "intent is already canceled: nothing to cancel"
    code, out, _ = run(capsys, *paper("status", "--intent-id", "pe-1"))
    status = json.loads(out)
    assert (status["state"], status["order"]["status"], status["order"]["tag"]) == (
        "canceled", "canceled", tag_for("pe-1"))
