"""Record-by-record, field-by-field comparison of two JSON Lines output files.

Pure functions over bytes: no replay, no store. A file's records are matched by a key (the
:data:`RECORD_KINDS` entry of the file, else the line number), every matched pair is compared
field by field (nested objects and arrays as dotted paths), and each difference is placed in
or out of the feed-gap windows by the record's event time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

import attrs
import msgspec

from spxcc_core.contracts.host import FeedGap
from spxcc_core.contracts.parity import (
    FieldDifference,
    FileParity,
    FileStatus,
    ParityGapWindow,
    RecordDifference,
)
from spxcc_core.errors import InputError

__all__ = ["MAX_LISTED", "RECORD_KINDS", "GapWindows", "RecordKind", "compare_document",
           "compare_lines", "flatten", "gap_windows"]

#: Differences listed per file (all are counted).
MAX_LISTED: Final = 50

_NO_END: Final = math.inf
_decode = msgspec.json.decode


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@attrs.frozen
class RecordKind:
    """How the records of one output file are identified and timed.

    ``key``: wire fields whose values identify a record; ``span``: the record's event-time span
    ``(first, last)`` in epoch ms (``first`` None: the record has no time, never in a gap).
    """

    key: tuple[str, ...]
    span: Callable[[dict[str, Any]], tuple[int | None, int | None]]


def _setup_span(r: dict[str, Any]) -> tuple[int | None, int | None]:
    first = _int(r.get("detectedMs"))
    last = _int(r.get("closedMs"))
    return first, last if last is not None else first


def _field_span(name: str) -> Callable[[dict[str, Any]], tuple[int | None, int | None]]:
    def span(r: dict[str, Any]) -> tuple[int | None, int | None]:
        t = _int(r.get(name))
        return t, t

    return span


def _quarantine_span(r: dict[str, Any]) -> tuple[int | None, int | None]:
    ts = _int(r.get("ts"))
    t = None if ts is None else ts // 1_000_000
    return t, t


#: Output files and how their records are keyed and timed.
RECORD_KINDS: Final[dict[str, RecordKind]] = {
    "microbars.jsonl": RecordKind(("symbol", "startMs"), _field_span("startMs")),
    "setups.jsonl": RecordKind(("id",), _setup_span),
    "gate_decisions.jsonl": RecordKind(("setupId", "barStartMs"), _field_span("barStartMs")),
    "quarantine.jsonl": RecordKind(("kind", "line", "ts"), _quarantine_span),
    "intents.jsonl": RecordKind(("intentId",), _field_span("createdAtMs")),
    "fills.jsonl": RecordKind(("fillId",), _field_span("atMs")),
    "positions.jsonl": RecordKind(("symbol",), _field_span("acquiredAtMs")),
    "slippage.jsonl": RecordKind(("fillId",), _field_span("atMs")),
}


@attrs.frozen
class GapWindows:
    """Event-time windows ``[lo, hi)`` (ms) in which a difference is expected."""

    windows: tuple[tuple[float, float], ...] = ()

    def meets(self, first: int | None, last: int | None) -> bool:
        """Whether the span ``[first, last]`` meets a window (a span without time never does)."""
        if first is None:
            return False
        end = first if last is None else last
        return any(first < hi and end >= lo for lo, hi in self.windows)


def gap_windows(gaps: Sequence[FeedGap], *, interval_ms: int,
                stale_ms: int) -> tuple[GapWindows, list[ParityGapWindow]]:
    """The windows of ``gaps``: from the start of the bar holding ``fromMs`` (the newest event
    before the drop) to ``toMs`` (the oldest after it) plus ``stale_ms`` (a quote lost in the gap
    would still have been in force) plus one bar (the tick test of the first trade after it).
    An open gap (``toMs`` null) runs to the end; one without ``fromMs`` from the start."""
    spans: list[tuple[float, float]] = []
    shown: list[ParityGapWindow] = []
    for g in gaps:
        lo = None if g.from_ms is None else g.from_ms // interval_ms * interval_ms
        hi = None if g.to_ms is None else g.to_ms + stale_ms + interval_ms
        spans.append((-math.inf if lo is None else lo, _NO_END if hi is None else hi))
        shown.append(ParityGapWindow(url=g.url, from_ms=g.from_ms, to_ms=g.to_ms,
                                     window_from_ms=lo, window_to_ms=hi))
    return GapWindows(tuple(spans)), shown


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every leaf of a decoded JSON value as ``(path, value)``: object members as ``a.b``,
    array items as ``a[2]``; an empty object or array is a leaf."""
    if isinstance(value, dict) and value:
        for k, v in value.items():
            yield from flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list) and value:
        for i, v in enumerate(value):
            yield from flatten(v, f"{prefix}[{i}]")
    else:
        yield prefix, value


def _field_differences(live: Any, replay: Any) -> list[FieldDifference]:
    a, b = dict(flatten(live)), dict(flatten(replay))
    names = list(a) + [k for k in b if k not in a]
    return [FieldDifference(field=k, live=a.get(k), replay=b.get(k)) for k in names
            if k not in a or k not in b or not _same(a[k], b[k])]


def _same(x: Any, y: Any) -> bool:
    return type(x) is type(y) and x == y


def _records(data: bytes, name: str, side: str) -> list[Any]:
    out = []
    for i, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(_decode(line))
        except msgspec.DecodeError as exc:
            raise InputError(f"{side} {name}", f"not JSON Lines ({exc})", row=i) from None
    return out


def _keyed(records: list[Any], kind: RecordKind | None) -> list[str]:
    keys: list[str] = []
    seen: dict[str, int] = {}
    for i, r in enumerate(records, 1):
        if kind is None or not isinstance(r, dict):
            base = f"line {i}"
        else:
            base = "@".join(str(r.get(f)) for f in kind.key)
        n = seen.get(base, 0)
        seen[base] = n + 1
        keys.append(base if n == 0 else f"{base}#{n + 1}")
    return keys


def _summary(name: str, diffs: list[RecordDifference], live_n: int | None,
             replay_n: int | None) -> FileParity:
    expected = sum(1 for d in diffs if d.in_gap)
    counts: dict[str, int] = {}
    for d in diffs:
        for f in d.fields:
            counts[f.field] = counts.get(f.field, 0) + 1
    unexpected = [d for d in diffs if not d.in_gap]
    first = unexpected[0] if unexpected else (diffs[0] if diffs else None)
    status: FileStatus = ("different" if unexpected else
                          "expected_differences" if diffs else "identical")
    return FileParity(file=name, status=status, note="", live_records=live_n,
                      replay_records=replay_n, differences=len(diffs), expected=expected,
                      field_counts=dict(sorted(counts.items())), first=first,
                      listed=diffs[:MAX_LISTED])


def compare_lines(name: str, live: bytes, replay: bytes, *, windows: GapWindows) -> FileParity:
    """Compare one JSON Lines file, live against replay.

    Records are matched by the file's :data:`RECORD_KINDS` key (the line number for other
    files). Byte-identical files are ``identical`` without decoding. Otherwise every record only
    one side has, every matched pair with differing fields (listed by wire path), and — when
    the records are the same but their order is not — the first line out of order are
    differences; each is ``inGap`` when the record's span meets a window.

    :raises InputError: a line of either file is not JSON.
    """
    kind = RECORD_KINDS.get(name)
    if live == replay:
        n = len([x for x in live.splitlines() if x.strip()])
        return _summary(name, [], n, n)
    a, b = _records(live, name, "live"), _records(replay, name, "replay")
    ka, kb = _keyed(a, kind), _keyed(b, kind)
    index_b = {k: i for i, k in enumerate(kb)}
    index_a = {k: i for i, k in enumerate(ka)}

    def span(r: Any) -> tuple[int | None, int | None]:
        return kind.span(r) if kind is not None and isinstance(r, dict) else (None, None)

    diffs: list[RecordDifference] = []
    for i, (k, rec) in enumerate(zip(ka, a, strict=True)):
        first, last = span(rec)
        j = index_b.get(k)
        if j is None:
            diffs.append(RecordDifference(key=k, kind="missing_in_replay", line=i + 1,
                                          at_ms=first, in_gap=windows.meets(first, last),
                                          fields=[]))
            continue
        fields = _field_differences(rec, b[j])
        if fields:
            rfirst, rlast = span(b[j])
            in_gap = windows.meets(first, last) or windows.meets(rfirst, rlast)
            diffs.append(RecordDifference(key=k, kind="changed", line=i + 1, at_ms=first,
                                          in_gap=in_gap, fields=fields))
    for j, (k, rec) in enumerate(zip(kb, b, strict=True)):
        if k not in index_a:
            first, last = span(rec)
            diffs.append(RecordDifference(key=k, kind="missing_in_live", line=j + 1,
                                          at_ms=first, in_gap=windows.meets(first, last),
                                          fields=[]))
    if not diffs:
        common_b = [k for k in kb if k in index_a]
        for i, (x, y) in enumerate(zip(ka, common_b, strict=False)):
            if x != y:
                first, last = span(a[i])
                diffs.append(RecordDifference(key=x, kind="order", line=i + 1, at_ms=first,
                                              in_gap=windows.meets(first, last), fields=[]))
                break
        else:  # same records, same order: the bytes differ in their spelling only
            diffs.append(RecordDifference(key="bytes", kind="order", line=1, at_ms=None,
                                          in_gap=False, fields=[]))
    return _summary(name, diffs, len(a), len(b))


def compare_document(name: str, live: bytes, replay: bytes, *,
                     ignore: Sequence[str] = ()) -> FileParity:
    """Compare one JSON document (``report.json``) field by field: one ``changed`` record
    (key ``name``) listing every differing wire path; never in a gap (a report covers the
    whole session). Top-level members named in ``ignore`` are left out on both sides.

    :raises InputError: either side is not JSON.
    """
    if live == replay:
        return _summary(name, [], 1, 1)
    try:
        a, b = _decode(live), _decode(replay)
    except msgspec.DecodeError as exc:
        raise InputError(name, f"not JSON ({exc})") from None
    for doc in (a, b):
        if isinstance(doc, dict):
            for key in ignore:
                doc.pop(key, None)
    fields = _field_differences(a, b)
    if not fields and ignore:  # equal once the ignored members are left out
        return _summary(name, [], 1, 1)
    diffs = [RecordDifference(key=name, kind="changed" if fields else "order", line=1,
                              at_ms=None, in_gap=False, fields=fields)]
    return _summary(name, diffs, 1, 1)
