"""The parity report (``parity_report@1``): a live run against the replay of what it received.

``spxcc parity LIVE_RUN_DIR`` replays the live session's recording through the same pipeline and
compares every output file record by record and field by field. Field names are wire names
(camelCase), nested fields as a dotted path (``checks[2].observed``). Times are epoch
milliseconds. Differences inside a recorded feed gap (widened by the quote staleness and one
bar: what a lost event can still change) are *expected* and do not fail the report.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final, Literal, get_args

from spxcc_core.contracts.base import Contract
from spxcc_core.contracts.slippage import FillRealism, SlippageSource

__all__ = [
    "DIFFERENCE_KINDS",
    "FILE_STATUSES",
    "VERDICTS",
    "DifferenceKind",
    "FieldDifference",
    "FileParity",
    "FileStatus",
    "FillRealismParity",
    "ParityGapWindow",
    "ParityReport",
    "RecordDifference",
    "SourceSlippage",
    "Verdict",
]

#: How one record differs: ``changed`` (same key, some fields differ), ``missing_in_replay``
#: (only live has it), ``missing_in_live`` (only the replay has it), ``order`` (the same records
#: in another order).
DifferenceKind = Literal["changed", "missing_in_replay", "missing_in_live", "order"]
DIFFERENCE_KINDS: Final[tuple[str, ...]] = get_args(DifferenceKind)

#: A file's comparison: ``identical`` (byte for byte), ``expected_differences`` (every
#: difference lies in a feed gap), ``different``, ``not_present`` (the live run has no such file:
#: nothing to compare) or ``not_compared`` (``note`` says why).
FileStatus = Literal["identical", "expected_differences", "different", "not_present",
                     "not_compared"]
FILE_STATUSES: Final[tuple[str, ...]] = get_args(FileStatus)

#: The whole report: ``identical``, ``expected_differences`` (only inside feed gaps) or
#: ``different`` (at least one difference outside every gap).
Verdict = Literal["identical", "expected_differences", "different"]
VERDICTS: Final[tuple[str, ...]] = get_args(Verdict)


class FieldDifference(Contract, frozen=True, kw_only=True):
    """One field of one record that differs: its wire ``field`` path and the JSON values live
    and in the replay (null also when the field is absent on that side)."""

    field: str
    live: Any
    replay: Any


class RecordDifference(Contract, frozen=True, kw_only=True):
    """One record that differs between the live file and the replay's.

    ``key`` identifies the record in its file (e.g. ``SPY@1709821215000`` for a microbar,
    the setup id, ``setupId@barStartMs`` for a gate decision; ``#n`` appended for the n-th
    record with the same key). ``line`` is its 1-based line in the live file (in the replay's
    file for ``missing_in_live``). ``atMs`` is the record's event time (a bar's start, a setup's
    detection, a decision's bar, an intent's creation; null when it has none); ``inGap`` whether
    the record's time span meets a gap window. ``fields`` lists the differing fields of a
    ``changed`` record (empty for the other kinds).
    """

    key: str
    kind: DifferenceKind
    line: int
    at_ms: int | None
    in_gap: bool
    fields: list[FieldDifference]


class FileParity(Contract, frozen=True, kw_only=True):
    """The comparison of one output file.

    ``liveRecords``/``replayRecords`` count the records on each side (null when that side has
    no file). ``differences`` counts the differing records, ``expected`` those of them inside a
    gap. ``fieldCounts`` counts differing records per field (``changed`` only). ``first`` is the
    first difference outside every gap (else the first inside one; null when none); ``listed``
    the first :data:`~spxcc_core.parity.diff.MAX_LISTED` differences in file order. ``note``
    says why a file was not compared or is not present (empty otherwise).
    """

    file: str
    status: FileStatus
    note: str
    live_records: int | None
    replay_records: int | None
    differences: int
    expected: int
    field_counts: dict[str, int]
    first: RecordDifference | None
    listed: list[RecordDifference]


class ParityGapWindow(Contract, frozen=True, kw_only=True):
    """A feed gap of the live run (``live.json → gaps``) and the window in which differences
    are expected: from the start of the bar holding ``fromMs`` to ``toMs`` plus the quote
    staleness and one bar (``windowToMs`` null: the gap never closed, so to the end of the
    session; ``windowFromMs`` null: no event had arrived before it, so from the start)."""

    url: str
    from_ms: int | None
    to_ms: int | None
    window_from_ms: int | None
    window_to_ms: int | None


class SourceSlippage(Contract, frozen=True, kw_only=True):
    """Realized slippage of one source's measured fills (dollars per contract, positive is a
    cost): how many, the mean and the median."""

    source: SlippageSource
    fills: int
    mean_dollars: float
    median_dollars: float


class FillRealismParity(Contract, frozen=True, kw_only=True):
    """Paper fills against broker fills from the store's slippage ledger.

    ``status`` is ``compared`` when the store has measured fills of both sources, else
    ``not_present`` (``note`` says what is missing). ``paper``/``broker`` summarise each source
    (null without fills); ``differenceDollars`` = broker mean − paper mean (positive: real fills
    cost more than the paper model predicted); ``buckets`` the ledger's buckets with fills of
    both (``slippage_report@1``'s ``fillRealism``).
    """

    status: Literal["compared", "not_present"]
    note: str
    paper: SourceSlippage | None
    broker: SourceSlippage | None
    difference_dollars: float | None
    buckets: list[FillRealism]


class ParityReport(Contract, frozen=True, kw_only=True):
    """``parity_report@1``: what ``spxcc parity LIVE_RUN_DIR --json`` prints and ``--out``
    writes (``parity.json``).

    ``verdict``: ``identical`` (every compared file byte for byte), ``expected_differences``
    (differences only inside feed gaps) or ``different``. ``liveDir`` and ``replayed`` (the
    source replayed: the live recording, or ``--session``) are the paths as given;
    ``sessionDate`` the New York session date; ``profileHash`` the profile both ran.
    ``gaps`` the live run's feed gaps with their windows; ``files`` one entry per output file in
    a fixed order; ``fillRealism`` paper against broker slippage; ``notes`` plain sentences
    about the comparison (e.g. that the source is not the recording).
    """

    contract_name: ClassVar[str] = "parity_report"
    contract_version: ClassVar[int] = 1

    verdict: Verdict
    live_dir: str
    replayed: str
    session_date: str
    profile_hash: str
    gaps: list[ParityGapWindow]
    files: list[FileParity]
    fill_realism: FillRealismParity
    notes: list[str]
