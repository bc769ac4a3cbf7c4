"""Setup states and gate decisions written to the store so that a lost store connection loses
none of them silently (``docs/operations.md``, "A live run and a lost store connection").

:class:`SetupWriter` is what the pipeline writes through, one call per step. Both tables are
upserted (``spx_setup_instances`` by setup id, ``spx_gate_decisions`` by their key), so writing a
record again is safe whatever became of an earlier try — rolled back, or committed after all
(a ``COMMIT`` lost on its way). A write that a lost connection interrupts
(:class:`~spxcc_core.store.base.StoreConnectionLost`) is therefore:

1. written again at once (the store reconnects first), unless the connection could not be
   re-established at all (``unreachable``: the store already waited its reconnect bound);
2. if that fails too, kept: the next step's write carries it along (a later setup state of the
   same setup replaces the older one, the only one the table keeps anyway);
3. still not written when the input ends: counted as unwritten (:attr:`SetupWriter.unwritten`)
   and logged — the records are in the run's output files, never silently lost.

Any other :class:`~spxcc_core.store.base.StoreError` (a damaged store, a missing table) is
not about the connection and propagates as before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import attrs

from spxcc_core.contracts.setup import GateDecision, SetupInstance
from spxcc_core.setups.store import SetupStore
from spxcc_core.store.base import StoreConnectionLost

__all__ = ["SetupWriter"]

log = logging.getLogger("spxcc.setups.writer")


@attrs.define(eq=False)
class SetupWriter:
    """Writes setup states and gate decisions through ``store`` (module docstring): counts
    the writes a lost connection interrupted (:attr:`interrupted`), those written again later
    (:attr:`rewritten`), and keeps what is not written yet (:attr:`unwritten`)."""

    store: SetupStore
    #: Writes (calls of :meth:`write`) a lost connection interrupted.
    interrupted: int = 0
    #: Interrupted writes whose records were written later (by the retry or a later write).
    rewritten: int = 0
    _setups: dict[str, SetupInstance] = attrs.field(factory=dict)
    _decisions: list[GateDecision] = attrs.field(factory=list)
    _pending: int = 0  # interrupted writes whose records are not written yet

    @property
    def unwritten(self) -> dict[str, int]:
        """Records not in the store yet, by kind (``setups``, ``gate_decisions``; kinds with
        none are left out: empty when everything was written)."""
        counts = {"setups": len(self._setups), "gate_decisions": len(self._decisions)}
        return {k: n for k, n in counts.items() if n}

    def write(self, setups: Iterable[SetupInstance], decisions: Iterable[GateDecision]) -> None:
        """Upsert ``setups`` and ``decisions``, together with anything an earlier interrupted
        write left, in one transaction; a lost connection is handled as the module says.
        Nothing to write: no transaction.

        :raises StoreError: any store failure that is not a lost connection.
        """
        self._setups.update((s.id, s) for s in setups)
        self._decisions.extend(decisions)
        if not self._setups and not self._decisions:
            return
        try:
            self._flush()
        except StoreConnectionLost as exc:
            self.interrupted += 1
            self._pending += 1
            if exc.outcome == "unreachable":
                log.warning("%d setup state(s) and %d gate decision(s) not written: %s; kept "
                            "for the next write", len(self._setups), len(self._decisions), exc)
                return
            log.warning("writing %d setup state(s) and %d gate decision(s) was interrupted: "
                        "%s; writing them again", len(self._setups), len(self._decisions), exc)
            try:
                self._flush()
            except StoreConnectionLost as again:
                log.warning("%d setup state(s) and %d gate decision(s) still not written: %s; "
                            "kept for the next write", len(self._setups), len(self._decisions),
                            again)
                return
        if self._pending:
            log.info("setup states and gate decisions of %d interrupted write(s) are written",
                     self._pending)
            self.rewritten += self._pending
            self._pending = 0

    def _flush(self) -> None:
        self.store.write(self._setups.values(), self._decisions)
        self._setups.clear()
        self._decisions.clear()
