"""The reconciliation policy: what is done about each kind of difference, and the limits.

Configured from the ``[reconcile]`` table of a TOML file (unknown keys are errors naming the
key) and from the command line (``--action KIND=ACTION``)::

    [reconcile]
    interval_s = 60            # periodic runs of the routing worker (seconds, > 0)
    stuck_after_s = 120        # an order in flight longer than this is stuck (seconds, >= 0)
    cost_basis_tolerance = 1.0 # dollars per position (>= 0)
    confirm_runs = 2           # runs an ambiguous difference must be seen in (>= 1)

    [reconcile.actions]        # alert | adopt | halt, per kind
    unknown_at_broker = "halt"
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import attrs

from spxcc_core.contracts.reconcile import DIFFERENCE_KINDS, Action, DifferenceKind, Severity
from spxcc_core.errors import ConfigError, InputError

__all__ = ["DEFAULT_ACTIONS", "POLICY_ACTIONS", "SEVERITY", "ReconcilePolicy", "parse_actions"]

#: Actions a policy may name (``pending`` is the engine's, for ambiguous differences).
POLICY_ACTIONS: Final = ("alert", "adopt", "halt")

#: Severity of each kind: something we think we hold is not there, or the quantities disagree,
#: is critical (risk is not what we think); the others are warnings.
SEVERITY: Final[Mapping[str, Severity]] = {
    "missing_at_broker": "critical",
    "unknown_at_broker": "warning",
    "quantity_mismatch": "critical",
    "cost_basis_mismatch": "warning",
    "stuck_order": "warning",
    "unrecorded_fill": "warning",
}

#: Default action per kind: halt where our risk picture is wrong, adopt a fill the broker
#: reports on our own order, alert for the rest.
DEFAULT_ACTIONS: Final[Mapping[str, Action]] = {
    "missing_at_broker": "halt",
    "unknown_at_broker": "alert",
    "quantity_mismatch": "halt",
    "cost_basis_mismatch": "alert",
    "stuck_order": "alert",
    "unrecorded_fill": "adopt",
}

_TOP_KEYS: Final = ("interval_s", "stuck_after_s", "cost_basis_tolerance", "confirm_runs",
                    "actions")


def _check_actions(_inst: object, _attr: attrs.Attribute[Any],
                   value: Mapping[str, str]) -> None:
    for kind, action in value.items():
        if kind not in DIFFERENCE_KINDS:
            raise ConfigError(f"reconcile action for {kind!r}: unknown difference kind "
                              f"(one of {', '.join(DIFFERENCE_KINDS)})")
        if action not in POLICY_ACTIONS:
            raise ConfigError(f"reconcile action for {kind}: {action!r} is not one of "
                              f"{', '.join(POLICY_ACTIONS)}")


def _actions(value: Mapping[str, str]) -> dict[str, str]:
    return {**DEFAULT_ACTIONS, **dict(value)}


@attrs.frozen
class ReconcilePolicy:
    """Per-kind actions and the reconciliation limits (times in milliseconds, money dollars).

    :ivar actions: kind → ``alert``|``adopt``|``halt`` (kinds not given keep
        :data:`DEFAULT_ACTIONS`).
    :ivar interval_ms: time between the routing worker's periodic runs (> 0).
    :ivar stuck_after_ms: an intent in flight (``submitting``/``ambiguous``) unchanged longer
        than this is a ``stuck_order`` (>= 0).
    :ivar cost_basis_tolerance: dollars a position's cost basis may differ before it is a
        ``cost_basis_mismatch`` (>= 0).
    :ivar confirm_runs: consecutive runs (this one included) an ambiguous difference must be
        seen in before its action is taken (>= 1; 1 acts at once).
    """

    actions: Mapping[str, str] = attrs.field(factory=dict, converter=_actions,
                                             validator=_check_actions)
    interval_ms: int = attrs.field(default=60_000, validator=attrs.validators.gt(0))
    stuck_after_ms: int = attrs.field(default=120_000, validator=attrs.validators.ge(0))
    cost_basis_tolerance: float = attrs.field(default=1.0, validator=attrs.validators.ge(0.0))
    confirm_runs: int = attrs.field(default=2, validator=attrs.validators.ge(1))

    def action(self, kind: DifferenceKind | str) -> Action:
        """The configured action of ``kind``."""
        return self.actions[kind]  # type: ignore[return-value]

    def with_actions(self, overrides: Mapping[str, str]) -> ReconcilePolicy:
        """A copy with ``overrides`` (kind → action) applied.

        :raises ConfigError: an unknown kind or action."""
        return attrs.evolve(self, actions={**self.actions, **overrides})

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any], source: str = "[reconcile]"
                     ) -> ReconcilePolicy:
        """The policy of a ``[reconcile]`` table (parsed TOML).

        :raises ConfigError: an unknown key (named), a value of the wrong type or range.
        """
        unknown = sorted(set(table) - set(_TOP_KEYS))
        if unknown:
            raise ConfigError(f"{source}: unknown key {unknown[0]!r} (known: "
                              f"{', '.join(_TOP_KEYS)})")
        actions = table.get("actions", {})
        if not isinstance(actions, Mapping):
            raise ConfigError(f"{source}.actions: must be a table of kind = action")
        kwargs: dict[str, Any] = {"actions": dict(actions)}
        for key, field, scale in (("interval_s", "interval_ms", 1000),
                                  ("stuck_after_s", "stuck_after_ms", 1000)):
            if key in table:
                kwargs[field] = round(_number(table[key], f"{source}.{key}") * scale)
        if "cost_basis_tolerance" in table:
            kwargs["cost_basis_tolerance"] = _number(table["cost_basis_tolerance"],
                                                     f"{source}.cost_basis_tolerance")
        if "confirm_runs" in table:
            value = table["confirm_runs"]
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{source}.confirm_runs: must be an integer >= 1")
            kwargs["confirm_runs"] = value
        try:
            return cls(**kwargs)
        except ValueError as exc:
            raise ConfigError(f"{source}: {exc}") from None

    @classmethod
    def from_toml(cls, path: Path) -> ReconcilePolicy:
        """The policy of the ``[reconcile]`` table of a TOML file.

        :raises InputError: the file cannot be read or is not TOML.
        :raises ConfigError: the file has no ``[reconcile]`` table, or see
            :meth:`from_mapping` (a top-level key other than ``reconcile`` is left to its
            owner).
        """
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise InputError(str(path), f"cannot read ({exc.strerror or exc})") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InputError(str(path), f"not valid TOML ({exc})") from None
        if "reconcile" not in data:  # a misspelt table would silently mean the defaults
            found = ", ".join(f"[{k}]" for k in data) or "none"
            raise ConfigError(f"{path}: no [reconcile] table (tables found: {found})")
        table = data["reconcile"]
        if not isinstance(table, Mapping):
            raise ConfigError(f"{path}: [reconcile] must be a table")
        return cls.from_mapping(table, source=f"{path} [reconcile]")


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name}: must be a number")
    return float(value)


def parse_actions(pairs: Iterable[str]) -> dict[DifferenceKind | str, str]:
    """``KIND=ACTION`` pairs (``--action``) as a mapping.

    :raises ConfigError: a pair without ``=``, an unknown kind or action.
    """
    out: dict[DifferenceKind | str, str] = {}
    for pair in pairs:
        kind, sep, action = (p.strip() for p in pair.partition("="))
        if not sep:
            raise ConfigError(f"--action {pair!r}: expected KIND=ACTION")
        _check_actions(None, None, {kind: action})  # type: ignore[arg-type]
        out[kind] = action
    return out
