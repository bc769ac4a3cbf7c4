"""Plugin manager factory: order, autoload switch, validation, isolation."""

from __future__ import annotations

import pytest

from spxcc_core.contracts import MicrobarV2
from spxcc_core.errors import PluginError
from spxcc_core.hookspecs import hookimpl
from spxcc_core.plugins import (
    BUILTIN_PLUGINS,
    PluginFailure,
    call_isolated,
    get_plugin_manager,
    require_unique_names,
)


def _bar(symbol: str = "SPY", start_ms: int = 0) -> MicrobarV2:
    return MicrobarV2(symbol=symbol, start_ms=start_ms, interval_ms=1000, open=1.0, high=1.0,
                      low=1.0, close=1.0, volume=100.0, trade_count=1, vwap=1.0,
                      delta_volume=100.0, bid_ask_imbalance=None, quote_coverage_pct=50.0,
                      quote_count=1)


def test_builtins_registered_without_entrypoints() -> None:
    pm = get_plugin_manager(load_entrypoints=False)
    for name in BUILTIN_PLUGINS:
        assert pm.get_plugin(name) is not None


def test_blocked_builtin_is_not_registered() -> None:
    pm = get_plugin_manager(load_entrypoints=False, blocked=["spxcc_observers"])
    assert pm.get_plugin("spxcc_observers") is None


def test_entrypoints_do_not_register_builtins_twice() -> None:
    pm = get_plugin_manager(load_entrypoints=True)
    names = [pm.get_name(p) for p in pm.get_plugins()]
    assert len(names) == len(set(names))


def test_misspelled_hook_fails_loudly(spxcc_pm: object) -> None:
    class Bad:
        @hookimpl
        def spxcc_on_microbars(self, bar: object) -> None:  # typo on purpose
            pass

    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(Bad(), name="bad")
    with pytest.raises(Exception, match="unknown hook"):
        pm.check_pending()


def test_on_microbar_observer_and_run_summary() -> None:
    pm = get_plugin_manager(load_entrypoints=False)
    ctx = {"run_id": "t1", "engine": "batch", "interval_ms": 1000}
    failures: list[PluginFailure] = []
    call_isolated(pm, "spxcc_on_microbar", failures, bar=_bar(), context=ctx)
    call_isolated(pm, "spxcc_on_microbar", failures, bar=_bar(start_ms=1000), context=ctx)
    lines = call_isolated(pm, "spxcc_on_run_end", failures, report={}, context=ctx)
    assert failures == []
    assert lines == [["SPY: 2 bars, volume 200, delta +200, mean quote coverage 50.0%"]]


def test_raising_plugin_is_isolated_and_named(spxcc_pm, spxcc_register) -> None:  # type: ignore[no-untyped-def]
    class Boom:
        @hookimpl
        def spxcc_on_microbar(self, bar: object) -> None:
            raise ValueError("boom")

    spxcc_register(Boom(), name="boom")
    failures: list[PluginFailure] = []
    call_isolated(spxcc_pm, "spxcc_on_microbar", failures, bar=_bar(),
                  context={"run_id": "t2"})
    assert [f.as_dict() for f in failures] == [
        {"plugin": "boom", "hook": "spxcc_on_microbar", "error": "ValueError: boom"}]
    call_isolated(spxcc_pm, "spxcc_on_run_end", failures, report={}, context={"run_id": "t2"})


def test_require_unique_names() -> None:
    class A:
        name = "a"

    class B:
        name = "a"

    class C:
        name = " "

    assert require_unique_names("detector", [A]) == {"a": A}
    with pytest.raises(PluginError, match="two detectors are named 'a'"):
        require_unique_names("detector", [A, B])
    with pytest.raises(PluginError, match="has no name"):
        require_unique_names("detector", [C])
