"""Release gates: may a candidate profile replace the baseline, and how is it taken back.

Modules: :mod:`~spxcc_core.gates.trades` (the one trade source of a replayed session),
:mod:`~spxcc_core.gates.bootstrap` (session bootstrap intervals of the KPIs and paired
deltas), :mod:`~spxcc_core.gates.rules` (the promotion rule), :mod:`~spxcc_core.gates.runner`
(``spxcc gates run``: replays, decision, ``decision.json``) and
:mod:`~spxcc_core.gates.report` (``spxcc gates report``: HTML and Markdown). Layering: above
replay (it replays sessions), below the CLI. See ``docs/release-gates.md``.
"""
