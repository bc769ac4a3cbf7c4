"""Contract versioning: examples, cross-version decoding, wire order, nulls, envelope, schemas.

Every registered contract ``(family, version)`` must have a hand-written example under
``contracts/examples/`` (``<family>.v<version>.<case>.json``); every example is decoded with every
version's reader of its family. Adding a contract without an example fails here on purpose.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spxcc_core.contracts import (
    Contract,
    MicrobarV1,
    MicrobarV2,
    decode_envelope,
    encode_envelope,
)
from spxcc_core.contracts.registry import all_contracts, reader_for, schema_filename
from spxcc_core.contracts.schemas import (
    expected_schemas,
    normalize_description,
    normalize_schema,
)

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS_DIR = ROOT / "contracts"
EXAMPLES_DIR = CONTRACTS_DIR / "examples"
EXAMPLE_NAME = re.compile(r"^(?P<name>[a-z][a-z0-9_]*)\.v(?P<version>[1-9][0-9]*)\.(?P<case>[a-z0-9-]+)\.json$")

#: Wire order of microbar@2, copied from the field table of spec/microbar.md (normative).
MICROBAR_WIRE_ORDER_V2 = [
    "symbol", "startMs", "intervalMs", "open", "high", "low", "close", "volume", "tradeCount",
    "vwap", "deltaVolume", "bidAskImbalance", "askBidSizeRatio", "quoteCoveragePct",
    "avgSpreadBps", "bidSizeAtClose", "askSizeAtClose", "quoteCount",
]
MICROBAR_WIRE_ORDER_V1 = MICROBAR_WIRE_ORDER_V2[:12]


def _example_files() -> list[Path]:
    return sorted(p for p in EXAMPLES_DIR.glob("*.json"))


def _parse_name(path: Path) -> tuple[str, int]:
    m = EXAMPLE_NAME.match(path.name)
    assert m, f"{path.name}: example names are <family>.v<version>.<case>.json"
    return m["name"], int(m["version"])


def _strict_loads(text: bytes | str) -> Any:
    """json.loads that refuses NaN / Infinity tokens (which are not JSON)."""
    def reject(token: str) -> Any:
        raise ValueError(f"non-JSON number token {token!r}")
    return json.loads(text, parse_constant=reject)


def _family(name: str) -> dict[int, type[Contract]]:
    return {v: c for (n, v), c in all_contracts().items() if n == name}


def _wire_fields(cls: type[Contract]) -> list[msgspec.structs.FieldInfo]:
    return list(msgspec.structs.fields(cls))


def _wire_keys(cls: type[Contract]) -> list[str]:
    """Top-level keys a producer writes, in order (a tagged variant writes its tag first)."""
    cfg = cls.__struct_config__
    tag = [cfg.tag_field] if cfg.tag_field is not None else []
    return tag + [f.encode_name for f in _wire_fields(cls)]


def _default_of(f: msgspec.structs.FieldInfo) -> Any:
    if f.default_factory is not msgspec.NODEFAULT:
        return f.default_factory()
    return f.default


def _same(a: Any, b: Any) -> bool:
    """Exact equality of a decoded value and its JSON form. A nested Struct is compared field by
    field: a field the JSON has must be the same, a field it lacks (appended after the payload
    was written) must hold its default — the top-level rule, applied at every depth."""
    if isinstance(a, msgspec.Struct) and isinstance(b, dict):
        fields = msgspec.structs.fields(a)
        if set(b) - {f.encode_name for f in fields} - {a.__struct_config__.tag_field}:
            return False
        return all(_same(getattr(a, f.name), b[f.encode_name]) if f.encode_name in b
                   else getattr(a, f.name) == _default_of(f) for f in fields)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(msgspec.json.decode(msgspec.json.encode(a)) == b)


EXAMPLES = _example_files()
EXAMPLE_IDS = [p.name for p in EXAMPLES]


# ---------------------------------------------------------------------------------------------
# Coverage of the registry by examples


def test_examples_directory_is_not_empty() -> None:
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("key", sorted(all_contracts()), ids=lambda k: f"{k[0]}@{k[1]}")
def test_every_registered_contract_has_an_example(key: tuple[str, int]) -> None:
    name, version = key
    found = [p for p in EXAMPLES if _parse_name(p) == (name, version)]
    assert found, (f"{name}@{version} has no example: add "
                   f"contracts/examples/{name}.v{version}.<case>.json")


@pytest.mark.parametrize("path", EXAMPLES, ids=EXAMPLE_IDS)
def test_every_example_names_a_registered_contract(path: Path) -> None:
    assert _parse_name(path) in all_contracts()


# ---------------------------------------------------------------------------------------------
# Every example through every reader of its family


@pytest.mark.parametrize("path", EXAMPLES, ids=EXAMPLE_IDS)
def test_every_reader_of_the_family_decodes_the_example(path: Path) -> None:
    name, own_version = _parse_name(path)
    raw = path.read_bytes()
    payload = _strict_loads(raw)
    family = _family(name)
    assert own_version in family
    for version, cls in sorted(family.items()):
        obj = msgspec.json.decode(raw, type=cls)
        for f in _wire_fields(cls):
            value = getattr(obj, f.name)
            if f.encode_name in payload:
                expected = payload[f.encode_name]
                assert _same(value, expected), (version, f.encode_name, value, expected)
            elif f.default is msgspec.UNSET:
                assert value is msgspec.UNSET, (version, f.encode_name, value)  # optional field
            else:
                # a field newer than the example: absent -> its default (None for microbar v2)
                assert version > own_version, (version, f.encode_name)
                assert value == _default_of(f), (version, f.encode_name, value)


@pytest.mark.parametrize("path", EXAMPLES, ids=EXAMPLE_IDS)
def test_example_is_complete_and_in_wire_order(path: Path) -> None:
    """An example looks exactly like what a producer of its version writes."""
    name, version = _parse_name(path)
    cls = all_contracts()[(name, version)]
    payload = _strict_loads(path.read_bytes())
    # a field that defaults to UNSET is left out by a producer that has no value for it
    optional = {f.encode_name for f in _wire_fields(cls) if f.default is msgspec.UNSET}
    assert list(payload) == [k for k in _wire_keys(cls) if k in payload or k not in optional]
    decoded = msgspec.json.decode(path.read_bytes(), type=cls)
    reencoded = _strict_loads(msgspec.json.encode(decoded))
    assert list(reencoded) == list(payload)
    names = {f.encode_name: f.name for f in _wire_fields(cls)}
    for key, value in payload.items():
        # nested Structs field by field: a nested field appended later holds its default
        assert _same(getattr(decoded, names[key]) if key in names else reencoded[key], value), key


@pytest.mark.parametrize("path", EXAMPLES, ids=EXAMPLE_IDS)
def test_example_validates_against_its_committed_schema(path: Path) -> None:
    name, version = _parse_name(path)
    schema = json.loads((CONTRACTS_DIR / schema_filename(name, version)).read_text("utf-8"))
    jsonschema.validate(_strict_loads(path.read_bytes()), schema)


@pytest.mark.parametrize("path", EXAMPLES, ids=EXAMPLE_IDS)
def test_unknown_fields_are_skipped_by_every_reader(path: Path) -> None:
    """Forward compatibility: a payload with a field from the future still decodes."""
    name, _ = _parse_name(path)
    payload = _strict_loads(path.read_bytes())
    payload["someFieldFromTheFuture"] = {"nested": [1, 2.5, None]}
    for cls in _family(name).values():
        msgspec.json.decode(json.dumps(payload).encode(), type=cls)


# ---------------------------------------------------------------------------------------------
# Schemas: the drift gate


def test_committed_schemas_match_the_structs() -> None:
    expected = expected_schemas()
    committed = {p.name: p.read_text("utf-8") for p in CONTRACTS_DIR.glob("*.schema.json")}
    assert sorted(committed) == sorted(expected), "run `nox -s contracts -- --write`"
    for fname, text in expected.items():
        assert committed[fname] == text, f"{fname} drifted: run `nox -s contracts -- --write`"


def _msgspec_0_21_spelling(node: Any) -> Any:
    """What msgspec 0.19-0.21 write for the same Structs (seen with those releases): docstring
    continuation lines keep their 4-space indent, and ``null`` comes first in some ``anyOf``."""
    if isinstance(node, dict):
        out = {k: _msgspec_0_21_spelling(v) for k, v in node.items()}
        if isinstance(node.get("description"), str):
            out["description"] = node["description"].replace("\n", "\n    ").replace("\n    \n", "\n\n")
        if isinstance(node.get("anyOf"), list):
            out["anyOf"] = list(reversed(out["anyOf"]))
        return out
    if isinstance(node, list):
        return [_msgspec_0_21_spelling(v) for v in node]
    return node


def test_committed_schemas_do_not_depend_on_how_msgspec_spells_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 7 item 0: msgspec 0.23 dedents docstrings, older releases do not; the drift gate
    must see the same files either way (a change of meaning, not of whitespace)."""
    real_schema = msgspec.json.schema
    monkeypatch.setattr(msgspec.json, "schema", lambda cls: _msgspec_0_21_spelling(real_schema(cls)))
    old_spelling = expected_schemas()
    monkeypatch.setattr(msgspec.json, "schema", real_schema)
    assert old_spelling == expected_schemas()
    committed = {p.name: p.read_text("utf-8") for p in CONTRACTS_DIR.glob("*.schema.json")}
    assert old_spelling == committed


def test_description_normalisation_by_hand() -> None:
    indented = "Summary line.\n\n    Body, first line,  \n    second line.\n      indented more.\n    "
    assert normalize_description(indented) == (
        "Summary line.\n\nBody, first line,\nsecond line.\n  indented more."
    )
    assert normalize_description("One line.") == "One line."


def test_schema_normalisation_leaves_instance_data_and_property_names_alone() -> None:
    schema = {
        "description": "A.\n    b.",
        "properties": {
            "description": {"type": "string", "default": "  kept\n    as is  "},
            "n": {"anyOf": [{"type": "null"}, {"type": "integer"}], "description": "x  "},
        },
        "enum": [" a\n    b "],
        "const": {"description": "  kept  "},
    }
    assert normalize_schema(schema) == {
        "description": "A.\nb.",
        "properties": {
            "description": {"type": "string", "default": "  kept\n    as is  "},
            "n": {"anyOf": [{"type": "integer"}, {"type": "null"}], "description": "x"},
        },
        "enum": [" a\n    b "],
        "const": {"description": "  kept  "},
    }


@given(st.text(alphabet=st.sampled_from("ab \t\n"), max_size=40))
def test_description_normalisation_is_idempotent(text: str) -> None:
    once = normalize_description(text)
    assert normalize_description(once) == once


def test_schema_rejects_a_missing_required_field_and_a_wrong_type() -> None:
    schema = json.loads((CONTRACTS_DIR / "microbar.v2.schema.json").read_text("utf-8"))
    payload = _strict_loads((EXAMPLES_DIR / "microbar.v2.regular.json").read_bytes())
    missing = {k: v for k, v in payload.items() if k != "volume"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(missing, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**payload, "tradeCount": 5.5}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**payload, "volume": None}, schema)


# ---------------------------------------------------------------------------------------------
# Contract rules that hold for every registered class


@pytest.mark.parametrize("key", sorted(all_contracts()), ids=lambda k: f"{k[0]}@{k[1]}")
def test_contract_class_follows_the_base_rules(key: tuple[str, int]) -> None:
    cls = all_contracts()[key]
    cfg = cls.__struct_config__
    assert issubclass(cls, Contract)
    assert cfg.frozen
    assert not cfg.array_like, "no array_like on contracts"
    assert not cfg.forbid_unknown_fields, "wire types must skip unknown fields"
    assert not cfg.omit_defaults, "every field is always written"
    for f in _wire_fields(cls):
        assert "Decimal" not in repr(f.type), f"{key}: Decimal on the wire ({f.name})"
        assert "_" not in f.encode_name, f"{key}: wire name {f.encode_name!r} is not camelCase"


def test_every_contract_class_is_keyword_only() -> None:
    """msgspec does not inherit ``kw_only`` from the base: each class must declare it."""
    positional_ok = []
    for key, cls in all_contracts().items():
        required = [f for f in _wire_fields(cls) if f.required]
        try:
            cls(*["x"] * len(required))
        except TypeError as exc:
            if "positional" in str(exc):
                continue  # refused: keyword-only
        except Exception:
            pass  # positional accepted, then a validator refused the values
        positional_ok.append(key)
    assert positional_ok == []


@pytest.mark.parametrize("name", sorted({n for n, _ in all_contracts()}))
def test_versions_of_a_family_are_additive(name: str) -> None:
    """v(n+1) = v(n) + appended fields with defaults; same wire names and types, same order."""
    family = sorted(_family(name).items())
    assert [v for v, _ in family] == list(range(1, len(family) + 1)), "versions are 1, 2, 3, ..."
    for (_, old), (_, new) in itertools.pairwise(family):
        old_f, new_f = _wire_fields(old), _wire_fields(new)
        assert [(f.encode_name, f.type) for f in new_f[:len(old_f)]] == \
            [(f.encode_name, f.type) for f in old_f]
        for f in new_f[len(old_f):]:
            assert not f.required, f"{name}: appended field {f.encode_name} needs a default"


# ---------------------------------------------------------------------------------------------
# Microbar v1 / v2


def test_microbar_wire_order_is_the_spec_table() -> None:
    assert list(MicrobarV2.__struct_encode_fields__) == MICROBAR_WIRE_ORDER_V2
    assert list(MicrobarV1.__struct_encode_fields__) == MICROBAR_WIRE_ORDER_V1


def test_v1_reader_decodes_v2_payload() -> None:
    raw = (EXAMPLES_DIR / "microbar.v2.regular.json").read_bytes()
    v1 = msgspec.json.decode(raw, type=MicrobarV1)
    assert type(v1) is MicrobarV1
    assert (v1.symbol, v1.start_ms, v1.interval_ms) == ("SPY", 1761917400000, 1000)
    assert (v1.open, v1.high, v1.low, v1.close) == (680.1, 680.12, 680.08, 680.12)
    assert (v1.volume, v1.trade_count, v1.delta_volume, v1.bid_ask_imbalance) == (737, 5, 337, 0.25)
    # re-encoded by a v1 producer it has exactly the v1 fields
    assert list(_strict_loads(msgspec.json.encode(v1))) == MICROBAR_WIRE_ORDER_V1


def test_v2_reader_decodes_v1_payload_with_v2_fields_null() -> None:
    raw = (EXAMPLES_DIR / "microbar.v1.regular.json").read_bytes()
    v2 = msgspec.json.decode(raw, type=MicrobarV2)
    assert (v2.open, v2.close, v2.volume, v2.bid_ask_imbalance) == (680.1, 680.12, 737, 0.25)
    assert (v2.ask_bid_size_ratio, v2.quote_coverage_pct, v2.avg_spread_bps,
            v2.bid_size_at_close, v2.ask_size_at_close, v2.quote_count) == (None,) * 6
    out = _strict_loads(msgspec.json.encode(v2))
    assert list(out) == MICROBAR_WIRE_ORDER_V2
    assert [out[k] for k in MICROBAR_WIRE_ORDER_V2[12:]] == [None] * 6


def test_v1_payload_with_a_v1_field_missing_is_rejected() -> None:
    """v1 fields are required: a producer that omits one is broken, not 'compatible'."""
    payload = _strict_loads((EXAMPLES_DIR / "microbar.v1.regular.json").read_bytes())
    del payload["bidAskImbalance"]
    for cls in (MicrobarV1, MicrobarV2):
        with pytest.raises(msgspec.ValidationError, match="bidAskImbalance"):
            msgspec.json.decode(json.dumps(payload).encode(), type=cls)


def test_nulls_are_written_never_omitted() -> None:
    bar = MicrobarV2(symbol="SPY", start_ms=0, interval_ms=1000, open=None, high=None, low=None,
                     close=None, volume=37.0, trade_count=1, vwap=680.11, delta_volume=0.0,
                     bid_ask_imbalance=None)
    text = msgspec.json.encode(bar)
    assert text == (
        b'{"symbol":"SPY","startMs":0,"intervalMs":1000,"open":null,"high":null,"low":null,'
        b'"close":null,"volume":37.0,"tradeCount":1,"vwap":680.11,"deltaVolume":0.0,'
        b'"bidAskImbalance":null,"askBidSizeRatio":null,"quoteCoveragePct":null,'
        b'"avgSpreadBps":null,"bidSizeAtClose":null,"askSizeAtClose":null,"quoteCount":null}')


def test_encoding_is_deterministic() -> None:
    raw = (EXAMPLES_DIR / "microbar.v2.regular.json").read_bytes()
    bar = msgspec.json.decode(raw, type=MicrobarV2)
    again = msgspec.json.decode(msgspec.json.encode(bar), type=MicrobarV2)
    assert msgspec.json.encode(bar) == msgspec.json.encode(again)


_finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
_opt = st.none() | _finite


@st.composite
def _bars(draw: st.DrawFn) -> MicrobarV2:
    return MicrobarV2(
        symbol=draw(st.text(min_size=1, max_size=8)), start_ms=draw(st.integers(0, 2**53)),
        interval_ms=draw(st.sampled_from([500, 1000, 60_000])),
        open=draw(_opt), high=draw(_opt), low=draw(_opt), close=draw(_opt),
        volume=draw(_finite), trade_count=draw(st.integers(0, 10**9)), vwap=draw(_opt),
        delta_volume=draw(_finite), bid_ask_imbalance=draw(st.none() | st.floats(-1, 1)),
        ask_bid_size_ratio=draw(_opt), quote_coverage_pct=draw(st.none() | st.floats(0, 100)),
        avg_spread_bps=draw(_opt), bid_size_at_close=draw(_opt), ask_size_at_close=draw(_opt),
        quote_count=draw(st.none() | st.integers(0, 10**9)))


_V2_SCHEMA = json.loads((CONTRACTS_DIR / "microbar.v2.schema.json").read_text("utf-8"))
_V1_SCHEMA = json.loads((CONTRACTS_DIR / "microbar.v1.schema.json").read_text("utf-8"))


@given(_bars())
def test_microbar_round_trips_across_versions(bar: MicrobarV2) -> None:
    text = msgspec.json.encode(bar)
    payload = _strict_loads(text)  # no NaN / Infinity tokens
    jsonschema.validate(payload, _V2_SCHEMA)
    assert list(payload) == MICROBAR_WIRE_ORDER_V2
    assert msgspec.json.decode(text, type=MicrobarV2) == bar
    v1 = msgspec.json.decode(text, type=MicrobarV1)
    v1_text = msgspec.json.encode(v1)
    jsonschema.validate(_strict_loads(v1_text), _V1_SCHEMA)
    back = msgspec.json.decode(v1_text, type=MicrobarV2)
    assert msgspec.structs.replace(
        bar, ask_bid_size_ratio=None, quote_coverage_pct=None, avg_spread_bps=None,
        bid_size_at_close=None, ask_size_at_close=None, quote_count=None) == back


def test_non_finite_floats_never_reach_the_wire_as_tokens() -> None:
    """msgspec writes NaN/inf as null; in a non-null field that fails the schema (caught here)."""
    bar = MicrobarV2(symbol="SPY", start_ms=0, interval_ms=1000, open=None, high=None, low=None,
                     close=None, volume=math.nan, trade_count=0, vwap=None, delta_volume=math.inf,
                     bid_ask_imbalance=None)
    text = msgspec.json.encode(bar)
    payload = _strict_loads(text)
    assert b"NaN" not in text and b"Infinity" not in text
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(payload, _V2_SCHEMA)


# ---------------------------------------------------------------------------------------------
# Envelope


@pytest.mark.parametrize("path", EXAMPLES, ids=EXAMPLE_IDS)
def test_envelope_round_trip(path: Path) -> None:
    name, version = _parse_name(path)
    cls = all_contracts()[(name, version)]
    obj = msgspec.json.decode(path.read_bytes(), type=cls)
    msg = encode_envelope(obj, seq=7, ts=1761917401000)
    outer = _strict_loads(msg)
    assert list(outer) == ["type", "version", "seq", "ts", "data"]
    assert (outer["type"], outer["version"], outer["seq"], outer["ts"]) == (name, version, 7,
                                                                             1761917401000)
    env, data = decode_envelope(msg)
    assert (env.type, env.version, env.seq, env.ts) == (name, version, 7, 1761917401000)
    assert type(data) is cls
    assert data == obj


def test_envelope_microbar_at_1_for_a_v1_subscriber() -> None:
    v2 = msgspec.json.decode((EXAMPLES_DIR / "microbar.v2.regular.json").read_bytes(),
                             type=MicrobarV2)
    v1 = MicrobarV1(**{f: getattr(v2, f) for f in MicrobarV1.__struct_fields__})
    msg = encode_envelope(v1, seq=1, ts=5)
    outer = _strict_loads(msg)
    assert (outer["type"], outer["version"]) == ("microbar", 1)
    assert list(outer["data"]) == MICROBAR_WIRE_ORDER_V1
    _, data = decode_envelope(msg)
    assert data == v1


def test_envelope_of_an_unknown_type_is_kept_raw() -> None:
    inner = b'{"kind":"fill","qty":3,"price":3.2,"future":{"a":[1,2]}}'
    msg = b'{"type":"broker_event_from_the_future","version":4,"seq":12,"ts":99,"data":' + \
        inner + b"}"
    env, data = decode_envelope(msg)
    assert (env.type, env.version, env.seq, env.ts) == ("broker_event_from_the_future", 4, 12, 99)
    assert isinstance(data, msgspec.Raw)
    assert bytes(data) == inner
    assert reader_for("broker_event_from_the_future", 4) is None


def test_envelope_of_a_newer_version_of_a_known_type_uses_the_newest_reader() -> None:
    payload = _strict_loads((EXAMPLES_DIR / "microbar.v2.regular.json").read_bytes())
    payload["fieldAddedInV3"] = 1.5
    msg = json.dumps({"type": "microbar", "version": 3, "seq": 1, "ts": 2,
                      "data": payload}).encode()
    env, data = decode_envelope(msg)
    assert env.version == 3
    assert type(data) is MicrobarV2
    assert data.quote_count == 4 and data.ask_bid_size_ratio == 0.6


def test_envelope_decodes_a_v1_payload_sent_as_v1() -> None:
    inner = (EXAMPLES_DIR / "microbar.v1.odd-lots-no-quotes.json").read_bytes().strip()
    msg = b'{"type":"microbar","version":1,"seq":3,"ts":4,"data":' + inner + b"}"
    _, data = decode_envelope(msg)
    assert type(data) is MicrobarV1
    assert (data.open, data.volume, data.vwap, data.bid_ask_imbalance) == (None, 37.0, 680.11, None)
