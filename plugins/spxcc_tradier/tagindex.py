"""Per-account index of Tradier's day order list by tag, kept current with few requests.

Tradier cannot look an order up by tag: the only way to learn whether an order carries a tag is
to list the day's orders (``includeTags=true``) page by page (reference §4.4, §5.4). The index
remembers, for one account, the id at every position of that list and the first order listed
for every tag, so a later lookup only has to read the list from the last indexed position on.

Assumptions, checked on every read rather than trusted: the list has a stable order in which a
new order is appended at the end, and orders leave it only at the ET-midnight rollover. A read
re-reads the page holding the last indexed position and compares every indexed position it
sees with the id listed there; any difference (another order, a known id at a new position, a
shorter list) makes :meth:`TagIndex.merge` return False and the caller rebuilds the index from
a full listing. So a lookup through the index is never less complete than a full listing of
the positions it has read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from spxcc_tradier import normalize as N

__all__ = ["IndexedOrder", "TagIndex"]


@attrs.define
class IndexedOrder:
    """An indexed order: its id and its status as last listed (may be stale for positions that
    were not re-read)."""

    id: str
    status: str


@attrs.define
class TagIndex:
    """The indexed prefix of one account's day order list (internal state of the adapter).

    :ivar ids: order id per list position (``""`` for an entry without id).
    :ivar by_tag: the first listed order of every tag seen.
    """

    ids: list[str] = attrs.field(factory=list)
    by_tag: dict[str, IndexedOrder] = attrs.field(factory=dict)
    _positions: dict[str, int] = attrs.field(factory=dict)
    _tag_of: dict[str, str] = attrs.field(factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def next_page(self, size: int) -> int:
        """The 1-based page (of ``size`` orders) holding the last indexed position; 1 when the
        index is empty."""
        return max(0, len(self.ids) - 1) // size + 1

    def merge(self, start: int, page: Sequence[Any]) -> bool:
        """Merge one page of the list whose first order is at position ``start`` (0-based).

        :returns: False when the page contradicts the index (an indexed position lists another
            id, a known id shows up at a new position, or the page leaves a gap after the
            indexed prefix): the index must then be rebuilt from a full listing.
        """
        if start > len(self.ids):
            return False
        for k, raw in enumerate(page):
            pos = start + k
            d: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
            oid = N.text(d.get("id")) or ""
            status = N.text(d.get("status")) or ""
            if pos < len(self.ids):
                if self.ids[pos] != oid:
                    return False
                tag = self._tag_of.get(oid)
                if tag is not None and self.by_tag[tag].id == oid:
                    self.by_tag[tag].status = status
                continue
            if oid and oid in self._positions:
                return False
            self.ids.append(oid)
            if oid:
                self._positions[oid] = pos
            tag = N.text(d.get("tag"))
            if tag and oid:
                self._tag_of[oid] = tag
                self.by_tag.setdefault(tag, IndexedOrder(id=oid, status=status))
        return True

    def find(self, tag: str) -> IndexedOrder | None:
        """The first indexed order carrying ``tag``, or None."""
        return self.by_tag.get(tag)
