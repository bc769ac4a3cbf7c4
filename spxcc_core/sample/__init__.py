"""A seeded, vectorised generator of a full SPY / I:SPX / SPXW 0DTE sample session.

:func:`generate_session` writes (or reuses) the session as Massive flat files (gzip CSV with
the exact ``us_stocks_sip``, ``us_options_opra`` and ``us_indices`` headers) in a cache folder;
:func:`generate_columns` returns the same rows as in-memory numpy columns. Both are
deterministic: the same ``(seed, date, scale)`` gives the same bytes.
"""

from __future__ import annotations

from spxcc_core.sample.cache import (
    SampleSession,
    default_cache_root,
    generate_session,
    session_folder_name,
)
from spxcc_core.sample.clock import DEFAULT_DATE, SessionClock, session_clock
from spxcc_core.sample.generate import (
    DATASETS,
    DEFAULT_SEED,
    GENERATOR_VERSION,
    SessionColumns,
    generate_columns,
)
from spxcc_core.sample.options import occ_ticker
from spxcc_core.sample.tables import HEADERS, SampleTable

__all__ = [
    "DATASETS",
    "DEFAULT_DATE",
    "DEFAULT_SEED",
    "GENERATOR_VERSION",
    "HEADERS",
    "SampleSession",
    "SampleTable",
    "SessionClock",
    "SessionColumns",
    "default_cache_root",
    "generate_columns",
    "generate_session",
    "occ_ticker",
    "session_clock",
    "session_folder_name",
]
