"""Replay engine: parity with the batch engine, determinism, sources, isolation, the store."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spxcc_core.aggregate import aggregate_columns
from spxcc_core.contracts.microbar import MicrobarV2
from spxcc_core.contracts.replay import WebsocketCounts
from spxcc_core.contracts.setup import GateDecision, SetupInstance
from spxcc_core.detect.base import Detector, DetectorParams
from spxcc_core.errors import ConfigError, InputError
from spxcc_core.hookspecs import hookimpl
from spxcc_core.plugins import get_plugin_manager
from spxcc_core.replay.cache import ingest, open_cache
from spxcc_core.replay.engine import OUTPUT_FILES, replay_session, run_replay
from spxcc_core.replay.wire import ReplayReport
from spxcc_core.sample import generate_session
from spxcc_core.setups.store import SetupStore
from spxcc_core.store.sqlite import Store

TRADES_HEADER = ("ticker,conditions,correction,exchange,id,participant_timestamp,price,"
                 "sequence_number,sip_timestamp,size,tape,trf_id,trf_timestamp")
QUOTES_HEADER = ("ticker,ask_exchange,ask_price,ask_size,bid_exchange,bid_price,bid_size,"
                 "conditions,indicators,participant_timestamp,sequence_number,sip_timestamp,"
                 "tape,trf_timestamp")
T0_MS = 1_704_205_800_000  # 2024-01-02 09:30:00 New York
MS = 1_000_000

#: (ms after T0, price, size, seq)
TRADES = [(100, 470.00, 100, 1), (600, 470.50, 300, 2), (1_200, 470.40, 200, 3)]
#: (ms after T0, bid, bid size, ask, ask size, seq)
QUOTES = [(0, 469.99, 2, 470.01, 4, 11), (1_100, 470.39, 3, 470.41, 1, 12)]

bar_decoder = msgspec.json.Decoder(MicrobarV2)
setup_decoder = msgspec.json.Decoder(SetupInstance)
decision_decoder = msgspec.json.Decoder(GateDecision)
report_decoder = msgspec.json.Decoder(ReplayReport)


def write_flat_day(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "trades-2024-01-02.csv").write_text(TRADES_HEADER + "\n" + "".join(
        f"SPY,,0,11,{seq},0,{p},{seq},{(T0_MS + dt) * MS},{s},2,0,0\n"
        for dt, p, s, seq in TRADES))
    (folder / "quotes-2024-01-02.csv").write_text(QUOTES_HEADER + "\n" + "".join(
        f"SPY,12,{a},{az},11,{b},{bz},,,0,{seq},{(T0_MS + dt) * MS},2,0\n"
        for dt, b, bz, a, az, seq in QUOTES))
    return folder


def write_ws_day(path: Path) -> Path:
    frames = [[{"ev": "status", "status": "connected", "message": "hi"}]]
    events: list[tuple[int, dict[str, Any]]] = []
    for dt, p, s, seq in TRADES:
        events.append((dt, {"ev": "T", "sym": "SPY", "p": p, "s": s, "t": T0_MS + dt, "q": seq}))
    for dt, b, bz, a, az, seq in QUOTES:
        events.append((dt, {"ev": "Q", "sym": "SPY", "bp": b, "bs": bz, "ap": a, "as": az,
                            "t": T0_MS + dt, "q": seq}))
    events.sort(key=lambda e: e[0])
    frames += [[e] for _, e in events]
    frames.append([{"ev": "V", "T": "I:SPX", "val": 4742.5, "t": T0_MS + 1_500}])
    path.write_text("\n".join(json.dumps(f) for f in frames) + "\n")
    return path


def read_lines(path: Path, decoder: msgspec.json.Decoder[Any]) -> list[Any]:
    return [decoder.decode(line) for line in path.read_bytes().splitlines()]


@pytest.fixture(scope="module")
def sample_cache(tmp_path_factory: pytest.TempPathFactory):
    s = generate_session(tmp_path_factory.mktemp("sample"), scale=0.05)
    return s, ingest(s.root, tmp_path_factory.mktemp("cache") / "c")


@pytest.fixture(scope="module")
def sample_run(sample_cache, tmp_path_factory: pytest.TempPathFactory):
    _, cache = sample_cache
    out = tmp_path_factory.mktemp("replay")
    return replay_session(cache.root, out_dir=out), out


# ----------------------------------------------------------------------------- hand-worked


def test_hand_worked_bars_from_flat_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = replay_session(write_flat_day(tmp_path / "day"), out_dir=out)
    bars = read_lines(out / "microbars.jsonl", bar_decoder)
    assert [(b.symbol, b.start_ms) for b in bars] == [("SPY", T0_MS), ("SPY", T0_MS + 1000)]
    first, second = bars
    assert (first.open, first.high, first.low, first.close) == (470.00, 470.50, 470.00, 470.50)
    assert first.volume == 400 and first.trade_count == 2
    # vwap = (470.00*100 + 470.50*300) / 400 = 188150 / 400
    assert first.vwap == pytest.approx(470.375)
    assert (second.open, second.close, second.volume, second.trade_count) == (470.40, 470.40,
                                                                              200, 1)
    r = result.report
    assert (r.aggregation.trades, r.aggregation.quotes, r.aggregation.applied) == (3, 2, 5)
    assert r.outputs["microbars.jsonl"] == 2
    assert r.source.kind == "flatfiles" and r.source.session_date == "2024-01-02"
    assert sorted(p.name for p in out.iterdir()) == sorted([*OUTPUT_FILES, "spxcc.sqlite3"])


def test_websocket_recording_gives_the_same_bars_as_flat_files(tmp_path: Path) -> None:
    flat = replay_session(write_flat_day(tmp_path / "day"), out_dir=tmp_path / "a")
    ws = replay_session(write_ws_day(tmp_path / "rec.jsonl"), out_dir=tmp_path / "b")
    assert ws.digests["microbars.jsonl"] == flat.digests["microbars.jsonl"]
    assert ws.report.source.kind == "websocket"
    assert ws.report.source.recording == "rec.jsonl"
    assert ws.report.index_values == 1
    assert ws.report.websocket == WebsocketCounts(events=7, trades=3, quotes=2, values=1,
                                                  statuses={"connected": 1}, unknown={})


# ----------------------------------------------------------------------------- parity


def test_microbars_equal_the_batch_engine(sample_cache, sample_run) -> None:
    _, cache = sample_cache
    _, out = sample_run
    batch = aggregate_columns(
        itertools.chain(cache.batches("stocks_trades"), cache.batches("options_trades")),
        itertools.chain(cache.batches("stocks_quotes"), cache.batches("options_quotes")),
        symbols=cache.symbol_table(), conditions=cache.condition_table())
    assert len(batch.bars) > 1000
    assert (out / "microbars.jsonl").read_bytes() == msgspec.json.Encoder().encode_lines(
        batch.bars)
    report = report_decoder.decode((out / "report.json").read_bytes())
    assert report.aggregation == batch.report


@settings(max_examples=6, deadline=None)
@given(step_ms=st.integers(min_value=200, max_value=4 * 3_600_000))
def test_outputs_do_not_depend_on_the_replay_clock_step(sample_cache, sample_run,
                                                        step_ms: int) -> None:
    _, cache = sample_cache
    expected, _ = sample_run
    again = replay_session(cache, step_ms=step_ms)
    assert again.digests == expected.digests


def test_flat_file_folder_replays_like_its_cache(sample_cache, sample_run) -> None:
    sample, _ = sample_cache
    expected, _ = sample_run
    direct = replay_session(sample.root)
    for name in ("microbars.jsonl", "setups.jsonl", "gate_decisions.jsonl", "quarantine.jsonl"):
        assert direct.digests[name] == expected.digests[name], name
    assert direct.report.source.kind == "flatfiles"
    assert direct.report.source.datasets == expected.report.source.datasets


def test_two_runs_are_byte_identical_and_path_free(sample_cache, sample_run,
                                                   tmp_path: Path) -> None:
    _, cache = sample_cache
    first, out1 = sample_run
    out2 = tmp_path / "second"
    second = replay_session(cache.root, out_dir=out2)
    assert second.digests == first.digests
    for name in OUTPUT_FILES:
        data = (out2 / name).read_bytes()
        assert data == (out1 / name).read_bytes()
        assert str(tmp_path).encode() not in data and str(cache.root).encode() not in data


# ----------------------------------------------------------------------------- report and store


def test_report_agrees_with_the_output_files(sample_run) -> None:
    result, out = sample_run
    setups = read_lines(out / "setups.jsonl", setup_decoder)
    decisions = read_lines(out / "gate_decisions.jsonl", decision_decoder)
    report = report_decoder.decode((out / "report.json").read_bytes())
    assert report == result.report
    assert setups, "the sample session should produce setups"
    assert report.outputs == {"microbars.jsonl": len((out / "microbars.jsonl").read_bytes()
                                                     .splitlines()),
                              "setups.jsonl": len(setups), "gate_decisions.jsonl": len(decisions),
                              "quarantine.jsonl": len((out / "quarantine.jsonl").read_bytes()
                                                      .splitlines())}
    by_detector: dict[str, int] = {}
    for s in setups:
        by_detector[s.detector] = by_detector.get(s.detector, 0) + 1
    assert report.setups_by_detector == by_detector
    assert sum(d.passed for d in decisions) == len(setups)
    reasons: dict[str, dict[str, int]] = {}
    for d in decisions:
        for c in d.checks:
            if not c.passed:
                per = reasons.setdefault(d.detector, {})
                per[c.gate] = per.get(c.gate, 0) + 1
    for name, gates in report.detection.gates.items():
        assert gates.reasons == reasons.get(name, {})
    triggered = [s for s in setups if s.triggered_ms is not None]
    assert report.outcomes.triggered == len(triggered)
    assert report.outcomes.t1_hits == sum(1 for s in triggered if s.t1_ms is not None)
    assert report.outcomes.open == 0  # the session end closes every setup
    assert report.plugin_errors == []
    assert sum(report.aggregation.quarantined.values()) + report.aggregation.duplicates == \
        report.outputs["quarantine.jsonl"]
    # decisions are ordered by bar start, then symbol
    keys = [(d.bar_start_ms, d.symbol) for d in decisions]
    assert keys == sorted(keys)


def test_store_holds_the_final_setups_and_a_rerun_adds_no_rows(sample_cache, sample_run,
                                                                 tmp_path: Path) -> None:
    _, cache = sample_cache
    _, out = sample_run
    setups = read_lines(out / "setups.jsonl", setup_decoder)
    with Store(out / "spxcc.sqlite3") as db:
        stored = SetupStore(db).query()
    assert stored == setups
    db_path = tmp_path / "shared.sqlite3"
    replay_session(cache, store=db_path)
    with Store(db_path) as db:
        run_replay(cache, store=db)
        (rows,) = db.conn.execute("SELECT COUNT(*) FROM spx_setup_instances").fetchone()
        assert rows == len(setups)
        assert SetupStore(db).query() == setups


# ----------------------------------------------------------------------------- isolation


class Boom(Detector[DetectorParams]):
    name = "boom"
    version = 1
    params_class = DetectorParams

    def on_bar(self, bar: Any, ctx: Any) -> list[Any]:
        raise ValueError("boom on every bar")


class BoomPlugin:
    @hookimpl
    def spxcc_register_detectors(self) -> list[type[Detector[Any]]]:
        return [Boom]


class BadObserver:
    @hookimpl
    def spxcc_on_microbar(self, bar: Any, context: Any) -> None:
        if bar.symbol.startswith("O:"):
            raise RuntimeError("no options here")


def test_failing_detector_and_observer_are_isolated_and_named(sample_cache, sample_run) -> None:
    _, cache = sample_cache
    _, out = sample_run
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(BoomPlugin(), name="boom_plugin")
    pm.register(BadObserver(), name="bad_observer")
    run = run_replay(cache, pm=pm)
    bars = run.report.detection.bars
    option_bars = sum(1 for b in run.bars if b.symbol.startswith("O:"))
    assert option_bars > 0
    errors = {(e.plugin, e.hook): e.error for e in run.report.plugin_errors}
    assert errors == {
        ("bad_observer", "spxcc_on_microbar"): f"RuntimeError: no options here ({option_bars} times)",
        ("boom", "on_bar"): f"ValueError: boom on every bar ({bars} times)",
    }
    setups = read_lines(out / "setups.jsonl", setup_decoder)
    assert [(s.id, s.status, s.realized_r) for s in run.setups] == \
        [(s.id, s.status, s.realized_r) for s in setups]


def test_detector_selection(sample_cache) -> None:
    _, cache = sample_cache
    run = run_replay(cache, detectors=["vwap"])
    assert set(run.report.detection.detectors) == {"vwap"}
    assert {s.detector for s in run.setups} <= {"vwap"}
    with pytest.raises(ConfigError, match=r"unknown detector 'nope' \(installed: "):
        run_replay(cache, detectors=["nope"])


# ----------------------------------------------------------------------------- bad input


def test_bad_sessions(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="session not found"):
        replay_session(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="not a session"):
        replay_session(tmp_path / "notes.txt")
    (tmp_path / "bad.jsonl").write_text('[{"ev":"T","sym":"SPY"}]\n')
    with pytest.raises(InputError, match=r"bad\.jsonl"):
        replay_session(tmp_path / "bad.jsonl", out_dir=tmp_path / "out")
    assert not any((tmp_path / "out").glob("*.jsonl"))
    with pytest.raises(ConfigError, match="step_ms"):
        replay_session(tmp_path / "notes.txt", step_ms=0)


def test_quarantined_events_are_written(tmp_path: Path) -> None:
    day = write_flat_day(tmp_path / "day")
    with open(day / "trades-2024-01-02.csv", "a") as fh:
        fh.write(f"SPY,,0,11,9,0,-1,9,{(T0_MS + 1_300) * MS},10,2,0,0\n")
    out = tmp_path / "out"
    result = replay_session(day, out_dir=out)
    lines = (out / "quarantine.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in lines] == [{"kind": "trade", "reason": "bad_price",
                                               "symbol": "SPY", "ts": (T0_MS + 1_300) * MS,
                                               "seq": 9, "line": 4}]
    assert result.report.aggregation.quarantined == {"bad_price": 1}


def test_open_cache_is_accepted_as_session(sample_cache) -> None:
    _, cache = sample_cache
    assert run_replay(open_cache(cache.root)).report.source.kind == "cache"


def test_a_chain_argument_replaces_the_caches_snapshot(tmp_path: Path) -> None:
    from test_gamma_provider import _write_day

    from spxcc_core.chain import parse_chain_snapshot

    day = _write_day(tmp_path / "day")  # a chain of the 4740 strike, I:SPX 4742.25 every second
    own = run_replay(day).report.detection.session_end["2024-01-02"]["SPY"]["gamma"]
    assert [s["strike"] for s in own["strikes"]] == [4740.0]
    other = parse_chain_snapshot(json.dumps({"status": "OK", "results": [
        {"details": {"contract_type": "call", "expiration_date": "2024-01-02",
                     "shares_per_contract": 100, "strike_price": 4750,
                     "ticker": "O:SPXW240102C04750000"},
         "implied_volatility": 0.12, "open_interest": 10,
         "underlying_asset": {"ticker": "I:SPX", "value": 4742.0}}]}).encode())
    run = run_replay(day, chain=other)
    close = run.report.detection.session_end["2024-01-02"]["SPY"]["gamma"]
    assert [s["strike"] for s in close["strikes"]] == [4750.0]
    assert close["spot"] == own["spot"] == pytest.approx(4740.5)  # index stale at 16:00
    assert close["source"] == "oi_baseline"  # the 4740 call's trades are not this chain's flow
    assert run.report.index_values == 150
