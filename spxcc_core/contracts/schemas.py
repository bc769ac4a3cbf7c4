"""Generate ``contracts/*.schema.json`` from the Structs and detect drift.

Run as ``python -m spxcc_core.contracts.schemas [--check] [DIR]``: without ``--check`` it
(re)writes the files; with it, it exits 1 and names every file that is missing, stale or extra.

The gate compares meaning, not a dependency's spelling: :func:`normalize_schema` rewrites what
msgspec releases spell differently before a schema is written. Every ``description`` text (a
Struct's docstring or a field's ``Meta(description=...)``) goes through
:func:`normalize_description` (0.23 dedents docstrings with ``inspect.cleandoc``; earlier
releases kept the continuation lines' indent), and the alternatives of ``anyOf``/``oneOf``
(unordered in JSON Schema) are put in one order (0.19-0.21 list ``null`` first for some
``Struct | None`` fields, 0.22-0.23 last). The committed files are therefore the same bytes for
every msgspec in the range ``pyproject.toml`` declares.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from spxcc_core.contracts.registry import all_contracts, schema_filename

__all__ = ["expected_schemas", "main", "normalize_description", "normalize_schema"]

# Keywords whose values are instance data (a field may be called "description"), not schema.
_DATA_KEYWORDS = frozenset({"const", "default", "enum", "examples"})
# Keywords whose list of subschemas has no order.
_UNORDERED_KEYWORDS = frozenset({"anyOf", "oneOf"})


def normalize_description(text: str) -> str:
    """One spelling of a description: trailing whitespace stripped from every line and leading
    blank lines dropped, then ``inspect.cleandoc`` (tabs expanded, the first line's indent and
    the common indent of the others removed, trailing blank lines dropped). Idempotent; the
    words and line breaks are kept."""
    return inspect.cleandoc("\n".join(line.rstrip() for line in text.splitlines()).lstrip("\n"))


def _alternative_order(alternative: Any) -> tuple[bool, str]:
    """Sort key of one ``anyOf``/``oneOf`` alternative: ``{"type": "null"}`` last, the others
    by their canonical JSON text."""
    return alternative == {"type": "null"}, json.dumps(alternative, sort_keys=True)


def normalize_schema(node: Any) -> Any:
    """A copy of the JSON Schema ``node`` in one spelling: every ``description`` string
    normalised by :func:`normalize_description`, the alternatives of every ``anyOf``/``oneOf``
    sorted (``null`` last, the rest by canonical JSON). Instance data under ``const``/
    ``default``/``enum``/``examples`` is left as it is. The validation meaning is unchanged."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                out[key] = normalize_description(value)
            elif key in _DATA_KEYWORDS:
                out[key] = value
            elif key in _UNORDERED_KEYWORDS and isinstance(value, list):
                out[key] = sorted((normalize_schema(v) for v in value), key=_alternative_order)
            else:
                out[key] = normalize_schema(value)
        return out
    if isinstance(node, list):
        return [normalize_schema(item) for item in node]
    return node


def expected_schemas() -> dict[str, str]:
    """File name → exact file text of every contract schema (descriptions normalised)."""
    out: dict[str, str] = {}
    for (name, version), cls in all_contracts().items():
        schema = normalize_schema(msgspec.json.schema(cls))
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
