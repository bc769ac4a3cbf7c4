"""Paper broker on one-sided quotes (``spec/microbar.md`` revision 2026-12-06): on a 0DTE wing
"no bid" (bid 0 × 0) is a market state. A zero bid means you cannot sell: sells keep working, and
a long position is marked at 0 (nothing to sell it to); buys still lift the offer."""

from __future__ import annotations

from test_paper_fills import SYM, T0, S, broker, fills, intent

from spxcc_core.contracts.broker import Fill


def test_no_bid_cannot_fill_a_sell_and_marks_a_long_at_zero() -> None:
    b = broker(cash=10_000.0)
    b.on_quote(SYM, T0, 0.05, 10, 0.10, 10)
    b.submit(intent("b1", qty=2))  # buys 2 at the ask 0.10: cost 2 × 0.10 × 100 = 20
    assert fills(b) == [(2.0, 0.10)]
    b.on_quote(SYM, T0 + S, 0.0, 0, 0.05, 120)  # nobody bids
    b.submit(intent("s1", side="sell_to_close", qty=2))  # market sell: nobody to sell to
    assert fills(b) == []
    snap = b.snapshot("A")
    assert [o.tag for o in snap.open_orders] != []  # the sell keeps working
    # cash 10 000 − 20 = 9 980; the long is worth 0 with no bid (at cost it would read 10 000)
    assert snap.total_equity == 9_980.0
    b.on_quote(SYM, T0 + 2 * S, 0.05, 1, 0.10, 50)  # a bid of 1 contract appears
    assert fills(b) == [(1.0, 0.05)]  # partial: bounded by the bid size


def test_no_bid_still_fills_a_buy_at_the_offer_and_no_offer_marks_a_long_at_the_bid() -> None:
    b = broker(cash=10_000.0)
    b.on_quote(SYM, T0, 0.0, 0, 0.05, 120)
    b.submit(intent("b1", qty=3))  # touch: lifts the 0.05 offer: cost 3 × 0.05 × 100 = 15
    events = [e for e in b.poll_events("A") if isinstance(e, Fill)]
    assert [(e.quantity, e.price) for e in events] == [(3.0, 0.05)]
    b.on_quote(SYM, T0 + S, 0.10, 40, 0.0, 0)  # nobody offers: the long sells at the bid 0.10
    # cash 10 000 − 15 = 9 985; 3 × 0.10 × 100 = 30 → 10 015
    assert b.snapshot("A").total_equity == 10_015.0
