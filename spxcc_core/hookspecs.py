"""The spxcc hook specifications: markers and specs, nothing else.

Every hook is prefixed ``spxcc_`` and always called with keyword arguments. Hooks evolve only by
adding arguments (implementations name only the ones they use). ``docs/plugin-hooks.md`` lists
each one with its exact signature; a meta-test keeps the two in step.

Kinds: ``spxcc_register_<things>`` return classes or factories for discovery (the hot path calls
the returned objects directly, never through pluggy); ``spxcc_on_<event>`` are observers that must
not mutate what they receive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from spxcc_core.contracts.microbar import MicrobarV1

PROJECT_NAME = "spxcc"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def spxcc_on_microbar(bar: MicrobarV1, context: Mapping[str, Any]) -> None:
    """Observe one finished microbar, after it is final and before it is written out.

    Fires once per bar, in output order (symbol, then ``startMs``) for batch runs and in
    emission order for streaming runs. Observers must not mutate ``bar`` (it is frozen) or
    ``context``.

    :param bar: the finished bar, ``microbar@2`` (a :class:`MicrobarV1` subclass).
    :param context: read-only run facts: ``run_id`` (str), ``engine`` (``batch``|``stream``),
        ``interval_ms`` (int).
    :returns: nothing; a raised exception is recorded with the plugin's name and the run goes on.
    """


@hookspec
def spxcc_on_run_end(report: Mapping[str, Any], context: Mapping[str, Any]) -> Sequence[str] | None:
    """Observe the end of an aggregation run and optionally contribute summary lines.

    Fires once per run after the last bar. Observers must not mutate ``report``.

    :param report: the run report as written to ``--report`` (wire names).
    :param context: the same read-only run facts as :func:`spxcc_on_microbar`.
    :returns: human-readable summary lines for the CLI to print, or None.
    """
