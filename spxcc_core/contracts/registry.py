"""Registry of every wire contract family and version this process knows.

Each contract module lists its classes in ``CONTRACTS``; the registry imports the modules named
in ``_MODULES``. Schemas under ``contracts/`` are generated from this registry.
"""

from __future__ import annotations

import importlib
from functools import cache

import msgspec

from spxcc_core.contracts.base import Contract

__all__ = ["all_contracts", "reader_for", "schema_filename"]

_MODULES: tuple[str, ...] = (
    "spxcc_core.contracts.market",
    "spxcc_core.contracts.microbar",
    "spxcc_core.aggregate.report",
    "spxcc_core.contracts.broker",
    "spxcc_core.contracts.setup",
    "spxcc_core.secrets.info",
    "spxcc_core.replay.wire",
    "spxcc_core.golden.wire",
    "spxcc_core.host.wire",
)


@cache
def all_contracts() -> dict[tuple[str, int], type[Contract]]:
    """Every known contract class keyed by ``(contract_name, contract_version)``."""
    found: dict[tuple[str, int], type[Contract]] = {}
    for module_name in _MODULES:
        module = importlib.import_module(module_name)
        for obj in vars(module).values():
            if (isinstance(obj, type) and issubclass(obj, Contract)
                    and obj.__module__ == module_name and obj.contract_name):
                key = (obj.contract_name, obj.contract_version)
                if key in found and found[key] is not obj:
                    raise RuntimeError(f"contract {key} defined twice")
                found[key] = obj
    return dict(sorted(found.items()))


@cache
def _decoder(cls: type[Contract]) -> msgspec.json.Decoder[Contract]:
    return msgspec.json.Decoder(cls)


def reader_for(name: str, version: int) -> msgspec.json.Decoder[Contract] | None:
    """The decoder for ``name@version``, or the newest known version's decoder when ``version``
    is newer than any known one; None for an unknown family."""
    versions = {v: c for (n, v), c in all_contracts().items() if n == name}
    if not versions:
        return None
    cls = versions.get(version) or versions[max(versions)]
    return _decoder(cls)


def schema_filename(name: str, version: int) -> str:
    """File name of a contract's JSON Schema under ``contracts/``."""
    return f"{name}.v{version}.schema.json"
