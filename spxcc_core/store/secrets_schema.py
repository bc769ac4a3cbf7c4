"""Schema of the encrypted secret vault (component ``secrets``).

``spx_secrets`` holds one row per secret name: the AES-GCM ciphertext of the value and its
nonce, the data key wrapped under the current master key (``wrapped_key``, ``wrap_nonce``,
``master_key_id``) and, during a master-key rotation, also under the previous master key
(``prev_*``, NULL otherwise). ``version`` counts writes from 1. Times are UTC ISO-8601 text.
Plaintext values and master keys are never stored.
"""

from __future__ import annotations

from spxcc_core.store.migrations import Migration

__all__ = ["MIGRATIONS"]

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        component="secrets",
        version=1,
        statements=(
            "CREATE TABLE spx_secrets ("
            " name TEXT PRIMARY KEY NOT NULL,"
            " version INTEGER NOT NULL CHECK (version >= 1),"
            " ciphertext BLOB NOT NULL,"
            " nonce BLOB NOT NULL,"
            " wrapped_key BLOB NOT NULL,"
            " wrap_nonce BLOB NOT NULL,"
            " master_key_id TEXT NOT NULL,"
            " prev_wrapped_key BLOB,"
            " prev_wrap_nonce BLOB,"
            " prev_master_key_id TEXT,"
            " created_at TEXT NOT NULL,"
            " updated_at TEXT NOT NULL,"
            " CHECK ((prev_wrapped_key IS NULL) = (prev_master_key_id IS NULL)))",
        ),
    ),
)
