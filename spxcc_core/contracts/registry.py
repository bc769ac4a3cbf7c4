"""Registry of every wire contract family and version this process knows.

Every contract lives in a module of this package (one family per module) and the registry
imports those modules statically (``_MODULES``); a contract class with a ``contract_name``
defined in one of them is registered. Schemas under ``contracts/`` are generated from this
registry.
"""

from __future__ import annotations

from functools import cache
from types import ModuleType

import msgspec

from spxcc_core.contracts import (
    bartape,
    broker,
    execution,
    gates,
    golden,
    host,
    market,
    microbar,
    optimize,
    parity,
    reconcile,
    replay,
    report,
    secrets,
    setup,
    slippage,
)
from spxcc_core.contracts.base import Contract

__all__ = ["all_contracts", "reader_for", "schema_filename"]

_MODULES: tuple[ModuleType, ...] = (
    market, microbar, report, broker, setup, secrets, replay, golden, host, slippage, gates,
    reconcile, execution, parity, bartape, optimize,
)


@cache
def all_contracts() -> dict[tuple[str, int], type[Contract]]:
    """Every known contract class keyed by ``(contract_name, contract_version)``."""
    found: dict[tuple[str, int], type[Contract]] = {}
    for module in _MODULES:
        for obj in vars(module).values():
            if (isinstance(obj, type) and issubclass(obj, Contract)
                    and obj.__module__ == module.__name__ and obj.contract_name):
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
