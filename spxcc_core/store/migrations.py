"""Schema migrations, versioned per component.

Each component (``setups``, ``broker``, ``secrets``, ...) owns a module listing its
:class:`Migration` objects with versions 1, 2, 3, ... in order. Applied versions are recorded in
``spxcc_schema`` so opening a store is idempotent and an older store is upgraded in place.
"""

from __future__ import annotations

import importlib

import attrs

__all__ = ["Migration", "all_migrations"]


@attrs.frozen
class Migration:
    """One schema step of one component: ``statements`` run in one transaction."""

    component: str
    version: int = attrs.field(validator=attrs.validators.ge(1))
    statements: tuple[str, ...]


#: Modules that define ``MIGRATIONS: tuple[Migration, ...]``.
_MODULES: tuple[str, ...] = (
    "spxcc_core.store.broker_schema",
    "spxcc_core.store.secrets_schema",
    "spxcc_core.store.setups_schema",
)


def all_migrations() -> list[Migration]:
    """Every known migration, ordered by component then version; versions must be 1..n."""
    found: list[Migration] = []
    for module_name in _MODULES:
        found.extend(importlib.import_module(module_name).MIGRATIONS)
    by_component: dict[str, list[int]] = {}
    for m in found:
        by_component.setdefault(m.component, []).append(m.version)
    for component, versions in by_component.items():
        if sorted(versions) != list(range(1, len(versions) + 1)):
            raise RuntimeError(f"migrations of {component!r} are not numbered 1..n: {versions}")
    return sorted(found, key=lambda m: (m.component, m.version))
