"""What a run (replay or live) produced: :class:`StepOutputs` per step, :class:`RunResult` at
the end — in memory, in output order, with the exact bytes of every output file and Arrow,
polars and pandas views for analysis."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import attrs
import msgspec

from spxcc_core.aggregate.report import QuarantineRecord
from spxcc_core.contracts.microbar import MicrobarV2
from spxcc_core.contracts.replay import ReplayReport
from spxcc_core.contracts.setup import GateDecision, SetupInstance
from spxcc_core.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl
    import pyarrow as pa

    from spxcc_core.execute.engine import ExecutionOutputs

__all__ = ["EXECUTION_FILES", "FORMATS", "OUTPUT_FILES", "PARQUET_FILES", "Format", "RunResult", "StepOutputs",
           "Table", "check_format", "json_document", "output_names"]

#: JSON Lines output files and the report, in the order they are written.
OUTPUT_FILES = ("microbars.jsonl", "setups.jsonl", "gate_decisions.jsonl", "quarantine.jsonl",
                "report.json")
#: Parquet output files (``--format parquet``/``both``), in the order they are written.
PARQUET_FILES = ("microbars.parquet", "setups.parquet", "gate_decisions.parquet",
                 "quarantine.parquet")
#: Output formats: JSON Lines (the default), Parquet instead, or both.
Format = Literal["jsonl", "parquet", "both"]
FORMATS: tuple[str, ...] = ("jsonl", "parquet", "both")
#: The tables of a run: ``bars`` (microbar@2), ``setups``, ``decisions``, ``quarantine``.
Table = Literal["bars", "setups", "decisions", "quarantine"]

_TABLES: dict[Table, tuple[str, type[msgspec.Struct]]] = {
    "bars": ("microbars", MicrobarV2), "setups": ("setups", SetupInstance),
    "decisions": ("gate_decisions", GateDecision), "quarantine": ("quarantine",
                                                                  QuarantineRecord)}
_line_encoder = msgspec.json.Encoder()
_report_encoder = msgspec.json.Encoder(order="deterministic")


def json_document(obj: Any) -> bytes:
    """A report file's bytes: deterministic key order, indented by 2, one final newline."""
    return msgspec.json.format(_report_encoder.encode(obj), indent=2) + b"\n"


@attrs.frozen
class StepOutputs:
    """What one step produced, each list in production order (empty when nothing).

    ``bars``: microbars that became final (per symbol in ``startMs`` order); ``setups``: setup
    state changes (detected, triggered, t1, t2, stopped, expired, untriggered), as the
    ``spxcc_on_setup`` observers saw them; ``decisions``: gate decisions, passed or blocked.
    """

    bars: list[MicrobarV2] = attrs.field(factory=list)
    setups: list[SetupInstance] = attrs.field(factory=list)
    decisions: list[GateDecision] = attrs.field(factory=list)

    def __len__(self) -> int:
        return len(self.bars) + len(self.setups) + len(self.decisions)


def check_format(fmt: str) -> Format:
    """``fmt`` when it is one of :data:`FORMATS`.

    :raises ConfigError: any other value (the message lists the choices).
    """
    if fmt not in FORMATS:
        raise ConfigError(f"output format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    return fmt  # type: ignore[return-value]


#: Output files an executing run adds (JSON Lines in every format), in writing order.
EXECUTION_FILES = ("intents.jsonl", "fills.jsonl", "positions.jsonl", "slippage.jsonl")


def output_names(fmt: Format = "jsonl", *, execute: bool = False) -> tuple[str, ...]:
    """The output file names of a format, in writing order (:meth:`RunResult.outputs`);
    ``execute`` adds :data:`EXECUTION_FILES` before the report.

    :raises ConfigError: an unknown format.
    """
    check_format(fmt)
    jsonl = OUTPUT_FILES[:-1] if fmt in ("jsonl", "both") else ()
    parquet = PARQUET_FILES if fmt in ("parquet", "both") else ()
    executed = EXECUTION_FILES if execute else ()
    return (*jsonl, *parquet, *executed, "report.json")


@attrs.define(eq=False)
class RunResult:
    """Everything a run (replay or live) produced, in memory, in output order.

    ``bars`` by symbol (string order) then ``startMs``; ``setups`` the final state of every
    setup by detection time then id; ``decisions`` by bar start, then symbol, then production
    order; ``quarantine`` trades then quotes, by time; ``report`` the ``replay_report@1`` (the
    report of every run, live included); ``execution`` the orders, fills, end-of-session
    positions and slippage of an executing run (None otherwise).
    """

    bars: list[MicrobarV2]
    setups: list[SetupInstance]
    decisions: list[GateDecision]
    quarantine: list[QuarantineRecord]
    report: ReplayReport
    execution: ExecutionOutputs | None = None

    def outputs(self, fmt: Format = "jsonl") -> dict[str, bytes]:
        """The exact bytes of every output file, by file name, in writing order.

        ``jsonl``: :data:`OUTPUT_FILES`; ``parquet``: :data:`PARQUET_FILES` then
        ``report.json``; ``both``: the JSON Lines files, the Parquet files, ``report.json``.
        The report is the same in every format (its ``outputs`` counts name the JSON Lines
        files). An executing run adds :data:`EXECUTION_FILES` (JSON Lines) before the report.

        :raises ConfigError: an unknown format.
        """
        check_format(fmt)
        files: dict[str, bytes] = {}
        if fmt in ("jsonl", "both"):
            files.update({
                "microbars.jsonl": _line_encoder.encode_lines(self.bars),
                "setups.jsonl": _line_encoder.encode_lines(self.setups),
                "gate_decisions.jsonl": _line_encoder.encode_lines(self.decisions),
                "quarantine.jsonl": _line_encoder.encode_lines(self.quarantine)})
        if fmt in ("parquet", "both"):
            from spxcc_core.run.frames import parquet_bytes

            files.update({f"{_TABLES[t][0]}.parquet": parquet_bytes(self.to_arrow(t))
                          for t in _TABLES})
        if self.execution is not None:
            files.update(self.execution.files())
        files["report.json"] = json_document(self.report)
        return files

    def to_arrow(self, table: Table = "bars") -> pa.Table:
        """One of the run's tables as an Arrow table: the wire fields (camelCase, as in the
        JSON Lines files) plus a tz-aware America/New_York timestamp column after each
        epoch-time field (``startMs`` → ``startTime``, ...; :mod:`spxcc_core.run.frames`).

        :raises ConfigError: an unknown table name.
        """
        from spxcc_core.run.frames import structs_to_arrow

        if table not in _TABLES:
            raise ConfigError(f"unknown table {table!r} (tables: {', '.join(_TABLES)})")
        rows: dict[str, list[Any]] = {"bars": self.bars, "setups": self.setups,
                                      "decisions": self.decisions,
                                      "quarantine": self.quarantine}
        return structs_to_arrow(rows[table], _TABLES[table][1])

    def to_polars(self, table: Table = "bars") -> pl.DataFrame:
        """:meth:`to_arrow` as a polars DataFrame (needs the optional ``polars``)."""
        import polars as pl

        frame = pl.from_arrow(self.to_arrow(table))
        assert isinstance(frame, pl.DataFrame)
        return frame

    def to_pandas(self, table: Table = "bars") -> pd.DataFrame:
        """:meth:`to_arrow` as a pandas DataFrame (needs ``pandas``; nullable integer columns
        stay integers, as pandas' nullable ``Int64``)."""
        import pandas as pd
        import pyarrow as pa

        mapping = {pa.int64(): pd.Int64Dtype()}
        frame: pd.DataFrame = self.to_arrow(table).to_pandas(types_mapper=mapping.get)
        return frame
