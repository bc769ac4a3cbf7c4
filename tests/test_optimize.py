"""``spxcc optimize``: the search space, the screening pass, walk-forward and the gate handoff.

The screening pass is checked against the full replay (its trades equal
``trades_from_run``) on every golden case and a generated session with a chain, under two
profiles. The optimizer is checked for determinism (same seed → the same bytes, whatever
``--jobs``), for each fail-closed stop (too little data, throughput collapse) and for never
touching the active profile.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from spxcc_core.cli import main
from spxcc_core.detect.profile import parse_profile
from spxcc_core.errors import ConfigError
from spxcc_core.gates.optimize import _trial, run_optimize, score
from spxcc_core.gates.rules import GateRules
from spxcc_core.gates.screen import Screener, ScreenSession, scan_screen, screen, screen_with_runner
from spxcc_core.gates.search import DEFAULT_SPACE_TOML, candidate_toml, parse_space
from spxcc_core.gates.trades import SessionTrades, Trade, trades_from_run
from spxcc_core.golden.cases import case_names, get_case
from spxcc_core.golden.io import write_flat_files
from spxcc_core.golden.sessions import case_events
from spxcc_core.plugins import get_plugin_manager
from spxcc_core.replay.bars import MemoryBars
from spxcc_core.replay.cache import ingest
from spxcc_core.replay.engine import DEFAULT_STEP_MS, run_replay
from spxcc_core.run.profiles import default_profile_toml, named_profile
from spxcc_core.sample import generate_session

PM = get_plugin_manager()


def _params() -> dict[str, type]:
    from spxcc_core.detect.runner import DETECTORS
    from spxcc_core.registry import as_registry

    return {c.name: c.params_class for c in as_registry(PM).classes(DETECTORS)}


LOOSER = (default_profile_toml(PM).replace('name = "default"', 'name = "looser"')
          .replace("spike_multiple = 4.0", "spike_multiple = 3.0")
          .replace("max_avg_spread_bps = 5.0", "max_avg_spread_bps = 8.0"))


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Six generated session caches on consecutive weekdays (given newest first)."""
    root = tmp_path_factory.mktemp("opt")
    out = []
    for i, day in enumerate(("2025-12-01", "2025-12-02", "2025-12-03", "2025-12-04",
                             "2025-12-05", "2025-12-08")):
        s = generate_session(root / "samples", seed=400 + i, scale=0.01,
                             date=dt.date.fromisoformat(day))
        out.append(str(ingest(s.root, root / f"cache-{day}").root))
    return out[::-1]


@pytest.fixture(autouse=True)
def _store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPXCC_DB", str(tmp_path / "profiles.sqlite3"))


# ----------------------------------------------------------------------------- screening


def _screen_equals_replay(session: Path | str) -> ScreenSession:
    """The first profile records the provider values, the next ones replay them."""
    bars = MemoryBars()
    taped = bars.prepare(session, config=None, step_ms=DEFAULT_STEP_MS)
    s = ScreenSession.of(taped.tape, taped.chain)
    screener = Screener.of(PM)
    for text in (default_profile_toml(PM), LOOSER, LOOSER.replace("window_bars = 300",
                                                                  "window_bars = 100")):
        prof = parse_profile(text)
        want = trades_from_run(run_replay(session, profile=prof, pm=PM))
        assert screen_with_runner(screener, prof, s) == want
        assert scan_screen(screener, prof, s) == want  # compiled
    return s


@pytest.mark.parametrize("case", case_names())
def test_screening_equals_the_full_replay_on_golden_cases(case: str, tmp_path: Path) -> None:
    folder = tmp_path / case
    write_flat_files(case_events(case), folder, get_case(case).regime.date.isoformat())
    _screen_equals_replay(folder)


def test_screening_equals_the_full_replay_with_a_chain(days: list[str]) -> None:
    s = _screen_equals_replay(days[0])
    # gamma values were recorded, once per context setting (window 300, then 100)
    assert len(s.memo) == 2 and all(len(v) > 0 for v in s.memo.values())


#: Every kind of parameter the compiled screen must follow (outcome policy, RTH, gating).
WIDE_SPACE = DEFAULT_SPACE_TOML + """
[gating.long_min_bid_ask_imbalance]
low = -1.0
high = 0.5

[gating.missing]
values = ["block", "pass"]

[outcome.t1_fraction]
values = [0.0, 0.5, 1.0]

[outcome.breakeven_after_t1]
values = [true, false]

[detectors.vwap.rth_only]
values = [true, false]

[detectors.vwap.min_bars_beyond]
low = 1
high = 40

[detectors.vwap.cooldown_bars]
low = 0
high = 90

[detectors.volume_climax.rth_only]
values = [true, false]

[detectors.volume_climax.baseline_bars]
low = 30
high = 200

[detectors.orb_pullback.or_minutes]
low = 1
high = 30

[detectors.orb_pullback.signals_per_side]
low = 1
high = 3

[detectors.orb_pullback.t1_r]
low = 0.5
high = 1.5
"""


def test_compiled_screening_equals_the_runner_on_random_profiles(days: list[str]) -> None:
    """30 random profiles over two generated sessions: the compiled screen and the runner
    give the same trades (R to the bit) and block reasons."""
    bars = MemoryBars()
    sessions = [ScreenSession.of(t.tape, t.chain) for t in (
        bars.prepare(d, config=None, step_ms=DEFAULT_STEP_MS) for d in days[:2])]
    screener = Screener.of(PM)
    space = parse_space(WIDE_SPACE, _params())
    versions = {n: 1 for n in _params()}
    base = default_profile_toml(PM)
    trades = 0
    for a in space.trials(30, 7):
        prof = parse_profile(candidate_toml(base, a, name="wide", detector_versions=versions))
        for s in sessions:
            fast = scan_screen(screener, prof, s)
            assert fast is not None
            assert fast == screen_with_runner(screener, prof, s), a
            trades += len(fast.trades)
    assert trades > 100  # not vacuous


def test_screening_falls_back_to_the_runner(days: list[str]) -> None:
    """An [ev_floor] profile (its verdicts follow earlier outcomes) is not compiled."""
    bars = MemoryBars()
    taped = bars.prepare(days[0], config=None, step_ms=DEFAULT_STEP_MS)
    s = ScreenSession.of(taped.tape, taped.chain)
    screener = Screener.of(PM)
    prof = parse_profile(default_profile_toml(PM) + "\n[ev_floor]\n")
    assert scan_screen(screener, prof, s) is None
    assert screen(screener, prof, s) == screen_with_runner(screener, prof, s)


def test_what_the_kernels_cannot_hold_goes_to_the_runner(days: list[str]) -> None:
    """An infinite trigger window (its deadline is no int64), an integer past int64 and a
    bar outside the microbar contract (a NaN close, indistinguishable from a null in the
    columns) are declined, never raised; ``screen`` then gives the runner's trades."""
    import msgspec

    bars = MemoryBars()
    taped = bars.prepare(days[0], config=None, step_ms=DEFAULT_STEP_MS)
    s = ScreenSession.of(taped.tape, taped.chain)
    screener = Screener.of(PM)
    base = default_profile_toml(PM)
    for change in ({"detectors.vwap.trigger_window_s": float("inf")},
                   {"detectors.orb_pullback.signals_per_side": 10**20}):
        text = candidate_toml(base, change, name="odd", detector_versions={
            "vwap": 1, "orb_pullback": 1})
        prof = parse_profile(text)
        assert scan_screen(screener, prof, s) is None
        assert screen(screener, prof, s) == screen_with_runner(screener, prof, s)
    k = next(i for i, (_, b) in enumerate(s.steps) if b)
    index, first = s.steps[k]
    odd = ScreenSession(s.session_date, s.chain, (
        *s.steps[:k],
        (index, (msgspec.structs.replace(first[0], close=float("nan")), *first[1:])),
        *s.steps[k + 1:]))
    prof = parse_profile(base)
    assert scan_screen(screener, prof, odd) is None
    assert scan_screen(screener, prof, s) is not None


def test_score_and_eligibility_by_hand() -> None:
    day = SessionTrades("2025-12-01", (Trade(1.5, True, 1), Trade(-1.0, False, 2),
                                       Trade(None, False, 3)), {})
    # 3 trades, closed R 1.5 - 1.0 = 0.5 over 2 closed trades
    assert score([day, day]) == (6, 1.0, 4)
    t = _trial(1, "x", {}, (6, 1.0, 4), 2, floor=4.0)
    # 6 trades / 2 sessions = 3.0 < floor 4.0: not eligible; expectancy 1.0 / 4 = 0.25
    assert (t.trades_per_session, t.expectancy_r, t.eligible) == (3.0, 0.25, False)
    assert t.reason == "throughput 3.000 trades/session below the floor 4.000"
    assert _trial(1, "x", {}, (8, 1.0, 4), 2, floor=4.0).eligible


# ----------------------------------------------------------------------------- search space


def test_default_space_parses_and_draws_within_ranges() -> None:
    space = parse_space(DEFAULT_SPACE_TOML, _params())
    names = [p.name for p in space.parameters]
    assert names == sorted(names) and "detectors.volume_climax.spike_multiple" in names
    draws = list(space.trials(200, seed=5))
    assert draws == list(space.trials(200, seed=5))  # seeded
    spikes = [d["detectors.volume_climax.spike_multiple"] for d in draws]
    assert all(2.5 <= v <= 5.0 for v in spikes) and len(set(spikes)) > 150
    assert {d["gating.min_quote_coverage_pct"] for d in draws} == {60.0, 70.0, 80.0, 90.0}


def test_grid_by_hand() -> None:
    space = parse_space('method = "grid"\n'
                        "[gating.max_avg_spread_bps]\nlow = 0.5\nhigh = 1.0\nstep = 0.25\n"
                        "[detectors.vwap.cooldown_bars]\nvalues = [10, 20]\n", _params())
    # sorted by name: detectors.vwap.cooldown_bars first, then gating.max_avg_spread_bps;
    # 0.5..1.0 by 0.25 is 0.5, 0.75, 1.0 -> 2 x 3 = 6 points, the last name varying fastest
    assert space.size() == 6
    assert [tuple(d.values()) for d in space.trials(10, seed=0)] == [
        (10, 0.5), (10, 0.75), (10, 1.0), (20, 0.5), (20, 0.75), (20, 1.0)]
    assert len(list(space.trials(4, seed=0))) == 4


def test_integer_range_draws_integers() -> None:
    space = parse_space("[detectors.vwap.cooldown_bars]\nlow = 10\nhigh = 12\n", _params())
    values = {d["detectors.vwap.cooldown_bars"] for d in space.trials(100, seed=1)}
    assert values == {10, 11, 12}


@pytest.mark.parametrize(("text", "message"), [
    ("[gating.max_spread]\nvalues = [1.0]\n", "unknown parameter 'max_spread'"),
    ("[detectors.vwap.confirm]\nvalues = [1.0]\n", "unknown parameter 'confirm'"),
    ("[detectors.nope.x]\nvalues = [1.0]\n", "detector 'nope' is not installed"),
    ("[risk.x]\nvalues = [1.0]\n", "unknown key 'risk'"),
    ("[gating.max_avg_spread_bps]\nvalues = [1.0]\nlow = 1.0\n", "not both"),
    ("[gating.max_avg_spread_bps]\nlow = 1.0\nhigh = 2.0\nsteps = 1\n", "unknown key 'steps'"),
    ("[gating.max_avg_spread_bps]\nlow = 3.0\nhigh = 2.0\n", "low 3.0 is above high 2.0"),
    ('method = "grid"\n[gating.max_avg_spread_bps]\nlow = 1.0\nhigh = 2.0\n', "needs 'step'"),
    ('method = "annealing"\n', "method must be 'random' or 'grid'"),
    ("", "names no parameter"),
])
def test_bad_spaces_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_space(text, _params())


def test_candidate_toml_sets_the_drawn_values() -> None:
    text = candidate_toml(default_profile_toml(PM), {
        "gating.max_avg_spread_bps": 6.5, "detectors.vwap.cooldown_bars": 7},
        name="default-optimized", detector_versions={"vwap": 1})
    prof = parse_profile(text)
    assert prof.name == "default-optimized"
    assert prof.gating.max_avg_spread_bps == 6.5
    assert prof.detectors["vwap"].params["cooldown_bars"] == 7
    # everything else as in the default
    default = parse_profile(default_profile_toml(PM))
    assert prof.outcome == default.outcome
    assert prof.detectors["orb_pullback"] == default.detectors["orb_pullback"]


# ----------------------------------------------------------------------------- the run


def _rules() -> GateRules:
    return GateRules(min_trades=1, min_sessions=2)


def test_same_seed_same_bytes_whatever_jobs(days: list[str]) -> None:
    space = parse_space(DEFAULT_SPACE_TOML, _params())
    base = named_profile(PM, "default")
    kw = {"baseline": base, "sessions": days, "space": space, "trials": 4, "seed": 11,
          "rules": _rules(), "resamples": 100, "pm": PM}
    one = run_optimize(**kw)  # type: ignore[arg-type]
    two = run_optimize(**kw, jobs=2)  # type: ignore[arg-type]
    assert one.document == two.document
    rec = json.loads(one.document)
    # walk-forward: 6 sessions x 0.6 -> 3 fit (the earliest), 3 judge
    assert [s["sessionDate"] for s in rec["fitSessions"]] == ["2025-12-01", "2025-12-02",
                                                              "2025-12-03"]
    assert [s["sessionDate"] for s in rec["judgeSessions"]] == ["2025-12-04", "2025-12-05",
                                                                "2025-12-08"]
    assert [r["trial"] for r in rec["results"]] == [0, 1, 2, 3, 4]
    assert rec["results"][0]["profileId"] == base.id
    other = run_optimize(**{**kw, "seed": 12})  # type: ignore[arg-type]
    assert other.document != one.document


def test_a_compiled_screen_that_disagrees_is_replaced_by_the_runner(
        days: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The optimizer re-screens the baseline and its best candidate with the runner; when
    the compiled screen disagrees (here: made to drop each session's last trade), every
    profile is scored by the runner and the record says so."""
    import attrs

    from spxcc_core.gates import optimize

    space = parse_space(DEFAULT_SPACE_TOML, _params())
    kw = {"baseline": named_profile(PM, "default"), "sessions": days, "space": space,
          "trials": 4, "seed": 11, "rules": _rules(), "resamples": 100, "pm": PM}
    honest = run_optimize(**kw)  # type: ignore[arg-type]

    def wrong(screener: Screener, profile: object, session: ScreenSession) -> SessionTrades:
        t = screen(screener, profile, session)  # type: ignore[arg-type]
        return attrs.evolve(t, trades=t.trades[:-1])

    monkeypatch.setattr(optimize, "screen", wrong)
    fixed = run_optimize(**kw)  # type: ignore[arg-type]
    rec, ref = json.loads(fixed.document), json.loads(honest.document)
    assert rec["reasons"][0].startswith("the compiled screening disagreed with the detector "
                                        "runner")
    assert rec["results"] == ref["results"]
    assert rec["reasons"][1:] == ref["reasons"] and rec["decision"] == ref["decision"]


def test_the_top_k_candidates_are_rechecked_not_only_the_best(
        days: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The baseline and the ``recheck`` best eligible candidates are re-screened by the
    runner. A compiled screen wrong only for the 2nd-best candidate (one extra open trade:
    its trade count changes, its total R and so the ranking do not) goes unnoticed with
    ``recheck=1`` — that candidate's row is wrong — and is caught with ``recheck=2`` and
    the default: every profile is then scored by the runner, the first reason says so and
    the record is the honest one."""
    import attrs

    from spxcc_core.gates import optimize
    from spxcc_core.run.profiles import profile_id

    space = parse_space(DEFAULT_SPACE_TOML, _params())
    kw = {"baseline": named_profile(PM, "default"), "sessions": days, "space": space,
          "trials": 6, "seed": 11, "rules": _rules(), "resamples": 100, "pm": PM}
    honest = json.loads(run_optimize(**kw).document)  # type: ignore[arg-type]
    ranked = sorted((r for r in honest["results"][1:] if r["eligible"]),
                    key=lambda r: (-r["totalR"], r["trial"]))
    assert len(ranked) >= 2, honest["results"]
    second = ranked[1]["profileId"]

    def wrong(screener: Screener, profile: object, session: ScreenSession) -> SessionTrades:
        t = screen(screener, profile, session)  # type: ignore[arg-type]
        if profile_id(PM, profile) != second:  # type: ignore[arg-type]
            return t
        return attrs.evolve(t, trades=(*t.trades, Trade(None, False, 10**15)))

    monkeypatch.setattr(optimize, "screen", wrong)
    missed = json.loads(run_optimize(**kw, recheck=1).document)  # type: ignore[arg-type]
    assert missed["reasons"] == honest["reasons"]
    row = next(r for r in missed["results"] if r["profileId"] == second)
    assert row["trades"] == ranked[1]["trades"] + len(missed["fitSessions"])
    for k in (2, 3, None):
        got = json.loads(run_optimize(**kw, **({} if k is None else {"recheck": k}))
                         .document)  # type: ignore[arg-type]
        assert got["reasons"][0].startswith("the compiled screening disagreed with the "
                                            "detector runner")
        assert got["results"] == honest["results"]
        assert got["reasons"][1:] == honest["reasons"] and got["decision"] == honest["decision"]


def test_recheck_zero_checks_the_baseline_only_and_a_negative_one_is_refused(
        days: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from spxcc_core.gates import optimize

    checked: list[str] = []
    runner = optimize.screen_with_runner

    def counting(screener: Screener, profile: object, session: ScreenSession) -> SessionTrades:
        checked.append(profile.name)  # type: ignore[attr-defined]
        return runner(screener, profile, session)  # type: ignore[arg-type]

    monkeypatch.setattr(optimize, "screen_with_runner", counting)
    space = parse_space(DEFAULT_SPACE_TOML, _params())
    kw = {"baseline": named_profile(PM, "default"), "sessions": days, "space": space,
          "trials": 4, "seed": 11, "rules": _rules(), "resamples": 100, "pm": PM}
    run_optimize(**kw, recheck=0)  # type: ignore[arg-type]
    assert checked == ["default"] * 3  # the baseline on each of the 3 fit sessions
    checked.clear()
    rec = json.loads(run_optimize(**kw, recheck=2).document)  # type: ignore[arg-type]
    eligible = sum(r["eligible"] for r in rec["results"][1:])
    assert checked == ["default"] * 3 + ["default-optimized"] * 3 * min(2, eligible)
    with pytest.raises(ConfigError, match=r"--recheck must be an integer >= 0, got -1"):
        run_optimize(**kw, recheck=-1)  # type: ignore[arg-type]
    assert main(["optimize", "--sessions", *days, "--trials", "2", "--seed", "1",
                 "--recheck", "-1", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err == "spxcc: error: --recheck must be an integer >= 0, got -1\n"
    assert not (tmp_path / "o").exists()


def test_too_little_data_stops_before_searching(days: list[str], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["optimize", "--sessions", *days[:3], "--trials", "3", "--seed", "1",
                 "--out", str(tmp_path / "o")])
    assert code == 1
    rec = json.loads((tmp_path / "o" / "optimize.json").read_bytes())
    # 3 sessions x 0.6 -> 1 fit, 2 judge < the gate's 5 sessions
    assert rec["status"] == "insufficient_data" and rec["results"] == []
    assert "1 fit and 2 judge sessions" in rec["reasons"][0]
    assert not (tmp_path / "o" / "decision.json").exists()
    out = capsys.readouterr().out
    assert "optimize: insufficient_data" in out
    assert "(0 candidates," in out  # nothing was searched (a review saw "-1 candidates")


def test_walk_forward_never_fits_and_judges_one_day(days: list[str], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(days[0], copy)
    code = main(["optimize", "--sessions", *days[:3], str(copy), "--trials", "1", "--seed", "1",
                 "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert f"sessions {days[0]} and {copy} are the same day" in err
    assert main(["optimize", "--sessions", days[0], days[0], "--trials", "1", "--seed", "1",
                 "--out", str(tmp_path / "o")]) == 2
    assert "is given twice" in capsys.readouterr().err


def test_throughput_collapse_leaves_the_active_profile(days: list[str], tmp_path: Path) -> None:
    space = tmp_path / "space.toml"
    # a 0.0001 bps spread cap blocks every candidate: no trade at all
    space.write_text("[gating.max_avg_spread_bps]\nvalues = [0.0001]\n")
    code = main(["optimize", "--sessions", *days, "--trials", "2", "--seed", "1", "--space",
                 str(space), "--min-sessions", "2", "--out", str(tmp_path / "o")])
    assert code == 1
    rec = json.loads((tmp_path / "o" / "optimize.json").read_bytes())
    assert rec["status"] == "throughput_collapse" and rec["decision"] is None
    assert all(not r["eligible"] for r in rec["results"][1:])
    assert rec["results"][0]["trades"] > 0
    assert main(["profile", "show"]) == 0  # still the built-in default, nothing promoted
    assert not (tmp_path / "o" / "candidate.toml").exists()


def test_gate_handoff_writes_the_gate_record_and_never_promotes(
        days: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["optimize", "--sessions", *days, "--trials", "4", "--seed", "11",
                 "--min-sessions", "2", "--min-trades", "1", "--resamples", "100",
                 "--out", str(tmp_path / "o"), "--json"])
    rec = json.loads(capsys.readouterr().out)
    assert rec == json.loads((tmp_path / "o" / "optimize.json").read_bytes())
    # these small sessions: a candidate beats the baseline on the fit days, and three judge
    # days are too few trades for the gate's intervals
    assert (rec["status"], rec["decision"], code) == ("gated", "insufficient_evidence", 1)
    decision = json.loads((tmp_path / "o" / "decision.json").read_bytes())
    assert decision["decision"] == rec["decision"]
    assert decision["candidate"]["id"] == rec["candidate"]["id"]
    assert [s["source"] for s in decision["sessions"]] == [
        s["source"] for s in rec["judgeSessions"]]
    assert rec["promoteCommand"] is None
    best = rec["results"][rec["best"]]
    assert best["eligible"] and best["totalR"] > rec["results"][0]["totalR"]
    assert parse_profile((tmp_path / "o" / "candidate.toml").read_text()).name == \
        "default-optimized"
    # the active profile is still the built-in default
    assert main(["profile", "show"]) == 0
    assert "e1a954d6a5628683" in capsys.readouterr().out.splitlines()[0]


@pytest.mark.parametrize("how", ["--db", "$SPXCC_DB"])
def test_a_missing_store_reads_as_empty_and_is_not_created(
        how: str, days: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The baseline 'active' of a store file that does not exist is the built-in default, and
    a run that records nothing (too little data: no candidate) leaves no file and no folder."""
    store = tmp_path / "typo" / "profiles.sqlite3"
    extra = ["--db", str(store)] if how == "--db" else []
    if how == "$SPXCC_DB":
        monkeypatch.setenv("SPXCC_DB", str(store))
    code = main(["optimize", "--sessions", *days[:3], "--trials", "3", "--seed", "1",
                 "--out", str(tmp_path / "o"), "--json", *extra])
    rec = json.loads(capsys.readouterr().out)
    assert code == 1 and rec["status"] == "insufficient_data"
    default = named_profile(get_plugin_manager(load_entrypoints=False), "default")
    assert rec["baseline"]["id"] == default.id
    assert not store.exists() and not store.parent.exists()


def test_a_missing_store_is_created_when_a_candidate_is_recorded(
        days: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "new" / "profiles.sqlite3"
    code = main(["optimize", "--sessions", *days, "--trials", "4", "--seed", "11",
                 "--min-sessions", "2", "--min-trades", "1", "--resamples", "100",
                 "--out", str(tmp_path / "o"), "--json", "--db", str(store)])
    rec = json.loads(capsys.readouterr().out)
    assert code == 1 and rec["candidate"] is not None
    assert store.is_file()
    monkeypatch.setenv("SPXCC_DB", str(store))
    assert main(["profile", "history", "--json"]) == 0  # recorded, none promoted
    assert json.loads(capsys.readouterr().out)["active"] is None


def test_bad_input_is_one_line(days: list[str], tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    space = tmp_path / "space.toml"
    space.write_text("[gating.max_spread_bps]\nvalues = [1.0]\n")
    assert main(["optimize", "--sessions", *days, "--trials", "2", "--seed", "1", "--space",
                 str(space), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown parameter 'max_spread_bps'" in err
    assert main(["optimize", "--sessions", *days, "--trials", "0", "--seed", "1",
                 "--out", str(tmp_path / "o")]) == 2
    assert "--trials must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.fixture(scope="module")
def eight_days(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    root = tmp_path_factory.mktemp("eight")
    out = []
    for i, day in enumerate(("2025-12-01", "2025-12-02", "2025-12-03", "2025-12-04",
                             "2025-12-05", "2025-12-08", "2025-12-09", "2025-12-10")):
        s = generate_session(root / "samples", seed=300 + i, scale=0.02,
                             date=dt.date.fromisoformat(day))
        out.append(str(ingest(s.root, root / f"cache-{day}").root))
    return out


def test_a_promote_decision_is_left_to_a_person(eight_days: list[str], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    code = main(["optimize", "--sessions", *eight_days, "--trials", "6", "--seed", "3",
                 "--fit-fraction", "0.5", "--min-sessions", "3", "--min-trades", "3",
                 "--resamples", "200", "--out", str(out)])
    printed = capsys.readouterr().out
    rec = json.loads((out / "optimize.json").read_bytes())
    assert (code, rec["status"], rec["decision"]) == (0, "gated", "promote")
    command = f"spxcc profile promote {rec['candidate']['id']} --decision {out / 'decision.json'}"
    assert rec["promoteCommand"] == command and command in printed
    # nothing was promoted: the built-in default is still active
    assert main(["profile", "show"]) == 0
    assert "e1a954d6a5628683" in capsys.readouterr().out.splitlines()[0]
    # the person's command works: the candidate and its decision are in the store
    assert main(command.split()[1:]) == 0
    capsys.readouterr()
    assert main(["profile", "show"]) == 0
    assert rec["candidate"]["id"] in capsys.readouterr().out.splitlines()[0]


def test_docs_show_the_built_in_space() -> None:
    docs = (Path(__file__).resolve().parent.parent / "docs" / "release-gates.md").read_text()
    body = DEFAULT_SPACE_TOML.split("\n", 1)[1]  # without the comment line
    assert f"```toml\n{body}```" in docs
