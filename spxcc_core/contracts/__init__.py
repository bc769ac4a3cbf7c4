"""Versioned msgspec wire contracts (see ``docs/contracts.md``)."""

from __future__ import annotations

from spxcc_core.contracts.base import Contract
from spxcc_core.contracts.envelope import Envelope, decode_envelope, encode_envelope
from spxcc_core.contracts.market import IndexValue, Quote, Trade
from spxcc_core.contracts.microbar import MICROBAR_VERSIONS, MicrobarV1, MicrobarV2

__all__ = [
    "MICROBAR_VERSIONS",
    "Contract",
    "Envelope",
    "IndexValue",
    "MicrobarV1",
    "MicrobarV2",
    "Quote",
    "Trade",
    "decode_envelope",
    "encode_envelope",
]
