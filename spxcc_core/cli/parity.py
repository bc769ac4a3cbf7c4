"""``spxcc parity LIVE_RUN_DIR``: replay a live run's recording and list every difference.

Exit status: 0 identical (or differences only inside recorded feed gaps), 1 differences,
2 bad input (one line on stderr, nothing written).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from spxcc_core.cli.parser import examples
from spxcc_core.cli.runargs import DB_HELP, db_argument

if TYPE_CHECKING:
    from spxcc_core.contracts.parity import FileParity, ParityReport, RecordDifference

__all__ = ["register"]

#: Differences printed per file in the text summary (``--json`` / ``parity.json`` list more).
_SHOWN = 5


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "parity", help="replay a live run and list every live/replay difference",
        description="Replay the recording of a live run folder (spxcc live --out DIR --record "
                    "DIR/day.jsonl) through the same code, with the live run's profile, "
                    "aggregation settings and chain snapshot, and compare microbars, setups, "
                    "gate decisions, quarantine, the report and (when present) intents and "
                    "fills field by field; differences inside recorded feed gaps are expected. "
                    "Also compares paper with broker slippage from the store. Exit 0 "
                    "identical, 1 differences, 2 bad input.",
        **examples('spxcc parity run', 'spxcc parity run --json --out run/parity'))
    p.add_argument("live_dir", type=Path, metavar="LIVE_RUN_DIR")
    p.add_argument("--session", type=Path, default=None, metavar="SOURCE",
                   help="replay this instead of the run's recording (flat files or a session "
                        "cache of the same day; quarantine and report are then not compared)")
    p.add_argument("--chain", type=Path, default=None, metavar="FILE.json",
                   help="option-chain snapshot (default: LIVE_RUN_DIR/chain_snapshot.json "
                        "when present)")
    p.add_argument("--profile", default=None, metavar="PROFILE",
                   help="the live run's profile (a TOML file, 'active' or a stored id) when it "
                        "is neither the built-in default nor in the profile store")
    p.add_argument("--profile-db", type=db_argument, default=None, metavar="PATH|URL",
                   help=f"profile store; {DB_HELP} (default: $SPXCC_DB or the user data "
                        "folder; never created)")
    p.add_argument("--db", type=db_argument, default=None, metavar="PATH|URL",
                   help="the live run's store, for the slippage ledger (default: "
                        "LIVE_RUN_DIR/spxcc.sqlite3 when present)")
    p.add_argument("--json", action="store_true", help="print one parity_report@1 object")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="write DIR/parity.json and the replay's output files to DIR/replay/")
    p.set_defaults(func=_run)


def _check_out(args: argparse.Namespace) -> None:
    """Refuse an ``--out`` that is, contains or lies inside an input (before any work)."""
    from spxcc_core.outputs import check_paths
    from spxcc_core.store.target import store_file

    if args.out is None:
        return
    inputs: list[tuple[str, str | os.PathLike[str] | None]] = [
        ("LIVE_RUN_DIR", args.live_dir), ("--session", args.session), ("--chain", args.chain)]
    if args.db is not None:
        inputs.append(("--db", store_file(args.db)))
    check_paths([("--out", args.out)], inputs)


def _run(args: argparse.Namespace) -> int:
    from spxcc_core.outputs import atomic_write
    from spxcc_core.parity.check import PARITY_FILE, check_parity

    _check_out(args)
    result = check_parity(args.live_dir, session=args.session, chain=args.chain,
                          profile=args.profile, db=args.db, profile_db=args.profile_db)
    if args.out is not None:
        files = {args.out / PARITY_FILE: result.document}
        files.update({args.out / "replay" / name: data
                      for name, data in result.replay.outputs().items()})
        (args.out / "replay").mkdir(parents=True, exist_ok=True)
        atomic_write(files)
    if args.json:
        sys.stdout.buffer.write(result.document)
        sys.stdout.flush()
    else:
        sys.stdout.write(render_text(result.report))
        if args.out is not None:
            print(f"report -> {args.out / PARITY_FILE}")
    return result.exit_code


def _difference(d: RecordDifference) -> str:
    where = " (in a feed gap: expected)" if d.in_gap else ""
    if d.kind != "changed":
        return f"    line {d.line}: {d.key}: {d.kind.replace('_', ' ')}{where}"
    fields = "; ".join(f"{f.field}: live {_value(f.live)} != replay {_value(f.replay)}"
                       for f in d.fields[:4])
    more = f"; +{len(d.fields) - 4} more fields" if len(d.fields) > 4 else ""
    return f"    line {d.line}: {d.key}: {fields}{more}{where}"


def _value(v: object) -> str:
    import json

    return json.dumps(v)


def _file(f: FileParity) -> list[str]:
    if f.status in ("not_present", "not_compared"):
        return [f"  {f.file}: {f.status.replace('_', ' ')}: {f.note}"]
    if f.status == "identical":
        n = f.live_records
        return [f"  {f.file}: identical" + ("" if f.file.endswith(".json") else
                                            f" ({n} record{'' if n == 1 else 's'})")]
    head = (f"  {f.file}: {f.differences} of {f.live_records} live / {f.replay_records} "
            f"replay records differ ({f.expected} inside feed gaps)")
    if f.field_counts:
        head += "; fields: " + ", ".join(f"{k} {n}" for k, n in f.field_counts.items())
    lines = [head]
    if f.first is not None:
        lines.append("    first: " + _difference(f.first).strip())
    lines += [_difference(d) for d in f.listed[:_SHOWN] if d is not f.first]
    return lines


def render_text(report: ParityReport) -> str:
    """The report as a few lines for a terminal: the verdict, the gaps, one block per file,
    the fill realism and the notes."""
    lines = [f"parity: {report.verdict.replace('_', ' ')} (the live outputs in "
             f"{report.live_dir} vs the replay of {report.replayed}; session "
             f"{report.session_date}, profile {report.profile_hash})"]
    for g in report.gaps:
        lines.append(f"  feed gap {g.url}: {g.from_ms} -> {g.to_ms} (differences expected "
                     f"from {g.window_from_ms} to {g.window_to_ms})")
    absent = [f.file for f in report.files
              if f.status == "not_present" and f.file.endswith(".jsonl")]
    for f in report.files:
        if len(absent) > 1 and f.file in absent:
            continue
        lines += _file(f)
    if len(absent) > 1:
        lines.append(f"  {', '.join(absent)}: not present (the live run did not execute "
                     "orders)")
    fr = report.fill_realism
    if fr.status == "compared" and fr.paper is not None and fr.broker is not None:
        lines.append(f"  fill realism: broker {fr.broker.mean_dollars:+.2f} $/contract over "
                     f"{fr.broker.fills} fills vs paper {fr.paper.mean_dollars:+.2f} over "
                     f"{fr.paper.fills}: difference {fr.difference_dollars:+.2f}")
    else:
        lines.append(f"  fill realism: not present: {fr.note}")
    lines += [f"  note: {n}" for n in report.notes]
    return "\n".join(lines) + "\n"
