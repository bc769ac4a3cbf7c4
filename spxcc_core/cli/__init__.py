"""The ``spxcc`` command line: a thin layer over the Python API.

Each command group lives in its own module with ``register(subparsers)``; the module sets
``func`` on its parser. Errors the user can cause (:class:`~spxcc_core.errors.SpxccError`) print
one line on stderr and exit 2 — never a traceback. Usage errors never repeat an argument value
(:mod:`spxcc_core.cli.parser`).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from spxcc_core import __version__
from spxcc_core.cli.parser import SafeArgumentParser
from spxcc_core.errors import SpxccError

__all__ = ["build_parser", "main"]

#: Command modules, each with ``register(subparsers) -> None``.
_COMMAND_MODULES: tuple[str, ...] = (
    "spxcc_core.cli.plugins_cmd",
    "spxcc_core.cli.bars",
    "spxcc_core.cli.secrets_cmd",
    "spxcc_core.cli.demo",
    "spxcc_core.cli.broker",
    "spxcc_core.cli.reconcile",
    "spxcc_core.cli.size",
    "spxcc_core.cli.ingest",
    "spxcc_core.cli.replay",
    "spxcc_core.cli.golden",
    "spxcc_core.cli.live",
    "spxcc_core.cli.serve",
    "spxcc_core.cli.slippage_cmd",
    "spxcc_core.cli.profile",
    "spxcc_core.cli.gates",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every command registered (a :class:`SafeArgumentParser`:
    usage errors never repeat argument values, no abbreviated options)."""
    parser = SafeArgumentParser(
        prog="spxcc", description="SPX microbars, setups, broker routing and release gates.")
    parser.add_argument("--version", action="version", version=f"spxcc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module_name in _COMMAND_MODULES:
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spxcc`` console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except SpxccError as exc:
        print(f"spxcc: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("spxcc: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
