"""The speed anchor: microbar@2 bars as a competent polars user computes them from flat files.

:mod:`benchmarks.polars_reference` is the *oracle*: a literal transcription of the spec, kept for
agreement checks, not for speed. This module is what someone fluent in polars writes to get the
same bars fast, and it is what the benchmarks compare ``spxcc bars`` with:

- ``scan_csv`` of both flat files (projection pushdown: only the needed columns are parsed), one
  lazy plan, ``pl.collect_all`` so both files are read and aggregated on the default thread pool;
- per feed, whole-column checks in the spec's order: ``bad_timestamp`` (before the epoch),
  ``late`` (running max per symbol), ``duplicate`` (among equal ``(symbol, ts, seq)`` runs after
  one stable sort, the values hashed), validity reasons (the oracle's expressions: one
  transcription of those rules, which follows the spec revision the oracle implements);
- applied events sorted by ``(symbol, ts, seq missing first, arrival)``;
- the quote in force for a trade: ``join_asof`` (strictly earlier ``ts``), fresh within ``stale``;
  Lee–Ready in integer micro-units under a two-sided quote, else the tick test (last differing earlier price of the
  classifiable volume-eligible trades, by forward fill, across buckets);
- OHLCV, VWAP and delta volume: one ``group_by`` per (symbol, bucket) with filtered aggregations;
- time weighting by interval arithmetic: each quote state (the last quote of each timestamp) is a
  segment ``[ts, min(next ts, ts + stale))``; a segment inside one bucket contributes to it
  directly, the few that cross a bucket boundary are clipped to each bucket they cover; one
  ``group_by`` sums fresh ns, ns·imbalance and (over two-sided pieces) ns·spread per bucket;
- close quote: ``join_asof`` of the bucket ends on the quote states (strictly earlier), fresh at
  the end; ``quoteCount``: applied quotes per bucket.

Every microbar@2 field is computed. Results agree with the engine and the oracle within
``compare_bars`` (integers exact, floats 1e-9, nulls identical); the report counts are exact.
Differences from the engine: none known (no quarantine file is produced, only its counts).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from benchmarks.polars_reference import (
    BAR_COLUMNS,
    CLASSIFY,
    HL,
    OC,
    ReferenceResult,
    V,
    _condition_flags,
    _quote_validity,
    _trade_validity,
    eligibility,
)

__all__ = ["flat_file_bars", "microbars_fast", "scan_quotes_csv", "scan_trades_csv"]

_T_COLS = {"ticker": pl.String, "sip_timestamp": pl.Int64, "sequence_number": pl.Int64,
           "price": pl.Float64, "size": pl.Float64, "conditions": pl.String,
           "correction": pl.Int64}
_Q_COLS = {"ticker": pl.String, "sip_timestamp": pl.Int64, "sequence_number": pl.Int64,
           "bid_price": pl.Float64, "bid_size": pl.Float64, "ask_price": pl.Float64,
           "ask_size": pl.Float64}
_RENAME = {"ticker": "symbol", "sip_timestamp": "ts", "sequence_number": "seq",
           "bid_price": "bid", "ask_price": "ask"}


def _scan(path: str | Path, columns: dict[str, Any], ticker: str | None) -> pl.LazyFrame:
    header = pl.read_csv(path, n_rows=0).columns
    wanted = [c for c in columns if c in header]
    lf = (pl.scan_csv(path, schema_overrides={c: columns[c] for c in wanted})
          .select(wanted).rename({k: v for k, v in _RENAME.items() if k in wanted})
          .with_row_index("pos"))
    if "sequence_number" not in header:
        lf = lf.with_columns(pl.lit(None, dtype=pl.Int64).alias("seq"))
    if ticker is not None:
        lf = lf.filter(pl.col("symbol") == ticker)
    return lf


def scan_trades_csv(path: str | Path, ticker: str | None = None) -> pl.LazyFrame:
    """A Massive trades flat file (``.csv``/``.csv.gz``) as a lazy frame (``pos`` = row - 1)."""
    lf = _scan(path, _T_COLS, ticker)
    return lf.with_columns(pl.col("conditions").fill_null(""))


def scan_quotes_csv(path: str | Path, ticker: str | None = None) -> pl.LazyFrame:
    """A Massive quotes flat file as a lazy frame (``pos`` = row - 1)."""
    return _scan(path, _Q_COLS, ticker)


def _checked(lf: pl.LazyFrame, values: list[str], validity: pl.Expr, late_ns: int
             ) -> pl.LazyFrame:
    """Adds ``reason`` (null = applied) in the spec's order (late, duplicate, validity) and
    sorts every event by ``(sid, ts, seq missing first)``, stable so arrival order breaks ties.

    A duplicate shares ``(symbol, ts, seq)`` with another event, so after the sort only runs of
    equal keys are candidates; only those few rows are hashed with their values.
    """
    seq = pl.when(pl.col("seq") >= 0).then(pl.col("seq"))
    bad_ts = pl.col("ts") < 0  # before the epoch: bad_timestamp, never moves max_ts
    prev_max = (pl.when(~bad_ts).then(pl.col("ts")).cum_max().forward_fill().shift(1)
                .over("sid"))
    late = (~bad_ts & (pl.col("ts") < prev_max - late_ns)).fill_null(False)
    lf = (lf.with_columns(seq.alias("seq"), late.alias("late"), bad_ts.alias("bad_ts"))
          .sort("sid", "ts", pl.col("seq").fill_null(-1), maintain_order=True))
    key = [pl.col(c) for c in ("sid", "ts", "seq")]
    same_prev = pl.all_horizontal([c == c.shift(1) for c in key]).fill_null(False)
    same_next = pl.all_horizontal([c == c.shift(-1) for c in key]).fill_null(False)
    lf = lf.with_columns((same_prev | same_next).alias("cand"))
    dups = (lf.filter(pl.col("cand") & ~pl.col("late") & ~pl.col("bad_ts"))
            .filter(~pl.struct("sid", "ts", "seq", *values).is_first_distinct())
            .select("pos", pl.lit(True).alias("dup")))
    return lf.join(dups, on="pos", how="left", maintain_order="left").with_columns(
        pl.when(pl.col("bad_ts")).then(pl.lit("bad_timestamp"))
        .when(pl.col("late")).then(pl.lit("late"))
        .when(pl.col("dup").fill_null(False)).then(pl.lit("duplicate"))
        .otherwise(validity).alias("reason"))


def _micro(col: str) -> pl.Expr:
    return (pl.col(col) * 1_000_000.0).round().cast(pl.Int64)


def microbars_fast(trades: pl.LazyFrame | pl.DataFrame | None,
                   quotes: pl.LazyFrame | pl.DataFrame | None, *, interval_ms: int = 1000,
                   stale_ms: int = 2000, lateness_ms: int = 0, ticker: str | None = None,
                   rules: Callable[[tuple[int, ...]], tuple[int, tuple[int, ...]]] = eligibility,
                   ) -> ReferenceResult:
    """Microbars (``BAR_COLUMNS``, by symbol then start) and the run report's counts.

    Inputs as :func:`scan_trades_csv` / :func:`scan_quotes_csv` give them (``symbol``, ``ts``,
    ``seq``, values, ``pos`` = arrival index); a frame without ``pos`` gets one. The result's
    ``quarantine`` is empty (this pipeline counts reasons, it does not list events).
    """
    iv, stale, late_ns = interval_ms * 1_000_000, stale_ms * 1_000_000, lateness_ms * 1_000_000
    # Read both inputs at once (the files are parsed in parallel), then plan on the frames.
    t_df, q_df = pl.collect_all([_lazy(trades, _T_COLS), _lazy(quotes, _Q_COLS)])
    # One integer id per symbol, in string order, shared by both feeds.
    names = sorted(set(t_df.get_column("symbol").unique()) | set(q_df.get_column("symbol").unique()))
    sid = pl.col("symbol").cast(pl.Enum(names)).to_physical().alias("sid")
    t, q = t_df.lazy().with_columns(sid), q_df.lazy().with_columns(sid)
    t = _checked(t, ["price", "size", "conditions", "correction"], _trade_validity(), late_ns)
    q = _checked(q, ["bid", "bid_size", "ask", "ask_size"], _quote_validity(), late_ns)
    # Materialise the checked feeds once: the plan below reads them several times.
    t_chk, q_chk = pl.collect_all([t, q])
    t, q = t_chk.lazy(), q_chk.lazy()
    counts = pl.concat([t.select("reason", kind=pl.lit("t")), q.select("reason", kind=pl.lit("q"))]
                       ).group_by("kind", "reason").len()

    qa = q.filter(pl.col("reason").is_null())
    # Quote states: the last quote of each (symbol, ts) is in force from ts on.
    last_of_ts = ~((pl.col("sid") == pl.col("sid").shift(-1))
                   & (pl.col("ts") == pl.col("ts").shift(-1))).fill_null(False)
    qs = qa.filter(last_of_ts).select("sid", "ts", "bid", "bid_size", "ask", "ask_size")

    texts = t_df.get_column("conditions").unique().to_list()
    flags = _condition_flags(texts, rules).lazy()
    ta = (t.filter(pl.col("reason").is_null())
          .join(flags, on="conditions", how="left", maintain_order="left")
          .join_asof(qs.rename({"ts": "q_ts"}), left_on="ts", right_on="q_ts", by="sid",
                     strategy="backward", allow_exact_matches=False, check_sortedness=False))
    f = pl.col("flags")
    # Lee-Ready needs a fresh two-sided quote (an absent side, 0 x 0, has no mid).
    fresh = (pl.col("q_ts").is_not_null() & (pl.col("ts") - pl.col("q_ts") <= stale)
             & (pl.col("bid") > 0) & (pl.col("ask") > 0))
    two_p, b_a = 2 * _micro("price"), _micro("bid") + _micro("ask")
    ref = ((f & V) != 0) & ((f & CLASSIFY) != 0)
    # Tick test: the last classifiable price before each trade; where it equals the trade's
    # price, the previous differing one (carried forward from where the price last changed).
    last_ref = pl.when(ref).then(pl.col("price")).shift(1).forward_fill().over("sid")
    ta = ta.with_columns(ref.alias("ref"), last_ref.alias("last_ref"))
    changed = pl.when(pl.col("ref") & (pl.col("last_ref") != pl.col("price")))
    p_prev = changed.then(pl.col("last_ref")).forward_fill().over("sid")
    tick = pl.when(p_prev < pl.col("price")).then(1).when(p_prev > pl.col("price")).then(-1)
    side = (pl.when(~pl.col("ref")).then(0)
            .when(fresh & (two_p > b_a)).then(1).when(fresh & (two_p < b_a)).then(-1)
            .otherwise(tick.fill_null(0)))
    ta = ta.with_columns(side.alias("side"), (pl.col("ts") // iv).alias("k"))
    is_hl, is_oc, is_v = (f & HL) != 0, (f & OC) != 0, (f & V) != 0
    p, s = pl.col("price"), pl.col("size")
    bars = (ta.group_by("sid", "k").agg(
        p.filter(is_oc).first().alias("open"), p.filter(is_hl).max().alias("high"),
        p.filter(is_hl).min().alias("low"), p.filter(is_oc).last().alias("close"),
        s.filter(is_v).sum().alias("volume"), is_v.sum().cast(pl.Int64).alias("tradeCount"),
        (p * s).filter(is_v).sum().alias("pv"),
        (s.filter(is_v & (pl.col("side") > 0)).sum()
         - s.filter(is_v & (pl.col("side") < 0)).sum()).alias("deltaVolume"),
        (f & (HL | OC | V) != 0).any().alias("eligible"))
        .filter(pl.col("eligible")))
    unknown = (ta.select(pl.col("unknown").list.unique()).explode("unknown").drop_nulls()
               .group_by("unknown").len())

    # Time weighting: quote segments [a, b) clipped to buckets.
    same_sym = pl.col("sid") == pl.col("sid").shift(-1)
    seg = qs.with_columns(pl.when(same_sym).then(pl.col("ts").shift(-1)).alias("next")).select(
        "sid", pl.col("ts").alias("a"),
        pl.min_horizontal(pl.col("next").fill_null(pl.col("ts") + stale), pl.col("ts") + stale)
        .alias("b"),
        ((pl.col("bid_size") - pl.col("ask_size")) / (pl.col("bid_size") + pl.col("ask_size")))
        .alias("imb"),
        ((pl.col("ask") - pl.col("bid")) / ((pl.col("ask") + pl.col("bid")) / 2.0) * 1e4)
        .alias("bps"),
        ((pl.col("bid") > 0) & (pl.col("ask") > 0)).alias("two"),
    ).filter(pl.col("b") > pl.col("a")).with_columns(
        (pl.col("a") // iv).alias("k"), ((pl.col("b") - 1) // iv).alias("k_last"))
    inside = seg.filter(pl.col("k") == pl.col("k_last"))
    crossing = (seg.filter(pl.col("k") != pl.col("k_last"))
                .with_columns(pl.int_ranges("k", pl.col("k_last") + 1).alias("k")).explode("k"))
    pieces = pl.concat([inside, crossing], how="vertical").select(
        "sid", "k", "imb", "bps", "two",
        (pl.min_horizontal("b", (pl.col("k") + 1) * iv)
         - pl.max_horizontal("a", pl.col("k") * iv)).alias("w"))
    tw = pieces.group_by("sid", "k").agg(
        pl.col("w").sum().alias("fresh"), (pl.col("w") * pl.col("imb")).sum().alias("imb_w"),
        pl.col("w").filter("two").sum().alias("fresh2"),  # spread: two-sided time only
        (pl.col("w") * pl.col("bps")).filter("two").sum().alias("bps_w"))

    ends = bars.select("sid", "k", ((pl.col("k") + 1) * iv).alias("end")).sort("sid", "end")
    close_q = ends.join_asof(qs.rename({"ts": "q_ts"}), left_on="end", right_on="q_ts",
                             by="sid", strategy="backward", allow_exact_matches=False,
                             check_sortedness=False)
    close_fresh = pl.col("q_ts").is_not_null() & (pl.col("end") - pl.col("q_ts") <= stale)
    close_q = close_q.select("sid", "k",
                             pl.when(close_fresh).then("bid_size").alias("bidSizeAtClose"),
                             pl.when(close_fresh).then("ask_size").alias("askSizeAtClose"))
    qcount = (qa.group_by("sid", (pl.col("ts") // iv).alias("k"))
              .agg(pl.len().cast(pl.Int64).alias("quoteCount")))

    fresh_ns, fresh2_ns = pl.col("fresh").fill_null(0), pl.col("fresh2").fill_null(0)
    out = (bars.join(tw, on=["sid", "k"], how="left")
           .join(close_q, on=["sid", "k"], how="left")
           .join(qcount, on=["sid", "k"], how="left")
           .with_columns(
               pl.col("sid").replace_strict(range(len(names)), names, return_dtype=pl.String)
               .alias("symbol"),
               (pl.col("k") * interval_ms).alias("startMs"),
               pl.lit(interval_ms, dtype=pl.Int64).alias("intervalMs"),
               pl.when(pl.col("volume") > 0).then(pl.col("pv") / pl.col("volume")).alias("vwap"),
               pl.when(fresh_ns > 0).then(pl.col("imb_w") / fresh_ns).alias("bidAskImbalance"),
               (fresh_ns.cast(pl.Float64) * 100.0 / iv).alias("quoteCoveragePct"),
               pl.when(fresh2_ns > 0).then(pl.col("bps_w") / fresh2_ns).alias("avgSpreadBps"),
               pl.when(pl.col("bidSizeAtClose") > 0)
               .then(pl.col("askSizeAtClose") / pl.col("bidSizeAtClose"))
               .alias("askBidSizeRatio"),
               pl.col("quoteCount").fill_null(0))
           .sort("sid", "k").select(BAR_COLUMNS))
    out_df, counts_df, unknown_df = pl.collect_all([out, counts, unknown])
    report = _report(out_df, counts_df, unknown_df, len(t_df), len(q_df),
                     interval_ms, stale_ms, lateness_ms, ticker)
    return ReferenceResult(bars=out_df, report=report,
                           quarantine=pl.DataFrame(schema={"kind": pl.String}))


def _lazy(frame: pl.LazyFrame | pl.DataFrame | None, columns: dict[str, Any]) -> pl.LazyFrame:
    if frame is None:
        schema = {_RENAME.get(c, c): dt for c, dt in columns.items()}
        return pl.LazyFrame(schema={**schema, "pos": pl.UInt32})
    lf = frame.lazy()
    names = lf.collect_schema().names()
    if "pos" not in names:
        lf = lf.with_row_index("pos")
    if "seq" not in names:
        lf = lf.with_columns(pl.lit(None, dtype=pl.Int64).alias("seq"))
    return lf


def _report(bars: pl.DataFrame, counts: pl.DataFrame, unknown: pl.DataFrame, n_t: int,
            n_q: int, interval_ms: int, stale_ms: int, lateness_ms: int,
            ticker: str | None) -> dict[str, Any]:
    reasons: dict[str, int] = {}
    for _, reason, n in counts.iter_rows():
        if reason is not None:
            reasons[reason] = reasons.get(reason, 0) + n
    duplicates = reasons.pop("duplicate", 0)
    return {
        "eventsIn": n_t + n_q, "trades": n_t, "quotes": n_q, "barsOut": len(bars),
        "applied": n_t + n_q - sum(reasons.values()) - duplicates,
        "quarantined": dict(sorted(reasons.items())), "duplicates": duplicates,
        "late": reasons.get("late", 0),
        "unknownConditions": {str(k): n for k, n in sorted(unknown.iter_rows())},
        "config": {"intervalMs": interval_ms, "staleMs": stale_ms, "latenessMs": lateness_ms,
                   "ticker": ticker},
    }


def flat_file_bars(trades: str | Path | None, quotes: str | Path | None, *,
                   ticker: str | None = None, interval_ms: int = 1000, stale_ms: int = 2000,
                   lateness_ms: int = 0) -> ReferenceResult:
    """``spxcc bars`` done the polars way: scan both flat files and aggregate (one plan)."""
    return microbars_fast(None if trades is None else scan_trades_csv(trades, ticker),
                          None if quotes is None else scan_quotes_csv(quotes, ticker),
                          interval_ms=interval_ms, stale_ms=stale_ms, lateness_ms=lateness_ms,
                          ticker=ticker)


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.polars_fast --trades T --quotes Q [--ticker X] --out BARS``: the
    polars pipeline as a script, writing the bars as JSON Lines (the end-to-end competitor)."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m benchmarks.polars_fast")
    p.add_argument("--trades")
    p.add_argument("--quotes")
    p.add_argument("--ticker")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    result = flat_file_bars(args.trades, args.quotes, ticker=args.ticker)
    result.bars.write_ndjson(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
