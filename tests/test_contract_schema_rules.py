"""The published JSON Schemas carry the rules the contracts enforce: an order intent's
enumerated fields are enums in ``order_intent.v1.schema.json``, not bare strings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spxcc_core.contracts.broker import DURATIONS, ORDER_TYPES, SIDES, decode_intent
from spxcc_core.errors import InputError

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "contracts"
                     / "order_intent.v1.schema.json").read_text("utf-8"))
INTENT = SCHEMA["$defs"]["OrderIntent"]["properties"]


def test_intent_enumerations_are_published_as_enums() -> None:
    assert INTENT["side"] == {"enum": ["buy_to_close", "buy_to_open", "sell_to_close",
                                       "sell_to_open"]}
    assert INTENT["orderType"] == {"enum": ["limit", "market"]}
    assert INTENT["duration"] == {"default": "day", "enum": ["day", "gtc"]}
    assert set(SIDES) == set(INTENT["side"]["enum"])
    assert set(ORDER_TYPES) == set(INTENT["orderType"]["enum"])
    assert set(DURATIONS) == set(INTENT["duration"]["enum"])


def test_intent_bounds_are_published() -> None:
    assert INTENT["quantity"] == {"maximum": 1_000_000, "minimum": 1, "type": "integer"}


@pytest.mark.parametrize(("field", "value", "choices"), [
    ("side", "buy", "buy_to_open, buy_to_close, sell_to_open, sell_to_close"),
    ("orderType", "stop", "market, limit"),
    ("duration", "ioc", "day, gtc"),
])
def test_a_bad_enumerated_value_is_one_line_naming_field_and_choices(
        field: str, value: str, choices: str) -> None:
    intent = {"intentId": "s-1", "optionSymbol": "SPXW261125C05900000", "underlying": "SPX",
              "side": "buy_to_open", "quantity": 1, "orderType": "market", field: value}
    with pytest.raises(InputError) as info:
        decode_intent(json.dumps(intent), "intents.jsonl, line 3")
    assert str(info.value) == (f"intents.jsonl, line 3: OrderIntent.{field}: {value!r} is not "
                               f"one of {choices}")
