"""A run's set-up, shared by replay and live: the profile, the chain snapshot, the output
folder and its path checks, the store, and the report's ``websocket`` counts.

Order of a run's set-up (both replay and live): check the output paths
(:func:`check_run_paths`, before anything is read or written), resolve the plugin manager and
profile and read the chain snapshot (:func:`resolve_inputs`), then — once the input is known
to be readable — create the output folder (:func:`make_out_dir`) and open the store
(:func:`open_store` / :func:`run_store`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
import pluggy

from spxcc_core.contracts.replay import WebsocketCounts
from spxcc_core.detect.profile import DetectorConfig, Profile, default_profile, load_profile
from spxcc_core.detect.runner import DETECTORS
from spxcc_core.errors import ConfigError
from spxcc_core.outputs import check_paths
from spxcc_core.registry import PluginRegistry, as_registry
from spxcc_core.run.result import OUTPUT_FILES
from spxcc_core.store import Store
from spxcc_core.store.target import is_postgres_url, store_file

if TYPE_CHECKING:
    from spxcc_core.broker.interface import BrokerAdapter
    from spxcc_core.chain import ChainSnapshot
    from spxcc_core.massive.websocket import WsStats

__all__ = [
    "DB_NAME",
    "PAPER_REPLAY_OPTIONS",
    "REPLAY_ACCOUNT",
    "RunInputs",
    "check_run_paths",
    "execution_broker",
    "load_chain",
    "make_out_dir",
    "open_store",
    "resolve_inputs",
    "resolve_profile",
    "run_store",
    "ws_counts",
]

#: Default store file name inside a run's output folder.
DB_NAME = "spxcc.sqlite3"


@attrs.frozen(eq=False)
class RunInputs:
    """A run's resolved configuration: the plugin manager, the profile (detector selection
    applied) and the chain snapshot (None: none)."""

    pm: pluggy.PluginManager
    profile: Profile
    chain: ChainSnapshot | None


def resolve_inputs(*, pm: pluggy.PluginManager | None,
                   profile: Profile | str | os.PathLike[str] | None,
                   detectors: Sequence[str] | None,
                   chain: ChainSnapshot | str | os.PathLike[str] | None) -> RunInputs:
    """The plugin manager (None: :func:`~spxcc_core.plugins.get_plugin_manager`), the profile
    (:func:`resolve_profile`) and the chain snapshot (:func:`load_chain`).

    :raises ConfigError: a bad profile or detector name.
    :raises InputError: the chain snapshot cannot be read.
    """
    from spxcc_core.plugins import get_plugin_manager

    pm = pm if pm is not None else get_plugin_manager()
    return RunInputs(pm=pm, profile=resolve_profile(pm, profile, detectors),
                     chain=load_chain(chain))


#: Options of the paper adapter of an executing run, unless the caller gives others: the
#: book's clock is the event time of the quotes fed, orders activate 250 ms after submission.
PAPER_REPLAY_OPTIONS: Mapping[str, object] = {"clock": "replay", "latency_ms": 250}
#: Account of an executing run.
REPLAY_ACCOUNT = "replay"


def execution_broker(pm: pluggy.PluginManager | PluginRegistry, name: str | None,
                     options: Mapping[str, object] | None = None) -> BrokerAdapter | None:
    """The adapter ``name`` from the registry for an executing run (None: no execution),
    with ``options`` over :data:`PAPER_REPLAY_OPTIONS` for ``paper`` and the account
    :data:`REPLAY_ACCOUNT` (in memory: never a store's accounts, so a rerun starts from the
    same book).

    :raises ConfigError: an unknown broker or a bad option.
    """
    if name is None:
        return None
    from spxcc_core.broker import broker_adapters
    from spxcc_core.broker.interface import AdapterConfig

    adapters = broker_adapters(pm)
    cls = adapters.get(name)
    if cls is None:
        raise ConfigError(f"--execute {name}: unknown broker; registered: "
                          f"{', '.join(sorted(adapters)) or 'none'}")
    if not all(callable(getattr(cls, a, None)) for a in ("on_quote", "advance_to", "subscribe")):
        raise ConfigError(f"--execute {name}: a real broker fills on its own market, which a "
                          "recorded session does not have: replay executes on --execute "
                          f"paper; a real broker executes live (spxcc live --execute {name} "
                          "--execute-account ID)")
    merged: dict[str, object] = dict(PAPER_REPLAY_OPTIONS) if name == "paper" else {}
    merged.update(options or {})
    return cls.from_config(AdapterConfig(options=merged, account_id=REPLAY_ACCOUNT))


def load_chain(chain: ChainSnapshot | str | os.PathLike[str] | None) -> ChainSnapshot | None:
    """A chain snapshot argument as a :class:`~spxcc_core.chain.ChainSnapshot` (a path is read
    with :func:`spxcc_core.chain.load_chain_snapshot`; None stays None).

    :raises InputError: the file cannot be read or is not a usable snapshot.
    """
    if chain is None:
        return None
    from spxcc_core.chain import ChainSnapshot, load_chain_snapshot

    if isinstance(chain, ChainSnapshot):
        return chain
    return load_chain_snapshot(chain)


def make_out_dir(out_dir: str | os.PathLike[str] | None) -> Path | None:
    """Create the output folder (and its parents; an existing one is kept); None: none.

    :raises ConfigError: the folder cannot be created (one line with the reason).
    """
    if out_dir is None:
        return None
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"output folder {out}: cannot create ({exc.strerror or exc})") \
            from None
    return out


def open_store(store: Store | str | os.PathLike[str] | None,
               out_dir: Path | None) -> tuple[Store, bool]:
    """The store a run writes and whether the caller owns (must close) it: ``store`` itself
    when it is a :class:`Store` (not owned), else the file or PostgreSQL URL ``store``, else
    ``out_dir/spxcc.sqlite3``, else an in-memory store.

    :raises ConfigError: the store file cannot be opened.
    """
    if isinstance(store, Store):
        return store, False
    if store is None:
        target: str | Path = out_dir / DB_NAME if out_dir is not None else ":memory:"
    else:
        target = store if is_postgres_url(store) else Path(store)
    return Store(target), True


@contextmanager
def run_store(store: Store | str | os.PathLike[str] | None,
              out_dir: Path | None) -> Iterator[Store]:
    """:func:`open_store` as a context: a store the run opened is closed on exit, a given
    :class:`Store` is left open."""
    db, owned = open_store(store, out_dir)
    try:
        yield db
    finally:
        if owned:
            db.close()


def check_run_paths(*, session: str | os.PathLike[str] | None,
                    out_dir: str | os.PathLike[str] | None,
                    store: Store | str | os.PathLike[str] | None,
                    profile: Profile | str | os.PathLike[str] | None,
                    chain: ChainSnapshot | str | os.PathLike[str] | None,
                    names: Sequence[str] = OUTPUT_FILES,
                    extra: Sequence[tuple[str, str | os.PathLike[str] | None]] = ()) -> None:
    """Refuse a run's outputs — ``out_dir/NAME`` for each of ``names``, the store file (``store``
    when it is a path, else ``out_dir/spxcc.sqlite3``) and the ``extra`` ``(label, path)``
    outputs — when two are the same or nest, or one is, contains or lies inside an input
    (the ``session`` path, the ``profile`` file, the ``chain`` file):
    :func:`~spxcc_core.outputs.check_paths`.

    :raises ConfigError: one line naming both paths.
    """
    out = Path(out_dir) if out_dir is not None else None
    outputs = list(extra)
    if out is not None:
        outputs += [("output", out / name) for name in names]
    if isinstance(store, str | os.PathLike) and (file := store_file(store)) is not None:
        outputs.append(("store", file))
    elif store is None and out is not None:
        outputs.append(("store", out / DB_NAME))
    check_paths(outputs, {
        "session": session,
        "profile": profile if isinstance(profile, str | os.PathLike) else None,
        "chain": chain if isinstance(chain, str | os.PathLike) else None})


def ws_counts(stats: WsStats) -> WebsocketCounts:
    """The ``websocket`` section of a run report from a recording's or connection's counts
    (statuses and unknown event names sorted)."""
    return WebsocketCounts(events=stats.events, trades=stats.trades, quotes=stats.quotes,
                           values=stats.values, statuses=dict(sorted(stats.statuses.items())),
                           unknown=dict(sorted(stats.unknown.items())))


def resolve_profile(pm: pluggy.PluginManager | PluginRegistry,
                    profile: Profile | str | os.PathLike[str] | None = None,
                    detectors: Sequence[str] | None = None) -> Profile:
    """The profile a run uses: ``profile`` (a :class:`Profile`, a profile TOML file, or None for
    the default profile of the installed detectors, :func:`default_profile`) with every installed detector not named in ``detectors`` disabled
    (None: every detector the profile enables). ``pm``: a plugin manager or a registry (whose
    discovery, and its failures, are then shared with the run).

    :raises ConfigError: an unreadable or invalid profile, ``detectors`` given as a string, or
        a detector name that is not installed (the message lists the installed ones).
    """
    registry = as_registry(pm)
    if profile is None:
        prof = default_profile(registry.classes(DETECTORS))
    elif isinstance(profile, Profile):
        prof = profile
    else:
        prof = load_profile(Path(profile))
    if detectors is None:
        return prof
    if isinstance(detectors, str):
        raise ConfigError("detectors must be a list of names, not a string")
    installed = registry.by_name(DETECTORS)
    unknown = [n for n in detectors if n not in installed]
    if unknown:
        raise ConfigError(f"unknown detector{'s' if len(unknown) > 1 else ''} "
                          f"{', '.join(map(repr, unknown))} (installed: "
                          f"{', '.join(sorted(installed)) or 'none'})")
    wanted = set(detectors)
    table = dict(prof.detectors)
    for name, cls in installed.items():
        if name not in wanted:
            table[name] = DetectorConfig(version=cls.version, enabled=False)
    return attrs.evolve(prof, detectors=table)
