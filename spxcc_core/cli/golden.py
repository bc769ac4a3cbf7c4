"""``spxcc golden verify|regen``: check the golden replay fixtures, or rewrite them with a diff."""

from __future__ import annotations

import argparse
from pathlib import Path

from spxcc_core.cli.runargs import detector_names

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("golden", help="verify or regenerate the golden replay fixtures",
                       description="Golden sessions (spxcc_core/golden/fixtures/<case>/, shipped "
                                   "with the package): seeded inputs, stated expectations and "
                                   "reviewed expected outputs of the replay pipeline.")
    gsub = p.add_subparsers(dest="golden_command", metavar="ACTION")
    gsub.required = True
    v = gsub.add_parser(
        "verify", help="replay every case with every installed detector and compare",
        description="Replay every golden case with every registered detector and compare with "
                    "the expected files; detectors without expected outputs (third-party "
                    "plugins) get the conformance check. Exit 1 on any difference.")
    _common(v)
    v.add_argument("--detectors", default=None, metavar="NAME,...",
                   help="run only these detectors (default: every registered detector)")
    v.set_defaults(func=_verify)
    r = gsub.add_parser(
        "regen", help="rewrite the expected files and show what changed",
        description="Regenerate inputs (except those of older contract versions) and expected "
                    "files with the built-in detectors, and print a per-file diff to review. "
                    "A case whose new outputs contradict its expect.toml is not written "
                    "(exit 1).")
    _common(r)
    r.set_defaults(func=_regen)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--case", action="append", default=None, metavar="NAME",
                   help="only this case (repeatable; default: every case)")
    p.add_argument("--golden-dir", type=Path, default=None, metavar="DIR",
                   help="golden folder (default: $SPXCC_GOLDEN_DIR, else the cases shipped "
                        "in the package, spxcc_core/golden/fixtures)")


def _verify(args: argparse.Namespace) -> int:
    from spxcc_core.golden.verify import verify

    verdicts = verify(args.golden_dir, cases=args.case, detectors=detector_names(args.detectors))
    failed = 0
    for v in verdicts:
        extra = [f"{r.detector} (conformance {'ok' if r.ok else 'FAILED'})"
                 for r in v.conformance]
        covered = ", ".join([*v.compared, *extra]) or "no detectors"
        print(f"{v.case}: {'ok' if v.ok else 'MISMATCH'} ({covered})")
        for line in v.lines:
            print(f"  {line}")
        failed += not v.ok
    print(f"golden: {len(verdicts) - failed} of {len(verdicts)} cases match")
    return 1 if failed else 0


def _regen(args: argparse.Namespace) -> int:
    from spxcc_core.golden.verify import regen

    refused = 0
    for v in regen(args.golden_dir, cases=args.case):
        verb = "regenerated" if v.ok else "REFUSED"
        print(f"{v.case}: {verb} ({', '.join(v.compared) or 'no detectors'})")
        for line in v.lines:
            print(f"  {line}")
        refused += not v.ok
    return 1 if refused else 0
