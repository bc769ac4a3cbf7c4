"""Trade classification (spec Lee–Ready) scored against CME's own aggressor flag on real ES data.

The two recordings in ``../shared/data`` (see its README) carry the exchange-reported aggressor
side of every trade (``B`` buyer-initiated, ``A`` seller-initiated, ``N`` auction). They are read
with the project's flat-file readers and aggregated with the default staleness.

The engine reports classification only as each bar's ``deltaVolume``. Classification does not
depend on trade size (spec: price vs. decimal mid, else the tick test), so each trade's size is
replaced by ``3**j`` (``j`` = its position among the trades of its 1 ms bucket): the bar's
``deltaVolume = Σ side_j · 3**j`` with ``side_j ∈ {-1, 0, +1}`` is then a balanced-ternary number
whose digits are the per-trade sides, decoded exactly (float64 holds these integers exactly).

Run with ``-s`` to print the agreement figures.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from spxcc_core.aggregate import AggregatorConfig, aggregate_columns
from spxcc_core.aggregate.columns import ConditionTable, SymbolTable, TradeColumns
from spxcc_core.massive import open_quotes, open_trades

pytestmark = pytest.mark.shared_data

SETS = {
    # name: (file stem, ticker, required agreement on B/A trades)
    "ESU4": ("glbx_esu4_2024-07-01_mbp1", "ESU4", 0.98),
    "ESH4": ("glbx_esh4_2023-12-25_from_mbo", "ESH4", 0.99),
}
NS_PER_MS = 1_000_000


def _aggressor(path: Path) -> list[str]:
    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        include_columns=["aggressor"], column_types={"aggressor": pa.string()}))
    return [str(a) for a in table["aggressor"].to_pylist()]


def _balanced_ternary(value: float, n: int) -> list[int]:
    """Digits (least significant first, each -1, 0 or +1) of an integer-valued float."""
    rest = int(value)
    assert rest == value, f"deltaVolume {value!r} is not an integer"
    digits = []
    for _ in range(n):
        r = rest % 3
        d = -1 if r == 2 else r
        digits.append(d)
        rest = (rest - d) // 3
    assert rest == 0, f"deltaVolume {value!r} has more than {n} ternary digits"
    return digits


def classify(shared_data: Path, stem: str, ticker: str) -> tuple[list[int], list[str]]:
    """Engine side per trade (+1 buy, -1 sell, 0 unclassified) and the exchange aggressor."""
    trades_path = shared_data / f"{stem}.trades.csv.gz"
    quotes_path = shared_data / f"{stem}.quotes.csv.gz"
    symbols, conditions = SymbolTable(), ConditionTable()
    batches = list(open_trades(trades_path, ticker=ticker, symbols=symbols, conditions=conditions))
    t = TradeColumns(**{name: np.concatenate([getattr(b, name) for b in batches])
                        for name in ("ts", "symbol", "seq", "price", "size", "cond",
                                     "correction", "line")})
    aggressor = _aggressor(trades_path)
    assert len(aggressor) == len(t)

    bucket = t.ts // NS_PER_MS  # 1 ms buckets, in file (time) order
    position = np.zeros(len(t), dtype=np.int64)
    for i in range(1, len(t)):
        position[i] = position[i - 1] + 1 if bucket[i] == bucket[i - 1] else 0
    assert position.max() < 33, "3**j must stay exact in float64"
    weights = 3.0 ** position
    t = TradeColumns(ts=t.ts, symbol=t.symbol, seq=t.seq, price=t.price, size=weights,
                     cond=t.cond, correction=t.correction, line=t.line)

    quotes = open_quotes(quotes_path, ticker=ticker, symbols=symbols)
    res = aggregate_columns(t, quotes, symbols=symbols, conditions=conditions,
                            config=AggregatorConfig(interval_ms=1), engine="batch")
    by_start = {b.start_ms: b for b in res.bars}
    counts = Counter(bucket.tolist())
    sides: list[int] = []
    for start_ms in sorted(counts):
        bar = by_start[start_ms]
        n = counts[start_ms]
        assert bar.volume == sum(3.0 ** j for j in range(n)), "every trade applied"
        sides += _balanced_ternary(bar.delta_volume, n)
    return sides, aggressor


def score(sides: list[int], aggressor: list[str]) -> tuple[int, int, Counter[str]]:
    """(agreeing, B-or-A trades, outcome counts) — unclassified counts as disagreement."""
    outcome: Counter[str] = Counter()
    agree = total = 0
    for side, truth in zip(sides, aggressor, strict=True):
        if truth not in ("B", "A"):
            continue
        total += 1
        want = 1 if truth == "B" else -1
        if side == want:
            agree += 1
            outcome["agree"] += 1
        else:
            outcome["unclassified" if side == 0 else "opposite"] += 1
    return agree, total, outcome


@pytest.mark.parametrize("name", sorted(SETS))
def test_classification_agrees_with_the_exchange_aggressor(shared_data: Path, name: str) -> None:
    stem, ticker, required = SETS[name]
    sides, aggressor = classify(shared_data, stem, ticker)
    agree, total, outcome = score(sides, aggressor)
    rate = agree / total
    print(f"\n{name}: {agree}/{total} B/A trades agree with the CME aggressor flag "
          f"({100 * rate:.2f} %); {dict(outcome)}")
    assert rate >= required, f"{name}: {100 * rate:.2f} % < {100 * required:.0f} %"


def test_balanced_ternary_decoding() -> None:
    # +1 - 3 + 0 + 27 = 25  -> digits [1, -1, 0, 1]
    assert _balanced_ternary(25.0, 4) == [1, -1, 0, 1]
    # -1 - 3 - 9 = -13
    assert _balanced_ternary(-13.0, 3) == [-1, -1, -1]
    assert _balanced_ternary(0.0, 2) == [0, 0]
    with pytest.raises(AssertionError):
        _balanced_ternary(27.0, 3)  # needs a 4th digit
