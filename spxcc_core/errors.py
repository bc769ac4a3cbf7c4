"""Exception types shared across spxcc.

Every error a user can cause derives from :class:`SpxccError`; the CLI turns one into a single
line on stderr and exit code 2, never a traceback. Messages never contain secret values.
"""

from __future__ import annotations

__all__ = ["ConfigError", "InputError", "PluginError", "SpxccError"]


class SpxccError(Exception):
    """Base of every error spxcc raises on purpose (the CLI exits 2 with ``str(error)``)."""


class InputError(SpxccError):
    """Input that cannot be read: names the input (file, row or byte offset) and the problem."""

    def __init__(self, source: str, problem: str, *, row: int | None = None,
                 offset: int | None = None) -> None:
        self.source = source
        self.problem = problem
        self.row = row
        self.offset = offset
        where = source
        if row is not None:
            where += f", row {row}"
        if offset is not None:
            where += f", byte {offset}"
        super().__init__(f"{where}: {problem}")


class ConfigError(SpxccError):
    """A configuration value (CLI option, profile file, environment variable) is invalid."""


class PluginError(SpxccError):
    """A plugin is malformed (duplicate or blank name, wrong return type from a hook)."""
