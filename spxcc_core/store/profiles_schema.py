"""Schema of the ``profiles`` component: ``spx_profiles`` and ``spx_profile_activations``.

``spx_profiles`` (v1): every profile the store has seen, keyed by its id (the profile hash,
:func:`spxcc_core.detect.profile.profile_hash`); ``toml`` is its exact TOML text, ``source``
where it was read from, ``added_ms`` when it was first stored (epoch ms).

``spx_profile_activations`` (v1): the history of the active profile, one row per change in
``seq`` order (1, 2, ...; assigned by the writer, no autoincrement): the profile made active,
when (``activated_ms``), by which ``action`` (``promote`` or ``revert``), whether it was
``forced`` (0/1: promoted without a ``promote`` decision), the ``decision_id`` behind it (the
SHA-256 prefix of the ``decision.json`` bytes; null when forced or reverted) and a one-line
``reason``. The active profile is the one of the highest ``seq``; it was active from its
``activated_ms`` until the next row's. Portable SQL (SQLite and PostgreSQL).
"""

from __future__ import annotations

from spxcc_core.store.migrations import Migration

__all__ = ["MIGRATIONS"]

MIGRATIONS: tuple[Migration, ...] = (
    Migration("profiles", 1, (
        """CREATE TABLE spx_profiles (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            toml TEXT NOT NULL,
            source TEXT NOT NULL,
            added_ms INTEGER NOT NULL
        )""",
        """CREATE TABLE spx_profile_activations (
            seq INTEGER PRIMARY KEY,
            profile_id TEXT NOT NULL REFERENCES spx_profiles (id),
            activated_ms INTEGER NOT NULL,
            action TEXT NOT NULL CHECK (action IN ('promote', 'revert')),
            forced INTEGER NOT NULL CHECK (forced IN (0, 1)),
            decision_id TEXT,
            reason TEXT NOT NULL
        )""",
    )),
)
