"""The ``detection`` and ``websocket`` sections of ``replay_report@1`` are typed contracts whose
JSON is byte-for-byte what the untyped dicts gave (the report encoder sorts dict keys, so the
structs declare their fields in alphabetical wire order), and whose schema the drift gate sees."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args, get_type_hints

import msgspec

from spxcc_core.contracts.replay import (
    DetectionReport,
    OutcomeStats,
    ReplayReport,
    WebsocketCounts,
)
from spxcc_core.contracts.setup import SetupStats

ROOT = Path(__file__).resolve().parents[1]
_report_encoder = msgspec.json.Encoder(order="deterministic")  # as pipeline.py writes report.json


def _structs_under(cls: type[msgspec.Struct]) -> set[type[msgspec.Struct]]:
    """``cls`` and every Struct type reachable through its field annotations."""
    seen: set[type[msgspec.Struct]] = set()
    todo: list[Any] = [cls]
    while todo:
        t = todo.pop()
        if isinstance(t, type) and issubclass(t, msgspec.Struct):
            if t not in seen:
                seen.add(t)
                todo.extend(get_type_hints(t).values())
        else:
            todo.extend(get_args(t))
    return seen


def test_detection_and_websocket_fields_are_in_alphabetical_wire_order() -> None:
    structs = _structs_under(DetectionReport) | {WebsocketCounts}
    assert {s.__name__ for s in structs} >= {"DetectionReport", "GateCounts", "OutcomeStats",
                                            "InstrumentDetection", "ProfileRef",
                                            "DetectorErrors", "RunnerPluginFailure"}
    for s in structs:
        names = [f.encode_name for f in msgspec.structs.fields(s)]
        assert names == sorted(names), s.__name__


def test_websocket_counts_encode_as_the_old_dict_did() -> None:
    counts = WebsocketCounts(events=7, trades=3, quotes=2, values=1,
                             statuses={"connected": 1, "auth_success": 1}, unknown={})
    old = {"events": 7, "trades": 3, "quotes": 2, "values": 1,
           "statuses": {"auth_success": 1, "connected": 1}, "unknown": {}}
    assert _report_encoder.encode(counts) == _report_encoder.encode(old) == (
        b'{"events":7,"quotes":2,"statuses":{"auth_success":1,"connected":1},"trades":3,'
        b'"unknown":{},"values":1}')


def test_outcome_stats_are_setup_stats_in_sorted_order() -> None:
    stats = SetupStats(setups=4, triggered=3, untriggered=1, open=0, t1_hits=2, t2_hits=1,
                       stopped=1, expired=0, t1_hit_rate=2 / 3, expectancy_r=0.5)
    assert _report_encoder.encode(OutcomeStats.of(stats)) == _report_encoder.encode(
        msgspec.to_builtins(stats)) == (
        b'{"expectancyR":0.5,"expired":0,"open":0,"setups":4,"stopped":1,'
        b'"t1HitRate":0.6666666666666666,"t1Hits":2,"t2Hits":1,"triggered":3,"untriggered":1}')


_OLD_DETECTION = {  # written before byInstrument, expectancyGapR and sessionEnd existed
    "profile": {"name": "default", "version": 1, "hash": "e1a954d6a5628683"},
    "detectors": {"vwap": 1}, "defaultsUsed": [], "bars": 2, "quarantined": {},
    "gates": {"vwap": {"evaluated": 1, "passed": 0, "blocked": 1,
                       "reasons": {"quote_coverage": 1}}},
    "errors": {}, "pluginFailures": [{"plugin": "p", "hook": "spxcc_on_setup", "error": "E"}],
    "stats": {"setups": 0, "triggered": 0, "untriggered": 0, "open": 0, "t1Hits": 0,
              "t2Hits": 0, "stopped": 0, "expired": 0, "t1HitRate": None, "expectancyR": None},
}


def test_an_older_detection_section_decodes_with_defaults() -> None:
    d = msgspec.json.decode(json.dumps(_OLD_DETECTION), type=DetectionReport)
    assert d.by_instrument == {} and d.expectancy_gap_r is None
    assert d.session_end is msgspec.UNSET
    assert d.gates["vwap"].reasons == {"quote_coverage": 1}
    assert d.plugin_failures[0].hook == "spxcc_on_setup"
    assert d.profile.hash == "e1a954d6a5628683"
    # an unset sessionEnd stays out of the JSON; the rest is the old section, keys sorted
    again = json.loads(_report_encoder.encode(d))
    assert "sessionEnd" not in again
    assert {k: again[k] for k in _OLD_DETECTION} == _OLD_DETECTION


def test_the_published_schema_describes_detection_and_websocket() -> None:
    schema = json.loads((ROOT / "contracts" / "replay_report.v1.schema.json").read_text("utf-8"))
    report = schema["$defs"]["ReplayReport"]["properties"]
    assert report["detection"] == {"$ref": "#/$defs/DetectionReport"}
    detection = schema["$defs"]["DetectionReport"]
    assert set(detection["required"]) == {"bars", "defaultsUsed", "detectors", "errors",
                                          "gates", "pluginFailures", "profile", "quarantined",
                                          "stats"}
    assert "sessionEnd" in detection["properties"]
    assert set(schema["$defs"]["WebsocketCounts"]["required"]) == {
        "events", "quotes", "statuses", "trades", "unknown", "values"}
    assert ReplayReport.__struct_fields__.index("detection") == 2
