"""The bars cache: a replay over recorded bars gives the same bytes as a full replay.

Compared file by file (microbars, setups, gate decisions, quarantine, report) on every golden
case (flat files, no chain), on a generated session (a session cache with options and an
option-chain snapshot, so index values reach the gamma context), and on a websocket
recording; with the default profile and with a different one (the point of the cache: a
profile change re-runs only detection). Also: the key changes with the aggregator settings,
a tape is recorded once, an unreadable tape is replaced, and the marker rules hold.

The key's code part (``tape_code``): the same in two calls, two processes and two folders; a
change to the source of any fingerprinted module changes it, a change elsewhere (the CLI,
detection) does not; a tape stored under the old code is not reused; every spxcc module whose
code runs while tapes of all three kinds are recorded is fingerprinted or listed, with its
reason, as unable to change a tape; an install without source falls back to compiled code.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import os
import py_compile
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import msgspec
import pytest
from test_replay import write_ws_day

import spxcc_core
from spxcc_core import hashing
from spxcc_core.aggregate.config import AggregatorConfig
from spxcc_core.errors import ConfigError
from spxcc_core.golden.cases import case_names, get_case
from spxcc_core.golden.io import write_flat_files
from spxcc_core.golden.sessions import case_events
from spxcc_core.outputs import MARKER
from spxcc_core.plugins import get_plugin_manager
from spxcc_core.replay.bars import (
    NOT_TAPE_MODULES,
    TAPE_FILE,
    TAPE_MODULES,
    BarsCache,
    record_tape,
    session_digest,
    tape_code,
    tape_key,
    tape_modules,
)
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
def generated_flat(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated session's flat files (options, index values, a chain snapshot)."""
    root = tmp_path_factory.mktemp("gen")
    return generate_session(root / "samples", seed=41, scale=0.02,
                            date=dt.date(2025, 12, 9)).root


@pytest.fixture(scope="module")
def generated(generated_flat: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same session as a session cache."""
    return ingest(generated_flat, tmp_path_factory.mktemp("gencache") / "cache").root


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


# ----------------------------------------------------------------------------- the code part


@pytest.fixture
def fresh_code() -> Iterator[None]:
    """``tape_code`` computed again in the test (and again after it, unpatched)."""
    tape_code.cache_clear()
    yield
    tape_code.cache_clear()


_module_code = hashing.module_code


def _edit(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Make ``name``'s source (alone) read as one comment line longer, as after an edit."""
    real = _module_code

    def edited(module: str) -> tuple[str, bytes]:
        how, data = real(module)
        return (how, data + b"\n# edited\n") if module == name else (how, data)

    monkeypatch.setattr(hashing, "module_code", edited)
    tape_code.cache_clear()


_CODE_SCRIPT = "from spxcc_core.replay.bars import tape_code; print(tape_code())"


def _code_in_process(pythonpath: Path | None = None) -> str:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
        script = ("import spxcc_core, sys; assert spxcc_core.__file__.startswith(sys.argv[1]), "
                  "spxcc_core.__file__; " + _CODE_SCRIPT)
    else:
        script = _CODE_SCRIPT
    # run from the copy's folder: the current folder comes first on ``python -c``'s path
    out = subprocess.run([sys.executable, "-c", script, str(pythonpath)], env=env, timeout=120,
                         capture_output=True, text=True, check=True,
                         cwd=pythonpath or Path.cwd())
    return out.stdout.strip()


def test_code_part_is_the_same_in_two_calls_and_two_processes(fresh_code: None) -> None:
    code = tape_code()
    assert len(code) == 64 and int(code, 16) >= 0
    assert tape_code() is code  # computed once per process
    assert _code_in_process() == code
    digest = "0" * 64
    assert tape_key(digest, "cache", None, 1) == tape_key(digest, "cache", None, 1, code=code)


def test_code_part_reads_content_not_place(fresh_code: None, tmp_path: Path) -> None:
    """A copy of the package in another folder gives the same value; editing a fingerprinted
    module of the copy changes it, editing the CLI or detection does not."""
    src = Path(spxcc_core.__file__).parent
    code = tape_code()

    def copy(name: str) -> Path:
        root = tmp_path / name
        shutil.copytree(src, root / "spxcc_core",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        return root

    assert _code_in_process(copy("same")) == code
    root = copy("aggregator")
    with (root / "spxcc_core" / "aggregate" / "_kernel.py").open("a") as f:
        f.write("\n# a developer's edit\n")
    assert _code_in_process(root) != code
    root = copy("cli")
    for rel in ("cli/replay.py", "detect/runner.py", "gates/runner.py"):
        with (root / "spxcc_core" / rel).open("a") as f:
            f.write("\n# an edit outside aggregation\n")
    assert _code_in_process(root) == code


def test_every_fingerprinted_module_changes_the_key(fresh_code: None,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    digest = "0" * 64
    base = tape_key(digest, "flatfiles", None, 60_000)
    names = tape_modules()
    assert {"spxcc_core.aggregate._kernel", "spxcc_core.massive.flatfile",
            "spxcc_core.massive.websocket", "spxcc_core.conditions",
            "spxcc_core.replay.engine", "spxcc_core.contracts.microbar"} <= set(names)
    for name in names:
        _edit(monkeypatch, name)
        assert tape_key(digest, "flatfiles", None, 60_000) != base, name
    for name in ("spxcc_core.cli.replay", "spxcc_core.detect.runner", "spxcc_core.outputs"):
        _edit(monkeypatch, name)
        assert tape_key(digest, "flatfiles", None, 60_000) == base, name


def test_a_tape_under_the_old_code_is_not_reused(generated: Path, tmp_path: Path,
                                                 fresh_code: None,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    cache = BarsCache(tmp_path / "bars")
    tape = cache.tape(generated, step_ms=60_000)
    assert len(tape.steps) > 2
    # what a stale tape looks like: other bars under the key of the current code
    stale = msgspec.structs.replace(tape, steps=tape.steps[:1])
    cache.save(stale)
    assert cache.tape(generated, step_ms=60_000) == stale
    _edit(monkeypatch, "spxcc_core.aggregate.engine")  # the aggregator changed
    again = cache.tape(generated, step_ms=60_000)
    assert again.key != tape.key
    assert again.steps == tape.steps  # recorded again, not the stale tape
    assert sorted(p.name for p in cache.root.iterdir()) == sorted([tape.key, again.key])


def test_lists_name_real_modules_and_do_not_overlap() -> None:
    names = set(tape_modules())
    assert set(TAPE_MODULES) <= names
    assert not names & set(NOT_TAPE_MODULES)
    for name in sorted(names | set(NOT_TAPE_MODULES)):
        assert hashing.module_code(name)[0] == "source", name
    assert all(TAPE_MODULES.values()) and all(NOT_TAPE_MODULES.values())


def _origin(name: str) -> str:
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin is not None, name
    return os.path.realpath(spec.origin)


def test_code_that_runs_while_recording_is_fingerprinted_or_explained(
        generated: Path, generated_flat: Path, tmp_path: Path) -> None:
    """Traces every Python function called while tapes are recorded from a golden flat-file
    folder, a generated flat-file folder (options, index values, a chain snapshot), its
    session cache and a websocket recording."""
    sessions = [_golden_flat(case_names()[0], tmp_path / "in"), generated_flat, generated,
                write_ws_day(tmp_path / "rec.jsonl")]
    pkg = os.path.realpath(Path(spxcc_core.__file__).parent) + os.sep
    ran: set[str] = set()

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            ran.add(frame.f_code.co_filename)

    threading.setprofile(profile)
    sys.setprofile(profile)
    try:
        for session in sessions:
            record_tape(session, step_ms=60_000)
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    ours = {os.path.realpath(f) for f in ran if os.path.realpath(f).startswith(pkg)}
    known = {_origin(n): n for n in (*tape_modules(), *NOT_TAPE_MODULES)}
    assert _origin("spxcc_core.aggregate._kernel") in ours  # the trace saw the aggregator
    unexplained = sorted(os.path.relpath(f, pkg) for f in ours - set(known))
    assert not unexplained, f"add to TAPE_MODULES or NOT_TAPE_MODULES: {unexplained}"


# ----------------------------------------------------------------------------- without source


def _probe(root: Path, name: str, text: str) -> Path:
    path = root / f"{name}.py"
    path.write_bytes(text.encode())
    importlib.invalidate_caches()
    return path


def test_module_code_is_content_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path / "a"))
    monkeypatch.syspath_prepend(str(tmp_path / "b"))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _probe(tmp_path / "a", "spxcc_probe_lf", "X = 1\nY = 2\n")
    _probe(tmp_path / "b", "spxcc_probe_crlf", "X = 1\r\nY = 2\r\n")
    assert hashing.module_code("spxcc_probe_lf") == ("source", b"X = 1\nY = 2\n")
    # another folder, other line endings: the same content
    assert hashing.module_code("spxcc_probe_crlf") == hashing.module_code("spxcc_probe_lf")
    assert hashing.module_code("spxcc_probe_missing") == ("absent", b"")
    assert hashing.module_code("spxcc_probe_missing.child") == ("absent", b"")
    one = hashing.code_fingerprint(["spxcc_probe_lf", "spxcc_probe_missing"])
    # sorted, without repeats
    assert hashing.code_fingerprint(["spxcc_probe_missing", "spxcc_probe_lf",
                                     "spxcc_probe_lf"]) == one
    _probe(tmp_path / "a", "spxcc_probe_lf", "X = 1\nY = 3\n")
    assert hashing.code_fingerprint(["spxcc_probe_lf", "spxcc_probe_missing"]) != one


def test_an_install_without_source_falls_back_to_compiled_code(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    src = _probe(tmp_path, "spxcc_probe_pyc", "def f():\n    return 1\n")
    assert hashing.module_code("spxcc_probe_pyc")[0] == "source"
    pyc = tmp_path / "spxcc_probe_pyc.pyc"
    py_compile.compile(str(src), cfile=str(pyc), dfile="spxcc_probe_pyc.py", doraise=True)
    src.unlink()
    importlib.invalidate_caches()
    how, data = hashing.module_code("spxcc_probe_pyc")
    assert how == "compiled"
    assert hashing.module_code("spxcc_probe_pyc") == (how, data)  # stable
    fp = hashing.code_fingerprint(["spxcc_probe_pyc"])
    src = _probe(tmp_path, "spxcc_probe_pyc", "def f():\n    return 2\n")
    py_compile.compile(str(src), cfile=str(pyc), dfile="spxcc_probe_pyc.py", doraise=True)
    src.unlink()
    importlib.invalidate_caches()
    assert hashing.module_code("spxcc_probe_pyc")[0] == "compiled"
    assert hashing.code_fingerprint(["spxcc_probe_pyc"]) != fp
