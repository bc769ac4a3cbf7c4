"""`SecretInfo`: the non-secret description of a stored secret (what ``list`` shows)."""

from __future__ import annotations

from typing import ClassVar

from spxcc_core.contracts.base import Contract

__all__ = ["SecretInfo"]


class SecretInfo(Contract, frozen=True, kw_only=True):
    """Metadata of one stored secret; never carries the value or any key material.

    ``version`` counts writes from 1; ``master_key_id`` is the id (16 hex) of the master key the
    data key is wrapped under; ``previous_master_key_id`` the second key it is also wrapped
    under during a rotation (None otherwise); times are UTC ISO-8601 with milliseconds
    (``2026-01-02T03:04:05.678Z``).
    """

    contract_name: ClassVar[str] = "secret_info"
    contract_version: ClassVar[int] = 1

    name: str
    version: int
    master_key_id: str
    previous_master_key_id: str | None = None
    created_at: str
    updated_at: str
