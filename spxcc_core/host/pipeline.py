"""The live host's per-frame step: the replay engine's pipeline, reporting what each step made.

The host does not have a pipeline of its own. It drives the replay engine's per-batch step
(:class:`spxcc_core.replay.engine` — streaming aggregator → ``spxcc_on_microbar`` observers →
detector runner (detectors, gating, setup lifecycle) → SQLite store, one transaction per batch)
with the frames of the live feed, exactly as a replay of a websocket recording does, and only
adds a view of the outputs each step produced so the hub can broadcast them:

- ``bars``: microbars that became final, in emission order;
- ``setups``: setup state changes, in the order the runner produced them (as the
  ``spxcc_on_setup`` observers see them);
- ``decisions``: gate decisions, in the order they were made.

So live == replay holds by construction; ``tests/test_live_parity.py`` checks it byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import pluggy

from spxcc_core.aggregate.columns import QuoteColumns, TradeColumns
from spxcc_core.aggregate.engine import StreamingAggregator
from spxcc_core.contracts.microbar import MicrobarV2
from spxcc_core.contracts.setup import GateDecision, SetupInstance
from spxcc_core.detect.profile import Profile
from spxcc_core.plugins import hookimpl
from spxcc_core.replay.engine import ReplayRun
from spxcc_core.replay.engine import _Pipeline as _ReplayPipeline
from spxcc_core.replay.wire import ReplaySource
from spxcc_core.store.sqlite import Store

__all__ = ["HostPipeline", "StepOutputs"]


@attrs.frozen
class StepOutputs:
    """What one step produced (each list in production order; empty when nothing)."""

    bars: list[MicrobarV2] = attrs.field(factory=list)
    setups: list[SetupInstance] = attrs.field(factory=list)
    decisions: list[GateDecision] = attrs.field(factory=list)

    def __len__(self) -> int:
        return len(self.bars) + len(self.setups) + len(self.decisions)


class _SetupTap:
    """A ``spxcc_on_setup`` observer collecting the setup changes of one run."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.pending: list[SetupInstance] = []

    @hookimpl
    def spxcc_on_setup(self, setup: SetupInstance, context: Mapping[str, Any]) -> None:
        if context.get("run_id") == self.run_id:
            self.pending.append(setup)

    def take(self) -> list[SetupInstance]:
        out, self.pending = self.pending, []
        return out


class HostPipeline:
    """One live session's pipeline (the replay engine's, see the module docstring).

    :param pm: the plugin manager; a private observer is registered on it until :meth:`close`.
    :param profile: the resolved detector profile.
    :param store: the store setup state changes are upserted into (left open).
    :param aggregator: the streaming aggregator; its symbol and condition tables are the ones
        frames must be decoded with.
    """

    def __init__(self, pm: pluggy.PluginManager, profile: Profile, store: Store,
                 aggregator: StreamingAggregator) -> None:
        self._pipe = _ReplayPipeline(pm, profile, store, aggregator)
        self._pm = pm
        self._tap = _SetupTap(self._pipe.run_id)
        self._tap_name = f"spxcc-host-setup-tap-{self._pipe.run_id}"
        pm.register(self._tap, name=self._tap_name)
        self._bars_seen = 0
        self._decisions_seen = 0
        self.finished = False

    @property
    def aggregator(self) -> StreamingAggregator:
        """The streaming aggregator the frames go to."""
        return self._pipe.agg

    def push(self, trades: TradeColumns | None, quotes: QuoteColumns | None) -> StepOutputs:
        """Feed one frame's trades and quotes (None or empty: none); returns what it produced.

        :raises InputError: a batch refers to an id the tables do not hold.
        """
        self._pipe.push(trades if trades is not None and len(trades) else None,
                        quotes if quotes is not None and len(quotes) else None)
        return self._take()

    def finish(self) -> StepOutputs:
        """End the input: every held bar becomes final, open setups expire. Idempotent."""
        if self.finished:
            return StepOutputs()
        self.finished = True
        self._pipe.finish()
        return self._take()

    def result(self, source: ReplaySource, *, index_values: int,
               websocket: dict[str, Any] | None) -> ReplayRun:
        """The run's outputs and report, exactly as a replay shapes them (after :meth:`finish`)."""
        return self._pipe.result(source, index_values=index_values, websocket=websocket)

    def close(self) -> None:
        """Unregister the private observer (idempotent)."""
        if self._pm.get_plugin(self._tap_name) is not None:
            self._pm.unregister(name=self._tap_name)

    def _take(self) -> StepOutputs:
        bars = self._pipe.bars[self._bars_seen:]
        self._bars_seen += len(bars)
        decisions = [d for *_, d in self._pipe.decisions[self._decisions_seen:]]
        self._decisions_seen += len(decisions)
        return StepOutputs(bars=bars, setups=self._tap.take(), decisions=decisions)
