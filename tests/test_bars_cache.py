"""The bars cache: a replay over recorded bars gives the same bytes as a full replay.

Compared file by file (microbars, setups, gate decisions, quarantine, report) on every golden
case (flat files, no chain), on a generated session (a session cache with options and an
option-chain snapshot, so index values reach the gamma context), and on a websocket
recording; with the default profile and with a different one (the point of the cache: a
profile change re-runs only detection). Also: the key changes with the aggregator settings,
a tape is recorded once, an unreadable tape is replaced, and the marker rules hold.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from test_replay import write_ws_day

from spxcc_core.aggregate.config import AggregatorConfig
from spxcc_core.errors import ConfigError
from spxcc_core.golden.cases import case_names, get_case
from spxcc_core.golden.io import write_flat_files
from spxcc_core.golden.sessions import case_events
from spxcc_core.outputs import MARKER
from spxcc_core.plugins import get_plugin_manager
from spxcc_core.replay.bars import TAPE_FILE, BarsCache, session_digest, tape_key
from spxcc_core.replay.cache import ingest
from spxcc_core.replay.engine import replay_session, run_replay
from spxcc_core.run.profiles import default_profile_toml
from spxcc_core.sample import generate_session


def _golden_flat(case: str, root: Path) -> Path:
    folder = root / case
    write_flat_files(case_events(case), folder, get_case(case).regime.date.isoformat())
    return folder


@pytest.fixture(scope="module")
def looser(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default profile with a 3x instead of 4x volume spike and laxer spread gate."""
    path = tmp_path_factory.mktemp("profile") / "looser.toml"
    text = default_profile_toml(get_plugin_manager())
    assert "spike_multiple = 4.0" in text and "max_avg_spread_bps = 5.0" in text
    path.write_text(text.replace('name = "default"', 'name = "looser"')
                    .replace("spike_multiple = 4.0", "spike_multiple = 3.0")
                    .replace("max_avg_spread_bps = 5.0", "max_avg_spread_bps = 8.0"))
    return path


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gen")
    s = generate_session(root / "samples", seed=41, scale=0.02, date=dt.date(2025, 12, 9))
    return ingest(s.root, root / "cache").root


def _same_outputs(session: Path, tmp: Path, profile: Path | None,
                  cache: BarsCache) -> None:
    full = replay_session(session, profile=profile, out_dir=tmp / "full")
    cached = replay_session(session, profile=profile, out_dir=tmp / "cached", bars_cache=cache)
    assert cached.digests == full.digests
    for name in full.digests:
        assert (tmp / "cached" / name).read_bytes() == (tmp / "full" / name).read_bytes(), name


@pytest.mark.parametrize("case", case_names())
def test_golden_case_from_the_bars_cache_is_byte_identical(case: str, tmp_path: Path,
                                                            looser: Path) -> None:
    flat = _golden_flat(case, tmp_path / "in")
    cache = BarsCache(tmp_path / "bars")
    _same_outputs(flat, tmp_path / "default", None, cache)
    # the second profile reads the tape the first one recorded
    assert len(list(cache.root.iterdir())) == 1
    _same_outputs(flat, tmp_path / "looser", looser, cache)
    assert len(list(cache.root.iterdir())) == 1


def test_generated_session_with_chain_is_byte_identical(generated: Path, tmp_path: Path,
                                                        looser: Path) -> None:
    cache = BarsCache(tmp_path / "bars")
    _same_outputs(generated, tmp_path / "a", None, cache)
    _same_outputs(generated, tmp_path / "b", looser, cache)
    # the chain reached the gamma context: index values are in the report
    run = run_replay(generated, bars_cache=cache)
    assert run.report.index_values > 0
    assert run.report.detection == run_replay(generated).report.detection


def test_websocket_recording_is_byte_identical(tmp_path: Path, looser: Path) -> None:
    rec = write_ws_day(tmp_path / "rec.jsonl")
    _same_outputs(rec, tmp_path / "ws", looser, BarsCache(tmp_path / "bars"))


def test_key_names_content_settings_and_step(generated: Path, tmp_path: Path) -> None:
    digest = session_digest(generated)
    base = tape_key(digest, "cache", None, 60_000)
    assert base == tape_key(digest, "cache", AggregatorConfig(), 60_000)
    assert base != tape_key(digest, "cache", AggregatorConfig(stale_ms=1000), 60_000)
    assert base != tape_key(digest, "cache", None, 30_000)
    assert base != tape_key("0" * 64, "cache", None, 60_000)
    # a recording's key does not depend on the step (it is pushed frame by frame)
    assert tape_key(digest, "websocket", None, 1) == tape_key(digest, "websocket", None, 2)


def test_unreadable_tape_is_recorded_again(generated: Path, tmp_path: Path) -> None:
    cache = BarsCache(tmp_path / "bars")
    tape = cache.tape(generated, step_ms=60_000)
    folder = cache.folder(tape.key)
    assert sorted(p.name for p in folder.iterdir()) == sorted([MARKER, TAPE_FILE])
    (folder / TAPE_FILE).write_bytes(b"\x00 not msgpack")
    assert cache.load(tape.key) is None
    assert cache.tape(generated, step_ms=60_000) == tape
    assert cache.load(tape.key) == tape


def test_a_foreign_folder_under_the_key_is_never_replaced(generated: Path,
                                                          tmp_path: Path) -> None:
    cache = BarsCache(tmp_path / "bars")
    key = tape_key(session_digest(generated), "cache", None, 60_000)
    foreign = cache.folder(key)
    foreign.mkdir(parents=True)
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="was not made by spxcc"):
        cache.tape(generated, step_ms=60_000)
    assert (foreign / "notes.txt").read_text() == "mine"


def test_cache_inside_the_session_is_refused(generated: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="bars cache"):
        BarsCache(generated / "bars").tape(generated, step_ms=60_000)


def test_gate_run_aggregates_each_session_once_and_decides_the_same(
        generated: Path, tmp_path: Path, looser: Path) -> None:
    from spxcc_core.gates.rules import GateRules
    from spxcc_core.gates.runner import run_gates
    from spxcc_core.run.profiles import named_profile

    pm = get_plugin_manager()
    cand = named_profile(pm, str(looser))
    base = named_profile(pm, "default")
    flat = _golden_flat(case_names()[0], tmp_path / "in")
    kwargs = {"candidate": cand, "baseline": base, "sessions": [generated, flat],
              "resamples": 50, "seed": 4, "rules": GateRules(min_trades=1, min_sessions=1)}
    plain = run_gates(**kwargs, out_dir=tmp_path / "plain")  # type: ignore[arg-type]
    cached = run_gates(**kwargs, out_dir=tmp_path / "cached",  # type: ignore[arg-type]
                       bars_cache=tmp_path / "bars")
    assert cached.document == plain.document
    assert len(list((tmp_path / "bars").iterdir())) == 2  # one tape per session
    again = run_gates(**kwargs, bars_cache=tmp_path / "bars")  # type: ignore[arg-type]
    assert again.document == plain.document
