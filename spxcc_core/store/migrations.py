"""Schema migrations, versioned per component.

Each component (``setups``, ``broker``, ``secrets``, ...) owns a module listing its
:class:`Migration` objects with versions 1, 2, 3, ... in order. Applied versions are recorded in
``spxcc_schema`` so opening a store is idempotent and an older store is upgraded in place.

Plugins bring their own tables through the ``spxcc_register_migrations`` hook
(:func:`plugin_migrations`): their components are named after the plugin's tables (``paper``),
never after a core component, and follow the same 1..n numbering. A migration that takes over a
table an older store created under another component's migration creates it with
``CREATE TABLE IF NOT EXISTS``, so the existing table and its rows are kept.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs

from spxcc_core.errors import PluginError

if TYPE_CHECKING:
    import pluggy

__all__ = ["CORE_COMPONENTS", "Migration", "all_migrations", "plugin_migrations"]


@attrs.frozen
class Migration:
    """One schema step of one component: ``statements`` run in one transaction.

    Statements must run on SQLite and PostgreSQL: write SQLite's syntax restricted to what
    :mod:`spxcc_core.store.pg_dialect` translates. Column types ``TEXT``, ``INTEGER`` (64-bit
    on PostgreSQL: epoch ms and ns fit), ``REAL`` (a double on both) and ``BLOB``;
    ``INTEGER PRIMARY KEY`` for a generated key; defaults that are constants or
    ``(strftime('%Y-%m-%dT%H:%M:%fZ','now'))``; ``CREATE INDEX``, ``ALTER TABLE ... ADD
    COLUMN``, ``CREATE TABLE IF NOT EXISTS``, ``CHECK`` constraints. Not allowed: ``INSERT OR
    IGNORE``/``OR REPLACE`` (use ``ON CONFLICT ... DO NOTHING``/``DO UPDATE``), SQLite-only
    functions, ``PRAGMA``, a column named ``rowid`` (PostgreSQL tables get one, so ``ORDER BY
    rowid`` means insertion order on both). See docs/operations.md, "PostgreSQL".
    """

    component: str
    version: int = attrs.field(validator=attrs.validators.ge(1))
    statements: tuple[str, ...]


#: Modules that define ``MIGRATIONS: tuple[Migration, ...]``.
_MODULES: tuple[str, ...] = (
    "spxcc_core.store.broker_schema",
    "spxcc_core.store.profiles_schema",
    "spxcc_core.store.reconcile_schema",
    "spxcc_core.store.secrets_schema",
    "spxcc_core.store.setups_schema",
    "spxcc_core.store.slippage_schema",
)
#: Components whose migrations are core's; a plugin migration may not use these names.
CORE_COMPONENTS: frozenset[str] = frozenset({"broker", "profiles", "reconcile", "secrets",
                                               "setups", "slippage"})


def all_migrations(extra: Iterable[Migration] = ()) -> list[Migration]:
    """Every core migration plus ``extra`` (plugin migrations, see :func:`plugin_migrations`),
    ordered by component then version; each component's versions must be 1..n.

    :raises RuntimeError: a component's versions are not 1..n (a duplicate included), or an
        ``extra`` migration names a core component.
    """
    found: list[Migration] = []
    for module_name in _MODULES:
        found.extend(importlib.import_module(module_name).MIGRATIONS)
    for m in extra:
        if m.component in CORE_COMPONENTS:
            raise RuntimeError(f"plugin migration {m.component!r} {m.version}: the component "
                               "name is core's; name it after the plugin's tables")
        found.append(m)
    by_component: dict[str, list[int]] = {}
    for m in found:
        by_component.setdefault(m.component, []).append(m.version)
    for component, versions in by_component.items():
        if sorted(versions) != list(range(1, len(versions) + 1)):
            raise RuntimeError(f"migrations of {component!r} are not numbered 1..n: {versions}")
    return sorted(found, key=lambda m: (m.component, m.version))


def plugin_migrations(pm: pluggy.PluginManager) -> list[Migration]:
    """The migrations every plugin returns from ``spxcc_register_migrations``, in
    registration order (pass them to :func:`all_migrations`).

    :raises PluginError: a hook returned something that is not a :class:`Migration`.
    """
    out: list[Migration] = []
    for result in pm.hook.spxcc_register_migrations():
        for m in result or ():
            if not isinstance(m, Migration):
                raise PluginError(f"spxcc_register_migrations returned {m!r}, not a Migration")
            out.append(m)
    return out
