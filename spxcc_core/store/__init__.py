"""The embedded store (SQLite, WAL) and its versioned schema migrations."""

from __future__ import annotations

from spxcc_core.store.migrations import Migration, all_migrations
from spxcc_core.store.sqlite import Store, default_db_path

__all__ = ["Migration", "Store", "all_migrations", "default_db_path"]
