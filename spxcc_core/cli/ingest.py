"""``spxcc ingest``: convert one day of Massive flat files into a session cache."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from spxcc_core.errors import ConfigError

__all__ = ["register"]

_EXPLICIT = (("trades", "stocks_trades"), ("quotes", "stocks_quotes"),
             ("option_trades", "options_trades"), ("option_quotes", "options_quotes"),
             ("index_values", "index_values"))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "ingest", help="convert one day of flat files into a session cache",
        description="Convert one day of Massive flat files (CSV or CSV.gz) once into a "
                    "memory-mappable session cache (Arrow IPC + manifest.json) that replays "
                    "read. Give a folder of flat files, or the files with --trades/--quotes/"
                    "--option-trades/--option-quotes/--index-values.")
    p.add_argument("source", nargs="?", type=Path, metavar="SOURCE",
                   help="folder of flat files of one day (e.g. a sample session folder)")
    p.add_argument("--trades", type=Path, help="us_stocks_sip trades file")
    p.add_argument("--quotes", type=Path, help="us_stocks_sip quotes file")
    p.add_argument("--option-trades", type=Path, help="us_options_opra trades file")
    p.add_argument("--option-quotes", type=Path, help="us_options_opra quotes file")
    p.add_argument("--index-values", type=Path, help="us_indices values file")
    p.add_argument("--ticker", default=None, help="keep only this ticker's events")
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="cache folder (created; replaced only when it is a cache spxcc made; "
                        "never a source folder or inside one)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from spxcc_core.replay.cache import ingest

    explicit = {kind: getattr(args, attr) for attr, kind in _EXPLICIT
                if getattr(args, attr) is not None}
    if args.source is not None and explicit:
        raise ConfigError("give either a SOURCE folder or --trades/--quotes/... files, not both")
    if args.source is None and not explicit:
        raise ConfigError("nothing to ingest: give a SOURCE folder or --trades/--quotes/... "
                          "files")
    sources: os.PathLike[str] | dict[str, Path] = args.source if args.source else explicit
    cache = ingest(sources, args.out, ticker=args.ticker)
    m = cache.manifest
    parts = ", ".join(f"{d.kind.replace('_', ' ')} {d.rows:,}" for d in m.datasets)
    print(f"session {m.session_date}: {parts}; {len(m.symbols)} symbols -> {args.out}")
    return 0
