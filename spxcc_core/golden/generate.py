"""A seeded generator of small SPY-like sessions in named regimes (the golden inputs).

A regime is a list of :class:`Segment` s, each saying how the latent mid moves over a span of
New York clock time (total move in bps, noise, trade rate, aggressor mix, spread, quote gaps,
climax bursts). From it, :func:`generate_events` draws NBBO quotes and trades second by second
with :class:`random.Random` (Mersenne Twister, whose ``random()`` stream is stable across
Python versions) and returns ``trade@1`` / ``quote@1`` contracts in arrival order. Prices are
rounded to cents (trades at the midpoint of a one-cent spread print at half a cent), quote
sizes are round lots, trade sizes shares.

The same :class:`Regime` gives the same events, byte for byte once encoded. Injected anomalies
(a crossed quote, a correction, a late trade, an exact duplicate) exercise the quarantine.

A :class:`Tape` is the other kind of session: no randomness at all, every trade scripted
(:class:`Print`), one quote per second derived from the prints (the first print of a second
sits on the ask when it is a buy, on the bid when it is a sell; seconds without a print repeat
the last quote). It is for cases that must hit exact levels (a breakout failing at exactly
``fail_bps``, a bar touching a stop and a target), whose bars a reviewer can compute by hand.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Sequence

import attrs

from spxcc_core.contracts.market import Quote, Trade
from spxcc_core.errors import ConfigError
from spxcc_core.session import NEW_YORK as _NY

__all__ = ["Anomalies", "GeneratedEvents", "Print", "Regime", "Segment", "Tape",
           "generate_events"]

_NS = 1_000_000_000
#: Trade venues (Massive stock exchange ids) and quote sizes come from these small sets.
_VENUES = (4, 4, 4, 11, 12, 19, 8, 21)


@attrs.frozen(kw_only=True)
class Segment:
    """How the market behaves from ``start`` to ``end`` (New York ``HH:MM`` or ``HH:MM:SS``).

    :ivar move_bps: total drift of the latent mid over the segment, bps of the price at its
        start (positive up).
    :ivar vol_bps: per-second noise of the mid, bps (>= 0).
    :ivar trade_rate: mean trades per second (>= 0).
    :ivar buy_share: probability a trade is buyer-initiated, in [0, 1].
    :ivar spread_cents: quoted spread in cents (>= 0; 0 = locked).
    :ivar quote_gap_s: the longest time between quote updates, seconds (>= 1). Above the
        freshness window (2 s by default) quotes go stale inside bars.
    :ivar bursts: New York ``HH:MM:SS`` instants of climax bursts (many large trades in one
        second, 90 % of them on the side ``buy_share`` leans to).
    """

    start: str
    end: str
    move_bps: float = 0.0
    vol_bps: float = 0.6
    trade_rate: float = 0.5
    buy_share: float = 0.5
    spread_cents: int = 1
    quote_gap_s: int = 2
    bursts: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class Anomalies:
    """Events injected to exercise the quarantine (clock times ``HH:MM:SS`` New York).

    ``crossed_quote``: a quote with ask below bid; ``correction``: a trade with
    ``correction = 1``; ``late_trade``: a trade arriving after later trades with an older
    timestamp; ``duplicate_trade``: an exact repeat (same ``seq``) of a trade.
    """

    crossed_quote: str | None = None
    correction: str | None = None
    late_trade: str | None = None
    duplicate_trade: str | None = None


@attrs.frozen(kw_only=True)
class Regime:
    """A whole generated session: symbol, New York date, seed, opening price and segments.

    Segments must be contiguous and in time order; the session spans the first segment's
    start to the last one's end.
    """

    symbol: str
    date: dt.date
    seed: int
    open_price: float
    segments: tuple[Segment, ...]
    anomalies: Anomalies = Anomalies()


@attrs.frozen(kw_only=True)
class Print:
    """One scripted trade: ``at_s`` seconds after the tape's start, at ``price`` (cents),
    ``size`` shares (>= 100: a regular, volume-eligible print), initiated by ``side``."""

    at_s: int
    price: float
    side: str  # "buy" | "sell"
    size: float = 100.0


@attrs.frozen(kw_only=True)
class Tape:
    """A fully scripted session (module docstring): ``prints`` in time order from ``start``
    (New York ``HH:MM:SS``) on ``date``; quotes ``spread_cents`` wide with ``quote_size`` lots
    on each side."""

    symbol: str
    date: dt.date
    start: str
    prints: tuple[Print, ...]
    spread_cents: int = 1
    quote_size: float = 5.0


def _tape_events(tape: Tape) -> GeneratedEvents:
    if not tape.prints or any(b.at_s < a.at_s for a, b in zip(tape.prints, tape.prints[1:],
                                                                 strict=False)):
        raise ConfigError("a tape needs prints in time order")
    t0 = _epoch_ns(tape.date, tape.start)
    by_second: dict[int, list[Print]] = {}
    for pr in tape.prints:
        if pr.side not in ("buy", "sell") or pr.at_s < 0:
            raise ConfigError(f"print at +{pr.at_s}s: side must be buy or sell, at_s >= 0")
        by_second.setdefault(pr.at_s, []).append(pr)
    spread = tape.spread_cents / 100.0
    trades: list[Trade] = []
    quotes: list[Quote] = []
    bid = ask = 0.0
    t_seq = 0
    for sec in range(tape.prints[-1].at_s + 1):
        ts = t0 + sec * _NS
        here = by_second.get(sec, [])
        if here:
            first = here[0]
            if first.side == "buy":
                bid, ask = round(first.price - spread, 2), first.price
            else:
                bid, ask = first.price, round(first.price + spread, 2)
        quotes.append(Quote(symbol=tape.symbol, ts=ts + 100_000_000, bid=bid,
                            bid_size=tape.quote_size, ask=ask, ask_size=tape.quote_size,
                            seq=sec + 1))
        for k, pr in enumerate(here):
            t_seq += 1
            trades.append(Trade(symbol=tape.symbol, ts=ts + 500_000_000 + k * 10_000_000,
                                price=pr.price, size=pr.size, seq=t_seq, conditions=(),
                                correction=0, exchange=4))
    return GeneratedEvents(trades=trades, quotes=quotes)


@attrs.frozen(eq=False)
class GeneratedEvents:
    """Trades and quotes of one session in arrival order (each feed's own order)."""

    trades: list[Trade]
    quotes: list[Quote]


def _epoch_ns(day: dt.date, clock: str) -> int:
    parts = [int(p) for p in clock.split(":")]
    if len(parts) == 2:
        parts.append(0)
    h, m, s = parts
    local = dt.datetime(day.year, day.month, day.day, h, m, s, tzinfo=_NY)
    return int(local.timestamp()) * _NS


def _normal(rng: random.Random) -> float:
    # Box–Muller on random() only (stable stream across Python versions)
    u1 = rng.random() or 1e-12
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * rng.random())


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0.0:
        return 0
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _check(regime: Regime) -> list[tuple[int, int, Segment]]:
    spans: list[tuple[int, int, Segment]] = []
    prev_end: int | None = None
    for seg in regime.segments:
        try:
            a, b = _epoch_ns(regime.date, seg.start), _epoch_ns(regime.date, seg.end)
        except ValueError as exc:
            raise ConfigError(f"segment {seg.start}-{seg.end}: bad clock time ({exc})") from None
        if b <= a or (prev_end is not None and a != prev_end):
            raise ConfigError(f"segment {seg.start}-{seg.end}: segments must be contiguous "
                              "and move forward in time")
        if seg.quote_gap_s < 1 or seg.trade_rate < 0 or not 0 <= seg.buy_share <= 1:
            raise ConfigError(f"segment {seg.start}-{seg.end}: quote_gap_s >= 1, "
                              "trade_rate >= 0 and buy_share in [0, 1] are required")
        spans.append((a, b, seg))
        prev_end = b
    if not spans:
        raise ConfigError("a regime needs at least one segment")
    return spans


def _cents(x: float) -> float:
    return math.floor(x * 100.0 + 0.5) / 100.0


def generate_events(regime: Regime | Tape) -> GeneratedEvents:
    """Draw the session's quotes and trades (deterministic for a given ``regime``); a
    :class:`Tape` gives exactly its prints and the quotes derived from them.

    :raises ConfigError: segments that are not contiguous, go backwards or have bad values; a
        tape whose prints are out of order or malformed.
    """
    if isinstance(regime, Tape):
        return _tape_events(regime)
    spans = _check(regime)
    rng = random.Random(regime.seed)
    sym = regime.symbol
    mid = regime.open_price
    trades: list[Trade] = []
    quotes: list[Quote] = []
    t_seq = q_seq = 0
    pressure = 0.0
    last_quote_ns = -(10**18)
    bid = ask = 0.0
    bid_size = ask_size = 0.0
    for a, b, seg in spans:
        seconds = (b - a) // _NS
        drift = mid * seg.move_bps / 1e4 / seconds
        bursts = {_epoch_ns(regime.date, c) for c in seg.bursts}
        burst_buy = 0.9 if seg.buy_share > 0.5 else 0.1
        for i in range(seconds):
            sec = a + i * _NS
            mid += drift + mid * seg.vol_bps / 1e4 * _normal(rng)
            # order-flow pressure: a slow AR(1) around the segment's aggressor mix
            pressure = 0.9 * pressure + 0.1 * (2.0 * seg.buy_share - 1.0) \
                + 0.05 * _normal(rng)
            # quotes: refreshed on most seconds, never more than quote_gap_s apart
            since = sec - last_quote_ns
            forced = since >= (seg.quote_gap_s - 1) * _NS
            if seg.quote_gap_s > 2:
                refresh = forced or rng.random() < 1.0 / seg.quote_gap_s
            else:
                refresh = forced or rng.random() < 0.55
            if refresh or bid == 0.0:
                half = seg.spread_cents / 200.0
                bid = _cents(mid - half)
                ask = round(bid + seg.spread_cents / 100.0, 2)
                tilt = max(-0.8, min(0.8, pressure))
                bid_size = float(max(1, round((6 + 5 * tilt) * (0.5 + rng.random()))))
                ask_size = float(max(1, round((6 - 5 * tilt) * (0.5 + rng.random()))))
                q_seq += 1 + (1 if rng.random() < 0.3 else 0)
                # a forced refresh lands no later in its second than the last quote did in
                # its own, so quotes quote_gap_s apart are never more than that apart
                last_offset = last_quote_ns % _NS if forced else 300_000_000
                ts = sec + rng.randrange(1_000, max(1_001, min(last_offset, 300_000_000)))
                last_quote_ns = ts
                quotes.append(Quote(symbol=sym, ts=ts, bid=bid, bid_size=bid_size, ask=ask,
                                    ask_size=ask_size, seq=q_seq))
            burst = sec in bursts
            n = _poisson(rng, seg.trade_rate) + (rng.randrange(6, 10) if burst else 0)
            offsets = sorted(rng.randrange(300_000_001, 999_000_000) for _ in range(n))
            for off in offsets:
                u = rng.random()
                buy = rng.random() < (burst_buy if burst else 0.5 + 0.5 * pressure)
                if u < 0.12 and ask - bid >= 0.01:
                    price = round((bid + ask) / 2.0, 3)
                else:
                    price = ask if buy else bid
                size = float(max(1, round(math.exp(4.4 + 0.45 * _normal(rng)))))
                if burst:
                    size = float(rng.randrange(8, 30) * 100)
                conditions: tuple[int, ...] = (37,) if size < 100 else ()
                if size >= 100 and rng.random() < 0.05:
                    conditions = (14,)
                t_seq += 1 + (1 if rng.random() < 0.2 else 0)
                trades.append(Trade(symbol=sym, ts=sec + off, price=price, size=size,
                                    seq=t_seq, conditions=conditions, correction=0,
                                    exchange=_VENUES[rng.randrange(len(_VENUES))]))
    _inject(regime, trades, quotes)
    return GeneratedEvents(trades=trades, quotes=quotes)


def _index_at(events: Sequence[Trade | Quote], ts: int) -> int:
    for i, e in enumerate(events):
        if e.ts >= ts:
            return i
    return len(events)


def _inject(regime: Regime, trades: list[Trade], quotes: list[Quote]) -> None:
    an = regime.anomalies
    day = regime.date
    if an.crossed_quote is not None:
        i = _index_at(quotes, _epoch_ns(day, an.crossed_quote))
        if 0 < i < len(quotes):
            q = quotes[i - 1]
            quotes.insert(i, Quote(symbol=q.symbol, ts=q.ts + 1_000, bid=q.ask + 0.02,
                                   bid_size=q.bid_size, ask=q.ask, ask_size=q.ask_size,
                                   seq=q.seq))
    if an.correction is not None:
        i = _index_at(trades, _epoch_ns(day, an.correction))
        if i < len(trades):
            t = trades[i]
            trades[i] = Trade(symbol=t.symbol, ts=t.ts, price=t.price, size=t.size, seq=t.seq,
                              conditions=t.conditions, correction=1, exchange=t.exchange)
    if an.late_trade is not None:
        i = _index_at(trades, _epoch_ns(day, an.late_trade))
        if 3 <= i < len(trades):
            t = trades[i - 3]
            # arrives after three later trades but stamped before them
            trades.insert(i, Trade(symbol=t.symbol, ts=t.ts - 1_000, price=t.price,
                                   size=100.0, seq=t.seq, conditions=(),
                                   correction=0, exchange=t.exchange))
    if an.duplicate_trade is not None:
        i = _index_at(trades, _epoch_ns(day, an.duplicate_trade))
        if i < len(trades):
            trades.insert(i + 1, trades[i])
