"""The routing worker's risk guard: may an account open new risk now?

An account may open new risk (send an entry, ``*_to_open``) only when it is not halted (the
halt flag is read from the store, at most ``halt_ttl_s`` seconds of the clock's monotonic time
apart — default 1 s —, so a halt set or cleared by another process, ``spxcc reconcile``, counts
within that time; a halt set by this guard's own run counts at once) and, when reconciliation
is on, its latest
reconciliation by this guard passed (the broker answered and no reconciler failed). An account
this guard never reconciled is reconciled when first asked about (trigger ``startup``). Exits
are never blocked: closing risk is always allowed.

Periodic runs: :meth:`RiskGuard.tick` reconciles each known account whose last run is at least
the policy's ``interval_ms`` old on the injected clock.
"""

from __future__ import annotations

from collections.abc import Iterable

from spxcc_core.broker.reconcile.engine import Reconciliation
from spxcc_core.broker.reconcile.store import Halt, ReconcileStore
from spxcc_core.broker.store import BrokerStore
from spxcc_core.clock import Clock
from spxcc_core.contracts.reconcile import ReconcileRun

__all__ = ["RiskGuard"]


class RiskGuard:
    """Answers "may this account open new risk?" for one broker (see the module docstring).

    :param broker: the adapter name (as stored).
    :param store: the broker tables.
    :param clock: the injected clock (periodic runs).
    :param engine: the reconciliation engine; None: reconciliation is off and only the halt
        flag is checked.
    :param halt_ttl_s: how long a read of the halt flag is reused (>= 0; 0 reads every time).
    """

    def __init__(self, broker: str, store: BrokerStore, clock: Clock,
                 engine: Reconciliation | None, *, halt_ttl_s: float = 1.0) -> None:
        self.broker = broker
        self.rstore = ReconcileStore(store)
        self.clock = clock
        self.engine = engine
        self.halt_ttl_s = halt_ttl_s
        self.last: dict[str, ReconcileRun] = {}
        self._halts: dict[str, tuple[float, Halt | None]] = {}

    def halt(self, account_id: str) -> Halt | None:
        """The account's halt (a read at most ``halt_ttl_s`` old), or None."""
        now = self.clock.monotonic()
        cached = self._halts.get(account_id)
        if cached is not None and now - cached[0] < self.halt_ttl_s:
            return cached[1]
        halt = self.rstore.halt(self.broker, account_id)
        self._halts[account_id] = (now, halt)
        return halt

    def reconcile(self, account_id: str, trigger: str) -> ReconcileRun | None:
        """Reconcile ``account_id`` now (None when reconciliation is off)."""
        if self.engine is None:
            return None
        run = self.engine.run(account_id, trigger=trigger)
        self.last[account_id] = run
        self._halts.pop(account_id, None)  # the run may have set (or found) a halt
        return run

    def start(self, accounts: Iterable[str]) -> list[ReconcileRun]:
        """Reconcile every account of ``accounts`` (trigger ``startup``)."""
        runs = [self.reconcile(a, "startup") for a in sorted(set(accounts))]
        return [r for r in runs if r is not None]

    def tick(self) -> list[ReconcileRun]:
        """Reconcile the known accounts whose last run is due (trigger ``periodic``)."""
        if self.engine is None:
            return []
        now = self.clock.now_ms()
        due = [a for a, run in sorted(self.last.items())
               if now - run.at_ms >= self.engine.policy.interval_ms]
        return [run for a in due if (run := self.reconcile(a, "periodic")) is not None]

    def block_reason(self, account_id: str) -> str | None:
        """Why ``account_id`` may not open new risk now, or None when it may."""
        halt = self.halt(account_id)
        if halt is None and self.engine is not None:
            run = self.last.get(account_id) or self.reconcile(account_id, "startup")
            assert run is not None
            if run.status == "failed":
                return (f"account {account_id}: reconciliation has not passed "
                        f"({run.error}); no new risk until a run passes")
            halt = self.halt(account_id)
        if halt is not None:
            return (f"account {account_id} is halted by reconciliation ({halt.reason}); "
                    "entries are refused until `spxcc reconcile --clear`")
        return None
