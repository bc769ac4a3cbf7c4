"""The plugin manager factory.

Order: blocked names → built-in plugins (by module path) → third-party entry points of the
``spxcc`` group (unless autoload is disabled) → ``check_pending()`` so a misspelled hook fails
loudly. Built-ins are also declared as entry points so they are listed like any plugin; pluggy
skips an entry point whose name is already registered.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable
from typing import Any

import pluggy

from spxcc_core import hookspecs
from spxcc_core.errors import PluginError

__all__ = [
    "AUTOLOAD_ENV",
    "BUILTIN_PLUGINS",
    "PluginFailure",
    "call_isolated",
    "get_plugin_manager",
    "hookimpl",
]

hookimpl = hookspecs.hookimpl

#: Set to a non-empty value other than ``0`` to stop loading third-party entry points.
AUTOLOAD_ENV = "SPXCC_DISABLE_PLUGIN_AUTOLOAD"

#: Built-in plugins: entry-point name → import path. Always registered, autoload or not.
BUILTIN_PLUGINS: dict[str, str] = {
    "spxcc_observers": "spxcc_observers",
    "spxcc_detectors": "spxcc_detectors",
    "spxcc_tradier": "spxcc_tradier",
    "spxcc_paper": "spxcc_paper",
    "spxcc_gamma": "spxcc_gamma",
}


def _autoload_disabled() -> bool:
    value = os.environ.get(AUTOLOAD_ENV, "")
    return value not in ("", "0")


def get_plugin_manager(
    *, load_entrypoints: bool | None = None, blocked: Iterable[str] = ()
) -> pluggy.PluginManager:
    """Return a fresh plugin manager with built-ins and (optionally) entry-point plugins.

    :param load_entrypoints: load third-party plugins from the ``spxcc`` entry-point group;
        None means "unless ``SPXCC_DISABLE_PLUGIN_AUTOLOAD`` is set".
    :param blocked: plugin names never to register (built-ins included).
    :raises PluginError: a plugin implements a hook that does not exist.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    for name in blocked:
        pm.set_blocked(name)
    for name, module_path in BUILTIN_PLUGINS.items():
        if pm.is_blocked(name):
            continue
        pm.register(importlib.import_module(module_path), name=name)
    if load_entrypoints is None:
        load_entrypoints = not _autoload_disabled()
    if load_entrypoints:
        pm.load_setuptools_entrypoints(hookspecs.PROJECT_NAME)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {exc.plugin!r}: {exc}") from None
    return pm


class PluginFailure:
    """One exception raised by one plugin during a hook call (recorded, never re-raised)."""

    __slots__ = ("error", "hook", "plugin")

    def __init__(self, plugin: str, hook: str, error: str) -> None:
        self.plugin = plugin
        self.hook = hook
        self.error = error

    def as_dict(self) -> dict[str, str]:
        """Wire form for the run report."""
        return {"plugin": self.plugin, "hook": self.hook, "error": self.error}


def call_isolated(
    pm: pluggy.PluginManager, hook_name: str, failures: list[PluginFailure], **kwargs: Any
) -> list[Any]:
    """Call every implementation of ``hook_name`` one by one; an implementation that raises is
    recorded in ``failures`` with its plugin name and the others still run.

    :returns: the non-None results, in pluggy's call order.
    """
    hook = getattr(pm.hook, hook_name)
    results: list[Any] = []
    for impl in reversed(hook.get_hookimpls()):
        args = {name: kwargs[name] for name in impl.argnames if name in kwargs}
        try:
            result = impl.function(**args)
        except Exception as exc:  # isolation is the point: record and go on
            failures.append(PluginFailure(impl.plugin_name, hook_name,
                                          f"{type(exc).__name__}: {exc}"))
            continue
        if result is not None:
            results.append(result)
    return results


def plugin_names(pm: pluggy.PluginManager) -> list[str]:
    """Names of the registered plugins, sorted."""
    names = [pm.get_name(p) for p in pm.get_plugins()]
    return sorted(n for n in names if n is not None)


def require_unique_names(kind: str, classes: Iterable[Any]) -> dict[str, Any]:
    """Index registered classes by their ``name`` ClassVar; blank or duplicate names are errors."""
    index: dict[str, Any] = {}
    for cls in classes:
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name.strip():
            raise PluginError(f"{kind} {cls!r} has no name")
        if name in index and index[name] is not cls:
            raise PluginError(f"two {kind}s are named {name!r}: {index[name]!r} and {cls!r}")
        index[name] = cls
    return index
