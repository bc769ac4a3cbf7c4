"""The one plugin registry: which plugins provide what, hook calls isolated per plugin, and one
failure collector.

:class:`PluginRegistry` answers "which detectors / context providers / broker adapters are
there" (:meth:`PluginRegistry.classes` with a :class:`Kind`: each layer declares its kinds —
:data:`spxcc_core.detect.runner.DETECTORS`, :data:`~spxcc_core.detect.runner.CONTEXT_PROVIDERS`,
:data:`spxcc_core.broker.BROKERS`, :data:`spxcc_core.broker.reconcile.RECONCILERS` — so this
module imports nothing above it; :func:`discover` is the strict form) and calls
hooks with **per-plugin isolation** (:meth:`PluginRegistry.call`, :meth:`PluginRegistry.caller`):
every plugin implementing the hook is called through pluggy (``pm.subset_hook_caller``: tracing,
hook-call monitoring, ``tryfirst``/``trylast`` and wrappers are pluggy's) with the other
implementing plugins removed, so one plugin that raises is recorded under its name and the others
still run. A wrapper (``wrapper=True`` / ``hookwrapper=True``) of an spxcc hook therefore wraps
each plugin's call separately; a plugin that implements the same hook both as a wrapper and as a
plain implementation is refused when it is registered (:func:`check_wrappers`).

Every failure lands in one :class:`PluginFailures` collector, in one of two forms: *listed*
(one entry per failure, in order: registration hooks, ``spxcc_on_setup``, ``spxcc_on_run_end``)
or *counted* (per-bar calls — ``spxcc_on_microbar`` observers, detector and provider ``on_bar``
— one count and the first message per plugin and hook). :meth:`PluginFailures.entries` gives the
run report's ``pluginErrors`` order.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Generic, TypeVar

import attrs
import pluggy

from spxcc_core.errors import PluginError

__all__ = [
    "FailureCount",
    "IsolatedCaller",
    "Kind",
    "MonitoredManager",
    "PluginFailure",
    "PluginFailures",
    "PluginRegistry",
    "as_registry",
    "check_wrappers",
    "describe",
    "discover",
    "require_unique_names",
]

T = TypeVar("T")


@attrs.frozen
class PluginFailure:
    """One failure of one plugin in one hook (``error``: ``"<ExceptionType>: <message>"``,
    with `` (N times)`` appended for a counted failure that happened N > 1 times)."""

    plugin: str
    hook: str
    error: str

    def as_dict(self) -> dict[str, str]:
        """Wire form for the run report (``plugin``, ``hook``, ``error``)."""
        return {"plugin": self.plugin, "hook": self.hook, "error": self.error}


@attrs.define
class FailureCount:
    """A counted failure: how many times, and the first message."""

    count: int = 0
    first: str = ""


def describe(exc: BaseException) -> str:
    """``"<ExceptionType>: <message>"``, the one way a plugin's exception is written down."""
    return f"{type(exc).__name__}: {exc}"


class PluginFailures:
    """Every plugin failure of one run (module docstring). Iterating yields the listed ones."""

    __slots__ = ("_counted", "_listed")

    def __init__(self) -> None:
        self._listed: list[PluginFailure] = []
        self._counted: dict[str, dict[str, FailureCount]] = {}

    def record(self, plugin: str, hook: str, exc: BaseException | str) -> None:
        """List one failure (``exc`` an exception or an already written message)."""
        error = exc if isinstance(exc, str) else describe(exc)
        self._listed.append(PluginFailure(plugin, hook, error))

    def count(self, plugin: str, hook: str, exc: BaseException) -> None:
        """Count one failure of a per-bar call; the first message is kept."""
        by_plugin = self._counted.setdefault(hook, {})
        c = by_plugin.get(plugin)
        if c is None:
            c = by_plugin[plugin] = FailureCount(first=describe(exc))
        c.count += 1

    def counted(self, hook: str) -> dict[str, FailureCount]:
        """The counted failures of ``hook``, by plugin name (sorted)."""
        return dict(sorted(self._counted.get(hook, {}).items()))

    def listed(self, hooks: Collection[str] | None = None) -> list[PluginFailure]:
        """The listed failures in order (only those of ``hooks`` when given)."""
        return [f for f in self._listed if hooks is None or f.hook in hooks]

    def entries(self, counted_hooks: Sequence[str]) -> list[PluginFailure]:
        """Report order: the counted failures of each of ``counted_hooks`` in that order (by
        plugin name within a hook, ``first (N times)`` when N > 1), then the listed ones."""
        out = [PluginFailure(plugin, hook, c.first if c.count == 1
                             else f"{c.first} ({c.count} times)")
               for hook in counted_hooks for plugin, c in self.counted(hook).items()]
        out.extend(self._listed)
        return out

    def __iter__(self) -> Iterator[PluginFailure]:
        return iter(self._listed)

    def __len__(self) -> int:
        return len(self._listed) + sum(len(v) for v in self._counted.values())

    def __bool__(self) -> bool:
        return len(self) > 0


@attrs.frozen
class Kind(Generic[T]):
    """A kind of plugin-provided class: the ``spxcc_register_<things>`` hook returning lists of
    them, a readable label for messages, and (optionally) the base class each must derive from.
    """

    hook: str
    label: str
    base: type[T] | None = None


def require_unique_names(kind: str, classes: Sequence[Any]) -> dict[str, Any]:
    """Index registered classes by their ``name`` ClassVar; blank or duplicate names are errors.

    :raises PluginError: a blank name or two classes of one name.
    """
    index: dict[str, Any] = {}
    for cls in classes:
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name.strip():
            raise PluginError(f"{kind} {cls!r} has no name")
        if name in index and index[name] is not cls:
            raise PluginError(f"two {kind}s are named {name!r}: {index[name]!r} and {cls!r}")
        index[name] = cls
    return index


def _is_wrapper(impl: pluggy.HookImpl) -> bool:
    return bool(impl.wrapper or impl.hookwrapper)


def check_wrappers(pm: pluggy.PluginManager, plugin: object) -> None:
    """Refuse a plugin that implements one hook both as a wrapper and as a plain implementation
    (its wrapper could not wrap the other plugins' isolated calls).

    :raises PluginError: naming the plugin and the hook.
    """
    name = pm.get_name(plugin) or repr(plugin)
    for caller in pm.get_hookcallers(plugin) or ():
        mine = [i for i in caller.get_hookimpls() if i.plugin is plugin]
        if any(map(_is_wrapper, mine)) and not all(map(_is_wrapper, mine)):
            raise PluginError(f"plugin {name!r} implements {caller.name} both as a wrapper "
                              "and as a plain implementation; spxcc calls each plugin's "
                              "implementation in isolation, so use one or the other")


def _culprit(exc: BaseException, impls: Sequence[pluggy.HookImpl], default: str) -> str:
    """The plugin whose implementation is the innermost frame of ``exc``'s traceback among
    ``impls`` (a wrapper that raises is blamed, not the plugin it wrapped); else ``default``."""
    codes = {}
    for impl in impls:
        code = getattr(impl.function, "__code__", None)
        if code is not None:
            codes[code] = impl.plugin_name
    found = default
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        name = codes.get(tb.tb_frame.f_code)
        if name is not None:
            found = name
        tb = tb.tb_next
    return found


class IsolatedCaller:
    """Calls one hook plugin by plugin through pluggy, recording failures.

    Built from the hook's implementations at construction (build it when a run starts: its set
    of plugins is fixed then). ``counted``: failures are counted per plugin (per-bar hooks)
    instead of listed. Calling returns the non-None results, one per plugin in pluggy's call
    order (a ``firstresult`` hook stops at the first).

    Fast path: when no implementation of the hook is a wrapper and no hook-call monitoring or
    tracing is active on the manager (a :class:`MonitoredManager` tells; checked on every
    call, so tracing switched on mid-run is honoured), pluggy's call of one plain
    implementation is exactly ``impl.function(*args)``, so each plugin's functions are called
    so, in pluggy's order; otherwise every call goes through ``pm.subset_hook_caller``.
    """

    __slots__ = ("_calls", "_counted", "_direct", "_failures", "_firstresult", "_impls",
                 "_pm", "hook")

    def __init__(self, pm: pluggy.PluginManager, hook: str, failures: PluginFailures, *,
                 counted: bool = False) -> None:
        caller: pluggy.HookCaller = getattr(pm.hook, hook)
        self.hook = hook
        self._pm = pm
        self._failures = failures
        self._counted = counted
        impls = caller.get_hookimpls()
        self._impls = impls
        plain = [i for i in reversed(impls) if not _is_wrapper(i)]  # pluggy's call order
        owners: list[Any] = list(dict.fromkeys(i.plugin for i in plain))
        names = {i.plugin: i.plugin_name for i in plain}
        if len(owners) == 1:
            self._calls: list[tuple[str, Callable[..., Any]]] = [(names[owners[0]], caller)]
        else:
            self._calls = [(names[p], pm.subset_hook_caller(hook, [o for o in owners
                                                                    if o is not p]))
                           for p in owners]
        spec = caller.spec
        self._firstresult = bool(spec is not None and spec.opts.get("firstresult"))
        defaults = spec is not None and bool(spec.kwargdefaults)
        self._direct: list[tuple[str, list[tuple[Callable[..., Any], tuple[str, ...]]]]] | None
        self._direct = None
        if isinstance(pm, MonitoredManager) and not defaults and len(plain) == len(impls):
            self._direct = [(names[p], [(i.function, tuple(i.argnames)) for i in plain
                                        if i.plugin is p]) for p in owners]

    def __bool__(self) -> bool:
        return bool(self._calls)

    def __call__(self, **kwargs: Any) -> list[Any]:
        direct = self._direct
        if direct is not None and not self._pm.monitored:  # type: ignore[attr-defined]
            return self._call_direct(direct, kwargs)
        results: list[Any] = []
        for name, call in self._calls:
            try:
                result = call(**kwargs)
            except Exception as exc:  # isolation is the point: record and go on
                self._fail(_culprit(exc, self._impls, name), exc)
                continue
            if self._firstresult:
                if result is not None:
                    return [result]
            elif result:
                results.extend(r for r in result if r is not None)
        return results

    def _call_direct(self, direct: list[tuple[str, list[tuple[Callable[..., Any],
                                                                tuple[str, ...]]]]],
                     kwargs: dict[str, Any]) -> list[Any]:
        results: list[Any] = []
        for name, functions in direct:
            mine: list[Any] = []
            for function, argnames in functions:
                args = [kwargs[a] for a in argnames]  # a missing argument is the caller's bug
                try:
                    result = function(*args)
                except Exception as exc:  # isolation: record under the plugin, go on
                    self._fail(name, exc)
                    mine = []  # as through pluggy: the plugin's call failed as a whole
                    break
                if result is not None:
                    mine.append(result)
                    if self._firstresult:
                        return mine
            results.extend(mine)
        return results

    def _fail(self, plugin: str, exc: Exception) -> None:
        if self._counted:
            self._failures.count(plugin, self.hook, exc)
        else:
            self._failures.record(plugin, self.hook, exc)


class MonitoredManager(pluggy.PluginManager):
    """A pluggy manager that knows whether hook-call monitoring (``add_hookcall_monitoring``,
    ``enable_tracing``) is active, so :class:`IsolatedCaller` may take its fast path."""

    def __init__(self, project_name: str) -> None:
        super().__init__(project_name)
        self._monitors = 0

    @property
    def monitored(self) -> bool:
        """True while at least one hook-call monitor (or tracing) is installed."""
        return self._monitors > 0

    def add_hookcall_monitoring(
        self,
        before: Callable[[str, Sequence[pluggy.HookImpl], Mapping[str, Any]], None],
        after: Callable[[pluggy.Result[Any], str, Sequence[pluggy.HookImpl],
                         Mapping[str, Any]], None],
    ) -> Callable[[], None]:
        """pluggy's ``add_hookcall_monitoring``, counted (the returned undo uncounts)."""
        undo = super().add_hookcall_monitoring(before, after)
        self._monitors += 1

        def undo_and_uncount() -> None:
            undo()
            self._monitors -= 1

        return undo_and_uncount


class PluginRegistry:
    """What the plugins of one manager provide, and their failures (module docstring).

    Discovery (:meth:`classes`) runs each registration hook once per registry, isolated per
    plugin; a plugin whose hook raises is listed in :attr:`failures` and its classes are left
    out. Malformed results are errors, not failures.

    :param pm: a plugin manager from :func:`spxcc_core.plugins.get_plugin_manager`.
    :param failures: the collector to record into (default: a new one, :attr:`failures`).
    """

    def __init__(self, pm: pluggy.PluginManager, failures: PluginFailures | None = None) -> None:
        self.pm = pm
        self.failures = failures if failures is not None else PluginFailures()
        self._classes: dict[str, list[Any]] = {}

    def caller(self, hook: str, *, counted: bool = False) -> IsolatedCaller:
        """An isolated caller of ``hook`` recording into :attr:`failures` (build it once and
        call it per bar on hot paths)."""
        return IsolatedCaller(self.pm, hook, self.failures, counted=counted)

    def call(self, hook: str, **kwargs: Any) -> list[Any]:
        """Call ``hook`` once, isolated per plugin (failures listed)."""
        return self.caller(hook)(**kwargs)

    def classes(self, kind: Kind[T]) -> list[type[T]]:
        """The classes registered through ``kind.hook``, sorted by ``name`` (a stable order
        whatever the plugin load order), discovered once per registry.

        :raises PluginError: a hook returned something other than a list (or None), a class
            that does not derive from ``kind.base``, or blank or duplicate names.
        """
        found = self._classes.get(kind.hook)
        if found is None:
            found = []
            for result in self.call(kind.hook):
                if not isinstance(result, list | tuple):
                    raise PluginError(f"{kind.hook} must return a list, "
                                      f"got {type(result).__name__}")
                for cls in result:
                    if kind.base is not None and not (isinstance(cls, type)
                                                      and issubclass(cls, kind.base)):
                        raise PluginError(f"{kind.hook} returned {cls!r}, "
                                          f"not a {kind.base.__name__} subclass")
                    found.append(cls)
            require_unique_names(kind.label, found)
            found.sort(key=lambda c: c.name)
            self._classes[kind.hook] = found
        return list(found)

    def by_name(self, kind: Kind[T]) -> dict[str, type[T]]:
        """:meth:`classes` keyed by ``name``."""
        return {c.name: c for c in self.classes(kind)}  # type: ignore[attr-defined]


def as_registry(source: pluggy.PluginManager | PluginRegistry) -> PluginRegistry:
    """``source`` itself, or a new registry of the plugin manager ``source``."""
    return source if isinstance(source, PluginRegistry) else PluginRegistry(source)


def discover(source: pluggy.PluginManager | PluginRegistry, kind: Kind[T]) -> list[type[T]]:
    """The classes of ``kind`` (:meth:`PluginRegistry.classes`, sorted by name).

    :param source: a :class:`PluginRegistry` — a plugin whose hook raises is left out and
        listed in its ``failures`` (the caller reports it) —, or a plugin manager: such a
        failure is then a :class:`PluginError` (a class is never silently missing).
    :raises PluginError: see :meth:`PluginRegistry.classes`; with a plugin manager, also a
        plugin's hook that raised.
    """
    registry = as_registry(source)
    classes = registry.classes(kind)
    if registry is not source:
        failed = registry.failures.listed([kind.hook])
        if failed:
            raise PluginError("; ".join(f"plugin {f.plugin!r} failed in {f.hook}: {f.error}"
                                        for f in failed))
    return classes

