"""Generate ``contracts/*.schema.json`` from the Structs and detect drift.

Run as ``python -m spxcc_core.contracts.schemas [--check] [DIR]``: without ``--check`` it
(re)writes the files; with it, it exits 1 and names every file that is missing, stale or extra.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import msgspec

from spxcc_core.contracts.registry import all_contracts, schema_filename

__all__ = ["expected_schemas", "main"]


def expected_schemas() -> dict[str, str]:
    """File name → exact file text of every contract schema."""
    out: dict[str, str] = {}
    for (name, version), cls in all_contracts().items():
        schema = msgspec.json.schema(cls)
        schema["$id"] = f"spxcc:{name}@{version}"
        schema["title"] = f"{name}@{version}"
        out[schema_filename(name, version)] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out


def main(argv: list[str] | None = None) -> int:
    """CLI of the schema generator; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m spxcc_core.contracts.schemas")
    parser.add_argument("directory", nargs="?", default="contracts")
    parser.add_argument("--check", action="store_true", help="fail on drift, write nothing")
    args = parser.parse_args(argv)
    root = Path(args.directory)
    expected = expected_schemas()
    present = {p.name for p in root.glob("*.schema.json")}
    if args.check:
        problems = []
        for fname, text in expected.items():
            path = root / fname
            if not path.exists():
                problems.append(f"missing: {path}")
            elif path.read_text(encoding="utf-8") != text:
                problems.append(f"stale: {path}")
        problems += [f"extra: {root / f}" for f in sorted(present - set(expected))]
        for p in problems:
            print(p, file=sys.stderr)
        if problems:
            print("contract schemas drifted: run `nox -s contracts -- --write`", file=sys.stderr)
            return 1
        print(f"{len(expected)} contract schemas up to date")
        return 0
    root.mkdir(parents=True, exist_ok=True)
    for fname in present - set(expected):
        (root / fname).unlink()
    for fname, text in expected.items():
        (root / fname).write_text(text, encoding="utf-8")
    print(f"wrote {len(expected)} contract schemas to {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
