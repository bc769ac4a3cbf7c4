"""An independent polars implementation of the microbar specification (``spec/microbar.md``).

It is the benchmark's reference and a correctness oracle for the project's engine: written from
the spec alone (no code shared with ``spxcc_core.aggregate``), with its own transcription of the
trade-condition update rules (``reference/massive.md`` §3.2 stocks, §3.5 options policy).

Whole-table expressions, no per-event Python:

1. per feed and symbol, in arrival order: ``late`` (``ts`` older than the running max of earlier
   arrivals minus the lateness), then ``duplicate`` (seq present, same key and values as an
   earlier non-late event), then validity reasons in the spec's precedence;
2. applied events sorted by ``(symbol, ts, seq (missing first), arrival)``; trades see the last
   valid quote with a strictly smaller ``ts`` (as-of join), fresh within ``stale``;
3. Lee–Ready: ``2·P`` vs ``B + A`` in integer micro-units under a fresh two-sided quote (a
   one-sided quote, one side ``0 × 0``, has no mid), else the tick test against the last
   differing price of earlier volume-eligible (classifiable) trades, across buckets;
4. time weighting: each valid quote is in force from its ``ts`` to the next quote's ``ts``, fresh
   for ``stale`` of that; the fresh interval is split at bucket boundaries (interval
   splitting) and weighted by its duration in ns; the spread only over two-sided pieces;
5. close-quote fields from the last valid quote with ``ts < end`` if fresh at ``end`` (the
   ratio only with a bid).

Inputs are polars frames in arrival order. Trades: ``symbol`` (str), ``ts`` (int64 ns),
``seq`` (int64, null or negative = absent), ``price``, ``size`` (float64), ``conditions``
(Massive text ``"14,37"`` / ``""`` or ``list[int]``), ``correction`` (int); quotes: ``symbol``,
``ts``, ``seq``, ``bid``, ``bid_size``, ``ask``, ``ask_size``. An optional ``line`` column keeps
file row numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
import polars as pl

__all__ = [
    "BAR_COLUMNS",
    "ReferenceResult",
    "compare_bars",
    "compare_reports",
    "eligibility",
    "microbars",
    "read_quotes_csv",
    "read_trades_csv",
]

HL, OC, V, CLASSIFY = 1, 2, 4, 8
_ALL = HL | OC | V | CLASSIFY

# --- trade-condition update rules (own transcription) ------------------------------------------
# massive.md §3.2, consolidated flags (HL, OC, V); the spec fixes 17 = (1, 0, 1), 29 = (0, 0, 1).
_STOCK: dict[int, tuple[int, int, int]] = {
    0: (1, 1, 1), 1: (1, 1, 1), 2: (0, 0, 1), 3: (1, 1, 1), 4: (1, 1, 1), 5: (1, 0, 1),
    6: (1, 1, 1), 7: (0, 0, 1), 8: (1, 1, 1), 9: (1, 1, 1), 10: (1, 0, 1), 11: (1, 1, 1),
    12: (0, 0, 1), 13: (0, 0, 1), 14: (1, 1, 1), 15: (0, 0, 0), 16: (0, 0, 0), 17: (1, 0, 1),
    18: (1, 1, 1), 19: (1, 1, 1), 20: (0, 0, 1), 21: (0, 0, 1), 22: (1, 0, 1), 23: (1, 1, 1),
    24: (1, 1, 1), 25: (1, 1, 1), 27: (1, 1, 1), 28: (1, 1, 1), 29: (0, 0, 1), 30: (1, 1, 1),
    31: (1, 1, 1), 32: (1, 0, 1), 33: (1, 0, 1), 34: (1, 1, 1), 35: (1, 1, 1), 36: (1, 1, 1),
    37: (0, 0, 1), 38: (1, 1, 0), 52: (0, 0, 1), 53: (0, 0, 1), 55: (1, 1, 1),
}
#: Ids without update rules: ignored in the AND (trade-thru exempt, SSR and financial status).
_NO_RULES = frozenset({41, 57, 58, 59, 60, *range(62, 72)})


def _option_bits(cid: int) -> int | None:
    """massive.md §3.5 policy: cancels out of everything, late prints volume only, multi-leg
    (and compression, 247) prints volume only and not classified; other listed ids regular."""
    if cid in (201, 203, 205, 207):
        return 0
    if cid in (202, 204, 206, 208):
        return V | CLASSIFY
    if 232 <= cid <= 247:  # multi-leg and compression prints: not outright-priced
        return V
    if cid in (209, 210, 219, 227, 228, 229, 230, 231, 248):
        return _ALL
    return None


def eligibility(ids: Iterable[int]) -> tuple[int, tuple[int, ...]]:
    """Flag bits (HL 1, OC 2, V 4, CLASSIFY 8) of a condition set (AND over ids with rules;
    empty set = all) and the sorted ids missing from the table."""
    bits = _ALL
    unknown: list[int] = []
    for cid in sorted(set(ids)):
        if cid in _NO_RULES:
            continue
        if cid in _STOCK:
            hl, oc, v = _STOCK[cid]
            bits &= hl * HL | oc * OC | v * (V | CLASSIFY)
            continue
        ob = _option_bits(cid)
        if ob is None:
            unknown.append(cid)
        else:
            bits &= ob
    return bits, tuple(unknown)


# --- inputs ------------------------------------------------------------------------------------

_TRADE_SCHEMA = {"symbol": pl.String, "ts": pl.Int64, "seq": pl.Int64, "price": pl.Float64,
                 "size": pl.Float64, "correction": pl.Int64}
_QUOTE_SCHEMA = {"symbol": pl.String, "ts": pl.Int64, "seq": pl.Int64, "bid": pl.Float64,
                 "bid_size": pl.Float64, "ask": pl.Float64, "ask_size": pl.Float64}


def _normalise(df: pl.DataFrame, schema: Mapping[str, Any], kind: str) -> pl.DataFrame:
    if "seq" not in df.columns:
        df = df.with_columns(pl.lit(None, dtype=pl.Int64).alias("seq"))
    if kind == "trade":
        if "correction" not in df.columns:
            df = df.with_columns(pl.lit(0, dtype=pl.Int64).alias("correction"))
        if "conditions" not in df.columns:
            df = df.with_columns(pl.lit("").alias("conditions"))
        elif df.schema["conditions"] != pl.String:
            df = df.with_columns(pl.col("conditions").list.eval(pl.element().cast(pl.String))
                                 .list.join(",").fill_null("").alias("conditions"))
    df = df.with_row_index("pos")
    if "line" not in df.columns:
        df = df.with_columns((pl.col("pos").cast(pl.Int64) + 1).alias("line"))
    casts = [pl.col(k).cast(t) for k, t in schema.items()]
    df = df.with_columns(casts).with_columns(
        pl.when(pl.col("seq") < 0).then(None).otherwise(pl.col("seq")).alias("seq"))
    return df


def _judge(df: pl.DataFrame, value_cols: list[str], validity: pl.Expr, lateness_ns: int
           ) -> pl.DataFrame:
    """Adds ``reason`` (null = applied) following the spec's check order. An event before the
    epoch (``ts < 0``) is ``bad_timestamp`` and never moves ``max_ts``."""
    bad_ts = pl.col("ts") < 0
    epoch_ts = pl.when(~bad_ts).then(pl.col("ts"))
    prev_max = epoch_ts.cum_max().forward_fill().shift(1).over("symbol")
    df = df.with_columns(bad_ts.alias("bad_ts"))
    df = df.with_columns((~pl.col("bad_ts") & (pl.col("ts") < prev_max - lateness_ns))
                         .fill_null(False).alias("late"))
    key = ["bad_ts", "late", "symbol", "ts", "seq", *value_cols]
    rank = pl.int_range(pl.len()).over(key)
    dup = ~pl.col("bad_ts") & ~pl.col("late") & pl.col("seq").is_not_null() & (rank > 0)
    return df.with_columns(
        pl.when(pl.col("bad_ts")).then(pl.lit("bad_timestamp"))
        .when(pl.col("late")).then(pl.lit("late"))
        .when(dup).then(pl.lit("duplicate"))
        .otherwise(validity).alias("reason"))


def _trade_validity() -> pl.Expr:
    p, s = pl.col("price"), pl.col("size")
    return (pl.when(~p.is_finite() | ~s.is_finite()).then(pl.lit("non_finite"))
            .when(p <= 0).then(pl.lit("bad_price"))
            .when(s <= 0).then(pl.lit("bad_size"))
            .when(pl.col("correction") != 0).then(pl.lit("correction"))
            .otherwise(pl.lit(None, dtype=pl.String)))


def _present(price: str, size: str) -> pl.Expr:
    return (pl.col(price) > 0) & (pl.col(size) > 0)


def _absent(price: str, size: str) -> pl.Expr:
    return (pl.col(price) == 0) & (pl.col(size) == 0)


def _quote_validity() -> pl.Expr:
    """Revision 2026-12-06: each side present (price and size > 0) or absent (both 0); anything
    else on a side, or both sides absent, is ``empty_side``; crossed needs both sides."""
    cols = [pl.col(c) for c in ("bid", "bid_size", "ask", "ask_size")]
    finite = pl.all_horizontal([c.is_finite() for c in cols])
    bid_ok = _present("bid", "bid_size") | _absent("bid", "bid_size")
    ask_ok = _present("ask", "ask_size") | _absent("ask", "ask_size")
    both_absent = _absent("bid", "bid_size") & _absent("ask", "ask_size")
    both_present = _present("bid", "bid_size") & _present("ask", "ask_size")
    return (pl.when(~finite).then(pl.lit("non_finite"))
            .when(~bid_ok | ~ask_ok | both_absent).then(pl.lit("empty_side"))
            .when(both_present & (pl.col("ask") < pl.col("bid"))).then(pl.lit("crossed_quote"))
            .otherwise(pl.lit(None, dtype=pl.String)))


def _micro(col: str) -> pl.Expr:
    return (pl.col(col) * 1_000_000.0).round().cast(pl.Int64)


def _condition_flags(texts: list[str], rules: Callable[[tuple[int, ...]], tuple[int, tuple[int, ...]]]
                     ) -> pl.DataFrame:
    rows = []
    for text in texts:
        ids = tuple(int(x) for x in text.split(",") if x.strip()) if text else ()
        bits, unknown = rules(ids)
        rows.append({"conditions": text, "flags": bits, "unknown": list(unknown)})
    return pl.DataFrame(rows, schema={"conditions": pl.String, "flags": pl.Int64,
                                      "unknown": pl.List(pl.Int64)})


# --- the engine --------------------------------------------------------------------------------

#: Output columns (wire names, wire order of ``microbar@2``).
BAR_COLUMNS = ("symbol", "startMs", "intervalMs", "open", "high", "low", "close", "volume",
               "tradeCount", "vwap", "deltaVolume", "bidAskImbalance", "askBidSizeRatio",
               "quoteCoveragePct", "avgSpreadBps", "bidSizeAtClose", "askSizeAtClose",
               "quoteCount")


@attrs.frozen(eq=False)
class ReferenceResult:
    """Bars (``BAR_COLUMNS``, ordered by symbol then startMs), the run report (spec wire
    names) and the quarantined events (kind, reason, symbol, ts, seq, line)."""

    bars: pl.DataFrame
    report: dict[str, Any]
    quarantine: pl.DataFrame


_EMPTY_T = pl.DataFrame(schema={**_TRADE_SCHEMA, "conditions": pl.String})
_EMPTY_Q = pl.DataFrame(schema=_QUOTE_SCHEMA)


def microbars(trades: pl.DataFrame | None, quotes: pl.DataFrame | None, *,
              interval_ms: int = 1000, stale_ms: int = 2000, lateness_ms: int = 0,
              ticker: str | None = None,
              rules: Callable[[tuple[int, ...]], tuple[int, tuple[int, ...]]] = eligibility,
              ) -> ReferenceResult:
    """Microbars of the given feeds per ``spec/microbar.md`` (see the module docstring)."""
    iv = interval_ms * 1_000_000
    stale = stale_ms * 1_000_000
    late_ns = lateness_ms * 1_000_000
    t = _normalise(_EMPTY_T if trades is None else trades, _TRADE_SCHEMA, "trade")
    q = _normalise(_EMPTY_Q if quotes is None else quotes, _QUOTE_SCHEMA, "quote")

    t = _judge(t, ["price", "size", "conditions", "correction"], _trade_validity(), late_ns)
    q = _judge(q, ["bid", "bid_size", "ask", "ask_size"], _quote_validity(), late_ns)

    texts = t.get_column("conditions").unique().to_list()
    flags = _condition_flags(texts, rules)
    order = [pl.col("symbol"), pl.col("ts"), pl.col("seq").fill_null(-1), pl.col("pos")]
    ta = (t.filter(pl.col("reason").is_null()).join(flags, on="conditions", how="left")
          .sort(order))
    qa = q.filter(pl.col("reason").is_null()).sort(order)

    # Quote state: the last quote of each (symbol, ts) is the one in force after that instant.
    qs = (qa.group_by(["symbol", "ts"], maintain_order=True)
          .agg(pl.col("bid").last(), pl.col("bid_size").last(), pl.col("ask").last(),
               pl.col("ask_size").last())
          .sort(["symbol", "ts"]))

    # Trades: quote in force strictly before (trade precedes a quote at the same ts).
    ta = ta.join_asof(qs.rename({"ts": "q_ts"}), left_on="ts", right_on="q_ts", by="symbol",
                      strategy="backward", allow_exact_matches=False, check_sortedness=False)
    fresh = pl.col("q_ts").is_not_null() & (pl.col("ts") - pl.col("q_ts") <= stale)
    # the quote test needs a two-sided quote (an absent side's price is 0)
    fresh = fresh & (pl.col("bid") > 0) & (pl.col("ask") > 0)
    two_p = 2 * _micro("price")
    b_plus_a = _micro("bid") + _micro("ask")
    quote_side = (pl.when(fresh & (two_p > b_plus_a)).then(1)
                  .when(fresh & (two_p < b_plus_a)).then(-1).otherwise(0))
    elig_v = (pl.col("flags") & V) != 0
    ref = elig_v & ((pl.col("flags") & CLASSIFY) != 0)
    ta = ta.with_columns(quote_side.alias("qside"), ref.alias("ref"),
                         (pl.col("ts") // iv).alias("k"))

    # Tick test over the classifiable volume-eligible trades of each symbol, across buckets:
    # the last differing earlier price is the price of the previous run of equal prices.
    tr = ta.filter(pl.col("ref")).select("pos", "symbol", "price")
    tr = tr.with_columns(pl.col("price").shift(1).over("symbol").alias("prev_row"))
    tr = tr.with_columns(
        pl.when(pl.col("prev_row").is_null() | (pl.col("prev_row") != pl.col("price")))
        .then(pl.col("prev_row")).otherwise(None).alias("run_prev"),
        (pl.col("prev_row").is_null() | (pl.col("prev_row") != pl.col("price"))).alias("start"))
    tr = tr.with_columns(
        pl.col("start").cast(pl.Int64).cum_sum().over("symbol").alias("run"))
    tr = tr.with_columns(pl.col("run_prev").first().over(["symbol", "run"]).alias("p_prev"))
    tick = (pl.when(pl.col("p_prev").is_null()).then(0)
            .when(pl.col("price") > pl.col("p_prev")).then(1)
            .when(pl.col("price") < pl.col("p_prev")).then(-1).otherwise(0))
    tr = tr.select("pos", tick.alias("tside"))
    ta = ta.join(tr, on="pos", how="left").sort(order)
    side = (pl.when(~pl.col("ref")).then(0)
            .when(pl.col("qside") != 0).then(pl.col("qside"))
            .otherwise(pl.col("tside").fill_null(0)))
    ta = ta.with_columns(side.alias("side"))

    f = pl.col("flags")
    is_hl, is_oc, is_v = (f & HL) != 0, (f & OC) != 0, (f & V) != 0
    p, s = pl.col("price"), pl.col("size")
    bars = (ta.group_by(["symbol", "k"], maintain_order=True).agg(
        p.filter(is_oc).first().alias("open"),
        p.filter(is_hl).max().alias("high"),
        p.filter(is_hl).min().alias("low"),
        p.filter(is_oc).last().alias("close"),
        s.filter(is_v).sum().alias("volume"),
        is_v.sum().cast(pl.Int64).alias("tradeCount"),
        (p * s).filter(is_v).sum().alias("pv"),
        s.filter(is_v & (pl.col("side") > 0)).sum().alias("buy"),
        s.filter(is_v & (pl.col("side") < 0)).sum().alias("sell"),
        (f & (HL | OC | V) != 0).any().alias("eligible"),
    ).filter(pl.col("eligible")))
    bars = bars.with_columns(
        pl.when(pl.col("volume") > 0).then(pl.col("pv") / pl.col("volume")).otherwise(None)
        .alias("vwap"),
        (pl.col("buy") - pl.col("sell")).alias("deltaVolume"))

    # Time weighting with interval splitting: fresh part of each quote's time in force.
    seg = qs.with_columns(pl.col("ts").shift(-1).over("symbol").alias("next"))
    seg = seg.with_columns(
        pl.min_horizontal(pl.col("next").fill_null(pl.col("ts") + stale),
                          pl.col("ts") + stale).alias("b"),
        ((pl.col("bid_size") - pl.col("ask_size")) / (pl.col("bid_size") + pl.col("ask_size")))
        .alias("imb"),
        ((pl.col("ask") - pl.col("bid")) / ((pl.col("ask") + pl.col("bid")) / 2.0) * 1e4)
        .alias("bps"),
        ((pl.col("bid") > 0) & (pl.col("ask") > 0)).alias("two"))
    seg = seg.filter(pl.col("b") > pl.col("ts")).select(
        "symbol", pl.col("ts").alias("a"), "b", "imb", "bps", "two",
        pl.int_ranges(pl.col("ts") // iv, (pl.col("b") - 1) // iv + 1).alias("k"))
    seg = seg.explode("k").join(bars.select("symbol", "k"), on=["symbol", "k"], how="semi")
    seg = seg.with_columns(
        (pl.min_horizontal(pl.col("b"), (pl.col("k") + 1) * iv)
         - pl.max_horizontal(pl.col("a"), pl.col("k") * iv)).alias("w"))
    tw = seg.group_by(["symbol", "k"]).agg(
        pl.col("w").sum().alias("fresh"),
        (pl.col("w").cast(pl.Float64) * pl.col("imb")).sum().alias("imb_w"),
        pl.col("w").filter(pl.col("two")).sum().alias("fresh2"),
        (pl.col("w").cast(pl.Float64) * pl.col("bps")).filter(pl.col("two")).sum()
        .alias("bps_w"))

    # Close quote: last valid quote with ts < end, if fresh at end.
    ends = (bars.select("symbol", "k").with_columns(((pl.col("k") + 1) * iv).alias("end"))
            .sort(["symbol", "end"]))
    close_q = ends.join_asof(qs.rename({"ts": "q_ts"}), left_on="end", right_on="q_ts",
                             by="symbol", strategy="backward", allow_exact_matches=False,
                             check_sortedness=False)
    close_fresh = pl.col("q_ts").is_not_null() & (pl.col("end") - pl.col("q_ts") <= stale)
    close_q = close_q.select(
        "symbol", "k",
        pl.when(close_fresh).then(pl.col("bid_size")).alias("bidSizeAtClose"),
        pl.when(close_fresh).then(pl.col("ask_size")).alias("askSizeAtClose"))
    qcount = (qa.with_columns((pl.col("ts") // iv).alias("k")).group_by(["symbol", "k"])
              .agg(pl.len().cast(pl.Int64).alias("quoteCount")))

    out = (bars.join(tw, on=["symbol", "k"], how="left")
           .join(close_q, on=["symbol", "k"], how="left")
           .join(qcount, on=["symbol", "k"], how="left"))
    fresh_ns = pl.col("fresh").fill_null(0)
    fresh2_ns = pl.col("fresh2").fill_null(0)
    out = out.with_columns(
        (pl.col("k") * interval_ms).alias("startMs"),
        pl.lit(interval_ms, dtype=pl.Int64).alias("intervalMs"),
        pl.when(fresh_ns > 0).then(pl.col("imb_w") / fresh_ns).alias("bidAskImbalance"),
        (fresh_ns.cast(pl.Float64) * 100.0 / iv).alias("quoteCoveragePct"),
        pl.when(fresh2_ns > 0).then(pl.col("bps_w") / fresh2_ns).alias("avgSpreadBps"),
        pl.when(pl.col("bidSizeAtClose") > 0)
        .then(pl.col("askSizeAtClose") / pl.col("bidSizeAtClose")).alias("askBidSizeRatio"),
        pl.col("quoteCount").fill_null(0),
    ).sort(["symbol", "k"]).select(BAR_COLUMNS)

    report = _report(t, q, ta, out, interval_ms, stale_ms, lateness_ms, ticker)
    quarantine = pl.concat([
        t.filter(pl.col("reason").is_not_null()).select(
            pl.lit("trade").alias("kind"), "reason", "symbol", "ts", "seq", "line"),
        q.filter(pl.col("reason").is_not_null()).select(
            pl.lit("quote").alias("kind"), "reason", "symbol", "ts", "seq", "line"),
    ])
    return ReferenceResult(bars=out, report=report, quarantine=quarantine)


def _report(t: pl.DataFrame, q: pl.DataFrame, ta: pl.DataFrame, bars: pl.DataFrame,
            interval_ms: int, stale_ms: int, lateness_ms: int, ticker: str | None
            ) -> dict[str, Any]:
    reasons = pl.concat([t.select("reason"), q.select("reason")])
    counts = {r: n for r, n in reasons.group_by("reason").len().iter_rows() if r is not None}
    duplicates = counts.pop("duplicate", 0)
    unknown = (ta.select(pl.col("unknown").list.unique()).explode("unknown").drop_nulls()
               .group_by("unknown").len().sort("unknown"))
    applied = len(t) + len(q) - sum(counts.values()) - duplicates
    return {
        "eventsIn": len(t) + len(q), "trades": len(t), "quotes": len(q),
        "barsOut": len(bars), "applied": applied,
        "quarantined": dict(sorted(counts.items())), "duplicates": duplicates,
        "late": counts.get("late", 0),
        "unknownConditions": {str(k): n for k, n in unknown.iter_rows()},
        "config": {"intervalMs": interval_ms, "staleMs": stale_ms, "latenessMs": lateness_ms,
                   "ticker": ticker},
    }


# --- flat files (end-to-end reference) ---------------------------------------------------------

def read_trades_csv(path: str | Path, ticker: str | None = None) -> pl.DataFrame:
    """Massive trades flat file (``.csv``/``.csv.gz``) as a reference trades frame."""
    df = pl.read_csv(path, schema_overrides={"ticker": pl.String, "conditions": pl.String,
                                             "sip_timestamp": pl.Int64, "price": pl.Float64,
                                             "size": pl.Float64},
                     columns=None)
    seq = pl.col("sequence_number") if "sequence_number" in df.columns else pl.lit(None)
    df = df.with_row_index("line", offset=1).select(
        pl.col("ticker").alias("symbol"), pl.col("sip_timestamp").alias("ts"),
        seq.cast(pl.Int64).alias("seq"), "price", "size",
        pl.col("conditions").fill_null(""), pl.col("correction").cast(pl.Int64),
        pl.col("line").cast(pl.Int64))
    return df if ticker is None else df.filter(pl.col("symbol") == ticker)


def read_quotes_csv(path: str | Path, ticker: str | None = None) -> pl.DataFrame:
    """Massive quotes flat file (``.csv``/``.csv.gz``) as a reference quotes frame."""
    df = pl.read_csv(path, schema_overrides={"ticker": pl.String, "conditions": pl.String,
                                             "indicators": pl.String,
                                             "sip_timestamp": pl.Int64})
    seq = pl.col("sequence_number") if "sequence_number" in df.columns else pl.lit(None)
    df = df.with_row_index("line", offset=1).select(
        pl.col("ticker").alias("symbol"), pl.col("sip_timestamp").alias("ts"),
        seq.cast(pl.Int64).alias("seq"),
        pl.col("bid_price").cast(pl.Float64).alias("bid"),
        pl.col("bid_size").cast(pl.Float64), pl.col("ask_price").cast(pl.Float64).alias("ask"),
        pl.col("ask_size").cast(pl.Float64), pl.col("line").cast(pl.Int64))
    return df if ticker is None else df.filter(pl.col("symbol") == ticker)


# --- comparison --------------------------------------------------------------------------------

_INT_FIELDS = frozenset({"startMs", "intervalMs", "tradeCount", "quoteCount"})


def _close(a: float, b: float, tol: float = 1e-9) -> bool:
    if math.isnan(a) or math.isnan(b):
        return False
    return abs(a - b) <= tol or abs(a - b) <= tol * max(abs(a), abs(b))


def compare_bars(reference: pl.DataFrame, bars: Iterable[Mapping[str, Any]], *,
                 limit: int = 20) -> list[str]:
    """Disagreements between reference bars and another engine's bars (wire-named mappings in
    the same order): ints exact, floats within 1e-9 relative or absolute, nulls identical.
    Returns at most ``limit`` messages (empty = agreement)."""
    problems: list[str] = []
    ref_rows = reference.iter_rows(named=True)
    other = list(bars)
    if len(other) != len(reference):
        problems.append(f"bar count: reference {len(reference)} vs engine {len(other)}")
    for i, (r, o) in enumerate(zip(ref_rows, other, strict=False)):
        for name in BAR_COLUMNS:
            a, b = r[name], o.get(name)
            if a is None or b is None:
                ok = a is None and b is None
            elif name == "symbol" or name in _INT_FIELDS:
                ok = a == b and isinstance(b, str if name == "symbol" else int)
            else:
                ok = _close(float(a), float(b))
            if not ok:
                problems.append(f"bar {i} ({r['symbol']} {r['startMs']}) {name}: "
                                f"reference {a!r} vs engine {b!r}")
                if len(problems) >= limit:
                    return problems
    return problems


def compare_reports(reference: Mapping[str, Any], report: Mapping[str, Any]) -> list[str]:
    """Disagreements in the counting fields of two run reports (exact)."""
    keys = ("eventsIn", "trades", "quotes", "barsOut", "applied", "quarantined", "duplicates",
            "late", "unknownConditions")
    return [f"report {k}: reference {reference.get(k)!r} vs engine {report.get(k)!r}"
            for k in keys if reference.get(k) != report.get(k)]
