"""The run layer: analyst views (Arrow, polars, pandas), deterministic Parquet, the one homes
of shared helpers, and frames accepted by the aggregation API."""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_replay import T0_MS, write_flat_day, write_ws_day

from spxcc_core.aggregate.arrow import aggregate_arrow
from spxcc_core.cli import main
from spxcc_core.contracts.microbar import MicrobarV1, MicrobarV2
from spxcc_core.errors import ConfigError, InputError
from spxcc_core.hashing import digests, sha256_file, sha256_file_size
from spxcc_core.massive.live import public_url
from spxcc_core.replay.engine import replay_session, run_replay
from spxcc_core.run import PARQUET_FILES, RunResult, to_v1
from spxcc_core.session import NEW_YORK

ROOT = Path(__file__).resolve().parents[1]
OPEN = dt.datetime(2024, 1, 2, 9, 30, tzinfo=NEW_YORK)  # T0_MS


@pytest.fixture(scope="module")
def flat_run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    return run_replay(write_flat_day(tmp_path_factory.mktemp("flat") / "day"))


# ----------------------------------------------------------------------------- analyst views


def test_bars_to_arrow_have_new_york_timestamps(flat_run: RunResult) -> None:
    table = flat_run.to_arrow("bars")
    assert table.column_names[:4] == ["symbol", "startMs", "startTime", "intervalMs"]
    assert table.schema.field("startTime").type == pa.timestamp("ms", tz="America/New_York")
    assert table.column("startMs").to_pylist() == [T0_MS, T0_MS + 1000]
    times = table.column("startTime").to_pylist()
    assert times == [OPEN, OPEN + dt.timedelta(seconds=1)]
    assert times[0].utcoffset() == dt.timedelta(hours=-5)  # EST on 2 January
    # the hand-worked first bar of test_replay: 470.00 / 470.50 / 470.00 / 470.50
    assert table.slice(0, 1).select(["open", "high", "low", "close"]).to_pylist() == [
        {"open": 470.0, "high": 470.5, "low": 470.0, "close": 470.5}]


def test_polars_and_pandas_views(flat_run: RunResult) -> None:
    pl = pytest.importorskip("polars")
    pd = pytest.importorskip("pandas")
    frame = flat_run.to_polars("bars")
    assert frame.schema["startTime"] == pl.Datetime("ms", "America/New_York")
    assert frame["startTime"][0] == OPEN
    pdf = flat_run.to_pandas("bars")
    assert pdf["startTime"].iloc[1] == pd.Timestamp("2024-01-02 09:30:01", tz="America/New_York")
    assert str(pdf["tradeCount"].dtype) == "Int64"
    assert list(pdf["tradeCount"]) == [2, 1]


def test_empty_tables_keep_their_columns(flat_run: RunResult) -> None:
    setups = flat_run.to_arrow("setups")
    decisions = flat_run.to_arrow("decisions")
    assert setups.num_rows == 0 and decisions.num_rows == 0  # no detector fired on 3 trades
    assert {"detectedMs", "detectedTime", "t1Ms", "t1Time", "closedTime"} <= set(
        setups.column_names)
    assert decisions.schema.field("barStartTime").type == pa.timestamp("ms",
                                                                        tz="America/New_York")
    assert pa.types.is_list(decisions.schema.field("checks").type)
    with pytest.raises(ConfigError, match="unknown table"):
        flat_run.to_arrow("orders")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- parquet


def test_parquet_is_deterministic_and_matches_the_jsonl(tmp_path: Path) -> None:
    day = write_flat_day(tmp_path / "day")
    a = replay_session(day, out_dir=tmp_path / "a", fmt="both")
    b = replay_session(day, out_dir=tmp_path / "b", fmt="both")
    plain = replay_session(day, out_dir=tmp_path / "plain")
    for name in PARQUET_FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert a.digests == b.digests
    for name, digest in plain.digests.items():  # JSON Lines and report unchanged by --format
        assert a.digests[name] == digest
    bars = pq.read_table(tmp_path / "a" / "microbars.parquet")
    assert bars.column("startTime").to_pylist() == [OPEN, OPEN + dt.timedelta(seconds=1)]
    assert bars.column("volume").to_pylist() == [400.0, 200.0]  # 100 + 300, then 200


def test_cli_format_parquet_writes_parquet_instead(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    rec = write_ws_day(tmp_path / "rec.jsonl")
    assert main(["replay", str(rec), "--out", str(out), "--format", "parquet"]) == 0
    names = {p.name for p in out.iterdir()}
    assert names == {*PARQUET_FILES, "report.json", "spxcc.sqlite3"}
    assert "outputs ->" in capsys.readouterr().out


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="output format must be one of"):
        replay_session(write_flat_day(tmp_path / "day"), fmt="csv")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- frames in


def _trades() -> dict[str, list[object]]:
    # two trades in one second, one in the next: bars of 2 and 1 trades
    return {"symbol": ["SPY", "SPY", "SPY"],
            "ts": [T0_MS * 1_000_000 + d for d in (100_000_000, 600_000_000, 1_200_000_000)],
            "price": [470.0, 470.5, 470.4], "size": [100.0, 300.0, 200.0]}


def test_aggregate_arrow_accepts_frames_and_batches() -> None:
    pl = pytest.importorskip("polars")
    pd = pytest.importorskip("pandas")
    expected = aggregate_arrow(pa.table(_trades()), None)
    assert expected.column("tradeCount").to_pylist() == [2, 1]
    assert expected.column("close").to_pylist() == [470.5, 470.4]
    for data in (pd.DataFrame(_trades()), pl.DataFrame(_trades()),
                 pa.RecordBatch.from_pydict(_trades())):
        assert aggregate_arrow(data, None).equals(expected), type(data)


def test_aggregate_arrow_refuses_other_objects() -> None:
    with pytest.raises(InputError, match="trades table: expected an Arrow table"):
        aggregate_arrow([1, 2, 3], None)


# ----------------------------------------------------------------------------- one home each


def test_sha256_file_hand_worked(tmp_path: Path) -> None:
    f = tmp_path / "abc"
    f.write_bytes(b"abc")
    abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # FIPS 180-2
    assert sha256_file(f) == abc and sha256_file_size(f) == (abc, 3)
    assert digests({"x": b"abc"}) == {"x": abc}
    (tmp_path / "empty").write_bytes(b"")
    assert sha256_file(tmp_path / "empty") == hashlib.sha256(b"").hexdigest()


def test_public_url_drops_credentials_query_and_fragment() -> None:
    assert public_url("wss://user:pw@socket.example.com:8443/stocks?apiKey=K#x") == (
        "wss://socket.example.com:8443/stocks")


def test_to_v1_keeps_only_the_v1_fields() -> None:
    bar = MicrobarV2(symbol="SPY", start_ms=T0_MS, interval_ms=1000, open=1.0, high=2.0, low=0.5,
                     close=1.5, volume=10.0, trade_count=2, vwap=1.2, delta_volume=3.0,
                     bid_ask_imbalance=0.1, quote_count=4)
    v1 = to_v1(bar)
    assert type(v1) is MicrobarV1
    assert v1 == MicrobarV1(symbol="SPY", start_ms=T0_MS, interval_ms=1000, open=1.0, high=2.0,
                            low=0.5, close=1.5, volume=10.0, trade_count=2, vwap=1.2,
                            delta_volume=3.0, bid_ask_imbalance=0.1)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_run_layer_imports_no_higher_layer() -> None:
    files = [*sorted((ROOT / "spxcc_core" / "run").glob("*.py")), ROOT / "spxcc_core/pipeline.py"]
    for f in files:
        bad = {m for m in _imports(f)
               if m.startswith(("spxcc_core.host", "spxcc_core.cli", "spxcc_core.replay"))}
        assert not bad, f"{f.name} imports {sorted(bad)}"


def test_one_new_york_zone_constant() -> None:
    hits = [p for p in [*ROOT.joinpath("spxcc_core").rglob("*.py"),
                        *ROOT.joinpath("plugins").rglob("*.py")]
            if 'ZoneInfo("America/New_York")' in p.read_text()]
    assert [p.relative_to(ROOT).as_posix() for p in hits] == ["spxcc_core/session.py"]


def test_setup_decision_and_quarantine_times_hand_worked() -> None:
    from spxcc_core.aggregate.report import QuarantineRecord
    from spxcc_core.contracts.setup import GateCheck, GateDecision, SetupInstance

    summer = 1_751_463_000_000  # 2025-07-02 13:30:00 UTC = 09:30 EDT (UTC-4)
    setup = SetupInstance(id="s1", session_id="2025-07-02", detector="vwap", detector_version=1,
                          symbol="SPY", direction="long", entry=1.0, stop=0.5, t1=1.5, t2=2.0,
                          detected_ms=summer, trigger_deadline_ms=summer + 60_000)
    check = GateCheck(gate="spread", input="avgSpreadBps", comparison="<=", threshold=5.0,
                      observed=7.5, passed=False)
    decision = GateDecision(setup_id="s1", session_id="2025-07-02", detector="vwap",
                            detector_version=1, symbol="SPY", direction="long",
                            bar_start_ms=summer, passed=False, checks=(check,))
    quarantined = QuarantineRecord(kind="trade", reason="late", symbol="SPY",
                                   ts=summer * 1_000_000 + 7, seq=None, line=3)
    run = RunResult(bars=[], setups=[setup], decisions=[decision], quarantine=[quarantined],
                    report=None)  # type: ignore[arg-type]  # the views never read the report
    open_edt = dt.datetime(2025, 7, 2, 9, 30, tzinfo=NEW_YORK)
    row = run.to_arrow("setups").to_pylist()[0]
    assert row["detectedTime"] == open_edt and row["detectedTime"].utcoffset() == dt.timedelta(
        hours=-4)
    assert row["triggerDeadlineTime"] == open_edt + dt.timedelta(minutes=1)
    assert row["triggeredMs"] is None and row["triggeredTime"] is None
    d = run.to_arrow("decisions").to_pylist()[0]
    assert d["barStartTime"] == open_edt
    assert d["checks"] == [{"gate": "spread", "input": "avgSpreadBps", "comparison": "<=",
                            "threshold": 5.0, "observed": 7.5, "passed": False}]
    q = run.to_arrow("quarantine")
    assert q.schema.field("time").type == pa.timestamp("ns", tz="America/New_York")
    assert q.column("time").cast(pa.int64()).to_pylist() == [summer * 1_000_000 + 7]
    assert q.column("seq").to_pylist() == [None]


def test_replay_many_writes_parquet_too(tmp_path: Path) -> None:
    import concurrent.futures

    from spxcc_core.replay.executor import replay_many

    day = write_flat_day(tmp_path / "day")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        [result] = replay_many([day], executor=pool, out_root=tmp_path / "runs", fmt="both")
    names = {p.name for p in (tmp_path / "runs" / "000-day").iterdir()}
    assert {*PARQUET_FILES, "microbars.jsonl", "report.json"} <= names
    assert set(result.digests) == {*PARQUET_FILES, "microbars.jsonl", "setups.jsonl",
                                   "gate_decisions.jsonl", "quarantine.jsonl", "report.json"}
    with pytest.raises(ConfigError, match="output format"):
        replay_many([day], fmt="xml")  # type: ignore[arg-type]
