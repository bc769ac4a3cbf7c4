"""Golden input files: versioned JSON Lines of market-event contracts, and flat-file export.

A case folder holds its inputs as ``trades.v<N>.jsonl`` (``trade@N`` wire objects) and
``quotes.v<N>.jsonl`` (``quote@N``), one object per line in arrival order. Files written by
older contract versions stay forever: :func:`read_inputs` decodes each file with the decoder of
the version its name states. :func:`write_flat_files` writes the same events as Massive flat
files (``us_stocks_sip`` CSV) so the replay engine reads them exactly as it reads a real day.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path

import msgspec

from spxcc_core.aggregate.columns import NO_SEQ
from spxcc_core.contracts.market import Quote, Trade
from spxcc_core.contracts.registry import all_contracts
from spxcc_core.errors import InputError
from spxcc_core.golden.generate import GeneratedEvents

__all__ = [
    "INPUT_FAMILIES",
    "current_input_files",
    "encode_inputs",
    "input_files",
    "read_inputs",
    "write_flat_files",
]

#: File stem → contract family of a golden input file (``<stem>.v<N>.jsonl``).
INPUT_FAMILIES: dict[str, str] = {"trades": "trade", "quotes": "quote"}
_NAME = re.compile(r"^(trades|quotes)\.v(\d+)\.jsonl$")
_encoder = msgspec.json.Encoder()


_TRADE_HEADER = ("ticker", "conditions", "correction", "exchange", "price", "sequence_number",
                 "sip_timestamp", "size")
_QUOTE_HEADER = ("ticker", "ask_price", "ask_size", "bid_price", "bid_size",
                 "sequence_number", "sip_timestamp")


def current_input_files() -> dict[str, str]:
    """Input file names the generator writes today: ``trades.v1.jsonl`` → ``trade``, ..."""
    return {f"{stem}.v{_current_version(fam)}.jsonl": fam for stem, fam in INPUT_FAMILIES.items()}


def _current_version(family: str) -> int:
    return {"trade": Trade.contract_version, "quote": Quote.contract_version}[family]


def encode_inputs(events: GeneratedEvents) -> dict[str, bytes]:
    """The bytes of each input file for ``events`` (current contract versions)."""
    files = current_input_files()
    out: dict[str, bytes] = {}
    for name, family in files.items():
        rows: Sequence[Trade] | Sequence[Quote] = (events.trades if family == "trade"
                                                   else events.quotes)
        out[name] = _encoder.encode_lines(rows)
    return out


def input_files(case_dir: Path) -> dict[str, tuple[str, int]]:
    """The input files present in ``case_dir``: file name → (contract family, version)."""
    found: dict[str, tuple[str, int]] = {}
    if case_dir.is_dir():
        for p in sorted(case_dir.iterdir()):
            m = _NAME.match(p.name)
            if m is not None:
                found[p.name] = (INPUT_FAMILIES[m.group(1)], int(m.group(2)))
    return found


def _decode_lines(path: Path, cls: type[msgspec.Struct]) -> list[object]:
    decoder = msgspec.json.Decoder(cls)
    rows: list[object] = []
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from None
    for i, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(decoder.decode(line))
        except msgspec.DecodeError as exc:
            raise InputError(str(path), f"not a {cls.__name__} object ({exc})", row=i) from None
    return rows


def read_inputs(case_dir: Path) -> GeneratedEvents:
    """Decode a case folder's inputs (any committed contract version) into current contracts.

    :raises InputError: no input file, two versions of the same stream, an unknown contract
        version, or a line that does not decode (named by file and line).
    """
    files = input_files(case_dir)
    known = all_contracts()
    chosen: dict[str, tuple[Path, type[msgspec.Struct]]] = {}
    for name, (family, version) in files.items():
        cls = known.get((family, version))
        if cls is None:
            raise InputError(str(case_dir / name), f"unknown contract {family}@{version}")
        if family in chosen:
            raise InputError(str(case_dir), f"two {family} input files "
                                            f"({chosen[family][0].name} and {name})")
        chosen[family] = (case_dir / name, cls)
    if set(chosen) != set(INPUT_FAMILIES.values()):
        raise InputError(str(case_dir), "a golden case needs trades.v<N>.jsonl and "
                                        "quotes.v<N>.jsonl")
    trades = [_upgrade_trade(t) for t in _decode_lines(*chosen["trade"])]
    quotes = [_upgrade_quote(q) for q in _decode_lines(*chosen["quote"])]
    return GeneratedEvents(trades=trades, quotes=quotes)


def _upgrade_trade(row: object) -> Trade:
    # every trade version decodes into the newest class through its wire form
    if isinstance(row, Trade):
        return row
    return msgspec.json.decode(_encoder.encode(row), type=Trade)


def _upgrade_quote(row: object) -> Quote:
    if isinstance(row, Quote):
        return row
    return msgspec.json.decode(_encoder.encode(row), type=Quote)


def _num(x: float) -> str:
    return repr(float(x))


def write_flat_files(events: GeneratedEvents, folder: Path, date: str) -> None:
    """Write ``events`` as Massive stock flat files (plain CSV) under ``folder``:
    ``us_stocks_sip/trades_v1/<date>.csv`` and ``us_stocks_sip/quotes_v1/<date>.csv``, rows in
    arrival order (row ``n`` = input line ``n``). Prices keep their exact decimal form."""
    tdir = folder / "us_stocks_sip" / "trades_v1"
    qdir = folder / "us_stocks_sip" / "quotes_v1"
    tdir.mkdir(parents=True, exist_ok=True)
    qdir.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(_TRADE_HEADER)
    for t in events.trades:
        w.writerow((t.symbol, ",".join(str(c) for c in t.conditions), t.correction,
                    "" if t.exchange is None else t.exchange, _num(t.price),
                    NO_SEQ if t.seq is None else t.seq, t.ts, _num(t.size)))
    (tdir / f"{date}.csv").write_text(buf.getvalue(), encoding="utf-8")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(_QUOTE_HEADER)
    for q in events.quotes:
        w.writerow((q.symbol, _num(q.ask), _num(q.ask_size), _num(q.bid), _num(q.bid_size),
                    NO_SEQ if q.seq is None else q.seq, q.ts))
    (qdir / f"{date}.csv").write_text(buf.getvalue(), encoding="utf-8")
