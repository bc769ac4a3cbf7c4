"""Execution: triggered setups become SPXW 0DTE option orders on a broker fed in event time
(``docs/execution.md``): the policy (:mod:`~spxcc_core.execute.policy`), contract selection
(:mod:`~spxcc_core.execute.select`), tick-grid prices and the stop premium
(:mod:`~spxcc_core.execute.pricing`), the option quote book (:mod:`~spxcc_core.execute.quotes`)
and the executor (:mod:`~spxcc_core.execute.engine`). Layer: under the run layer, over
``broker``/``detect``/``aggregate``.

The package re-exports nothing: a profile imports the policy module alone, without the
executor's dependencies."""


from __future__ import annotations
