"""The store (SQLite file, or PostgreSQL by URL) and its versioned schema migrations."""

from __future__ import annotations

from spxcc_core.store.base import Store, StoreConnectionLost, StoreError
from spxcc_core.store.migrations import Migration, all_migrations
from spxcc_core.store.sqlite import default_db_path
from spxcc_core.store.target import StoreTarget, db_argument, is_postgres_url

__all__ = ["Migration", "Store", "StoreConnectionLost", "StoreError", "StoreTarget",
           "all_migrations", "db_argument", "default_db_path", "is_postgres_url"]
