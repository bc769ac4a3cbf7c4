"""The ``gamma`` context provider: hand-worked GEX on a two-strike chain, the flow proxy from
option microbars, the spot rule, the recompute cadence, and ``ctx.gamma`` reaching a detector in
a real replay before and after the first option trade."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import msgspec
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from spxcc_gamma import GammaParams, GammaProvider

from spxcc_core.chain import ChainSnapshot
from spxcc_core.contracts.microbar import MicrobarV1, MicrobarV2
from spxcc_core.contracts.setup import GammaPressure, SetupCandidate
from spxcc_core.detect.base import Detector, DetectorParams
from spxcc_core.detect.context import BarContext
from spxcc_core.detect.market import SessionMarket
from spxcc_core.detect.runner import DetectorRunner
from spxcc_core.gamma import MS_PER_YEAR, OptionChain
from spxcc_core.hookspecs import hookimpl
from spxcc_core.replay.engine import replay_session
from spxcc_core.session import get_calendar

OPEN = 1_710_163_800_000  # 2024-03-11 09:30 New York (13:30 UTC)
DAY = get_calendar().session("2024-03-11")
AS_OF = OPEN + 1_000  # end of the first 1-second bar
NS = 1_000_000

# Hand-worked Black–Scholes gamma at S = 100, T = 1 year, σ = 0.2, r = q = 0:
#   K = 100: d1 = (ln 1 + 0.02) / 0.2 = 0.1; φ(0.1) = e^−0.005 / √(2π) = 0.3969525475;
#            gamma = φ / (S σ √T) = 0.3969525475 / 20 = 0.0198476274
#   K = 110: d1 = (ln(100/110) + 0.02) / 0.2 = (−0.0953101798 + 0.02) / 0.2 = −0.3765508990;
#            φ(d1) = e^−0.0708952899 / √(2π) = 0.9315676... / 2.5066282746 = 0.3716384437;
#            gamma = 0.3716384437 / 20 = 0.0185819222
# GEX per contract = gamma × 100 × S² × 0.01 = gamma × 10 000:
UNIT_100 = 198.47627374
UNIT_110 = 185.81922183
# OI: C100 1000, P100 500, C110 2000, P110 300 (dealers long calls +, short puts −):
#   K=100: call +1000 × 198.47627374 = +198 476.27374, put −500 × 198.47627374 = −99 238.13687
#   K=110: call +2000 × 185.81922183 = +371 638.44366, put −300 × 185.81922183 = −55 745.76655
#   OI total = 99 238.13687 + 315 892.67711 = 415 130.81398
# Flow (customers against dealers, flow sign −1): C110 +40 contracts bought, P100 10 sold:
#   K=110: −1 × (+40) × 185.81922183 = −7 432.76887; K=100: −1 × (−10) × 198.47627374 = +1 984.76274
#   flow total = −5 448.00613; K=110 net = 315 892.67711 − 7 432.76887 = 308 459.90824


def snapshot(expiry_ms: int = AS_OF + MS_PER_YEAR) -> ChainSnapshot:
    chain = OptionChain(strike=[100.0, 100.0, 110.0, 110.0], is_call=[True, False, True, False],
                        expiry_ms=[expiry_ms] * 4, open_interest=[1000, 500, 2000, 300],
                        iv=[0.2] * 4, bid=[np.nan] * 4, ask=[np.nan] * 4,
                        symbols=("O:C100", "O:P100", "O:C110", "O:P110"))
    return ChainSnapshot(underlying="I:SPX", underlying_price=100.0, chain=chain)


def bar(symbol: str, start_ms: int, close: float | None = 10.0, *,
        delta: float = 0.0) -> MicrobarV2:
    return MicrobarV2(symbol=symbol, start_ms=start_ms, interval_ms=1000, open=close,
                      high=close, low=close, close=close, volume=abs(delta) or 100.0,
                      trade_count=1, vwap=close, delta_volume=delta, bid_ask_imbalance=0.0,
                      ask_bid_size_ratio=1.0, quote_coverage_pct=100.0, avg_spread_bps=1.0,
                      bid_size_at_close=10.0, ask_size_at_close=10.0, quote_count=1)


def setup(symbol: str = "SPY", params: GammaParams | None = None,
          snap: ChainSnapshot | None = None) -> tuple[GammaProvider, SessionMarket, BarContext]:
    market = SessionMarket(get_calendar())
    market.set_chain(snap if snap is not None else snapshot(), "2024-03-11")
    provider = GammaProvider(params if params is not None else GammaParams(), symbol=symbol)
    provider.market = market
    return provider, market, BarContext(symbol, DAY)


def step(provider: GammaProvider, ctx: BarContext, b: MicrobarV2) -> GammaPressure | None:
    ctx.advance(b)
    return provider.on_bar(b, ctx)


def by_strike(gp: GammaPressure) -> dict[float, Any]:
    return {s.strike: s for s in gp.strikes}


# ----------------------------------------------------------------------------- hand-worked


def test_oi_baseline_by_hand_on_two_strikes() -> None:
    provider, _, ctx = setup()
    gp = step(provider, ctx, bar("SPY", OPEN, 10.0))  # no index value: spot = 10 × 10 = 100
    assert gp is not None
    assert (gp.underlying, gp.spot, gp.as_of_ms) == ("I:SPX", 100.0, AS_OF)
    assert gp.source == "oi_baseline"
    assert gp.sign_convention == "calls:+1,puts:-1"
    k = by_strike(gp)
    assert sorted(k) == [100.0, 110.0]
    assert k[100.0].call_gex == pytest.approx(198_476.27374, rel=1e-8)
    assert k[100.0].put_gex == pytest.approx(-99_238.13687, rel=1e-8)
    assert k[110.0].call_gex == pytest.approx(371_638.44366, rel=1e-8)
    assert k[110.0].put_gex == pytest.approx(-55_745.76655, rel=1e-8)
    assert k[110.0].flow_gex == 0.0
    assert gp.oi_gex == pytest.approx(415_130.81398, rel=1e-8)
    assert gp.total_gex == gp.oi_gex and gp.flow_gex == 0.0


def test_flow_proxy_from_option_microbars_by_hand() -> None:
    provider, market, ctx = setup()
    market.observe(bar("O:C110", OPEN, 2.0, delta=40.0))  # 40 contracts buyer-initiated
    market.observe(bar("O:P100", OPEN, 3.0, delta=-10.0))  # 10 contracts seller-initiated
    gp = step(provider, ctx, bar("SPY", OPEN, 10.0))
    assert gp is not None
    assert gp.source == "oi_baseline+flow_proxy"
    assert gp.sign_convention == "calls:+1,puts:-1,flow:-1"
    k = by_strike(gp)
    assert k[110.0].flow_gex == pytest.approx(-7_432.76887, rel=1e-8)
    assert k[100.0].flow_gex == pytest.approx(1_984.76274, rel=1e-8)
    assert gp.flow_gex == pytest.approx(-5_448.00613, rel=1e-8)
    assert k[110.0].net_gex == pytest.approx(308_459.90824, rel=1e-8)
    assert gp.total_gex == pytest.approx(415_130.81398 - 5_448.00613, rel=1e-8)
    assert market.flow_bars == 2


def test_sign_convention_parameters_are_written_out() -> None:
    provider, market, ctx = setup(params=GammaParams(put_sign=1, flow_sign=1))
    market.observe(bar("O:C110", OPEN, 2.0, delta=40.0))
    gp = step(provider, ctx, bar("SPY", OPEN, 10.0))
    assert gp is not None
    assert gp.sign_convention == "calls:+1,puts:+1,flow:+1"
    assert by_strike(gp)[110.0].put_gex == pytest.approx(55_745.76655, rel=1e-8)
    assert gp.flow_gex == pytest.approx(7_432.76887, rel=1e-8)


# ----------------------------------------------------------------------------- spot rule


def test_index_value_is_preferred_while_fresh_then_the_proxy_times_ten() -> None:
    provider, market, ctx = setup(params=GammaParams(recompute_s=1.0))
    # I:SPX 100.0 stamped 0.5 s before the first bar's end; SPY says 10.5 (× 10 = 105)
    market.add_index_values("I:SPX", np.array([(AS_OF - 500) * NS]), np.array([100.0]))
    first = step(provider, ctx, bar("SPY", OPEN, 10.5))
    assert first is not None and first.spot == 100.0
    # 5.5 s later the value is older than index_max_age_s = 5: SPY × 10
    later = step(provider, ctx, bar("SPY", OPEN + 5_000, 10.5))
    assert later is not None and later.spot == 105.0
    # a value stamped at the bar's end is not "before" it
    market.add_index_values("I:SPX", np.array([(OPEN + 7_000) * NS]), np.array([99.0]))
    at_end = step(provider, ctx, bar("SPY", OPEN + 6_000, 10.5))
    assert at_end is not None and at_end.spot == 105.0


def test_bars_of_the_underlying_itself_use_their_close() -> None:
    provider, _, ctx = setup("I:SPX")
    gp = step(provider, ctx, bar("I:SPX", OPEN, 100.0))
    assert gp is not None and gp.spot == 100.0
    assert by_strike(gp)[100.0].call_gex == pytest.approx(198_476.27374, rel=1e-8)


# ----------------------------------------------------------------------------- cadence, nulls


def test_recompute_at_most_once_per_slot_on_an_aligned_grid() -> None:
    provider, market, ctx = setup(params=GammaParams(recompute_s=60.0))
    # OPEN (13:30:00 UTC) is a multiple of 60 s: slots start at OPEN, OPEN + 60 s, ...
    out = [step(provider, ctx, bar("SPY", OPEN + s * 1000, 10.0)) for s in range(0, 125, 5)]
    computed = [OPEN + s * 1000 for s, v in zip(range(0, 125, 5), out, strict=True)
                if v is not None]
    assert computed == [OPEN, OPEN + 60_000, OPEN + 120_000]
    # the option bar below ends after 13:31:01 → not in the 13:31:00 value, in the 13:32:00 one
    provider2, market2, ctx2 = setup()
    market2.observe(bar("O:C110", OPEN + 61_000, 2.0, delta=5.0))
    v1 = step(provider2, ctx2, bar("SPY", OPEN + 60_000, 10.0))
    v2 = step(provider2, ctx2, bar("SPY", OPEN + 120_000, 10.0))
    assert v1 is not None and v1.source == "oi_baseline"
    assert v2 is not None and v2.source == "oi_baseline+flow_proxy"
    assert market.flow_as_of(OPEN + 200_000) is None  # first market: no option bar at all


def test_nothing_without_chain_for_other_symbols_days_or_prices() -> None:
    provider = GammaProvider(GammaParams(), symbol="SPY")
    ctx = BarContext("SPY", DAY)
    assert step(provider, ctx, bar("SPY", OPEN)) is None  # no market
    provider.market = SessionMarket(get_calendar())
    assert step(provider, ctx, bar("SPY", OPEN + 1000)) is None  # market without chain
    other, _, octx = setup("QQQ")
    assert step(other, octx, bar("QQQ", OPEN)) is None
    opt, _, cctx = setup("O:C100")
    assert step(opt, cctx, bar("O:C100", OPEN)) is None
    nxt, _, nctx = setup()
    next_day = get_calendar().session("2024-03-12")
    nctx = BarContext("SPY", next_day)
    assert step(nxt, nctx, bar("SPY", next_day.open_ms or 0)) is None
    noprice, _, pctx = setup()
    assert step(noprice, pctx, bar("SPY", OPEN, None)) is None


def test_flow_counts_only_chain_contracts_since_the_open() -> None:
    _, market, _ = setup()
    market.observe(bar("O:C100", OPEN - 60_000, 2.0, delta=7.0))  # pre-market: not counted
    market.observe(bar("O:OTHER", OPEN, 2.0, delta=9.0))  # not in the chain
    assert market.flow_as_of(OPEN + 3_600_000) is None
    market.observe(bar("O:C100", OPEN + 10_000, 2.0, delta=3.0))
    market.observe(bar("O:C100", OPEN + 20_000, 2.0, delta=-1.0))
    assert market.flow_as_of(OPEN + 10_999) is None  # the first bar ends at +11 s
    flow = market.flow_as_of(OPEN + 11_000)
    assert flow is not None and flow.tolist() == [3.0, 0.0, 0.0, 0.0]
    flow = market.flow_as_of(OPEN + 21_000)
    assert flow is not None and flow.tolist() == [2.0, 0.0, 0.0, 0.0]


@given(st.lists(st.tuples(st.sampled_from(["O:C100", "O:P100", "O:C110", "O:X"]),
                          st.integers(-120, 600), st.integers(-50, 50)), max_size=40),
       st.integers(0, 700), st.randoms(use_true_random=False))
def test_flow_is_the_sum_of_chain_bars_ended_by_the_instant_in_any_order(
        items: list[tuple[str, int, int]], at_s: int, rnd: Any) -> None:
    _, market, _ = setup()
    shuffled = list(items)
    rnd.shuffle(shuffled)
    for sym, sec, delta in shuffled:
        market.observe(bar(sym, OPEN + sec * 1000, 2.0, delta=float(delta)))
    flow = market.flow_as_of(OPEN + at_s * 1000)
    rows = {"O:C100": 0, "O:P100": 1, "O:C110": 2}
    counted = [(rows[s], d) for s, sec, d in items
               if s in rows and sec >= 0 and sec + 1 <= at_s]
    if not counted:
        assert flow is None
        return
    expected = [0.0] * 4
    for r, d in counted:
        expected[r] += d
    assert flow is not None and flow.tolist() == expected


def test_parameters_are_validated() -> None:
    with pytest.raises(ValueError, match="flow_sign"):
        GammaParams(flow_sign=0)
    with pytest.raises(ValueError, match="recompute_s"):
        GammaParams(recompute_s=0.0)
    with pytest.raises(ValueError, match="proxy_ratio"):
        GammaParams(proxy_ratio=-10.0)


def test_time_to_expiry_is_floored_for_0dte() -> None:
    # expiry 1 minute after the bar's end: T would be 1 min, the 5-minute floor applies.
    # K = 100, S = 100, σ = 0.2, T = 5 / 525 600 = 9.5129376e-6: √T = 0.00308430504,
    # σ√T = 0.00061686101; d1 = 0.5 σ√T = 0.00030843050, φ(d1) = 0.39894226 (e^−4.8e-8 / √(2π))
    # → gamma = φ / (100 × 0.00061686101) = 6.4672958; GEX per contract = 64 672.958
    # → C100 × 1000 = 64 672 958
    provider, _, ctx = setup(snap=snapshot(expiry_ms=AS_OF + 60_000))
    gp = step(provider, ctx, bar("SPY", OPEN, 10.0))
    assert gp is not None
    assert by_strike(gp)[100.0].call_gex == pytest.approx(64_672_958.0, rel=1e-7)


# ----------------------------------------------------------------------------- in the runner


class _Recorder(Detector[DetectorParams]):
    name: ClassVar[str] = "gamma_recorder"
    version: ClassVar[int] = 1
    seen: ClassVar[list[tuple[str, int, str | None, int | None, float | None]]] = []

    def on_bar(self, bar: MicrobarV1, ctx: BarContext) -> list[SetupCandidate]:
        g = ctx.gamma
        type(self).seen.append((bar.symbol, bar.start_ms, g.source if g else None,
                                g.as_of_ms if g else None, g.spot if g else None))
        assert ctx.extra.get("gamma") is g
        return []


def test_runner_hands_the_market_to_providers_and_reports_the_close() -> None:
    _Recorder.seen = []
    runner = DetectorRunner([_Recorder], providers=[GammaProvider])
    runner.market.set_chain(snapshot(), "2024-03-11")
    runner.on_bar(bar("SPY", OPEN, 10.0))
    runner.on_bar(bar("O:C110", OPEN + 1_000, 2.0, delta=40.0))
    runner.on_bar(bar("SPY", OPEN + 59_000, 10.0))
    runner.on_bar(bar("SPY", OPEN + 60_000, 10.0))
    runner.finish()
    assert _Recorder.seen == [
        ("SPY", OPEN, "oi_baseline", AS_OF, 100.0),
        ("O:C110", OPEN + 1_000, None, None, None),
        ("SPY", OPEN + 59_000, "oi_baseline", AS_OF, 100.0),  # same 60 s slot: previous value
        ("SPY", OPEN + 60_000, "oi_baseline+flow_proxy", OPEN + 61_000, 100.0),
    ]
    report = msgspec.to_builtins(runner.report())
    assert report["errors"] == {}
    close = report["sessionEnd"]["2024-03-11"]["SPY"]["gamma"]
    assert close["asOfMs"] == DAY.close_ms and close["source"] == "oi_baseline+flow_proxy"
    assert close["spot"] == 100.0 and list(report["sessionEnd"]["2024-03-11"]) == ["SPY"]


def test_runner_without_chain_reports_no_session_end() -> None:
    runner = DetectorRunner([_Recorder], providers=[GammaProvider])
    runner.on_bar(bar("SPY", OPEN, 10.0))
    runner.finish()
    assert "sessionEnd" not in msgspec.to_builtins(runner.report())


# ----------------------------------------------------------------------------- replay


T0 = 1_704_205_800_000  # 2024-01-02 09:30:00 New York
CALL = "O:SPXW240102C04740000"
PUT = "O:SPXW240102P04740000"


def _write_day(folder: Path) -> Path:
    """SPY trades (474.05) and quotes every second 09:30:00–09:32:29, I:SPX (4742.25) every
    second, SPXW 4740 call trades at 09:30:20.5 and 09:30:40.5 (at the ask: buyer-initiated),
    call quotes every 5 s."""
    folder.mkdir(parents=True)
    st = ["ticker,conditions,correction,exchange,id,participant_timestamp,price,"
          "sequence_number,sip_timestamp,size,tape,trf_id,trf_timestamp"]
    sq = ["ticker,ask_exchange,ask_price,ask_size,bid_exchange,bid_price,bid_size,conditions,"
          "indicators,participant_timestamp,sequence_number,sip_timestamp,tape,trf_timestamp"]
    iv = ["ticker,value,timestamp"]
    for s in range(150):
        t = (T0 + s * 1000) * NS
        st.append(f"SPY,,0,11,{s + 1},0,474.05,{s + 1},{t + 200 * NS},100,2,0,0")
        sq.append(f"SPY,12,474.06,5,11,474.04,5,,,0,{1000 + s},{t + 100 * NS},2,0")
        iv.append(f"I:SPX,4742.25,{t + 50 * NS}")
    ot = ["ticker,conditions,correction,exchange,participant_timestamp,price,sip_timestamp,size"]
    oq = ["ticker,ask_exchange,ask_price,ask_size,bid_exchange,bid_price,bid_size,"
          "sequence_number,sip_timestamp"]
    for s in (20, 40):
        ot.append(f"{CALL},209,0,302,0,5.1,{(T0 + s * 1000 + 500) * NS},7")
    for s in range(0, 150, 5):
        oq.append(f"{CALL},302,5.1,10,302,4.9,10,{s + 1},{(T0 + s * 1000 + 300) * NS}")
    for name, rows in (("trades", st), ("quotes", sq), ("values", iv),
                       ("options-trades", ot), ("options-quotes", oq)):
        (folder / f"{name}-2024-01-02.csv").write_text("\n".join(rows) + "\n")
    chain = {"status": "OK", "results": [
        {"details": {"contract_type": c, "expiration_date": "2024-01-02",
                     "shares_per_contract": 100, "strike_price": 4740, "ticker": t},
         "implied_volatility": 0.12, "open_interest": oi,
         "underlying_asset": {"ticker": "I:SPX", "value": 4742.0}}
        for c, t, oi in (("call", CALL, 1200), ("put", PUT, 900))]}
    (folder / "chain_snapshot").mkdir()
    (folder / "chain_snapshot" / "2024-01-02.json").write_text(json.dumps(chain))
    return folder


def test_replay_gives_detectors_gamma_before_and_after_the_first_option_trade(
        tmp_path: Path, spxcc_pm: Any, spxcc_register: Any) -> None:
    class Plugin:
        @hookimpl
        def spxcc_register_detectors(self) -> list[type[Detector[Any]]]:
            return [_Recorder]

    _Recorder.seen = []
    spxcc_register(Plugin(), name="gamma-recorder")
    result = replay_session(_write_day(tmp_path / "day"), pm=spxcc_pm,
                            detectors=["gamma_recorder"])
    spy = [x[1:] for x in _Recorder.seen if x[0] == "SPY"]
    assert len(spy) == 150
    first_trade = T0 + 20_500
    assert spy[0][0] < first_trade
    # the provider recomputes on the first bar of each minute; the option bar of 09:30:20 is
    # final once the 09:30:40 trade arrives, and is in the 09:31:00 value onwards
    for start, src, as_of, spot in spy:
        assert src == ("oi_baseline" if start < T0 + 60_000 else "oi_baseline+flow_proxy")
        assert as_of == start // 60_000 * 60_000 + 1_000
        assert spot == 4742.25  # the fresh I:SPX value, not SPY × 10 = 4740.5
    options = [x for x in _Recorder.seen if x[0] == CALL]
    assert [x[1] for x in options] == [T0 + 20_000, T0 + 40_000]
    assert all(x[2] is None for x in options)  # no gamma on option bars
    close = result.report.detection.session_end["2024-01-02"]["SPY"]["gamma"]
    assert close["source"] == "oi_baseline+flow_proxy" and close["underlying"] == "I:SPX"
    assert close["asOfMs"] == T0 + 390 * 60_000  # 16:00 New York
    assert close["spot"] == pytest.approx(4740.5)  # index stale at 16:00: SPY × 10
    # flow: 14 contracts bought → the dealer is short them: flow GEX < 0 at the 4740 strike
    assert close["flowGex"] < 0 and close["strikes"][0]["flowGex"] == close["flowGex"]
    assert result.report.plugin_errors == []


def test_demo_shows_the_gamma_context_at_the_close(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from spxcc_core.cli import main

    assert main(["demo", "--scale", "0.02", "--cache-dir", str(tmp_path), "--json"]) == 0
    replay = json.loads(capsys.readouterr().out)["replay"]
    report = json.loads((Path(replay["outDir"]) / "report.json").read_text())
    close = report["detection"]["sessionEnd"]["2025-12-12"]["SPY"]["gamma"]
    top = max(close["strikes"], key=lambda s: abs(s["netGex"]))
    g = replay["gamma"]
    assert (g["symbol"], g["underlying"], g["source"]) == ("SPY", "I:SPX",
                                                           "oi_baseline+flow_proxy")
    assert g["netGex"] == close["totalGex"] and g["spot"] == close["spot"]
    assert (g["maxStrike"], g["maxStrikeGex"]) == (top["strike"], top["netGex"])
    assert g["asOfMs"] == get_calendar().session("2025-12-12").close_ms
    assert len(close["strikes"]) == 21  # the sample chain: 21 strikes, 5 points apart
    assert main(["demo", "--scale", "0.02", "--cache-dir", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "gamma at close: net GEX" in text and "oi_baseline+flow_proxy" in text
