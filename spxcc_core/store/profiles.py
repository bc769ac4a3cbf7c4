"""Profile history in the store: every profile seen, and which one was active when and why.

Rows only: parsing and hashing a profile is the run layer's (:mod:`spxcc_core.run.profiles`).
Ids are profile hashes (16 hex digits); a unique prefix of at least
:data:`MIN_PREFIX` characters names a profile as well.
"""

from __future__ import annotations

from typing import Literal

import attrs

from spxcc_core.errors import ConfigError
from spxcc_core.store.sqlite import Store

__all__ = ["MIN_PREFIX", "Activation", "ProfileHistory", "StoredProfile"]

#: Shortest id prefix accepted in place of a full profile id.
MIN_PREFIX = 4

Action = Literal["promote", "revert"]


@attrs.frozen
class StoredProfile:
    """A stored profile: ``id`` (its hash), ``name``, ``version``, its exact ``toml`` text,
    ``source`` (where it was read from) and ``added_ms`` (epoch ms it was first stored)."""

    id: str
    name: str
    version: int
    toml: str
    source: str
    added_ms: int


@attrs.frozen
class Activation:
    """One change of the active profile (``seq`` 1, 2, ...): ``profile_id`` became active at
    ``activated_ms`` (epoch ms) by ``action``; ``forced``: promoted without a ``promote``
    decision; ``decision_id``: the decision's id (None when forced or reverted); ``reason``:
    one line."""

    seq: int
    profile_id: str
    activated_ms: int
    action: Action
    forced: bool
    decision_id: str | None
    reason: str


class ProfileHistory:
    """The ``profiles`` tables of an open :class:`Store` (the caller closes the store)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, profile: StoredProfile) -> StoredProfile:
        """Store ``profile`` unless its id is stored already; returns the stored row (the
        first one stored wins: same id, same resolved content)."""
        with self.store.errors(), self.store.transaction() as cur:
            cur.execute(
                "INSERT INTO spx_profiles (id, name, version, toml, source, added_ms) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                (profile.id, profile.name, profile.version, profile.toml, profile.source,
                 profile.added_ms))
        stored = self.get(profile.id)
        assert stored is not None
        return stored

    def get(self, profile_id: str) -> StoredProfile | None:
        """The profile of exactly this id, or None."""
        with self.store.errors():
            row = self.store.conn.execute(
                "SELECT id, name, version, toml, source, added_ms FROM spx_profiles "
                "WHERE id = ?", (profile_id,)).fetchone()
        return None if row is None else StoredProfile(*row)

    def find(self, text: str) -> StoredProfile:
        """The profile whose id is ``text`` or starts with it (>= :data:`MIN_PREFIX`
        characters).

        :raises ConfigError: no such profile, a prefix that is too short or not unique.
        """
        exact = self.get(text)
        if exact is not None:
            return exact
        if len(text) < MIN_PREFIX or not all(c in "0123456789abcdef" for c in text):
            raise ConfigError(f"profile {text!r}: not a stored profile id")
        with self.store.errors():
            rows = self.store.conn.execute(
                "SELECT id FROM spx_profiles WHERE id LIKE ? ORDER BY id",
                (text + "%",)).fetchall()
        if not rows:
            raise ConfigError(f"profile {text!r}: not a stored profile id")
        if len(rows) > 1:
            raise ConfigError(f"profile {text!r}: ambiguous id prefix "
                              f"({', '.join(r[0] for r in rows)})")
        found = self.get(rows[0][0])
        assert found is not None
        return found

    def _activations(self, order: str) -> list[Activation]:
        with self.store.errors():
            rows = self.store.conn.execute(
                "SELECT seq, profile_id, activated_ms, action, forced, decision_id, reason "
                f"FROM spx_profile_activations ORDER BY {order}").fetchall()
        return [Activation(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6]) for r in rows]

    def activations(self) -> list[Activation]:
        """Every change of the active profile, oldest first."""
        return self._activations("seq")

    def active(self) -> Activation | None:
        """The latest activation (None: no profile was ever made active)."""
        latest = self._activations("seq DESC LIMIT 1")
        return latest[0] if latest else None

    def activate(self, profile_id: str, *, at_ms: int, action: Action, forced: bool,
                 decision_id: str | None, reason: str) -> Activation:
        """Record that ``profile_id`` (stored) becomes the active profile; returns the row.

        :raises ConfigError: the profile is not stored.
        """
        if self.get(profile_id) is None:
            raise ConfigError(f"profile {profile_id!r}: not a stored profile id")
        with self.store.errors(), self.store.transaction() as cur:
            seq = cur.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM spx_profile_activations").fetchone()[0]
            cur.execute(
                "INSERT INTO spx_profile_activations (seq, profile_id, activated_ms, action, "
                "forced, decision_id, reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (seq, profile_id, at_ms, action, int(forced), decision_id, reason))
        return Activation(seq, profile_id, at_ms, action, forced, decision_id, reason)
