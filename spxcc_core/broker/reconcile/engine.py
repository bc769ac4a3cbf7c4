"""One reconciliation run: read the broker, build our book, let every reconciler find
differences, decide and take each difference's action, store the run.

Reading the broker: the day's orders, then the snapshot, then the orders again. When the two
order reads disagree (a fill or a status change happened meanwhile) the read is unstable and
every difference is ambiguous. A broker failure makes the run ``failed``: nothing is compared,
nothing is read as flat, and the account has not passed reconciliation. An answer with no
position and no order at all while our book holds something is not read as flat either: its
differences are ambiguous.

Deciding: an ambiguous difference is ``pending`` (nothing done) until ``confirm_runs``
consecutive runs reported it (same key); then, and for every other difference, the policy's
action for its kind is taken: ``alert`` (reported), ``adopt`` (the broker's truth recorded as a
synthetic event whose id is derived from the broker facts, so a rerun never applies it twice;
a difference with nothing safe to adopt is alerted) or ``halt`` (the account is halted until
``spxcc reconcile --clear``; a difference a person acknowledged with ``--clear`` only alerts).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any, Final

import msgspec

from spxcc_core.broker.interface import BrokerAdapter
from spxcc_core.broker.reconcile.base import (
    AdoptFill,
    AdoptOrderStatus,
    AdoptPosition,
    BrokerView,
    Finding,
    ReconcileInput,
    Reconciler,
    canonical_symbol,
)
from spxcc_core.broker.reconcile.policy import SEVERITY, ReconcilePolicy
from spxcc_core.broker.reconcile.store import ReconcileStore
from spxcc_core.broker.store import BrokerStore
from spxcc_core.clock import Clock, SystemClock
from spxcc_core.contracts.broker import BrokerOrder, Fill, OrderUpdate
from spxcc_core.contracts.reconcile import (
    Action,
    ReconcileDifference,
    ReconcileRun,
    RunStatus,
)
from spxcc_core.errors import SpxccError
from spxcc_core.registry import PluginFailures, describe

__all__ = ["ApplyEvent", "Reconciliation", "difference_key", "summary"]

#: ``apply(event) -> int``: record a broker event on our book the way the routing worker does
#: (:meth:`RoutingWorker.on_event`); returns 1 when it changed something, 0 when it was known.
ApplyEvent = Callable[[Fill | OrderUpdate], int]

_encoder: Final = msgspec.json.Encoder()
#: What a reconciler's failure is recorded under (with its name as the plugin), as a
#: detector's ``on_bar``.
_CHECK: Final = "check"


def difference_key(finding: Finding, broker: str, account_id: str) -> str:
    """``<kind>:<24 hex digits>``: a digest of the kind, account, symbol and both sides'
    facts (no times), so the same difference seen in another run has the same key."""
    payload = _encoder.encode([finding.kind, broker, account_id, finding.symbol,
                               finding.internal, finding.broker])
    return f"{finding.kind}:{hashlib.sha256(payload).hexdigest()[:24]}"


def _progress(orders: Sequence[BrokerOrder]) -> list[tuple[str, str, float]]:
    return sorted((o.id, o.status, o.filled_quantity or 0.0) for o in orders)


class Reconciliation:
    """Reconciles broker accounts of one adapter against one store.

    :param adapter: the broker.
    :param store: the broker tables (the routing worker's, when it runs inside one).
    :param reconcilers: the reconciler classes (``spxcc_register_reconcilers``), run in this
        order; one instance each per run.
    :param apply_event: records an adopted fill or order status on our book (the routing
        worker's ``on_event``).
    :param policy: actions per kind and limits (default :class:`ReconcilePolicy`).
    :param clock: the injected clock (run times, ages).
    :param failures: where a reconciler that raises is recorded (under its ``name``).
    """

    def __init__(self, adapter: BrokerAdapter, store: BrokerStore,
                 reconcilers: Sequence[type[Reconciler]], apply_event: ApplyEvent, *,
                 policy: ReconcilePolicy | None = None, clock: Clock | None = None,
                 failures: PluginFailures | None = None) -> None:
        self.adapter = adapter
        self.broker = adapter.name
        self.rstore = ReconcileStore(store)
        self.reconcilers = list(reconcilers)
        self.apply_event = apply_event
        self.policy = policy or ReconcilePolicy()
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.failures = failures if failures is not None else PluginFailures()

    def run(self, account_id: str, *, trigger: str = "cli") -> ReconcileRun:
        """Reconcile one account now and store the run (its differences and actions).

        :returns: the stored run; ``failed`` when the broker gave no usable answer or a
            reconciler raised (the others' differences are still reported and acted on).
        """
        now = self.clock.now_ms()
        try:
            view = self._read(account_id)  # before any write: no transaction held meanwhile
        except SpxccError as exc:  # BrokerError and bad arguments alike
            run_id = self.rstore.claim_run(self.broker, account_id, at_ms=now, trigger=trigger)
            run = ReconcileRun(run_id=run_id, adapter=self.broker, account_id=account_id,
                               at_ms=now, trigger=trigger, status="failed",
                               halted=self.rstore.halt(self.broker, account_id) is not None,
                               positions_compared=0, orders_compared=0,
                               error=f"broker answer unusable, nothing compared: {exc}")
            self.rstore.record_run(run)
            return run
        run_id = self.rstore.claim_run(self.broker, account_id, at_ms=now, trigger=trigger)
        book = self.rstore.book(self.broker, account_id,
                                tags=[o.tag for o in view.orders if o.tag])
        data = ReconcileInput(broker=self.broker, account_id=account_id, now_ms=now, book=book,
                              view=view, stuck_after_ms=self.policy.stuck_after_ms,
                              cost_basis_tolerance=self.policy.cost_basis_tolerance)
        findings: list[tuple[str, Finding]] = []
        errors: list[str] = []
        for cls in self.reconcilers:
            try:
                findings.extend((cls.name, f) for f in cls().check(data))
            except Exception as exc:  # isolation: record, report the run as failed, go on
                self.failures.record(cls.name, _CHECK, exc)
                errors.append(f"reconciler {cls.name} failed: {describe(exc)}")
        differences = self._decide(data, findings, run_id, now)
        halted = self.rstore.halt(self.broker, account_id) is not None
        status: RunStatus = ("failed" if errors else "halted" if halted
                             else "differences" if differences else "clean")
        symbols = set(book.positions) | {canonical_symbol(p.symbol)
                                         for p in view.snapshot.positions}
        orders = {o.intent_id for o in book.open_orders.values()} | {o.id for o in view.orders}
        run = ReconcileRun(run_id=run_id, adapter=self.broker, account_id=account_id,
                           at_ms=now, trigger=trigger, status=status, halted=halted,
                           positions_compared=len(symbols), orders_compared=len(orders),
                           differences=tuple(differences),
                           error="; ".join(errors) if errors else None)
        self.rstore.record_run(run)
        return run

    def _read(self, account_id: str) -> BrokerView:
        before = self.adapter.orders(account_id)
        snapshot = self.adapter.snapshot(account_id)
        after = self.adapter.orders(account_id)
        merged = {o.id: o for o in snapshot.open_orders}
        merged.update((o.id, o) for o in after)
        return BrokerView(snapshot=snapshot, orders=tuple(merged.values()),
                          stable=_progress(before) == _progress(after))

    def _decide(self, data: ReconcileInput, findings: list[tuple[str, Finding]], run_id: str,
                now: int) -> list[ReconcileDifference]:
        account = data.account_id
        previous = self.rstore.latest_run(self.broker, account, compared=True)
        seen_before = {d.key: d.seen_runs for d in previous.differences} if previous else {}
        acknowledged = self.rstore.acknowledged(self.broker, account)
        empty_answer = data.view.empty and not data.book.empty
        out: list[ReconcileDifference] = []
        halts: list[str] = []
        for reconciler, f in findings:
            key = difference_key(f, self.broker, account)
            seen = seen_before.get(key, 0) + 1
            action: Action = self.policy.action(f.kind)
            detail = f.detail
            applied = acknowledged_now = False
            why = ("the broker answered with no position and no order at all"
                   if empty_answer else "the account changed while it was read"
                   if not data.view.stable else f.ambiguous)
            if why and seen < self.policy.confirm_runs:
                action = "pending"
                detail += (f" (ambiguous: {why}; seen in {seen} of {self.policy.confirm_runs}"
                           " runs needed before acting)")
            elif action == "adopt":
                if f.adopt is None:
                    action = "alert"
                    detail += " (nothing safe to adopt: alerted instead)"
                else:
                    applied = self._adopt(f, key, data, run_id, now)
            elif action == "halt":
                if key in acknowledged:
                    action, acknowledged_now = "alert", True
                    detail += " (acknowledged with --clear: not halting)"
                else:
                    halts.append(f"{f.kind} {f.symbol or ''}".strip())
            out.append(ReconcileDifference(
                key=key, kind=f.kind, symbol=f.symbol, internal=f.internal, broker=f.broker,
                severity=SEVERITY[f.kind], action=action, detail=detail, reconciler=reconciler,
                applied=applied, acknowledged=acknowledged_now, seen_runs=seen))
        if halts:
            self.rstore.set_halt(self.broker, account, run_id=run_id, now_ms=now,
                                 reason=f"reconciliation run {run_id}: " + ", ".join(halts))
        return out

    def _adopt(self, f: Finding, key: str, data: ReconcileInput, run_id: str, now: int) -> bool:
        """Record the finding's adopting event; False when it was recorded before."""
        adopt = f.adopt
        if isinstance(adopt, AdoptFill):
            if self.apply_event(adopt.fill) > 0:
                return True
            return adopt.alternate is not None and self.apply_event(adopt.alternate) > 0
        if isinstance(adopt, AdoptOrderStatus):
            if adopt.update is not None:
                return self.apply_event(adopt.update) > 0
            return self.rstore.adopt(
                f"{key}/order", broker=self.broker, account_id=data.account_id, kind=f.kind,
                symbol=None, quantity=0.0, cost=0.0, order_id=adopt.external_order_id,
                run_id=run_id, ts_ms=now, detail=f.detail)
        assert isinstance(adopt, AdoptPosition)
        generation = data.book.adjustments.get(adopt.symbol, 0)
        return self.rstore.adopt(
            f"{key}/{generation}", broker=self.broker, account_id=data.account_id,
            kind=f.kind, symbol=adopt.symbol, quantity=adopt.quantity, cost=adopt.cost,
            order_id=None, run_id=run_id, ts_ms=now, detail=f.detail)

    def clear(self, account_id: str) -> bool:
        """Clear the account's halt, acknowledging the halting differences of its latest run
        (seen again unchanged, they alert instead of halting). :returns: whether it was
        halted."""
        latest = self.rstore.latest_run(self.broker, account_id, compared=True)
        keys = [d.key for d in latest.differences if d.action == "halt"] if latest else []
        return self.rstore.clear_halt(self.broker, account_id, now_ms=self.clock.now_ms(),
                                      acknowledge=keys)


def summary(run: ReconcileRun) -> dict[str, Any]:
    """The CLI's JSON object of a run: ``status`` (``clean``|``differences``|``halted``) and
    ``differences`` (``kind``, ``symbol``, ``internal``, ``broker``, ``severity``, ``action``,
    ``detail``)."""
    return {"status": run.status, "differences": [
        {"kind": d.kind, "symbol": d.symbol, "internal": msgspec.to_builtins(d.internal),
         "broker": msgspec.to_builtins(d.broker), "severity": d.severity, "action": d.action,
         "detail": d.detail} for d in run.differences]}
