"""The one plugin registry: discovery, per-plugin isolation through pluggy (wrappers honoured or
refused, tracing seen), one failure collector, per-manager observer state, host hook specs."""

from __future__ import annotations

import sys
import types
from collections.abc import Generator
from typing import Any, ClassVar

import msgspec
import pluggy
import pytest

from spxcc_core import plugins
from spxcc_core.broker import BROKERS, broker_adapters
from spxcc_core.contracts import MicrobarV2
from spxcc_core.detect.base import ContextProvider, Detector, DetectorParams
from spxcc_core.detect.runner import CONTEXT_PROVIDERS, DETECTORS, DetectorRunner
from spxcc_core.errors import PluginError
from spxcc_core.hookspecs import PROJECT_NAME, hookimpl, hookspec
from spxcc_core.pipeline import resolve_profile
from spxcc_core.plugins import call_isolated, get_plugin_manager
from spxcc_core.registry import PluginFailures, PluginRegistry


def _bar(symbol: str = "SPY", start_ms: int = 0) -> MicrobarV2:
    return MicrobarV2(symbol=symbol, start_ms=start_ms, interval_ms=1000, open=1.0, high=1.0,
                      low=1.0, close=1.0, volume=100.0, trade_count=1, vwap=1.0,
                      delta_volume=100.0, bid_ask_imbalance=None, quote_coverage_pct=50.0,
                      quote_count=1)


CTX = {"run_id": "r", "engine": "batch", "interval_ms": 1000}


# ----------------------------------------------------------------------------- isolation


class Boom:
    @hookimpl
    def spxcc_on_microbar(self, bar: Any) -> None:
        raise ValueError(f"boom {bar.symbol}")


class Lines:
    def __init__(self, text: str) -> None:
        self.text = text

    @hookimpl
    def spxcc_on_run_end(self) -> list[str]:
        return [self.text]


def test_one_raising_plugin_does_not_stop_the_others(spxcc_pm, spxcc_register) -> None:  # type: ignore[no-untyped-def]
    spxcc_register(Boom(), name="boom")
    registry = PluginRegistry(spxcc_pm)
    observe = registry.caller("spxcc_on_microbar", counted=True)
    for i in range(3):
        observe(bar=_bar(start_ms=i * 1000), context=CTX)
    # the built-in observer still counted every bar
    (lines,) = registry.call("spxcc_on_run_end", report={}, context=CTX)
    assert lines == ["SPY: 3 bars, volume 300, delta +300, mean quote coverage 50.0%"]
    assert [(f.plugin, f.hook, f.error) for f in registry.failures.entries(
        ["spxcc_on_microbar"])] == [("boom", "spxcc_on_microbar", "ValueError: boom SPY (3 times)")]


class Wrapper:
    """A new-style wrapper: adds a line to every plugin's result and counts the calls it saw."""

    def __init__(self) -> None:
        self.calls = 0

    @hookimpl(wrapper=True)
    def spxcc_on_run_end(self) -> Generator[None, list[Any], list[Any]]:
        self.calls += 1
        result = yield
        return [[*lines, "wrapped"] for lines in result]


def test_wrapper_is_honoured_around_each_plugins_call(spxcc_pm, spxcc_register) -> None:  # type: ignore[no-untyped-def]
    # before the registry, call_isolated called a wrapper like a plain implementation: its
    # generator object came back as a "result" and the wrapper never ran
    w = Wrapper()
    spxcc_register(w, name="wrapper")
    spxcc_register(Lines("a"), name="a")
    spxcc_register(Lines("b"), name="b")
    failures = PluginFailures()
    results = call_isolated(spxcc_pm, "spxcc_on_run_end", failures, report={}, context=CTX)
    assert sorted(results) == [["a", "wrapped"], ["b", "wrapped"]]
    assert w.calls == 3  # once per isolated plugin call: a, b and the built-in observer
    assert not failures


class OldWrapper:
    @hookimpl(hookwrapper=True)
    def spxcc_on_run_end(self) -> Generator[None, Any, None]:
        outcome = yield
        outcome.force_result([*outcome.get_result(), ["old"]])


def test_old_style_hookwrapper_is_honoured(spxcc_pm, spxcc_register) -> None:  # type: ignore[no-untyped-def]
    spxcc_register(OldWrapper(), name="old")
    spxcc_register(Lines("a"), name="a")
    results = PluginRegistry(spxcc_pm).call("spxcc_on_run_end", report={}, context=CTX)
    assert ["a"] in results and ["old"] in results
    assert not any(isinstance(r, Generator) for r in results)


class RaisingWrapper:
    @hookimpl(wrapper=True)
    def spxcc_on_run_end(self) -> Generator[None, Any, Any]:
        yield
        raise RuntimeError("wrapper broke")


def test_a_raising_wrapper_is_blamed_not_the_plugin_it_wrapped(spxcc_pm, spxcc_register) -> None:  # type: ignore[no-untyped-def]
    spxcc_register(RaisingWrapper(), name="rw")
    spxcc_register(Lines("a"), name="a")
    registry = PluginRegistry(spxcc_pm)
    registry.call("spxcc_on_run_end", report={}, context=CTX)
    assert {(f.plugin, f.error) for f in registry.failures} == {("rw", "RuntimeError: wrapper broke")}


class Both:
    @hookimpl(wrapper=True)
    def spxcc_on_run_end(self) -> Generator[None, Any, Any]:
        return (yield)

    @hookimpl(specname="spxcc_on_run_end")
    def plain(self) -> list[str]:
        return ["x"]


def test_wrapper_and_plain_in_one_plugin_is_refused_at_registration(spxcc_pm) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PluginError, match=r"plugin 'both' implements spxcc_on_run_end both as "
                                          r"a wrapper and as a plain implementation"):
        spxcc_pm.register(Both(), name="both")
    assert spxcc_pm.get_plugin("both") is None


def test_hook_calls_go_through_pluggy_monitoring(spxcc_pm, spxcc_register) -> None:  # type: ignore[no-untyped-def]
    # before the registry, observers were called directly: tracing and monitoring saw nothing
    seen: list[tuple[str, list[str]]] = []
    spxcc_register(Boom(), name="boom")
    spxcc_pm.add_hookcall_monitoring(
        lambda name, impls, kwargs: seen.append((name, sorted(i.plugin_name for i in impls))),
        lambda outcome, name, impls, kwargs: None)
    PluginRegistry(spxcc_pm).caller("spxcc_on_microbar", counted=True)(bar=_bar(), context=CTX)
    assert sorted(seen) == [("spxcc_on_microbar", ["boom"]),
                            ("spxcc_on_microbar", ["spxcc_observers"])]


def test_tracing_switched_on_mid_run_is_honoured(spxcc_pm) -> None:  # type: ignore[no-untyped-def]
    # the caller is built when the run starts; tracing enabled later still sees every call,
    # and switching it off again returns to the plain call
    lines: list[str] = []
    observe = PluginRegistry(spxcc_pm).caller("spxcc_on_microbar", counted=True)
    observe(bar=_bar(), context=CTX)
    spxcc_pm.trace.root.setwriter(lines.append)
    undo = spxcc_pm.enable_tracing()
    observe(bar=_bar(start_ms=1000), context=CTX)
    undo()
    observe(bar=_bar(start_ms=2000), context=CTX)
    # the one traced call: its "start" and "finish" lines
    assert sum("spxcc_on_microbar" in line for line in lines) == 2
    (summary,) = spxcc_pm.hook.spxcc_on_run_end(report={}, context=CTX)
    assert summary == ["SPY: 3 bars, volume 300, delta +300, mean quote coverage 50.0%"]


# ----------------------------------------------------------------------------- discovery


class BadRegistration:
    @hookimpl
    def spxcc_register_detectors(self) -> list[Any]:
        raise RuntimeError("cannot register")

    @hookimpl
    def spxcc_register_brokers(self) -> list[Any]:
        raise RuntimeError("no brokers today")


def test_discovery_runs_once_and_records_each_failure_once(spxcc_pm, spxcc_register) -> None:  # type: ignore[no-untyped-def]
    # before: resolve_profile and golden verify passed a throwaway list (failures vanished)
    # and the runner discovered again
    spxcc_register(BadRegistration(), name="bad")
    registry = PluginRegistry(spxcc_pm)
    profile = resolve_profile(registry, None, ["vwap"])
    runner = DetectorRunner(registry, profile)
    assert [r.cls.name for r in runner.resolved] == ["vwap"]
    assert [f.as_dict() for f in registry.failures] == [
        {"plugin": "bad", "hook": "spxcc_register_detectors",
         "error": "RuntimeError: cannot register"}]
    assert msgspec.to_builtins(runner.report())["pluginFailures"] == [f.as_dict() for f in registry.failures]


def test_broker_discovery_is_isolated(spxcc_pm, spxcc_register) -> None:  # type: ignore[no-untyped-def]
    # before: a raising spxcc_register_brokers propagated out of broker_adapters
    spxcc_register(BadRegistration(), name="bad")
    registry = PluginRegistry(spxcc_pm)
    assert sorted(broker_adapters(registry)) == ["paper", "tradier"]
    assert [(f.plugin, f.hook) for f in registry.failures] == [("bad", BROKERS.hook)]
    # given a bare plugin manager (nobody to read the failures) it is one clear error
    with pytest.raises(PluginError, match="plugin 'bad' failed in spxcc_register_brokers: "
                                          "RuntimeError: no brokers today"):
        broker_adapters(spxcc_pm)


def test_malformed_registrations_are_errors(spxcc_pm, spxcc_register) -> None:  # type: ignore[no-untyped-def]
    class NotAList:
        @hookimpl
        def spxcc_register_context_providers(self) -> Any:
            return "gamma"

    class NotAnAdapter:
        @hookimpl
        def spxcc_register_brokers(self) -> list[Any]:
            return [int]

    spxcc_register(NotAList(), name="nal")
    spxcc_register(NotAnAdapter(), name="naa")
    registry = PluginRegistry(spxcc_pm)
    with pytest.raises(PluginError, match="spxcc_register_context_providers must return a list"):
        registry.classes(CONTEXT_PROVIDERS)
    with pytest.raises(PluginError, match="not a BrokerAdapter subclass"):
        registry.classes(BROKERS)


def test_classes_are_sorted_by_name(spxcc_pm) -> None:  # type: ignore[no-untyped-def]
    assert [c.name for c in PluginRegistry(spxcc_pm).classes(DETECTORS)] == [
        "orb_pullback", "volume_climax", "vwap"]


class _Fail(Detector[DetectorParams]):
    name: ClassVar[str] = "fail"
    version: ClassVar[int] = 1

    def on_bar(self, bar: Any, ctx: Any) -> list[Any]:
        raise ValueError("nope")


class _FailProvider(ContextProvider):
    name: ClassVar[str] = "failp"
    version: ClassVar[int] = 1

    def on_bar(self, bar: Any, ctx: Any) -> object:
        raise KeyError("k")


def test_detector_and_provider_failures_share_the_collector() -> None:
    runner = DetectorRunner([_Fail], providers=[_FailProvider])
    runner.on_bar(_bar(start_ms=1_765_549_800_000))
    runner.on_bar(_bar(start_ms=1_765_549_801_000))
    assert msgspec.to_builtins(runner.report())["errors"] == {"fail": {"count": 2, "first": "ValueError: nope"},
                                         "failp": {"count": 2, "first": "KeyError: 'k'"}}
    assert [f.as_dict() for f in runner.failures.entries(["on_bar"])] == [
        {"plugin": "fail", "hook": "on_bar", "error": "ValueError: nope (2 times)"},
        {"plugin": "failp", "hook": "on_bar", "error": "KeyError: 'k' (2 times)"}]


# ----------------------------------------------------------------------------- item 5


def test_observer_state_is_per_manager() -> None:
    # before: spxcc_observers kept one module-level dict shared by every manager, so two
    # managers running a run of the same id mixed their statistics
    pm1 = get_plugin_manager(load_entrypoints=False)
    pm2 = get_plugin_manager(load_entrypoints=False)
    assert pm1.get_plugin("spxcc_observers") is not pm2.get_plugin("spxcc_observers")
    pm1.hook.spxcc_on_microbar(bar=_bar(), context=CTX)
    pm2.hook.spxcc_on_microbar(bar=_bar(), context=CTX)
    pm2.hook.spxcc_on_microbar(bar=_bar(start_ms=1000), context=CTX)
    assert pm1.hook.spxcc_on_run_end(report={}, context=CTX) == [
        ["SPY: 1 bars, volume 100, delta +100, mean quote coverage 50.0%"]]
    assert pm2.hook.spxcc_on_run_end(report={}, context=CTX) == [
        ["SPY: 2 bars, volume 200, delta +200, mean quote coverage 50.0%"]]


# ----------------------------------------------------------------------------- item 6


class HostSpecs:
    """An embedding application's own hook."""

    @hookspec
    def myhost_on_fill(self, fill: dict[str, Any]) -> str | None:
        """:returns: a note, or None."""


@pytest.fixture
def host_plugin(monkeypatch: pytest.MonkeyPatch) -> Generator[None, None, None]:
    module = types.ModuleType("myhost_plugin")

    @hookimpl
    def myhost_on_fill(fill: dict[str, Any]) -> str:
        return f"filled {fill['qty']}"

    module.myhost_on_fill = myhost_on_fill  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "myhost_plugin", module)
    monkeypatch.setitem(plugins.BUILTIN_PLUGINS, "myhost_plugin", "myhost_plugin")
    yield


def test_host_hookspecs_accept_the_hosts_plugins(host_plugin: None) -> None:
    with pytest.raises(PluginError, match="unknown hook 'myhost_on_fill'"):
        get_plugin_manager(load_entrypoints=False)
    pm = get_plugin_manager(load_entrypoints=False, hookspecs=[HostSpecs])
    assert pm.hook.myhost_on_fill(fill={"qty": 2}) == ["filled 2"]
    assert PluginRegistry(pm).call("myhost_on_fill", fill={"qty": 3}) == ["filled 3"]


def test_host_hookspecs_cannot_redefine_a_spxcc_hook() -> None:
    class Clash:
        @pluggy.HookspecMarker(PROJECT_NAME)
        def spxcc_on_microbar(self, bar: Any) -> None:
            """:returns: nothing."""

    with pytest.raises(PluginError, match=r"hookspecs .*Clash"):
        get_plugin_manager(load_entrypoints=False, hookspecs=[Clash])


def test_golden_verify_names_a_plugin_that_failed_to_register(spxcc_pm, spxcc_register) -> None:  # type: ignore[no-untyped-def]
    # before: golden verify discovered detectors with a throwaway failure list, so a plugin
    # whose spxcc_register_detectors raised was silently not verified
    from spxcc_core.golden.verify import verify

    spxcc_register(BadRegistration(), name="bad")
    (verdict,) = verify(cases=["chop_day"], pm=spxcc_pm)
    assert not verdict.ok
    assert verdict.lines[0] == ("plugin 'bad' failed in spxcc_register_detectors: "
                                "RuntimeError: cannot register")
