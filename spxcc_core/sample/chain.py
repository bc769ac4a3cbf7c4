"""The sample session's option-chain snapshot (Massive ``/v3/snapshot/options/I:SPX`` shape).

It lists SPXW 0DTE calls and puts at ``2 × strikes_each_side + 1`` strikes 5 points apart around
the opening index level (default ±50 points: 21 strikes, 42 contracts) — a superset of the
contracts that trade in :func:`spxcc_core.sample.options.option_tables`, as a real chain lists
strikes that do not trade — with the previous close's open interest, an implied volatility
(put skew) and the underlying's value (the index at the open, standing in for the previous
close). Open interest peaks near the money, leans to puts below it and calls above it, and is
heavier on strikes that are multiples of 25. Values come from their own generator seeded by
``seed``, so the other datasets' bytes do not change; the bytes are identical for identical
``(seed, path)``.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec
import numpy as np

from spxcc_core.sample.options import INDEX_TICKER, occ_ticker
from spxcc_core.sample.process import LatentPath

__all__ = ["CHAIN_DATASET", "chain_snapshot"]

#: Dataset name of the snapshot file in a sample folder
#: (``us_options_opra/chain_snapshot/<YYYY-MM-DD>.json``).
CHAIN_DATASET = "us_options_opra/chain_snapshot"
_VOL = 0.13
_encoder = msgspec.json.Encoder(order="deterministic")


def chain_snapshot(seed: int, path: LatentPath, *, strikes_each_side: int = 10) -> bytes:
    """The chain snapshot JSON of the sample session of ``seed`` over ``path``."""
    rng = np.random.Generator(np.random.PCG64([seed, 0x6A3]))
    clock = path.clock
    spot = round(float(path.price[0]) * 10.0, 2)
    atm = round(float(path.price[0]) * 10.0 / 5.0) * 5.0
    strikes = [atm + 5.0 * k for k in range(-strikes_each_side, strikes_each_side + 1)]
    rows: list[dict[str, Any]] = []
    for strike in strikes:
        for right in ("C", "P"):
            call = right == "C"
            m = (strike - atm) / 5.0  # strikes from the money, −10 … +10 by default
            lean = 0.3 * math.tanh(m / 3.0)
            shape = math.exp(-((m / 6.0) ** 2)) * (1.0 + (lean if call else -lean))
            pin = 1.8 if strike % 25.0 == 0.0 else 1.0
            oi = round(float(rng.integers(1_500, 4_000)) * shape * pin)
            iv = _VOL * (1.0 + (0.08 if not call else 0.0) - 0.01 * m)
            iv = round(max(iv + float(rng.normal(0.0, 0.003)), 0.05), 4)
            rows.append({
                "details": {"contract_type": "call" if call else "put",
                            "exercise_style": "european",
                            "expiration_date": clock.date.isoformat(),
                            "shares_per_contract": 100, "strike_price": strike,
                            "ticker": occ_ticker("SPXW", clock.date, right, strike)},
                "implied_volatility": iv,
                "open_interest": oi,
                "underlying_asset": {"ticker": INDEX_TICKER, "value": spot,
                                     "timeframe": "DELAYED"},
            })
    rows.sort(key=lambda r: r["details"]["ticker"])
    doc = {"request_id": f"sample-{seed}", "results": rows, "status": "OK"}
    return _encoder.encode(doc) + b"\n"
