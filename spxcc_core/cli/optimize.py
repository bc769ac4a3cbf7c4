"""``spxcc optimize``: search profile parameters, walk forward, hand the best candidate to the
release gate — never promote (``docs/release-gates.md``, "The optimizer").

Exit 0 when the gate said ``promote`` (the candidate may be promoted by a person), 1 for
anything else (reject, insufficient evidence or data, throughput collapse, no improvement:
the active profile stays), 2 for bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spxcc_core.cli.gates import add_rule_args, rules_from_args
from spxcc_core.cli.parser import examples
from spxcc_core.cli.runargs import db_argument

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "optimize", help="search profile parameters; the release gate judges the best",
        description="Draw candidate profiles from a search space (seeded random or grid), "
                    "score them on the earlier sessions, and hand the best to the release "
                    "gate on the later sessions (walk-forward). Never promotes: writes "
                    "OUT/optimize.json and, when the gate ran, OUT/decision.json and "
                    "OUT/candidate.toml. Exit 0 when the gate says promote, 1 otherwise, "
                    "2 for bad input.",
        **examples('spxcc optimize --sessions cache/* --trials 200 --seed 1 --out opt', 'spxcc optimize --sessions cache/* --trials 200 --seed 1 --jobs 2 --out opt --json'))
    p.add_argument("--sessions", required=True, nargs="+", type=Path, metavar="DIR",
                   help="session caches, folders of flat files or websocket recordings")
    p.add_argument("--trials", type=int, required=True, metavar="N",
                   help="candidate profiles to draw (a grid: at most N points)")
    p.add_argument("--seed", type=int, required=True, metavar="S",
                   help="seed of the draws and of the gate's bootstrap")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    p.add_argument("--space", type=Path, default=None, metavar="FILE.toml",
                   help="search space (default: the built-in one, docs/release-gates.md)")
    p.add_argument("--baseline", default="active", metavar="PROFILE",
                   help="profile to beat: a TOML file, 'default', 'active' (default) or a "
                        "stored id")
    p.add_argument("--fit-fraction", type=float, default=None, metavar="F",
                   help="share of the sessions (the earliest) the search is fitted on; the "
                        "rest judge the best candidate (default 0.6)")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="score candidates in N worker processes (default 1)")
    p.add_argument("--bars-cache", type=Path, default=None, metavar="DIR",
                   help="bars cache folder (default: each session's bars computed once per "
                        "run, in memory)")
    p.add_argument("--recheck", type=int, default=None, metavar="K",
                   help="re-screen the baseline and the K best eligible candidates with the "
                        "detector runner to verify the compiled screening; on a "
                        "disagreement every profile is scored by the runner (default 3; 0: "
                        "the baseline only)")
    add_rule_args(p)
    p.add_argument("--db", type=db_argument, default=None, metavar="PATH|URL",
                   help="profile store, where the baseline and the candidate are recorded "
                        "(default: $SPXCC_DB or the user data folder); a missing store "
                        "file reads as empty (the built-in default profile is active) and is "
                        "created only when a candidate is recorded")
    p.add_argument("--json", action="store_true", help="print optimize.json to stdout")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from spxcc_core.clock import SystemClock
    from spxcc_core.detect.runner import DETECTORS
    from spxcc_core.gates.optimize import DEFAULT_FIT_FRACTION, DEFAULT_RECHECK, run_optimize
    from spxcc_core.gates.runner import DEFAULT_RESAMPLES
    from spxcc_core.gates.search import DEFAULT_SPACE_TOML, load_space, parse_space
    from spxcc_core.plugins import get_plugin_manager
    from spxcc_core.registry import as_registry
    from spxcc_core.run.profiles import named_profile, store_profile
    from spxcc_core.store.existing import StoreRef
    from spxcc_core.store.profiles import ProfileHistory
    from spxcc_core.store.sqlite import Store

    rules = rules_from_args(args)
    pm = get_plugin_manager()
    params = {c.name: c.params_class for c in as_registry(pm).classes(DETECTORS)}
    space = (load_space(args.space, params) if args.space is not None
             else parse_space(DEFAULT_SPACE_TOML, params, "built-in search space"))
    ref = StoreRef.of(args.db)
    # the baseline is only read: a missing store file reads as an empty store (the built-in
    # default profile is active) and is not created, unless a candidate is recorded below
    with ref.open_or_empty() as store:
        baseline = named_profile(pm, args.baseline, ProfileHistory(store))
    run = run_optimize(baseline=baseline, sessions=args.sessions, space=space,
                       trials=args.trials, seed=args.seed,
                       fit_fraction=args.fit_fraction if args.fit_fraction is not None
                       else DEFAULT_FIT_FRACTION, rules=rules,
                       resamples=args.resamples if args.resamples is not None
                       else DEFAULT_RESAMPLES, confidence=args.confidence,
                       out_dir=args.out, pm=pm, jobs=args.jobs, bars_cache=args.bars_cache,
                       recheck=args.recheck if args.recheck is not None else DEFAULT_RECHECK)
    if run.candidate is not None:
        with Store(ref.target) as store:  # created here if it was missing
            history = ProfileHistory(store)
            now = SystemClock().now_ms()
            store_profile(history, baseline, now)
            store_profile(history, run.candidate, now)
    r = run.record
    if args.json:
        sys.stdout.buffer.write(run.document)
        sys.stdout.flush()
        return run.exit_code
    print(f"optimize: {r.status}" + (f", gate decision {r.decision}" if r.decision else "")
          + f" ({max(len(r.results) - 1, 0)} candidates, {len(r.fit_sessions)} fit and "
          f"{len(r.judge_sessions)} judge sessions, seed {r.seed})")
    for reason in r.reasons:
        print(f"  {reason}")
    if r.promote_command is not None:
        print(f"to promote (a person decides): {r.promote_command}")
    print(f"record -> {args.out / 'optimize.json'}")
    return run.exit_code
