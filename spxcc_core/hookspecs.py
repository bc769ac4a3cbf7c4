"""The spxcc hook specifications: markers and specs, nothing else.

Every hook is prefixed ``spxcc_`` and always called with keyword arguments. Hooks evolve only by
adding arguments (implementations name only the ones they use). ``docs/plugin-hooks.md`` lists
each one with its exact signature; a meta-test keeps the two in step.

Kinds: ``spxcc_register_<things>`` return classes or factories for discovery (the hot path calls
the returned objects directly, never through pluggy); ``spxcc_on_<event>`` are observers that must
not mutate what they receive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from spxcc_core.contracts.microbar import MicrobarV1

PROJECT_NAME = "spxcc"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def spxcc_on_microbar(bar: MicrobarV1, context: Mapping[str, Any]) -> None:
    """Observe one finished microbar, after it is final and before it is written out.

    Fires once per bar, in output order (symbol, then ``startMs``) for batch runs and in
    emission order for streaming runs. Observers must not mutate ``bar`` (it is frozen) or
    ``context``.

    :param bar: the finished bar, ``microbar@2`` (a :class:`MicrobarV1` subclass).
    :param context: read-only run facts: ``run_id`` (str), ``engine`` (``batch``|``stream``),
        ``interval_ms`` (int).
    :returns: nothing; a raised exception is recorded with the plugin's name and the run goes on.
    """


@hookspec
def spxcc_on_run_end(report: Mapping[str, Any], context: Mapping[str, Any]) -> Sequence[str] | None:
    """Observe the end of an aggregation run and optionally contribute summary lines.

    Fires once per run after the last bar. Observers must not mutate ``report``.

    :param report: the run report as written to ``--report`` (wire names).
    :param context: the same read-only run facts as :func:`spxcc_on_microbar`.
    :returns: human-readable summary lines for the CLI to print, or None.
    """


if TYPE_CHECKING:
    from spxcc_core.broker.interface import BrokerAdapter


@hookspec
def spxcc_register_brokers() -> list[type[BrokerAdapter]]:  # type: ignore[empty-body]
    """Register broker adapter classes (subclasses of :class:`spxcc_core.broker.BrokerAdapter`).

    Called at discovery time (building the adapter registry, ``spxcc broker ...``), never per
    order. Each class carries a unique, non-blank ``name`` ClassVar (``tradier``, ``paper``)
    by which users select it; a blank or duplicate name is a :class:`PluginError`. The host
    builds an instance with ``cls.from_config(config)`` (an ``AdapterConfig``: options,
    account, sandbox, and the store and secrets the class declares it needs) and calls its
    methods directly.

    :returns: the adapter classes this plugin provides (an empty list for none).
    """


if TYPE_CHECKING:
    from spxcc_core.store.migrations import Migration


@hookspec
def spxcc_register_migrations() -> Sequence[Migration]:  # type: ignore[empty-body]
    """Register the schema migrations of a plugin's own store tables.

    Called when a store is opened for a command that uses plugins (``spxcc broker ...``),
    never per order. Each :class:`~spxcc_core.store.Migration` names a component of the
    plugin's own (not ``broker``, ``secrets`` or ``setups``: those are core's) and a version;
    a component's versions are 1..n. The store applies core and plugin migrations together,
    once each, recording them in ``spxcc_schema``; an adapter may also apply its own on the
    store it is given (idempotent). A table an older store created under another component
    is taken over with ``CREATE TABLE IF NOT EXISTS`` (kept, rows and all).

    :returns: the plugin's migrations (an empty sequence for none).
    """


if TYPE_CHECKING:
    from spxcc_core.contracts.setup import SetupInstance
    from spxcc_core.detect.base import ContextProvider, Detector


@hookspec
def spxcc_register_detectors() -> list[type[Detector[Any]]]:  # type: ignore[empty-body]
    """Register setup detector classes (subclasses of :class:`spxcc_core.detect.base.Detector`).

    Called once when a :class:`~spxcc_core.detect.runner.DetectorRunner` is built, never per
    bar. Each class carries a unique, non-blank ``name`` ClassVar, an integer ``version``
    ClassVar and a ``params_class`` (attrs, derived from ``DetectorParams``); a blank or
    duplicate name is a :class:`PluginError`. The host builds one instance per symbol and
    trading day with the active profile's parameters and calls ``on_bar(bar, ctx)`` directly.

    :returns: the detector classes this plugin provides (an empty list for none).
    """


@hookspec
def spxcc_register_context_providers() -> list[type[ContextProvider]]:  # type: ignore[empty-body]
    """Register context provider classes (subclasses of
    :class:`spxcc_core.detect.base.ContextProvider`).

    Called once when a runner is built. Each class carries a unique, non-blank ``name``; the
    host builds one instance per symbol and trading day and, for every bar, publishes the value
    its ``on_bar`` returns as ``ctx.extra[name]`` before any detector sees the bar (a provider
    declaring ``context_slot = "gamma"`` and returning a ``GammaPressure`` also sets
    ``ctx.gamma``; an unknown or doubly declared slot is a :class:`PluginError`).

    :returns: the provider classes this plugin provides (an empty list for none).
    """


@hookspec
def spxcc_on_setup(setup: SetupInstance, context: Mapping[str, Any]) -> None:
    """Observe a setup instance when it is created (status ``detected``, after passing the
    gates) and at every later status change (triggered, t1, t2, stopped, expired,
    untriggered).

    Fires in the order the runner produces the changes. Observers must not mutate
    ``context`` (``setup`` is frozen).

    :param setup: the setup in its new state (``setup@1``).
    :param context: read-only run facts: ``run_id`` (str), ``profile_hash`` (str),
        ``session_id`` (str) and, on creation, ``gate`` (the passing ``GateDecision``).
    :returns: nothing; a raised exception is recorded with the plugin's name and the run goes on.
    """


if TYPE_CHECKING:
    from spxcc_core.broker.reconcile import Reconciler
    from spxcc_core.contracts.broker import Fill, OrderIntent


@hookspec
def spxcc_register_reconcilers() -> list[type[Reconciler]]:  # type: ignore[empty-body]
    """Register reconciler classes (subclasses of
    :class:`spxcc_core.broker.reconcile.Reconciler`).

    Called once when a reconciliation engine is built (routing worker start-up,
    ``spxcc reconcile``), never per run. Each class carries a unique, non-blank ``name``
    ClassVar; a blank or duplicate name is a :class:`PluginError`. The engine builds one
    instance per run (no arguments) and calls ``check(data)`` with the internal book and the
    broker's answer; a reconciler that raises is recorded under its name and the run is
    ``failed`` (the other reconcilers' differences are still reported).

    :returns: the reconciler classes this plugin provides (an empty list for none).
    """


@hookspec
def spxcc_on_fill(fill: Fill, intent: OrderIntent, context: Mapping[str, Any]) -> None:
    """Observe one execution of one of our intents, once, right after it is recorded.

    Fires when the routing worker records a new fill (a fill already recorded, e.g. polled
    again, does not fire again), including a fill adopted by reconciliation, and when a
    replay executor records a paper fill. Observers must not mutate ``context`` (``fill`` and
    ``intent`` are frozen).

    :param fill: the execution (``fill@1``): contracts, per-share price, ``fillId``.
    :param intent: the intent it executes (``order_intent@1``).
    :param context: read-only facts: ``broker`` (adapter name), ``account_id``, ``source``
        (``routing``, ``reconcile`` or ``replay``), ``filled_quantity`` (the intent's total
        after this fill) and ``state`` (the intent's state after it).
    :returns: nothing; a raised exception is recorded with the plugin's name and routing goes
        on.
    """
