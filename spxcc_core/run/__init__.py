"""The run layer: what replay and live share around :class:`spxcc_core.pipeline.Pipeline`.

Layering: contracts → aggregate / detect / broker → **run** (this package and
:mod:`spxcc_core.pipeline`) → replay / host → cli. Nothing here imports replay's engine, the
host or the CLI; replay (:mod:`spxcc_core.replay.engine`) and live
(:mod:`spxcc_core.host.live`) are thin users of it. See
``docs/decisions/0008-run-layer.md``.

Public API (imported lazily)::

    RunResult, StepOutputs, OUTPUT_FILES, PARQUET_FILES, FORMATS   # spxcc_core.run.result
    RunInputs, resolve_inputs, check_run_paths, make_out_dir,
    open_store, run_store, load_chain, ws_counts, DB_NAME          # spxcc_core.run.setup
    arrow_schema, structs_to_arrow, parquet_bytes                  # spxcc_core.run.frames
    to_v1                                                          # spxcc_core.run.views
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spxcc_core._lazy import lazy_exports

if TYPE_CHECKING:
    from spxcc_core.run.frames import arrow_schema, parquet_bytes, structs_to_arrow
    from spxcc_core.run.result import (
        FORMATS,
        OUTPUT_FILES,
        PARQUET_FILES,
        RunResult,
        StepOutputs,
    )
    from spxcc_core.run.setup import (
        DB_NAME,
        RunInputs,
        check_run_paths,
        load_chain,
        make_out_dir,
        open_store,
        resolve_inputs,
        run_store,
        ws_counts,
    )
    from spxcc_core.run.views import to_v1

__all__ = [
    "DB_NAME",
    "FORMATS",
    "OUTPUT_FILES",
    "PARQUET_FILES",
    "RunInputs",
    "RunResult",
    "StepOutputs",
    "arrow_schema",
    "check_run_paths",
    "load_chain",
    "make_out_dir",
    "open_store",
    "parquet_bytes",
    "resolve_inputs",
    "run_store",
    "structs_to_arrow",
    "to_v1",
    "ws_counts",
]

_WHERE = {
    **dict.fromkeys(("FORMATS", "OUTPUT_FILES", "PARQUET_FILES", "RunResult", "StepOutputs"),
                    "spxcc_core.run.result"),
    **dict.fromkeys(("DB_NAME", "RunInputs", "check_run_paths", "load_chain", "make_out_dir",
                     "open_store", "resolve_inputs", "run_store", "ws_counts"),
                    "spxcc_core.run.setup"),
    **dict.fromkeys(("arrow_schema", "parquet_bytes", "structs_to_arrow"),
                    "spxcc_core.run.frames"),
    "to_v1": "spxcc_core.run.views",
}

__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__, globals())
