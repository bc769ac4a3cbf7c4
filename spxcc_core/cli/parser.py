"""`SafeArgumentParser`: the one argument parser class of the whole ``spxcc`` command line.

argparse repeats argument values in its usage errors (``unrecognized arguments: TOKEN``,
``invalid choice: 'TOKEN'``, ``invalid int value: 'TOKEN'``, ``ignored explicit argument
'TOKEN'``), and several commands handle secrets: a token typed where it does not belong would
land on stderr, in terminal scrollback and in CI logs. This parser never prints an argument
value in a usage error, for every command:

- unrecognized arguments are named by their **position** on the command line (1 = the first
  argument after ``spxcc``), and by their option name when they are a plain long option such
  as ``--token`` (never the part after ``=``);
- an invalid choice (an unknown command or action) lists the valid choices, not the value;
- a value that does not convert (``--max-contracts abc``) names the option and the expected
  type, not the value;
- as a last line of defence, any argument string (or the part of ``--opt=VALUE`` after ``=``)
  that still occurs in an error message is replaced by ``<argument N>``, except option names
  and command names of the parser itself.

Prefix matching of long options is off (``allow_abbrev=False``): ``--api-k=KEY`` is an
unrecognized argument, never an abbreviation of ``--api-key``.
"""

from __future__ import annotations

import argparse
import contextvars
import re
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from spxcc_core.errors import SpxccError

__all__ = ["SafeArgumentParser", "describe_unrecognized", "examples"]

_ARGV: contextvars.ContextVar[tuple[str, ...] | None] = contextvars.ContextVar(
    "spxcc_cli_argv", default=None)
#: An unrecognized argument shown by name: a plain long option, no value attached.
_OPTION_NAME = re.compile(r"--[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
_MAX_OPTION_NAME = 40


def _positions(argv: Sequence[str], extras: Sequence[str]) -> list[int | None]:
    """1-based positions in ``argv`` of each of ``extras``, matched in order (argparse keeps the
    command-line order); None when an extra cannot be placed."""
    out: list[int | None] = []
    start = 0
    for extra in extras:
        found = None
        for i in range(start, len(argv)):
            if argv[i] == extra:
                found = i
                break
        if found is None:
            out.append(None)
            continue
        out.append(found + 1)
        start = found + 1
    return out


def describe_unrecognized(argv: Sequence[str], extras: Sequence[str]) -> str:
    """The error line for unrecognized ``extras`` of ``argv``, without their values.

    ``["--token", "T"]`` of ``secrets set x --token T`` →
    ``unrecognized arguments: --token (position 4), position 5 (values are not shown)``.
    """
    parts = []
    for extra, pos in zip(extras, _positions(argv, extras), strict=True):
        where = f"position {pos}" if pos is not None else "position unknown"
        if len(extra) <= _MAX_OPTION_NAME and _OPTION_NAME.fullmatch(extra):
            parts.append(f"{extra} ({where})")
        else:
            parts.append(where)
    noun = "argument" if len(extras) == 1 else "arguments"
    return f"unrecognized {noun}: {', '.join(parts)} (values are not shown)"


class SafeArgumentParser(argparse.ArgumentParser):
    """An :class:`argparse.ArgumentParser` whose usage errors never show argument values and
    that never matches abbreviated long options (see the module docstring).

    Sub-parsers created with ``add_subparsers().add_parser`` are of this class too.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None,
                         ) -> tuple[argparse.Namespace, list[str]]:
        if _ARGV.get() is not None:  # a sub-parser: the outermost call holds the argv
            return super().parse_known_args(args, namespace)
        argv = tuple(sys.argv[1:] if args is None else args)
        token = _ARGV.set(argv)
        try:
            return super().parse_known_args(list(argv), namespace)
        finally:
            _ARGV.reset(token)

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        argv = tuple(sys.argv[1:] if args is None else args)
        token = _ARGV.set(argv)
        try:
            parsed, extras = super().parse_known_args(list(argv), namespace)
            if extras:  # the message names positions only: nothing to scrub
                super().error(describe_unrecognized(argv, extras))
        finally:
            _ARGV.reset(token)
        return parsed

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if action.choices is not None and value not in action.choices:
            choices = ", ".join(map(str, action.choices))
            raise argparse.ArgumentError(
                action, f"invalid choice (the value is not shown); choose from {choices}")

    def _get_value(self, action: argparse.Action, arg_string: str) -> Any:
        try:
            return super()._get_value(action, arg_string)
        except argparse.ArgumentError as exc:
            name = getattr(action.type, "__name__", None) or "value"
            raise argparse.ArgumentError(
                action, f"invalid {name} value (the value is not shown)") from exc.__cause__
        except SpxccError as exc:  # a type that explains itself (never repeating the value)
            raise argparse.ArgumentError(action, str(exc)) from None

    def _known_names(self) -> set[str]:
        names: set[str] = set()
        for action in self._actions:
            names.update(action.option_strings)
            if isinstance(action, argparse._SubParsersAction):
                names.update(action.choices)
        return names

    def _scrub(self, message: str) -> str:
        argv = _ARGV.get() or ()
        known = self._known_names()
        needles: list[tuple[str, int]] = []
        for i, arg in enumerate(argv, start=1):
            if arg in known or not arg:
                continue
            needles.append((arg, i))
            if arg.startswith("-") and "=" in arg:
                value = arg.split("=", 1)[1]
                if value:
                    needles.append((value, i))
        for needle, pos in sorted(needles, key=lambda n: -len(n[0])):
            if needle in message:
                pattern = rf"(?<![\w-]){re.escape(needle)}(?![\w-])"
                message = re.sub(pattern, f"<argument {pos}>", message)
        return message

    def error(self, message: str) -> NoReturn:
        """Print the usage and ``message`` (argument values replaced) and exit 2."""
        super().error(self._scrub(message))


def examples(*lines: str) -> dict[str, Any]:
    """``add_parser`` keyword arguments that end a command's ``--help`` with example command
    lines, shown as written (``**examples("spxcc x --y", ...)``)."""
    text = "examples:\n" + "\n".join(f"  {line}" for line in lines)
    return {"epilog": text, "formatter_class": argparse.RawDescriptionHelpFormatter}
