"""The paper broker refuses orders for contracts that no longer trade (issue 7, item 6): an
SPXW (PM-settled) contract stops at its expiry date's close, an SPX monthly (AM-settled) at the
close of the session before its expiry date. Times below are worked out by hand: New York is
UTC-5 in November/December (EST)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from broker_cli_helpers import intent_file, run
from spxcc_paper import PaperBroker
from spxcc_paper.expiry import contract_trading_end_ms

from spxcc_core.broker import ContractExpired
from spxcc_core.contracts.broker import OrderIntent
from spxcc_core.occ import parse_occ


def _ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(("symbol", "ends_utc"), [
    # SPXW expiring Wed 2026-11-25: the 16:00 New York close = 21:00 UTC
    ("SPXW261125C05900000", (2026, 11, 25, 21, 0)),
    # SPXW expiring Fri 2026-11-27 (day after Thanksgiving, early close 13:00 = 18:00 UTC)
    ("SPXW261127P05800000", (2026, 11, 27, 18, 0)),
    # SPX monthly expiring Fri 2026-11-20 (AM-settled): last trade Thu 2026-11-19 16:00 NY
    ("SPX261120C05900000", (2026, 11, 19, 21, 0)),
    # SPX monthly expiring Mon 2026-12-07 (AM): the session before is Fri 2026-12-04
    ("SPX261207C05900000", (2026, 12, 4, 21, 0)),
])
def test_trading_end_by_settlement(symbol: str, ends_utc: tuple[int, ...]) -> None:
    assert contract_trading_end_ms(parse_occ(symbol)) == _ms(*ends_utc)


SUNDAY_NOON_NY = _ms(2026, 12, 6, 17, 0)  # Sunday 2026-12-06 12:00 New York


def _paper(now_ms: int) -> PaperBroker:
    return PaperBroker(account_id="P1", clock=lambda: now_ms * 1_000_000)


def _buy(symbol: str, intent_id: str = "e-1") -> OrderIntent:
    return OrderIntent(intent_id=intent_id, option_symbol=symbol, underlying="SPX",
                       side="buy_to_open", quantity=1, order_type="limit", limit_price=1.25)


def test_buy_of_an_expired_contract_on_a_sunday_is_a_typed_rejection() -> None:
    paper = _paper(SUNDAY_NOON_NY)
    with pytest.raises(ContractExpired) as info:
        paper.submit(_buy("SPXW261204C05900000"))
    exc = info.value
    assert exc.codes == ("ContractExpired",)
    assert exc.reason == ("ContractExpired: SPXW261204C05900000 stopped trading at 2026-12-04 "
                          "16:00 New York (PM-settled, expiry 2026-12-04)")
    assert exc.expired_ms == _ms(2026, 12, 4, 21, 0)
    assert paper.orders("P1") == []
    preview = paper.preview(_buy("SPXW261204C05900000"))
    assert not preview.ok and preview.messages[-1] == exc.reason
    # Monday's contract is still alive on Sunday
    ack = paper.submit(_buy("SPXW261207C05900000", "e-2"))
    assert ack.broker_order_id and not ack.duplicate


def test_the_close_itself_is_too_late() -> None:
    close = _ms(2026, 12, 4, 21, 0)
    assert _paper(close - 1).submit(_buy("SPXW261204C05900000")).broker_order_id
    with pytest.raises(ContractExpired):
        _paper(close).submit(_buy("SPXW261204C05900000"))


def test_cli_submit_of_an_expired_contract_exits_2_with_the_reason(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SPXCC_DB", str(tmp_path / "x.sqlite3"))
    path = intent_file(tmp_path, "old", optionSymbol="SPXW261125C05900000")
    argv = ["broker", "submit", "--broker", "paper", "--account", "P1", "--intent", str(path)]
    code, out, err = run(capsys, *argv)  # the machine's clock is past 2026-11-25
    assert (code, out) == (2, "")
    assert err == ("spxcc: error: broker rejected: ContractExpired: SPXW261125C05900000 stopped "
                   "trading at 2026-11-25 16:00 New York (PM-settled, expiry 2026-11-25)\n")
    code, out, _ = run(capsys, "broker", "status", "--broker", "paper", "--account", "P1",
                       "--intent-id", "old")
    assert code == 0 and json.loads(out)["state"] == "rejected"
