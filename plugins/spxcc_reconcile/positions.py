"""Positions: our book (recorded fills, average cost, plus adopted adjustments) against the
broker snapshot's positions, symbol by symbol.

Fills the broker reports on our orders that the store has not recorded yet
(:attr:`ReconcileInput.unrecorded_by_symbol`) count as explained: they are the orders
reconciler's ``unrecorded_fill``, never also a quantity difference here.
"""

from __future__ import annotations

from typing import ClassVar

from spxcc_core.broker.reconcile import (
    AdoptPosition,
    Finding,
    ReconcileInput,
    Reconciler,
    canonical_symbol,
)
from spxcc_core.broker.reconcile.base import EPSILON, MULTIPLIER
from spxcc_core.contracts.reconcile import DifferenceKind, ReconcileFacts
from spxcc_core.errors import InputError
from spxcc_core.occ import parse_occ
from spxcc_core.session import ny_date_of_ms

__all__ = ["PositionReconciler"]


class PositionReconciler(Reconciler):
    """Position differences: ``missing_at_broker`` (we hold it, the broker shows none),
    ``unknown_at_broker`` (the broker shows a position we never recorded: an external one),
    ``quantity_mismatch`` (both hold it, in different quantities) and
    ``cost_basis_mismatch`` (same quantity, cost bases more than the tolerance apart; only
    when the broker reports a cost basis). A difference on a symbol with an order working on
    either side is ambiguous. Adopting adds the adjustment that makes our book the broker's."""

    name: ClassVar[str] = "positions"

    def check(self, data: ReconcileInput) -> list[Finding]:
        broker: dict[str, tuple[float, float | None]] = {}
        for p in data.view.snapshot.positions:
            sym = canonical_symbol(p.symbol)
            qty, cost = broker.get(sym, (0.0, 0.0))
            broker[sym] = (qty + p.quantity, None if cost is None or p.cost_basis is None
                           else cost + p.cost_basis)
        pending_cost: dict[str, float] = {}
        for u in data.unrecorded:
            sym = canonical_symbol(u.order.symbol)
            pending_cost[sym] = (pending_cost.get(sym, 0.0)
                                 + u.order.signed * u.quantity * (u.price or 0.0) * MULTIPLIER)
        out: list[Finding] = []
        for sym in sorted(set(data.book.positions) | set(broker)):
            mine = data.book.positions.get(sym)
            qi, ci = (mine.quantity, mine.cost_basis) if mine is not None else (0.0, 0.0)
            pending = data.unrecorded_by_symbol.get(sym, 0.0)
            expected = qi + pending
            bq, bc = broker.get(sym, (0.0, None))
            held_there = sym in broker and abs(bq) > EPSILON
            internal = ReconcileFacts(present=mine is not None,
                                      quantity=qi if mine is not None else None,
                                      cost_basis=ci if mine is not None else None)
            theirs = ReconcileFacts(present=sym in broker,
                                    quantity=bq if sym in broker else None, cost_basis=bc)
            ambiguous = "an order is working on the symbol" if sym in data.busy_symbols else ""
            note = (f" ({pending:+g} more in fills the broker reports and we have not "
                    "recorded)" if abs(pending) > EPSILON else "")
            if abs(expected - bq) <= EPSILON:
                if (mine is not None and held_there and bc is not None and abs(pending) <= EPSILON
                        and abs(ci - bc) > data.cost_basis_tolerance):
                    out.append(Finding(
                        "cost_basis_mismatch", sym, internal, theirs,
                        f"{sym}: cost basis ${ci:,.2f} here, ${bc:,.2f} at the broker "
                        f"(tolerance ${data.cost_basis_tolerance:,.2f})", ambiguous,
                        AdoptPosition(sym, 0.0, round(bc - ci, 6))))
                continue
            target_cost = (bc if bc is not None else 0.0 if not held_there
                           else ci + pending_cost.get(sym, 0.0))
            adopt = AdoptPosition(sym, round(bq - expected, 9),
                                  round(target_cost - ci - pending_cost.get(sym, 0.0), 6))
            kind: DifferenceKind
            if not held_there:
                kind = "missing_at_broker"
                detail = (f"{sym}: we hold {qi:g}{note}, the broker shows no position"
                          + _expired_note(sym, data.now_ms))
            elif mine is None and abs(pending) <= EPSILON:
                kind = "unknown_at_broker"
                detail = (f"{sym}: the broker shows {bq:g} contracts we never recorded "
                          "(an external position)")
            else:
                kind = "quantity_mismatch"
                detail = f"{sym}: we hold {qi:g}{note}, the broker shows {bq:g}"
            out.append(Finding(kind, sym, internal, theirs, detail, ambiguous, adopt))
        return out


def _expired_note(symbol: str, now_ms: int) -> str:
    """A hint when ``symbol`` is an option that expired before today (New York): the broker
    settled it, so the position is gone for a known reason."""
    try:
        expiry = parse_occ(symbol).expiry
    except InputError:
        return ""
    if expiry >= ny_date_of_ms(now_ms):
        return ""
    return (f" (the contract expired on {expiry.isoformat()}: settled at the broker; adopt "
            "to record that)")

