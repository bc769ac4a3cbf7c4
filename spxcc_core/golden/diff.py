"""Human-readable differences between two versions of a golden case's expected files.

JSON Lines files are compared record by record under a key (bars by symbol and start, setups by
id, gate decisions by setup id and occurrence, quarantine entries by kind and input line): each
file gets one summary line (changed / added / removed) and, for the first few changed records,
the fields that differ with their old and new values. ``report.json`` is compared field by
field (dotted paths). Times are shown as New York clock times next to their epoch values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from spxcc_core.session import NEW_YORK as _NY

__all__ = ["DEFAULT_SHOWN", "diff_file", "diff_outputs"]

#: Changed records shown with their field differences, per file.
DEFAULT_SHOWN = 5

Key = tuple[Any, ...]


def _clock(ms: Any) -> str:
    if not isinstance(ms, int):
        return str(ms)
    return dt.datetime.fromtimestamp(ms / 1000, _NY).strftime("%H:%M:%S")


def _bar_key(rec: dict[str, Any], _n: int) -> Key:
    return (rec.get("symbol"), rec.get("startMs"))


def _setup_key(rec: dict[str, Any], _n: int) -> Key:
    return (rec.get("id"),)


def _decision_key(rec: dict[str, Any], n: int) -> Key:
    return (rec.get("setupId"), n)


def _quarantine_key(rec: dict[str, Any], _n: int) -> Key:
    return (rec.get("kind"), rec.get("line"), rec.get("reason"))


_KEYS: dict[str, Callable[[dict[str, Any], int], Key]] = {
    "microbars.jsonl": _bar_key,
    "setups.jsonl": _setup_key,
    "gate_decisions.jsonl": _decision_key,
    "quarantine.jsonl": _quarantine_key,
}


def _label(name: str, rec: dict[str, Any]) -> str:
    if name == "microbars.jsonl":
        return f"bar {rec.get('symbol')} {_clock(rec.get('startMs'))} ({rec.get('startMs')})"
    if name == "setups.jsonl":
        return (f"setup {rec.get('detector')} {rec.get('direction')} "
                f"{_clock(rec.get('detectedMs'))} {str(rec.get('id'))[:8]}")
    if name == "gate_decisions.jsonl":
        return (f"decision {rec.get('detector')} {rec.get('direction')} "
                f"{_clock(rec.get('barStartMs'))} {str(rec.get('setupId'))[:8]}")
    return f"{rec.get('kind')} line {rec.get('line')} ({rec.get('reason')})"


def _records(name: str, data: bytes) -> dict[Key, dict[str, Any]]:
    key = _KEYS[name]
    out: dict[Key, dict[str, Any]] = {}
    seen: dict[Any, int] = {}
    for line in data.splitlines():
        if not line.strip():
            continue
        rec = msgspec.json.decode(line)
        first = key(rec, 0)[0]
        n = seen.get(first, 0)
        seen[first] = n + 1
        out[key(rec, n)] = rec
    return out


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for k, v in value.items():
            flat.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return flat
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        flat = {}
        for i, v in enumerate(value):
            flat.update(_flatten(v, f"{prefix}[{i}]"))
        return flat
    return {prefix: value}


def _field_changes(old: Any, new: Any, limit: int = 8) -> str:
    a, b = _flatten(old), _flatten(new)
    parts = [f"{k}: {a.get(k, '<absent>')!r} -> {b.get(k, '<absent>')!r}"
             for k in sorted(set(a) | set(b)) if a.get(k, ...) != b.get(k, ...)]
    more = f"; ... {len(parts) - limit} more" if len(parts) > limit else ""
    return "; ".join(parts[:limit]) + more


def _lines(data: bytes | None) -> int:
    return 0 if data is None else sum(1 for ln in data.splitlines() if ln.strip())


def diff_file(name: str, old: bytes | None, new: bytes | None,
              shown: int = DEFAULT_SHOWN) -> list[str]:
    """Lines describing how expected file ``name`` changed from ``old`` to ``new`` (None: the
    file is absent). One summary line, then up to ``shown`` records with field differences."""
    if old == new:
        what = "absent" if new is None else (f"{_lines(new)} lines" if name in _KEYS
                                             else "same")
        return [f"{name}: unchanged ({what})"]
    if old is None or new is None:
        return [f"{name}: {'new file' if old is None else 'removed'} "
                f"({_lines(new if old is None else old)} lines)"]
    if name not in _KEYS:
        a, b = _flatten(msgspec.json.decode(old)), _flatten(msgspec.json.decode(new))
        fields = [k for k in sorted(set(a) | set(b)) if a.get(k, ...) != b.get(k, ...)]
        limit = max(shown * 4, 20)
        out = [f"{name}: {len(fields)} field{'s' if len(fields) != 1 else ''} changed"]
        for f in fields[:limit]:
            out.append(f"  {f}: {a.get(f, '<absent>')!r} -> {b.get(f, '<absent>')!r}")
        if len(fields) > limit:
            out.append(f"  ... {len(fields) - limit} more")
        return out
    ra, rb = _records(name, old), _records(name, new)
    removed = [k for k in ra if k not in rb]
    added = [k for k in rb if k not in ra]
    changed = [k for k in ra if k in rb and ra[k] != rb[k]]
    out = [f"{name}: {len(changed)} changed, {len(added)} added, {len(removed)} removed "
           f"({len(ra)} -> {len(rb)} records)"]
    for k in changed[:shown]:
        out.append(f"  changed {_label(name, rb[k])}: {_field_changes(ra[k], rb[k])}")
    for k in added[:shown]:
        out.append(f"  added {_label(name, rb[k])}")
    for k in removed[:shown]:
        out.append(f"  removed {_label(name, ra[k])}")
    hidden = (max(0, len(changed) - shown) + max(0, len(added) - shown)
              + max(0, len(removed) - shown))
    if hidden:
        out.append(f"  ... {hidden} more record differences not shown")
    return out


def diff_outputs(old: Mapping[str, bytes | None], new: Mapping[str, bytes | None],
                 names: tuple[str, ...], shown: int = DEFAULT_SHOWN) -> list[str]:
    """:func:`diff_file` over ``names`` (file order), concatenated."""
    out: list[str] = []
    for name in names:
        out.extend(diff_file(name, old.get(name), new.get(name), shown))
    return out
