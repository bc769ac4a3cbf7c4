"""The contract base class.

Rules (see ``docs/contracts.md``): Python attributes are snake_case and the wire is camelCase;
every contract class carries ``contract_name`` and ``contract_version``; fields are only ever
appended with defaults inside a family; unknown fields are skipped on decode so an old reader
accepts a newer writer's payload. The wire envelope lives in
:mod:`spxcc_core.contracts.envelope`; this module imports nothing of ours.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

__all__ = ["Contract"]


class Contract(msgspec.Struct, kw_only=True, frozen=True, rename="camel"):
    """Base of every wire contract: frozen, keyword-only, camelCase on the wire."""

    contract_name: ClassVar[str] = ""
    contract_version: ClassVar[int] = 0
