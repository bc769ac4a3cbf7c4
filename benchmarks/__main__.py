"""``python -m benchmarks``: run the registered benchmarks, print a table, write JSON.

Exit status: 0 when every output check agrees (whatever the times), 1 when any benchmark's
outputs DISAGREE, 2 when a benchmark could not run (an exception).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

import attrs

from benchmarks.registry import BenchContext, BenchResult, load_all


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "events/s":
        return f"{value / 1e6:,.2f} M ev/s"
    if unit in ("x", "%"):
        return f"{value:,.2f}{unit}" if unit == "%" else f"{value:,.2f}x"
    if unit == "s":
        return f"{value:,.3f} s"
    if unit == "MiB":
        return f"{value:,.0f} MiB"
    return f"{value:,.6g} {unit}".strip()


def main(argv: list[str] | None = None) -> int:
    registry = load_all()
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, single repetitions")
    parser.add_argument("--only", nargs="+", choices=sorted(registry), metavar="NAME",
                        help=f"run only these ({', '.join(registry)})")
    parser.add_argument("--skip", nargs="+", default=[], choices=sorted(registry),
                        metavar="NAME", help="skip these")
    parser.add_argument("--out", type=Path, default=Path("bench-results"),
                        help="folder for the JSON results (default bench-results/)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="sample-session cache root (default: the user cache folder)")
    args = parser.parse_args(argv)

    from rich.console import Console
    from rich.table import Table

    console = Console()
    names = [n for n in (args.only or list(registry)) if n not in args.skip]
    ctx = BenchContext(quick=args.quick, cache_dir=args.cache_dir)
    results: list[BenchResult] = []
    for name in names:
        console.print(f"[bold]running {name}[/bold]: {registry[name].description}")
        t0 = time.perf_counter()
        try:
            res = registry[name].func(ctx)
        except Exception as exc:  # a benchmark that cannot run is reported, the rest go on
            res = BenchResult(name, error=f"{type(exc).__name__}: {exc}")
            console.print(traceback.format_exc(), markup=False, highlight=False)
        res.seconds = time.perf_counter() - t0
        results.append(res)

    table = Table(title="spxcc benchmarks" + (" (quick)" if args.quick else ""))
    for col in ("benchmark", "figure", "value", "note"):
        table.add_column(col, justify="right" if col == "value" else "left")
    for res in results:
        for m in res.metrics:
            table.add_row(res.name, m.name, _fmt(m.value, m.unit), m.note)
        for t in res.targets:
            mark = {True: "[green]met[/green]", False: "[red]not met[/red]", None: "n/a"}[t.met]
            table.add_row(res.name, f"target: {t.name}", mark, t.detail)
        for note in res.notes:
            table.add_row(res.name, "note", "", note)
        if res.error:
            table.add_row(res.name, "[red]error[/red]", "", res.error)
        for d in res.disagreements:
            table.add_row(res.name, "[red]DISAGREEMENT[/red]", "", d)
    console.print(table)

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    payload = {"timestamp": stamp, "quick": args.quick, "python": platform.python_version(),
               "machine": platform.machine(), "cpus": os.cpu_count(),
               "results": [attrs.asdict(r) for r in results]}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"bench-{stamp}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    (args.out / "latest.json").write_text(json.dumps(payload, indent=2) + "\n")
    console.print(f"results written to {path}")
    if any(r.disagreements for r in results):
        console.print("[red]outputs DISAGREE[/red]")
        return 1
    if any(r.error for r in results):
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
