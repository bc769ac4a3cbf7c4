"""pytest plugin for spxcc plugin authors (loaded through the ``pytest11`` entry point).

Fixtures:

- ``spxcc_pm``: a fresh plugin manager with third-party autoload off (built-ins only).
- ``spxcc_register``: ``spxcc_register(plugin, name=None)`` registers a plugin on ``spxcc_pm``
  and unregisters it at teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pluggy
import pytest

from spxcc_core.plugins import get_plugin_manager

__all__ = ["spxcc_pm", "spxcc_register"]


@pytest.fixture
def spxcc_pm() -> pluggy.PluginManager:
    """A fresh plugin manager with built-ins only (entry points never loaded)."""
    return get_plugin_manager(load_entrypoints=False)


@pytest.fixture
def spxcc_register(spxcc_pm: pluggy.PluginManager) -> Iterator[Callable[..., Any]]:
    """Register plugins on ``spxcc_pm`` for one test; all are unregistered at teardown."""
    registered: list[object] = []

    def register(plugin: object, name: str | None = None) -> object:
        spxcc_pm.register(plugin, name=name)
        registered.append(plugin)
        return plugin

    yield register
    for plugin in reversed(registered):
        if spxcc_pm.is_registered(plugin):
            spxcc_pm.unregister(plugin)
