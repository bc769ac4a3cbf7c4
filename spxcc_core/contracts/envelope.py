"""The wire envelope of websocket messages and logs, and its two-step decode.

An envelope is ``{type, version, seq, ts, data}``; :func:`decode_envelope` reads the header
first and then decodes ``data`` with the reader the contract registry knows for
``(type, version)``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from spxcc_core.contracts.base import Contract
from spxcc_core.contracts.registry import reader_for

__all__ = ["Envelope", "decode_envelope", "encode_envelope"]


class Envelope(msgspec.Struct, kw_only=True, frozen=True):
    """Wire envelope for websocket messages and logs.

    ``type`` names the contract family (``microbar``, ``setup``, ...), ``version`` its integer
    version, ``seq`` increases by one per channel: on the hub's data channels it is the
    message's position in the channel's stream (from 1, the same for every subscriber), on its
    per-connection channels (``hub_status``, ``hub_reply``) it counts from 1 per connection;
    ``ts`` is the sending time in epoch milliseconds, and ``data`` is the contract payload.
    """

    type: str
    version: int
    seq: int
    ts: int
    data: Any


class _RawEnvelope(msgspec.Struct, kw_only=True, frozen=True):
    type: str
    version: int
    seq: int
    ts: int
    data: msgspec.Raw


_envelope_encoder = msgspec.json.Encoder()
_raw_envelope_decoder = msgspec.json.Decoder(_RawEnvelope)


def encode_envelope(payload: Contract, *, seq: int, ts: int) -> bytes:
    """Wrap ``payload`` in an envelope named by its class's ``contract_name``/``contract_version``."""
    env = Envelope(type=type(payload).contract_name, version=type(payload).contract_version,
                   seq=seq, ts=ts, data=payload)
    return _envelope_encoder.encode(env)


def decode_envelope(message: bytes | str) -> tuple[Envelope, Contract | msgspec.Raw]:
    """Decode an envelope in two steps: the header first, then ``data`` by (type, version).

    A (type, version) this reader does not know keeps its payload as :class:`msgspec.Raw`
    rather than failing, so a newer writer never breaks an older reader. A payload of a known
    type but a newer version is decoded with the newest reader this process knows.
    """
    raw = _raw_envelope_decoder.decode(message)
    env = Envelope(type=raw.type, version=raw.version, seq=raw.seq, ts=raw.ts, data=raw.data)
    decoder = reader_for(raw.type, raw.version)
    if decoder is None:
        return env, raw.data
    return env, decoder.decode(raw.data)
