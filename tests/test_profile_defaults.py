"""Core knows no plugin by name: the default profile is derived from each detector's
``params_class`` defaults, and ``ctx.gamma`` is filled by the provider that declares the slot."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import msgspec
import pytest

from spxcc_core.contracts import MicrobarV2
from spxcc_core.contracts.setup import GammaPressure
from spxcc_core.detect.base import ContextProvider, Detector, DetectorParams
from spxcc_core.detect.context import BarContext
from spxcc_core.detect.profile import DEFAULT_PROFILE_TOML, default_profile, profile_hash
from spxcc_core.detect.runner import DetectorRunner
from spxcc_core.errors import PluginError

OPEN_MS = 1_765_549_800_000  # 2025-12-12 09:30 New York


@attrs.frozen(kw_only=True)
class _TunedParams(DetectorParams):
    lookback: int = 17
    edge_bps: float = 0.25


class _Tuned(Detector[_TunedParams]):
    name: ClassVar[str] = "tuned"
    version: ClassVar[int] = 3
    params_class: ClassVar[type[DetectorParams]] = _TunedParams

    def on_bar(self, bar: Any, ctx: Any) -> list[Any]:
        return []


def test_the_core_default_profile_restates_no_detector() -> None:
    # before: DEFAULT_PROFILE_TOML carried [detectors.volume_climax] etc. with every default
    # number of the built-in detectors restated in core
    assert "[detectors." not in DEFAULT_PROFILE_TOML.replace("# [detectors.NAME]", "")
    assert default_profile().detectors == {}


def test_default_profile_tables_come_from_params_class_defaults() -> None:
    prof = default_profile([_Tuned])
    (table,) = prof.detectors.values()
    assert (table.version, table.enabled) == (3, True)
    assert table.params == {"t1_r": 1.0, "t2_r": 2.0, "trigger_window_s": 300.0,
                            "rth_only": True, "lookback": 17, "edge_bps": 0.25}
    runner = DetectorRunner([_Tuned])  # no profile: the derived default
    (r,) = runner.resolved
    assert r.params == _TunedParams() and r.from_profile
    assert msgspec.to_builtins(runner.report())["defaultsUsed"] == []
    # the hash covers the resolved parameters, so deriving the tables does not move it
    assert runner.profile_hash == profile_hash(default_profile(), runner.resolved)


def test_builtin_default_profile_hash_is_unchanged() -> None:
    # profileHash of every committed golden setup: the derived tables resolve to the same values
    from spxcc_core.plugins import get_plugin_manager

    runner = DetectorRunner(get_plugin_manager(load_entrypoints=False))
    assert runner.profile_hash == "e1a954d6a5628683"
    assert msgspec.to_builtins(runner.report())["defaultsUsed"] == []


# ----------------------------------------------------------------------------- context slots


def _bar(symbol: str = "SPY") -> MicrobarV2:
    return MicrobarV2(symbol=symbol, start_ms=OPEN_MS, interval_ms=1000, open=1.0, high=1.0,
                      low=1.0, close=1.0, volume=100.0, trade_count=1, vwap=1.0,
                      delta_volume=100.0, bid_ask_imbalance=None, quote_coverage_pct=50.0,
                      quote_count=1)


GP = GammaPressure(underlying="I:SPX", as_of_ms=OPEN_MS, spot=6000.0, source="oi_baseline",
                   sign_convention="calls:+1,puts:-1,flow:-1", rate=0.0, strikes=(),
                   total_gex=1.0, oi_gex=1.0, flow_gex=0.0)


def _provider(pname: str, slot: str | None) -> type[ContextProvider]:
    class P(ContextProvider):
        name: ClassVar[str] = pname
        version: ClassVar[int] = 1
        context_slot: ClassVar[str | None] = slot

        def on_bar(self, bar: Any, ctx: Any) -> object:
            return GP

    return P


class _Reader(Detector[DetectorParams]):
    name: ClassVar[str] = "reader"
    version: ClassVar[int] = 1
    seen: ClassVar[list[object]] = []

    def on_bar(self, bar: Any, ctx: BarContext) -> list[Any]:
        _Reader.seen.append(ctx.gamma)
        return []


@pytest.mark.parametrize(("pname", "slot", "fills"), [
    ("dealer_gex", "gamma", True),   # any name: the declaration counts
    ("gamma", None, False),          # before: the name "gamma" alone filled ctx.gamma
])
def test_the_declared_slot_fills_ctx_gamma(pname: str, slot: str | None, fills: bool) -> None:
    _Reader.seen.clear()
    runner = DetectorRunner([_Reader], providers=[_provider(pname, slot)])
    runner.on_bar(_bar())
    assert _Reader.seen == [GP if fills else None]


def test_unknown_or_doubly_declared_slots_are_plugin_errors() -> None:
    with pytest.raises(PluginError, match="declares context_slot 'vega'; known slots: gamma"):
        DetectorRunner([_Reader], providers=[_provider("v", "vega")])
    with pytest.raises(PluginError, match="'a' and 'b' both declare context_slot 'gamma'"):
        DetectorRunner([_Reader], providers=[_provider("a", "gamma"), _provider("b", "gamma")])


def test_the_builtin_gamma_provider_declares_its_slot() -> None:
    from spxcc_gamma import GammaProvider

    assert GammaProvider.context_slot == "gamma"
