"""The plugin manager factory.

Order: spxcc's hook specs and the host's extra ones (``hookspecs=``) → blocked names →
built-in plugins (by import path; ``module:factory`` registers a new instance per manager) →
third-party entry points of the ``spxcc`` group (unless autoload is disabled) →
``check_pending()`` so a misspelled hook fails loudly. Built-ins are also declared as entry
points so they are listed like any plugin; pluggy skips an entry point whose name is already
registered. Every registration is checked by :func:`spxcc_core.registry.check_wrappers`.

Discovery and isolated hook calls live in :mod:`spxcc_core.registry`; :func:`call_isolated`
is its one-call shorthand.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable
from types import ModuleType
from typing import Any

import pluggy

from spxcc_core import hookspecs as _spxcc_hookspecs
from spxcc_core.errors import PluginError
from spxcc_core.registry import (
    MonitoredManager,
    PluginFailure,
    PluginFailures,
    PluginRegistry,
    check_wrappers,
    require_unique_names,
)

__all__ = [
    "AUTOLOAD_ENV",
    "BUILTIN_PLUGINS",
    "PluginFailure",
    "PluginFailures",
    "SpxccPluginManager",
    "call_isolated",
    "get_plugin_manager",
    "hookimpl",
    "plugin_names",
    "require_unique_names",
]

hookimpl = _spxcc_hookspecs.hookimpl

#: Set to a non-empty value other than ``0`` to stop loading third-party entry points.
AUTOLOAD_ENV = "SPXCC_DISABLE_PLUGIN_AUTOLOAD"

#: Built-in plugins: entry-point name → import path (``module`` registers the module,
#: ``module:factory`` registers ``factory()``, a new instance per manager). Always registered,
#: autoload or not.
BUILTIN_PLUGINS: dict[str, str] = {
    "spxcc_observers": "spxcc_observers:RunSummary",
    "spxcc_detectors": "spxcc_detectors",
    "spxcc_tradier": "spxcc_tradier",
    "spxcc_paper": "spxcc_paper",
    "spxcc_gamma": "spxcc_gamma",
    "spxcc_reconcile": "spxcc_reconcile",
}


def _autoload_disabled() -> bool:
    value = os.environ.get(AUTOLOAD_ENV, "")
    return value not in ("", "0")


class SpxccPluginManager(MonitoredManager):
    """A pluggy manager that refuses, at registration, a plugin whose wrappers spxcc could not
    honour (:func:`spxcc_core.registry.check_wrappers`)."""

    def register(self, plugin: object, name: str | None = None) -> str | None:
        """Register ``plugin`` (pluggy's ``register``), then check its wrappers.

        :raises PluginError: the plugin implements a hook both as a wrapper and plainly (it is
            unregistered again).
        """
        registered = super().register(plugin, name)
        if registered is not None:
            try:
                check_wrappers(self, plugin)
            except PluginError:
                self.unregister(plugin)
                raise
        return registered


def _builtin(path: str) -> object:
    module_path, _, factory = path.partition(":")
    module = importlib.import_module(module_path)
    return getattr(module, factory)() if factory else module


def get_plugin_manager(
    *, load_entrypoints: bool | None = None, blocked: Iterable[str] = (),
    hookspecs: Iterable[ModuleType | type] = (),
) -> SpxccPluginManager:
    """Return a fresh plugin manager with built-ins and (optionally) entry-point plugins.

    :param load_entrypoints: load third-party plugins from the ``spxcc`` entry-point group;
        None means "unless ``SPXCC_DISABLE_PLUGIN_AUTOLOAD`` is set".
    :param blocked: plugin names never to register (built-ins included).
    :param hookspecs: extra hook specification modules or classes of an embedding application
        (marked with :data:`spxcc_core.hookspecs.hookspec`), added before any plugin is
        registered, so plugins implementing the host's hooks are accepted by
        ``check_pending()``.
    :raises PluginError: a plugin implements a hook that does not exist, or a wrapper spxcc
        cannot honour; an extra hookspec module redefines an existing hook.
    """
    pm = SpxccPluginManager(_spxcc_hookspecs.PROJECT_NAME)
    pm.add_hookspecs(_spxcc_hookspecs)
    for extra in hookspecs:
        try:
            pm.add_hookspecs(extra)
        except ValueError as exc:  # pluggy: a hook spec of this name is already registered
            raise PluginError(f"hookspecs {extra!r}: {exc}") from None
    for name in blocked:
        pm.set_blocked(name)
    for name, path in BUILTIN_PLUGINS.items():
        if pm.is_blocked(name):
            continue
        pm.register(_builtin(path), name=name)
    if load_entrypoints is None:
        load_entrypoints = not _autoload_disabled()
    if load_entrypoints:
        pm.load_setuptools_entrypoints(_spxcc_hookspecs.PROJECT_NAME)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {exc.plugin!r}: {exc}") from None
    return pm


def call_isolated(pm: pluggy.PluginManager | PluginRegistry, hook_name: str,
                  failures: PluginFailures | list[PluginFailure], **kwargs: Any) -> list[Any]:
    """Call ``hook_name`` once, isolated per plugin (see :mod:`spxcc_core.registry`); a plugin
    that raises is recorded in ``failures`` (listed) and the others still run.

    :returns: the non-None results, in pluggy's call order.
    """
    manager = pm.pm if isinstance(pm, PluginRegistry) else pm
    if isinstance(failures, PluginFailures):
        return PluginRegistry(manager, failures).call(hook_name, **kwargs)
    collector = PluginFailures()
    results = PluginRegistry(manager, collector).call(hook_name, **kwargs)
    failures.extend(collector)
    return results

def plugin_names(pm: pluggy.PluginManager) -> list[str]:
    """Names of the registered plugins, sorted."""
    names = [pm.get_name(p) for p in pm.get_plugins()]
    return sorted(n for n in names if n is not None)
