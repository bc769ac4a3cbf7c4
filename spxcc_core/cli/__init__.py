"""The ``spxcc`` command line: a thin layer over the Python API.

Each command group lives in its own module with ``register(subparsers)``; the module sets
``func`` on its parser. ``spxcc COMMAND ...`` imports only the module of ``COMMAND`` (and any
module not listed in :data:`_COMMAND_OF`), so a command's start-up does not pay for the
imports of the others; ``spxcc --help``, no command or an unknown one build the full parser.
Errors the user can cause (:class:`~spxcc_core.errors.SpxccError`) print one line on stderr and
exit 2 — never a traceback. Usage errors never repeat an argument value
(:mod:`spxcc_core.cli.parser`). A new command module: add it to :data:`_COMMAND_MODULES` and
its command name to :data:`_COMMAND_OF`.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from spxcc_core import __version__
from spxcc_core.cli.parser import SafeArgumentParser
from spxcc_core.errors import SpxccError

__all__ = ["build_parser", "console_main", "main"]

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
    "spxcc_core.cli.parity",
    "spxcc_core.cli.optimize",
)

#: The top-level command each module of :data:`_COMMAND_MODULES` registers (kept in step by
#: ``tests/test_cli_startup.py``). A module missing here is imported for every command.
_COMMAND_OF: dict[str, str] = {
    "spxcc_core.cli.plugins_cmd": "plugins",
    "spxcc_core.cli.bars": "bars",
    "spxcc_core.cli.secrets_cmd": "secrets",
    "spxcc_core.cli.demo": "demo",
    "spxcc_core.cli.broker": "broker",
    "spxcc_core.cli.size": "size",
    "spxcc_core.cli.ingest": "ingest",
    "spxcc_core.cli.replay": "replay",
    "spxcc_core.cli.golden": "golden",
    "spxcc_core.cli.live": "live",
    "spxcc_core.cli.serve": "serve",
    "spxcc_core.cli.reconcile": "reconcile",
    "spxcc_core.cli.slippage_cmd": "slippage",
    "spxcc_core.cli.profile": "profile",
    "spxcc_core.cli.gates": "gates",
    "spxcc_core.cli.parity": "parity",
    "spxcc_core.cli.optimize": "optimize",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser (a :class:`SafeArgumentParser`: usage errors never repeat argument
    values, no abbreviated options).

    :param command: a top-level command name: only the module registering it (and modules
        missing from :data:`_COMMAND_OF`) is imported and registered. None or a name no module
        registers: every command (the full parser, for help and for usage errors).
    """
    parser = SafeArgumentParser(
        prog="spxcc", description="SPX microbars, setups, broker routing and release gates.")
    parser.add_argument("--version", action="version", version=f"spxcc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    known = command is not None and command in _COMMAND_OF.values()
    for module_name in _COMMAND_MODULES:
        if known and _COMMAND_OF.get(module_name, command) != command:
            continue
        importlib.import_module(module_name).register(sub)
    return parser


def _command_in(argv: Sequence[str]) -> str | None:
    """The command named by ``argv`` (its first argument when that is not an option)."""
    return argv[0] if argv and not argv[0].startswith("-") else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``spxcc`` command (``argv``: the arguments after ``spxcc``; default
    ``sys.argv[1:]``) and return the process exit code."""
    return _main(argv, resume_gc=False)


def console_main() -> NoReturn:
    """Entry point of the ``spxcc`` console script: :func:`main`, then exit with its code.

    Process-level start-up and shut-down settings live here, not in :func:`main` (which tests
    and host applications call in their own long-lived processes): the cyclic garbage collector
    is paused while the command's modules are imported (imports create hundreds of thousands of
    long-lived objects, which each collection would scan again) and resumed before the command
    runs; when the command has finished, the objects still alive are frozen
    (:func:`gc.freeze`) so the interpreter's exit does not traverse them — about 0.3 s of CPU
    once numba is loaded.
    """
    gc.disable()
    code = _main(None, resume_gc=True)
    gc.freeze()
    sys.exit(code)


def _main(argv: Sequence[str] | None, *, resume_gc: bool) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command_in(arguments))
    args = parser.parse_args(arguments)
    if resume_gc:
        gc.enable()
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
    console_main()
