"""Views of wire structs: the ``microbar@1`` projection of a ``microbar@2`` bar."""

from __future__ import annotations

from spxcc_core.contracts.microbar import MicrobarV1, MicrobarV2

__all__ = ["V1_FIELDS", "to_v1"]

#: The ``microbar@1`` field names (Python attribute names), in wire order.
V1_FIELDS: tuple[str, ...] = MicrobarV1.__struct_fields__


def to_v1(bar: MicrobarV2) -> MicrobarV1:
    """The ``microbar@1`` view of a bar: a ``MicrobarV1`` holding the v1 fields only (a v1 bar
    is returned as an equal copy)."""
    return MicrobarV1(**{name: getattr(bar, name) for name in V1_FIELDS})
