"""Parity of a live run: replay what it received through the same code and compare.

A live run folder (``spxcc live --out DIR --record DIR/day.jsonl``) holds the live outputs,
``report.json`` (``replay_report@1``: the profile hash and the aggregation settings),
``live.json`` (``live_report@2``: the recording's name and the feed gaps) and, with
``--chain``, ``chain_snapshot.json``. :func:`check_parity` replays the recording (or another
source of the same session, ``session``) in memory with the live run's profile, aggregation
settings and chain snapshot, and compares every output file record by record
(:mod:`spxcc_core.parity.diff`): microbars, setups, gate decisions, quarantine, the report,
and the execution files (intents, fills) when the live run has them. Differences inside a
recorded feed gap are expected. The store's slippage ledger gives paper against broker
slippage (fill realism) when it has fills of both.

Nothing in the live run folder is written: the replay runs with an in-memory store.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import attrs
import msgspec
import pluggy

from spxcc_core.aggregate.config import AggregatorConfig
from spxcc_core.contracts.host import LiveReportV2
from spxcc_core.contracts.parity import (
    FileParity,
    FillRealismParity,
    ParityReport,
    SourceSlippage,
    Verdict,
)
from spxcc_core.contracts.replay import ReplayReport
from spxcc_core.contracts.slippage import SlippageRecord, SlippageSource
from spxcc_core.detect.profile import Profile
from spxcc_core.errors import ConfigError, InputError
from spxcc_core.hashing import sha256_file
from spxcc_core.parity.diff import compare_document, compare_lines, gap_windows
from spxcc_core.replay.engine import run_replay
from spxcc_core.run.profiles import named_profile, profile_id
from spxcc_core.run.result import EXECUTION_FILES as RUN_EXECUTION_FILES
from spxcc_core.run.result import RunResult, json_document
from spxcc_core.run.setup import resolve_profile
from spxcc_core.slippage.report import build_report
from spxcc_core.slippage.store import SlippageStore
from spxcc_core.store.existing import StoreRef
from spxcc_core.store.profiles import ProfileHistory
from spxcc_core.store.sqlite import Store

__all__ = ["CHAIN_FILE", "COMPARED_FILES", "EXECUTION_FILES", "LIVE_FILE", "PARITY_FILE",
           "REPORT_FILE", "STORE_FILE", "LiveRun", "ParityResult", "check_parity",
           "fill_realism", "read_live_run"]

#: The live report, the run report and the chain snapshot copy in a live run folder.
LIVE_FILE: Final = "live.json"
REPORT_FILE: Final = "report.json"
CHAIN_FILE: Final = "chain_snapshot.json"
#: The live run's own store (``spxcc live`` without ``--db``).
STORE_FILE: Final = "spxcc.sqlite3"
#: What ``--out`` receives besides the replay's output files.
PARITY_FILE: Final = "parity.json"
#: JSON Lines files every run writes, compared in this order (then the report).
COMPARED_FILES: Final = ("microbars.jsonl", "setups.jsonl", "gate_decisions.jsonl",
                         "quarantine.jsonl")
#: Execution files (``spxcc live --execute``), compared when the live run has them.
EXECUTION_FILES: Final = RUN_EXECUTION_FILES
#: Execution files that follow the broker's fills: compared field by field only when the live
#: run filled on the paper broker, as the replay does.
_FILL_SHAPED: Final = ("fills.jsonl", "positions.jsonl", "slippage.jsonl")
#: Files whose contents depend on the source's shape (message indexes, source counts): only
#: comparable when the source replayed is the live recording itself.
_SOURCE_SHAPED: Final = ("quarantine.jsonl", REPORT_FILE)

_live_decoder: Final = msgspec.json.Decoder(LiveReportV2)
_report_decoder: Final = msgspec.json.Decoder(ReplayReport)


@attrs.frozen(eq=False)
class LiveRun:
    """A live run folder, read: its live report, run report and output files (by name, only
    those present)."""

    folder: Path
    live: LiveReportV2
    report: ReplayReport
    files: Mapping[str, bytes]


@attrs.frozen(eq=False)
class ParityResult:
    """The report, its bytes (``parity.json``) and the replay it compared against."""

    report: ParityReport
    document: bytes
    replay: RunResult

    @property
    def exit_code(self) -> int:
        """0 identical or differences only inside feed gaps, 1 any other difference."""
        return 1 if self.report.verdict == "different" else 0


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(str(path), "missing: not a live run folder (spxcc live --out DIR "
                                    "writes it)") from None
    except OSError as exc:
        raise InputError(str(path), f"cannot read ({exc.strerror or exc})") from None


def read_live_run(folder: str | os.PathLike[str]) -> LiveRun:
    """Read a live run folder.

    :raises InputError: not a folder, ``live.json`` or ``report.json`` missing or not the
        contract, an output file unreadable.
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputError(str(root), "not a folder (give the --out folder of spxcc live)")
    try:
        live = _live_decoder.decode(_read(root / LIVE_FILE))
    except msgspec.DecodeError as exc:
        raise InputError(str(root / LIVE_FILE), f"not a live report ({exc})") from None
    try:
        report = _report_decoder.decode(_read(root / REPORT_FILE))
    except msgspec.DecodeError as exc:
        raise InputError(str(root / REPORT_FILE), f"not a run report ({exc})") from None
    files = {name: _read(root / name) for name in (*COMPARED_FILES, *EXECUTION_FILES)
             if (root / name).is_file()}
    files[REPORT_FILE] = _read(root / REPORT_FILE)
    missing = [n for n in COMPARED_FILES if n not in files]
    if missing:
        raise InputError(str(root / missing[0]), "missing: the live run wrote no such file")
    return LiveRun(folder=root, live=live, report=report, files=files)


def _source(run: LiveRun, session: str | os.PathLike[str] | None) -> Path:
    if session is not None:
        return Path(session)
    name = run.live.recording
    if name is None:
        raise InputError(str(run.folder / LIVE_FILE), "the live run was not recorded (no "
                         "--record): nothing to replay; give --session")
    path = run.folder / name
    if not path.is_file():
        raise InputError(str(path), "the recording live.json names is not in the run folder; "
                                    "give it with --session FILE")
    return path


def _resolve_profile(pm: pluggy.PluginManager, run: LiveRun, profile: str | None,
                     db: str | os.PathLike[str] | None) -> tuple[Profile, list[str] | None]:
    """The profile (and detector selection) whose hash is the live run's.

    :raises ConfigError: the live profile cannot be found, or ``profile`` is another one.
    """
    ref = run.report.detection.profile
    store = StoreRef.of(db, "--profile-db")  # a missing file is not read, nor created
    history_db = None if store.missing else Store(store.target)
    try:
        history = ProfileHistory(history_db) if history_db is not None else None
        if profile is not None:
            prof = named_profile(pm, profile, history).profile
        else:
            default = named_profile(pm, "default")
            stored = history.get(ref.hash) if history is not None else None
            if default.id == ref.hash or stored is None:
                prof = default.profile
            else:
                prof = named_profile(pm, stored.id, history).profile
    finally:
        if history_db is not None:
            history_db.close()
    if profile_id(pm, prof) == ref.hash:
        return prof, None
    detectors = sorted(run.report.detection.detectors)
    if profile_id(pm, resolve_profile(pm, prof, detectors)) == ref.hash:
        return prof, detectors
    given = f"--profile {profile}" if profile is not None else "the built-in default profile"
    raise ConfigError(f"the live run used profile {ref.hash} ({ref.name} v{ref.version}); "
                      f"{given} is another one, and the profile store ({store.label}"
                      f"{', no such file' if history_db is None else ''}) does not hold it: "
                      "give it with --profile FILE.toml|ID (or --profile-db STORE)")


def _summary(source: SlippageSource, records: list[SlippageRecord]) -> SourceSlippage | None:
    values = [r.slippage_dollars for r in records if r.source == source]
    if not values:
        return None
    return SourceSlippage(source=source, fills=len(values),
                          mean_dollars=round(statistics.fmean(values), 9) + 0.0,
                          median_dollars=round(statistics.median(values), 9) + 0.0)


def fill_realism(store: str | os.PathLike[str] | None) -> FillRealismParity:
    """Paper against broker slippage from a store's slippage ledger (None: no store).

    :raises StoreError: the store file is damaged.
    """
    if store is None:
        return FillRealismParity(status="not_present", note="no store: the live run kept its "
                                 "store elsewhere (give it with --db) or executed nothing",
                                 paper=None, broker=None, difference_dollars=None, buckets=[])
    with Store(store) as db:
        records = list(SlippageStore(db).records())
    paper, broker = _summary("paper", records), _summary("broker", records)
    if paper is None or broker is None:
        have = ", ".join(f"{s.fills} {s.source}" for s in (paper, broker) if s is not None)
        missing = " and ".join(n for n, s in (("paper", paper), ("broker", broker)) if s is None)
        return FillRealismParity(
            status="not_present",
            note=f"the store's slippage ledger has no {missing} fill"
                 f"{f' (it has {have})' if have else ''}: nothing to compare",
            paper=paper, broker=broker, difference_dollars=None, buckets=[])
    buckets = list(build_report(records, []).fill_realism)
    return FillRealismParity(
        status="compared", note="", paper=paper, broker=broker,
        difference_dollars=round(broker.mean_dollars - paper.mean_dollars, 9) + 0.0,
        buckets=buckets)


def _run_store(run: LiveRun) -> Path | None:
    own = run.folder / STORE_FILE
    return own if own.is_file() else None


def _not_compared(name: str, status: str, note: str, live: bytes | None) -> FileParity:
    n = None if live is None else len([x for x in live.splitlines() if x.strip()])
    return FileParity(file=name, status=status, note=note,  # type: ignore[arg-type]
                      live_records=n, replay_records=None, differences=0, expected=0,
                      field_counts={}, first=None, listed=[])


def _verdict(files: list[FileParity]) -> Verdict:
    if any(f.status == "different" for f in files):
        return "different"
    if any(f.status == "expected_differences" for f in files):
        return "expected_differences"
    return "identical"


def check_parity(live_dir: str | os.PathLike[str], *,
                 session: str | os.PathLike[str] | None = None,
                 chain: str | os.PathLike[str] | None = None, profile: str | None = None,
                 db: str | os.PathLike[str] | None = None,
                 profile_db: str | os.PathLike[str] | None = None,
                 pm: pluggy.PluginManager | None = None) -> ParityResult:
    """Replay a live run's session and compare it with the live outputs (module docstring).

    :param live_dir: the live run folder (``spxcc live --out``).
    :param session: what to replay (default: the recording ``live.json`` names, in
        ``live_dir``); another source of the same session (flat files, a session cache) also
        works, then ``quarantine.jsonl`` and ``report.json`` are not compared.
    :param chain: the option-chain snapshot (default ``live_dir/chain_snapshot.json`` when
        present).
    :param profile: a profile argument (file, ``default``, ``active``, stored id) when the live
        run's profile is neither the built-in default nor in the profile store; it must have
        the live run's hash.
    :param db: the live run's store, for the slippage ledger (default
        ``live_dir/spxcc.sqlite3`` when present).
    :param profile_db: the profile store (default ``$SPXCC_DB`` or the user data folder; a
        missing file is not created).
    :raises InputError: not a live run folder, a missing recording, unreadable input.
    :raises ConfigError: the live run's profile cannot be found or ``profile`` is not it.
    """
    from spxcc_core.plugins import get_plugin_manager

    pm = pm if pm is not None else get_plugin_manager()
    realism = None
    if db is not None:  # a bad store is refused before any work
        StoreRef.of(db).require("parity never creates one")
        realism = fill_realism(db)
    run = read_live_run(live_dir)
    source = _source(run, session)
    if not source.exists():
        raise InputError(str(source), "no such file or folder")
    own_chain = run.folder / CHAIN_FILE
    chain_path = Path(chain) if chain is not None else (own_chain if own_chain.is_file()
                                                        else None)
    prof, detectors = _resolve_profile(pm, run, profile, profile_db)
    cfg = run.report.aggregation.config
    config = AggregatorConfig(interval_ms=cfg.interval_ms, stale_ms=cfg.stale_ms,
                              lateness_ms=cfg.lateness_ms)
    execution = run.report.execution
    live_broker = None if isinstance(execution, msgspec.UnsetType) else execution.broker
    replay = run_replay(source, profile=prof, detectors=detectors, config=config, pm=pm,
                        chain=chain_path, execute=None if live_broker is None else "paper")
    produced = replay.outputs()
    notes: list[str] = []
    recorded = run.report.source.recording_sha256
    is_recording = (source.is_file() and recorded is not None
                    and sha256_file(source) == recorded)
    if session is None and not is_recording:
        notes.append(f"the recording {source.name} is not the file the live run recorded "
                     "(its SHA-256 differs from report.json's recordingSha256)")
    windows, shown = gap_windows(run.live.gaps, interval_ms=cfg.interval_ms,
                                 stale_ms=cfg.stale_ms)
    files: list[FileParity] = []
    for name in (*COMPARED_FILES, REPORT_FILE, *EXECUTION_FILES):
        live = run.files.get(name)
        mine = produced.get(name)
        if live is None:
            files.append(_not_compared(name, "not_present", f"the live run has no {name} "
                                       "(it did not execute orders)", None))
        elif mine is None:
            files.append(_not_compared(name, "not_compared", f"the replay wrote no {name}: "
                                       "report.json has no execution section", live))
        elif name in _FILL_SHAPED and live_broker != "paper":
            files.append(_not_compared(name, "not_compared", f"the live run filled on "
                                       f"{live_broker}, the replay on paper: fills are compared "
                                       "as slippage (fill realism), not field by field", live))
        elif name in _SOURCE_SHAPED and not is_recording:
            files.append(_not_compared(name, "not_compared", f"{source} is not the live "
                                       "recording: message indexes and source counts differ "
                                       "by nature", live))
        elif name == REPORT_FILE and live_broker not in (None, "paper"):
            part = compare_document(name, live, mine, ignore=("execution",))
            files.append(msgspec.structs.replace(
                part, note=f"the execution section is not compared: the live run filled on "
                           f"{live_broker}, the replay on paper"))
        elif name == REPORT_FILE:
            files.append(compare_document(name, live, mine))
        else:
            files.append(compare_lines(name, live, mine, windows=windows))
    report = ParityReport(
        verdict=_verdict(files), live_dir=os.fspath(live_dir), replayed=os.fspath(source),
        session_date=run.report.source.session_date,
        profile_hash=run.report.detection.profile.hash, gaps=shown, files=files,
        fill_realism=realism if realism is not None else fill_realism(_run_store(run)),
        notes=notes)
    return ParityResult(report=report, document=json_document(report), replay=replay)
