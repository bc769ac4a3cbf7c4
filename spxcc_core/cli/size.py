"""``spxcc size``: contracts for a long option entry from a portfolio snapshot.

Prints ``{"contracts": n, "limitedBy": "risk"|"buying_power"|"max_contracts", "reasons": [...]}``
(see :mod:`spxcc_core.broker.sizing` for the formula). The snapshot file is a
PortfolioSnapshot JSON object as printed by ``spxcc broker snapshot``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import msgspec

from spxcc_core.broker.sizing import DEFAULT_BUFFER, size_contracts
from spxcc_core.contracts.broker import PortfolioSnapshot
from spxcc_core.errors import InputError

__all__ = ["read_snapshot", "register"]

_snapshot_decoder = msgspec.json.Decoder(PortfolioSnapshot)
_encoder = msgspec.json.Encoder()


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("size", help="size a long option entry against risk and buying power",
                       description="Contracts = floor(min(risk budget / ((premium - stop) x 100),"
                                   " buying power / (premium x 100 x (1 + buffer)))), capped.")
    p.add_argument("--snapshot", type=Path, required=True, metavar="FILE",
                   help="PortfolioSnapshot JSON (as printed by `spxcc broker snapshot`)")
    p.add_argument("--premium", type=float, required=True, metavar="P",
                   help="entry premium per share (e.g. 3.20)")
    p.add_argument("--stop-premium", type=float, required=True, metavar="S",
                   help="premium at the stop, per share")
    p.add_argument("--risk-budget", type=float, required=True, metavar="USD",
                   help="dollars at risk allowed for the position")
    p.add_argument("--max-contracts", type=int, default=None, metavar="N")
    p.add_argument("--buffer", type=float, default=DEFAULT_BUFFER,
                   help=f"fraction added to the cost per contract (default {DEFAULT_BUFFER})")
    p.set_defaults(func=_run)


def read_snapshot(path: Path) -> PortfolioSnapshot:
    """Read a PortfolioSnapshot JSON file.

    :raises InputError: unreadable file, invalid JSON or a field of the wrong type.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), f"cannot read ({exc.strerror or exc})") from None
    try:
        return _snapshot_decoder.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise InputError(str(path), f"not a PortfolioSnapshot: {exc}") from None


def _run(args: argparse.Namespace) -> int:
    snap = read_snapshot(args.snapshot)
    result = size_contracts(snap, premium=args.premium, stop_premium=args.stop_premium,
                            risk_budget=args.risk_budget, max_contracts=args.max_contracts,
                            buffer=args.buffer)
    sys.stdout.write(_encoder.encode(result).decode() + "\n")
    return 0
