"""Wire contracts of the session cache and of replays (``session_manifest@1``,
``replay_report@1``, ``replay_result@1``).

Paths on the wire are always relative (a cache file name, a source file's name relative to the
ingested folder) so the same input gives the same bytes wherever it lies; hashes are SHA-256 hex.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import msgspec

from spxcc_core.contracts.base import Contract
from spxcc_core.contracts.report import PluginErrorRecord, RunReport
from spxcc_core.contracts.setup import SetupStats

__all__ = [
    "CacheChainSnapshot",
    "CacheDataset",
    "ReplayReport",
    "ReplayResult",
    "ReplaySource",
    "SessionManifest",
    "SessionManifestV2",
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


class ReplayReport(Contract, frozen=True, kw_only=True):
    """``report.json`` of a replay (``replay_report@1``).

    ``aggregation`` is the microbar run report; ``detection`` the detector runner's report
    (profile and hash, per-detector gate counts and block reasons, detector errors, outcome
    statistics); ``setups_by_detector`` counts setups per detector; ``outcomes`` the outcome
    statistics over every setup (T1 hit rate over triggered setups, expectancy in R);
    ``plugin_errors`` every plugin/detector failure by name (empty normally); ``outputs`` the
    lines written per output file; ``index_values`` the index values read (not aggregated);
    ``websocket`` event counts of a websocket recording (None otherwise); ``summary`` the lines
    ``spxcc_on_run_end`` observers returned.
    """

    contract_name: ClassVar[str] = "replay_report"
    contract_version: ClassVar[int] = 1

    source: ReplaySource
    aggregation: RunReport
    detection: dict[str, Any]
    setups_by_detector: dict[str, int]
    outcomes: SetupStats
    plugin_errors: list[PluginErrorRecord]
    outputs: dict[str, int]
    index_values: int = 0
    websocket: dict[str, Any] | None = None
    summary: list[str] = msgspec.field(default_factory=list)


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

