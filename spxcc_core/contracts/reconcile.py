"""Reconciliation contracts: one difference between our book and the broker's, and one
reconciliation run with its differences (both at version 1).

Units as in :mod:`spxcc_core.contracts.broker`: quantities are contracts (negative = short),
``costBasis`` is the position's total cost in dollars (negative for a short option), times
are epoch milliseconds UTC. A fact one side does not have is null, never a made-up zero.
"""

from __future__ import annotations

from typing import ClassVar, Final, Literal, get_args

from spxcc_core.contracts.base import Contract

__all__ = [
    "ACTIONS",
    "DIFFERENCE_KINDS",
    "RUN_STATUSES",
    "SEVERITIES",
    "Action",
    "DifferenceKind",
    "ReconcileDifference",
    "ReconcileFacts",
    "ReconcileRun",
    "RunStatus",
    "Severity",
]

#: What a difference is about (see ``docs/operations.md``, one runbook per kind).
DifferenceKind = Literal["missing_at_broker", "unknown_at_broker", "quantity_mismatch",
                         "cost_basis_mismatch", "stuck_order", "unrecorded_fill"]
#: How bad a difference is.
Severity = Literal["info", "warning", "critical"]
#: What was done about a difference: ``alert`` (reported only), ``adopt`` (the broker's truth
#: recorded as a synthetic, deterministic event), ``halt`` (no new risk until
#: ``spxcc reconcile --clear``), ``pending`` (ambiguous: nothing done until a later snapshot
#: confirms it).
Action = Literal["alert", "adopt", "halt", "pending"]
#: Outcome of a run: ``clean`` (no difference), ``differences`` (some, none halting),
#: ``halted`` (the account is halted after this run), ``failed`` (the broker gave no usable
#: answer; nothing was compared and nothing is read as flat).
RunStatus = Literal["clean", "differences", "halted", "failed"]

DIFFERENCE_KINDS: Final[tuple[str, ...]] = get_args(DifferenceKind)
SEVERITIES: Final[tuple[str, ...]] = get_args(Severity)
ACTIONS: Final[tuple[str, ...]] = get_args(Action)
RUN_STATUSES: Final[tuple[str, ...]] = get_args(RunStatus)


class ReconcileFacts(Contract, frozen=True, kw_only=True):
    """What one side (our store, or the broker) says about the thing a difference is about.

    Position differences fill ``quantity`` and ``costBasis``; order differences fill
    ``orderId``, ``status`` and ``filledQuantity`` (and ``intentId`` on our side). ``present``
    is false when this side has nothing at all (no position, no order).
    """

    present: bool
    quantity: float | None = None
    cost_basis: float | None = None
    order_id: str | None = None
    status: str | None = None
    filled_quantity: float | None = None
    intent_id: str | None = None


class ReconcileDifference(Contract, frozen=True, kw_only=True):
    """``reconcile_difference@1``: one difference between the internal book and the broker.

    ``key`` is derived from the facts of both sides (the same difference seen again has the same
    key; an adopted event's id is derived from it). ``symbol`` is the OCC option symbol (null
    when the broker gave none). ``detail`` is one human-readable sentence. ``applied`` is true
    when this run recorded the adopting event now (false when it was already recorded: a rerun
    never applies it twice). ``acknowledged`` is true when a person cleared a halt over this
    very difference (``spxcc reconcile --clear``), so it no longer halts. ``seenRuns`` counts
    the consecutive runs (this one included) that reported this key.
    """

    contract_name: ClassVar[str] = "reconcile_difference"
    contract_version: ClassVar[int] = 1

    key: str
    kind: DifferenceKind
    symbol: str | None
    internal: ReconcileFacts
    broker: ReconcileFacts
    severity: Severity
    action: Action
    detail: str
    reconciler: str
    applied: bool = False
    acknowledged: bool = False
    seen_runs: int = 1


class ReconcileRun(Contract, frozen=True, kw_only=True):
    """``reconcile_run@1``: one reconciliation of one broker account.

    ``trigger`` says who ran it (``startup``, ``periodic``, ``cli``, ``clear``, or a caller's
    word). ``positionsCompared``/``ordersCompared`` count what was looked at (symbols of either
    side; orders of either side); ``error`` is the broker failure of a ``failed`` run, else
    null. ``halted`` is whether the account is halted after the run (by this run or an earlier
    one not yet cleared).
    """

    contract_name: ClassVar[str] = "reconcile_run"
    contract_version: ClassVar[int] = 1

    run_id: str
    adapter: str
    account_id: str
    at_ms: int
    trigger: str
    status: RunStatus
    halted: bool
    positions_compared: int
    orders_compared: int
    differences: tuple[ReconcileDifference, ...] = ()
    error: str | None = None
