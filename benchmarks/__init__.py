"""spxcc benchmarks: ``python -m benchmarks [--quick] [--only NAME ...]`` (or ``nox -s bench``).

A registry of benchmark functions (:mod:`benchmarks.registry`): each returns figures, target
checks and disagreements; the runner prints a table, writes JSON to ``bench-results/`` and exits
non-zero only when outputs DISAGREE (never on a time).
"""
