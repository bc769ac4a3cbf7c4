"""Wire contracts of the session cache and of replays (``session_manifest@1``,
``replay_report@1``, ``replay_result@1``).

Paths on the wire are always relative (a cache file name, a source file's name relative to the
ingested folder) so the same input gives the same bytes wherever it lies; hashes are SHA-256 hex.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import msgspec

from spxcc_core.contracts.base import Contract
from spxcc_core.contracts.execution import ExecutionReport
from spxcc_core.contracts.report import PluginErrorRecord, RunReport
from spxcc_core.contracts.setup import SetupStats

__all__ = [
    "CacheChainSnapshot",
    "CacheDataset",
    "DatasetKind",
    "DetectionReport",
    "DetectorErrors",
    "GateCounts",
    "InstrumentDetection",
    "OutcomeStats",
    "ProfileRef",
    "ReplayReport",
    "ReplayResult",
    "ReplaySource",
    "RunnerPluginFailure",
    "SessionManifest",
    "SessionManifestV2",
    "WebsocketCounts",
]

#: Dataset kinds of a session cache, in the order they are stored and listed.
DatasetKind = Literal["stocks_trades", "stocks_quotes", "options_trades", "options_quotes",
                      "index_values"]


class CacheDataset(Contract, frozen=True, kw_only=True):
    """One dataset of a session cache.

    ``kind`` is the cache's dataset kind; ``file`` the Arrow IPC file name inside the cache;
    ``rows`` the events stored (every data row of the source, or of the selected ticker);
    ``source`` the source file's name (relative to the ingested folder, or its base name);
    ``source_sha256``/``source_bytes`` the hash and size of the source file as read.
    """

    kind: DatasetKind
    file: str
    rows: int
    source: str
    source_sha256: str
    source_bytes: int


class CacheChainSnapshot(Contract, frozen=True, kw_only=True):
    """The option-chain snapshot of a session cache (Massive ``/v3/snapshot/options`` JSON,
    copied unchanged).

    ``file`` is its name inside the cache; ``source``/``source_sha256``/``source_bytes`` as for
    :class:`CacheDataset`; ``underlying`` the chain's underlying ticker; ``contracts`` the usable
    contracts read from it.
    """

    file: str
    source: str
    source_sha256: str
    source_bytes: int
    underlying: str
    contracts: int


class SessionManifest(Contract, frozen=True, kw_only=True):
    """``manifest.json`` of a session cache (``session_manifest@1``).

    ``session_date`` is the New York date ``YYYY-MM-DD`` of the session; ``symbols`` the symbol
    table (id = list position) shared by every dataset; ``condition_sets`` the trade condition
    sets (id = list position, each a sorted list of Massive condition ids; set 0 is empty);
    ``ticker`` the ticker the cache was restricted to (None: every ticker).
    """

    contract_name: ClassVar[str] = "session_manifest"
    contract_version: ClassVar[int] = 1

    format_version: int
    session_date: str
    ticker: str | None
    datasets: list[CacheDataset]
    symbols: list[str]
    condition_sets: list[list[int]]


class SessionManifestV2(SessionManifest, frozen=True, kw_only=True):
    """``manifest.json`` of a session cache (``session_manifest@2``): v1 plus
    ``chain_snapshot``, the session's option-chain snapshot (None: none was ingested)."""

    contract_version: ClassVar[int] = 2

    chain_snapshot: CacheChainSnapshot | None = None


class ReplaySource(Contract, frozen=True, kw_only=True):
    """What a replay read: ``kind`` is ``cache``, ``flatfiles`` or ``websocket``; ``datasets``
    the cache datasets (empty for a websocket recording); ``recording_sha256`` the hash of a
    websocket recording (None otherwise)."""

    kind: Literal["cache", "flatfiles", "websocket"]
    session_date: str
    datasets: list[CacheDataset] = msgspec.field(default_factory=list)
    recording: str | None = None
    recording_sha256: str | None = None


# -- the ``detection`` and ``websocket`` sections of replay_report@1 ------------------------------
# These sections were written as dicts before they were typed, and the report encoder sorts dict
# keys, so their fields are declared in alphabetical wire order: the bytes of report.json are
# the same as before. A field added later is appended (the contract rule), whatever its name.


class ProfileRef(Contract, frozen=True, kw_only=True):
    """The detector profile a run used: ``name``, ``version`` and ``hash`` (16 hex, see
    :func:`spxcc_core.detect.profile.profile_hash`)."""

    hash: str
    name: str
    version: int


class GateCounts(Contract, frozen=True, kw_only=True):
    """One detector's candidates by gate verdict: ``evaluated`` = ``passed`` + ``blocked``;
    ``reasons`` counts the failed checks by gate name (a blocked candidate may fail several)."""

    blocked: int
    evaluated: int
    passed: int
    reasons: dict[str, int]


class DetectorErrors(Contract, frozen=True, kw_only=True):
    """The exceptions one detector or provider raised: how many, and the first one's text."""

    count: int
    first: str


class RunnerPluginFailure(Contract, frozen=True, kw_only=True):
    """A plugin failure the detector runner recorded (a failed registration or an
    ``spxcc_on_setup`` call): the ``plugin``'s name, the ``hook`` and the ``error`` text."""

    error: str
    hook: str
    plugin: str


class OutcomeStats(Contract, frozen=True, kw_only=True):
    """The outcome statistics of ``setup_stats@1`` (same names, meanings and null cases; see
    :class:`~spxcc_core.contracts.setup.SetupStats`) as the ``detection`` section writes them."""

    expectancy_r: float | None
    expired: int
    open: int
    setups: int
    stopped: int
    t1_hit_rate: float | None
    t1_hits: int
    t2_hits: int
    triggered: int
    untriggered: int

    @classmethod
    def of(cls, stats: SetupStats) -> OutcomeStats:
        """The same numbers as ``stats``."""
        return cls(**msgspec.structs.asdict(stats))


class InstrumentDetection(Contract, frozen=True, kw_only=True):
    """Detection results of one instrument kind (``underlying`` or ``option``): the
    ``detectors`` that run on that kind (sorted), their ``gates`` counts, setups per detector,
    outcome ``stats`` (gross R) and ``expectancy_gap_r`` (gap-aware; None when nothing closed)."""

    detectors: list[str]
    expectancy_gap_r: float | None
    gates: dict[str, GateCounts]
    setups_by_detector: dict[str, int]
    stats: OutcomeStats


class DetectionReport(Contract, frozen=True, kw_only=True):
    """The detector runner's report (the ``detection`` section of ``replay_report@1``).

    ``bars`` counts the bars processed; ``quarantined`` counts bars not processed by reason
    (``outOfOrder``: a bar that does not start after its symbol's previous one; empty when
    none); ``detectors`` maps each detector run to its version and ``defaults_used`` lists the
    detectors that ran on their default parameters (no profile table); ``gates`` and ``errors``
    are per detector (``errors`` also per provider; empty normally); ``plugin_failures`` the
    failures the runner recorded; ``stats``/``expectancy_gap_r`` the outcomes over every setup
    (gross / gap-aware R); ``by_instrument`` the same split by instrument kind; and
    ``session_end`` (session id → symbol → provider name → the provider's JSON value) the
    providers' session-end values, ``UNSET`` (left out of the JSON) when no provider gave one.
    ``expectancy_gap_r``, ``by_instrument`` and ``session_end`` were added after the first
    reports were written; an older report decodes with their defaults (None, empty, UNSET).
    """

    bars: int
    by_instrument: dict[str, InstrumentDetection] = msgspec.field(default_factory=dict)
    defaults_used: list[str]
    detectors: dict[str, int]
    errors: dict[str, DetectorErrors]
    expectancy_gap_r: float | None = None
    gates: dict[str, GateCounts]
    plugin_failures: list[RunnerPluginFailure]
    profile: ProfileRef
    quarantined: dict[str, int]
    session_end: dict[str, dict[str, dict[str, Any]]] | msgspec.UnsetType = msgspec.UNSET
    stats: OutcomeStats


class WebsocketCounts(Contract, frozen=True, kw_only=True):
    """The ``websocket`` section of ``replay_report@1``: event counts of a websocket recording
    or live connection. ``events`` counts every event received, ``trades``/``quotes``/
    ``values`` those of each kind, ``statuses`` the status messages by status and ``unknown``
    the events of an unknown ``ev`` by name."""

    events: int
    quotes: int
    statuses: dict[str, int]
    trades: int
    unknown: dict[str, int]
    values: int


class ReplayReport(Contract, frozen=True, kw_only=True):
    """``report.json`` of a replay (``replay_report@1``).

    ``aggregation`` is the microbar run report; ``detection`` the detector runner's report
    (profile and hash, per-detector gate counts and block reasons, detector errors, outcome
    statistics); ``setups_by_detector`` counts setups per detector; ``outcomes`` the outcome
    statistics over every setup (T1 hit rate over triggered setups, expectancy in R);
    ``plugin_errors`` every plugin/detector failure by name (empty normally); ``outputs`` the
    lines written per output file; ``index_values`` the index values read (not aggregated);
    ``websocket`` event counts of a websocket recording (None otherwise); ``summary`` the lines
    ``spxcc_on_run_end`` observers returned; ``execution`` what the execution policy did
    (``replay --execute``; absent — not null — from a run that did not execute).
    """

    contract_name: ClassVar[str] = "replay_report"
    contract_version: ClassVar[int] = 1

    source: ReplaySource
    aggregation: RunReport
    detection: DetectionReport
    setups_by_detector: dict[str, int]
    outcomes: SetupStats
    plugin_errors: list[PluginErrorRecord]
    outputs: dict[str, int]
    index_values: int = 0
    websocket: WebsocketCounts | None = None
    summary: list[str] = msgspec.field(default_factory=list)
    execution: ExecutionReport | msgspec.UnsetType = msgspec.UNSET


class ReplayResult(Contract, frozen=True, kw_only=True):
    """The result of one replay, as returned across process boundaries (``replay_result@1``).

    ``out_dir`` is where the outputs were written (None when not written); ``digests`` maps each
    output file name to the SHA-256 of its bytes (computed whether or not it was written), so two
    replays agree exactly when their digests do.
    """

    contract_name: ClassVar[str] = "replay_result"
    contract_version: ClassVar[int] = 1

    session_date: str
    out_dir: str | None
    report: ReplayReport
    digests: dict[str, str]

