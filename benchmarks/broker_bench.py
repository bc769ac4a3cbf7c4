"""Tradier adapter benchmark against the loopback fake Tradier server (``tests/fake_tradier.py``).

``run_tradier_bench()`` measures, on one machine with server and client in one process:

- ``submit``: one :meth:`TradierAdapter.submit` round trip, p50/p99 over ``orders`` orders on
  an account whose day fills up as it goes, in three variants, each on a fresh day:
  ``submit_fast`` (``known_unsubmitted=True``, the routing worker's first send: one POST),
  ``submit`` (tag pre-check through the incremental tag index + POST) and ``submit_full_list``
  (``tag_index=False``: the pre-check lists every page of the day, the behaviour before the
  index); next to a raw httpx POST of the same form (the floor);
- ``snapshot``: :meth:`TradierAdapter.snapshot` of an account with 200 positions and 500 orders
  (balances + positions + 5 pages of orders), p50/p99.

Figures are printed and returned; nothing asserts on a time.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

__all__ = ["run_tradier_bench"]


def _fake_module() -> Any:
    tests = str(Path(__file__).resolve().parent.parent / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import fake_tradier

    return fake_tradier


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _ms(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(_pct(values, 0.5) * 1000, 3), "p99_ms": round(_pct(values, 0.99) * 1000, 3),
            "mean_ms": round(statistics.fmean(values) * 1000, 3)}


def run_tradier_bench(orders: int = 500, positions: int = 200, snapshots: int = 30,
                      verbose: bool = True) -> dict[str, Any]:
    """Run the benchmark and return its figures (milliseconds)."""
    from spxcc_tradier import TradierAdapter

    from spxcc_core.contracts.broker import OrderIntent

    fake_tradier = _fake_module()
    account = "VA00000001"
    symbol = "SPXW261125C05900000"
    result: dict[str, Any] = {"orders": orders, "positions": positions}
    with fake_tradier.FakeTradier(accounts={account: "margin"}, auto_fill=False) as fake:
        fake.accounts[account].cash = 1e12
        # floor: raw httpx form POSTs on a keep-alive connection
        raw: list[float] = []
        with httpx.Client(base_url=fake.url, headers={
                "Authorization": f"Bearer {fake.token}", "Accept": "application/json"}) as c:
            for i in range(min(orders, 200)):
                form = {"class": "option", "symbol": "SPX", "option_symbol": symbol,
                        "side": "buy_to_open", "quantity": "1", "type": "limit",
                        "duration": "day", "price": "1", "tag": f"raw-{i}"}
                t0 = time.perf_counter()
                c.post(f"/accounts/{account}/orders", data=form).raise_for_status()
                raw.append(time.perf_counter() - t0)

        def series(name: str, known_unsubmitted: bool, tag_index: bool) -> None:
            fake.rollover()
            adapter = TradierAdapter(fake.token, base_url=fake.url, account_id=account,
                                     tag_index=tag_index)
            times: list[float] = []
            for i in range(orders):
                intent = OrderIntent(intent_id=f"bench-{name}-{i}", option_symbol=symbol,
                                     underlying="SPX", side="buy_to_open", quantity=1,
                                     order_type="limit", limit_price=1.0)
                t0 = time.perf_counter()
                adapter.submit(intent, known_unsubmitted=known_unsubmitted)
                times.append(time.perf_counter() - t0)
            result[name] = _ms(times)
            result[f"{name}_first_50"] = _ms(times[:50])
            result[f"{name}_last_50"] = _ms(times[-50:])
            result[f"{name}_requests_per_submit"] = round(adapter.transport.requests / orders, 2)
            adapter.close()

        series("submit_full_list", False, False)
        series("submit", False, True)
        series("submit_fast", True, True)
        adapter = TradierAdapter(fake.token, base_url=fake.url, account_id=account)
        for i in range(positions):
            fake.add_position(account, f"SPXW261125C0{4000 + i:04d}000", 1, 320.0)
        snap: list[float] = []
        for _ in range(snapshots):
            t0 = time.perf_counter()
            s = adapter.snapshot(account)
            snap.append(time.perf_counter() - t0)
        assert len(s.positions) == positions and len(s.open_orders) == orders
        adapter.close()
    result["raw_post"] = _ms(raw)
    result["snapshot"] = _ms(snap)
    if verbose:
        for name, what in (("submit_fast", "known_unsubmitted (routing first send)"),
                           ("submit", "tag pre-check via index"),
                           ("submit_full_list", "tag pre-check listing the whole day")):
            print(f"tradier submit, {what} ({orders} orders): p50 {result[name]['p50_ms']} ms, "
                  f"p99 {result[name]['p99_ms']} ms (first 50 p50 "
                  f"{result[name + '_first_50']['p50_ms']} ms, last 50 p50 "
                  f"{result[name + '_last_50']['p50_ms']} ms; "
                  f"{result[name + '_requests_per_submit']} HTTP requests/submit)")
        print(f"raw httpx form POST floor: p50 {result['raw_post']['p50_ms']} ms, "
              f"p99 {result['raw_post']['p99_ms']} ms")
        print(f"snapshot ({positions} positions, {orders} orders): p50 "
              f"{result['snapshot']['p50_ms']} ms, p99 {result['snapshot']['p99_ms']} ms")
    return result


if __name__ == "__main__":
    run_tradier_bench()
