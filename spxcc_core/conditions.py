"""Massive trade-condition table: which conditions let a trade update high/low, open/close, volume.

The normative rules are ``spec/microbar.md`` (Trade eligibility): for a trade with condition set
``C`` each flag is the AND over ``C`` of the condition's consolidated update rule; an empty ``C`` is
a regular sale (all flags set). Ids the table lists *without* rules (trade-through-exempt 41,
short-sale-restriction indicators 57–60, financial-status indicators 62–71) are ignored in the AND;
ids missing from the table are ignored the same way and reported by :func:`eligibility` so the run
report can count them under ``unknownConditions``.

Flags are the ``ELIG_*`` bits defined below: ``ELIG_HL`` (updates high and
low), ``ELIG_OC`` (updates open, close and last), ``ELIG_V`` (counts in volume) and
``ELIG_CLASSIFY`` (an outright-priced print that Lee–Ready may classify as buy or sell). Only
options multi-leg and compression prints lack ``ELIG_CLASSIFY`` among volume-eligible conditions.

Stock ids are unique only within the *trade* data type (id 12 is "Form T" for trades but a quote
condition elsewhere): this table is for trades only. Every row names its source; the transcriptions
are from ``reference/massive.md`` §3.2 (stocks) and §3.5 (options, OPRA ids 201+) and should be
confirmed against ``GET /v3/reference/conditions`` on live data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

import attrs

#: Eligibility bits of a condition set: the trade updates high/low, open/close, volume; the trade
#: is classified (Lee–Ready) into delta volume.
ELIG_HL = 1
ELIG_OC = 2
ELIG_V = 4
ELIG_CLASSIFY = 8

__all__ = ["ALL_FLAGS", "CONDITIONS", "ELIG_CLASSIFY", "ELIG_HL", "ELIG_OC", "ELIG_V", "ConditionRecord",
           "eligibility"]

#: All four eligibility bits: the flags of an empty condition set (a regular sale).
ALL_FLAGS = ELIG_HL | ELIG_OC | ELIG_V | ELIG_CLASSIFY


@attrs.frozen
class ConditionRecord:
    """One trade condition.

    ``flags`` is the bitmask of ``ELIG_*`` bits the condition allows, or ``None`` for an id listed
    without update rules (ignored in the AND). ``sip`` is the SIP code as printed by the source
    (empty when unknown); ``source`` names where the row's flags come from.
    """

    id: int
    name: str
    sip: str
    asset_class: str
    flags: int | None
    source: str
    note: str = ""


# Sources, as cited in reference/massive.md.
_S_MOCK = "massive.md §3.2 (client mock test_rest/mocks/v3/reference/conditions, ids 1–10)"
_S_TABLE = "massive.md §3.2 (marketstore backfill.go / Lean PolygonSIPMappings.cs transcription)"
_S_POLICY = "spec/microbar.md Trade eligibility (project policy over disagreeing sources)"
_S_NORULE = "massive.md §3.1/§3.2 (listed without update_rules: ignored in the AND)"
_S_OPRA = "massive.md §3.5 (OPRA mapping, unverified; project policy)"
_S_OPRA_209 = "massive.md §3.5 (client rest.json examples)"
_S_OPRA_219 = "massive.md §3.5 (docs: unusual-options-activity/unusual-trades)"
_S_OPRA_233 = "massive.md §3.5 (client websocket.json example)"

_REGULAR = ALL_FLAGS                      # HL ✓ OC ✓ V ✓
_HL_V = ELIG_HL | ELIG_V | ELIG_CLASSIFY  # HL ✓ OC ✗ V ✓
_V = ELIG_V | ELIG_CLASSIFY               # HL ✗ OC ✗ V ✓
_HL_OC = ELIG_HL | ELIG_OC | ELIG_CLASSIFY  # HL ✓ OC ✓ V ✗
_NONE = 0                                 # HL ✗ OC ✗ V ✗
_V_UNCLASSIFIED = ELIG_V                  # volume only, never buy or sell

# (id, name, sip code, flags, source, note) — stocks, reference/massive.md §3.2.
_STOCKS: tuple[tuple[int, str, str, int | None, str, str], ...] = (
    (0, "Regular Sale", "@", _REGULAR, _S_TABLE, "usually sent as an empty list"),
    (1, "Acquisition", "UTP A", _REGULAR, _S_MOCK, ""),
    (2, "Average Price Trade", "CTA B / UTP W", _V, _S_MOCK, ""),
    (3, "Automatic Execution", "CTA E", _REGULAR, _S_MOCK, ""),
    (4, "Bunched Trade", "UTP B", _REGULAR, _S_MOCK, ""),
    (5, "Bunched Sold Trade", "UTP G", _HL_V, _S_MOCK, ""),
    (6, "CAP Election", "CTA I", _REGULAR, _S_MOCK, "legacy"),
    (7, "Cash Sale", "C", _V, _S_MOCK, ""),
    (8, "Closing Prints", "UTP 6", _REGULAR, _S_MOCK, ""),
    (9, "Cross Trade", "X", _REGULAR, _S_MOCK, ""),
    (10, "Derivatively Priced", "4", _HL_V, _S_MOCK, ""),
    (11, "Distribution", "D", _REGULAR, _S_TABLE, ""),
    (12, "Form T / Extended Hours", "T", _V, _S_TABLE, "every pre/post-market print"),
    (13, "Extended Hours, Sold Out Of Sequence", "U", _V, _S_TABLE, ""),
    (14, "Intermarket Sweep", "F", _REGULAR, _S_TABLE, "very common, regular"),
    (15, "Market Center Official Close", "M", _NONE, _S_TABLE, "marker, no volume"),
    (16, "Market Center Official Open", "Q", _NONE, _S_TABLE, "marker, no volume"),
    (17, "Market Center Opening Trade", "", _HL_V, _S_POLICY, "marketstore: unknown"),
    (18, "Market Center Reopening Trade", "", _REGULAR, _S_TABLE, ""),
    (19, "Market Center Closing Trade", "", _REGULAR, _S_TABLE, ""),
    (20, "Next Day", "N", _V, _S_TABLE, ""),
    (21, "Price Variation Trade", "H", _V, _S_TABLE, ""),
    (22, "Prior Reference Price", "P", _HL_V, _S_TABLE, ""),
    (23, "Rule 155 Trade (AMEX)", "K", _REGULAR, _S_TABLE, ""),
    (24, "Rule 127 (NYSE)", "", _REGULAR, _S_TABLE, ""),
    (25, "Opening Prints", "O", _REGULAR, _S_TABLE, ""),
    (27, "Stopped Stock (Regular)", "1", _REGULAR, _S_TABLE, ""),
    (28, "Re-Opening Prints", "5", _REGULAR, _S_TABLE, ""),
    (29, "Seller", "R", _V, _S_POLICY, "marketstore and Lean give HL ✓"),
    (30, "Sold Last", "L", _REGULAR, _S_TABLE, ""),
    (31, "Sold Last and Stopped Stock", "", _REGULAR, _S_TABLE, ""),
    (32, "Sold Out Of Sequence", "Z", _HL_V, _S_TABLE, "the old glossary puts it at 33"),
    (33, "Sold Out of Sequence and Stopped Stock", "", _HL_V, _S_TABLE, ""),
    (34, "Split Trade", "S", _REGULAR, _S_TABLE, ""),
    (35, "Stock Option", "", _REGULAR, _S_TABLE, ""),
    (36, "Yellow Flag Regular Trade", "Y", _REGULAR, _S_TABLE, ""),
    (37, "Odd Lot Trade", "I", _V, _S_TABLE, "very common"),
    (38, "Corrected Consolidated Close", "9", _HL_OC, _S_TABLE, "market-center flags ✗ ✗"),
    (41, "Trade Thru Exempt", "CTA 1 / UTP X", None, _S_NORULE, "type trade_thru_exempt"),
    (52, "Contingent Trade", "V", _V, _S_TABLE, ""),
    (53, "Qualified Contingent Trade", "7", _V, _S_TABLE, ""),
    (55, "Opening/Reopening Trade Detail", "", _REGULAR, _S_TABLE, ""),
    (57, "Short Sale Restriction Activated", "", None, _S_NORULE, "indicator"),
    (58, "Short Sale Restriction Continued", "", None, _S_NORULE, "indicator"),
    (59, "Short Sale Restriction Deactivated", "", None, _S_NORULE, "indicator"),
    (60, "Short Sale Restriction In Effect", "", None, _S_NORULE, "indicator"),
    (62, "Financial Status indicator", "", None, _S_NORULE, "indicator"),
    (63, "Financial Status indicator", "", None, _S_NORULE, "indicator"),
    (64, "Financial Status indicator", "", None, _S_NORULE, "indicator"),
    (65, "Financial Status indicator", "", None, _S_NORULE, "indicator"),
    (66, "Financial Status indicator", "", None, _S_NORULE, "indicator"),
    (67, "Financial Status indicator", "", None, _S_NORULE, "indicator"),
    (68, "Financial Status indicator", "", None, _S_NORULE, "indicator"),
    (69, "Financial Status indicator", "", None, _S_NORULE, "indicator"),
    (70, "Financial Status indicator", "", None, _S_NORULE, "indicator"),
    (71, "Financial Status indicator", "", None, _S_NORULE, "indicator"),
)

# Options (OPRA), reference/massive.md §3.5. Cancels never update anything; late prints count in
# volume only (they do not update high/low or last); multi-leg (232–246) and compression (247)
# prints count in volume but are not outright-priced, so they are never classified.
_OPTIONS: tuple[tuple[int, str, str, int | None, str, str], ...] = (
    (201, "Canceled", "CANC", _NONE, _S_OPRA, "cancel"),
    (202, "Late and Out Of Sequence", "OSEQ", _V, _S_OPRA, "late"),
    (203, "Last and Canceled", "CNCL", _NONE, _S_OPRA, "cancel"),
    (204, "Late", "LATE", _V, _S_OPRA, "late"),
    (205, "Opening Trade and Canceled", "CNCO", _NONE, _S_OPRA, "cancel"),
    (206, "Opening Trade, Late, Out Of Sequence", "OPEN", _V, _S_OPRA, "late"),
    (207, "Only Trade and Canceled", "CNOL", _NONE, _S_OPRA, "cancel"),
    (208, "Opening Trade and Late", "OPNL", _V, _S_OPRA, "late"),
    (209, "Automatic Execution", "AUTO", _REGULAR, _S_OPRA_209, ""),
    (210, "Reopening Trade", "REOP", _REGULAR, _S_OPRA, ""),
    (219, "Intermarket Sweep Order", "ISOI", _REGULAR, _S_OPRA_219, ""),
    (227, "Single Leg Auction Non ISO", "SLAN", _REGULAR, _S_OPRA, ""),
    (228, "Single Leg Auction ISO", "SLAI", _REGULAR, _S_OPRA, ""),
    (229, "Single Leg Cross Non ISO", "SLCN", _REGULAR, _S_OPRA, ""),
    (230, "Single Leg Cross ISO", "SLCI", _REGULAR, _S_OPRA, ""),
    (231, "Single Leg Floor Trade", "SLFT", _REGULAR, _S_OPRA, ""),
    (232, "Multi Leg auto-electronic trade", "MLET", _V_UNCLASSIFIED, _S_OPRA, "multi-leg"),
    (233, "Multi Leg Auction", "MLAT", _V_UNCLASSIFIED, _S_OPRA_233, "multi-leg"),
    (234, "Multi Leg Cross", "MLCT", _V_UNCLASSIFIED, _S_OPRA, "multi-leg"),
    (235, "Multi Leg floor trade", "MLFT", _V_UNCLASSIFIED, _S_OPRA, "multi-leg"),
    (236, "Multi Leg auto-electronic vs single leg(s)", "MESL", _V_UNCLASSIFIED, _S_OPRA,
     "multi-leg"),
    (237, "Stock-options variant (first of 237–245)", "TLAT", _V_UNCLASSIFIED, _S_OPRA,
     "multi-leg, stock-options"),
    (238, "Stock-options variant (237–245)", "", _V_UNCLASSIFIED, _S_OPRA,
     "multi-leg, stock-options; code not transcribed"),
    (239, "Stock-options variant (237–245)", "", _V_UNCLASSIFIED, _S_OPRA,
     "multi-leg, stock-options; code not transcribed"),
    (240, "Stock-options variant (237–245)", "", _V_UNCLASSIFIED, _S_OPRA,
     "multi-leg, stock-options; code not transcribed"),
    (241, "Stock-options variant (237–245)", "", _V_UNCLASSIFIED, _S_OPRA,
     "multi-leg, stock-options; code not transcribed"),
    (242, "Stock-options variant (237–245)", "", _V_UNCLASSIFIED, _S_OPRA,
     "multi-leg, stock-options; code not transcribed"),
    (243, "Stock-options variant (237–245)", "", _V_UNCLASSIFIED, _S_OPRA,
     "multi-leg, stock-options; code not transcribed"),
    (244, "Stock-options variant (237–245)", "", _V_UNCLASSIFIED, _S_OPRA,
     "multi-leg, stock-options; code not transcribed"),
    (245, "Stock-options variant (last of 237–245)", "TFSL", _V_UNCLASSIFIED, _S_OPRA,
     "multi-leg, stock-options"),
    (246, "Multi Leg Floor Trade of Proprietary Products", "CBMO", _V_UNCLASSIFIED, _S_OPRA,
     "multi-leg"),
    (247, "Multilateral Compression Trade of Proprietary Products", "MCTP", _V_UNCLASSIFIED,
     _S_OPRA, "compression: not at market prices"),
    (248, "Extended Hours Trade", "EXHT", _REGULAR, _S_OPRA, "Cboe GTH session for SPX"),
)


def _build() -> Mapping[int, ConditionRecord]:
    table: dict[int, ConditionRecord] = {}
    for asset_class, rows in (("stocks", _STOCKS), ("options", _OPTIONS)):
        for cid, name, sip, flags, source, note in rows:
            if cid in table:  # pragma: no cover - guarded by tests
                raise AssertionError(f"duplicate condition id {cid}")
            table[cid] = ConditionRecord(id=cid, name=name, sip=sip, asset_class=asset_class,
                                         flags=flags, source=source, note=note)
    return MappingProxyType(dict(sorted(table.items())))


#: Condition id → record, read-only, in id order (stocks 0–71, options 201–248).
CONDITIONS: Mapping[int, ConditionRecord] = _build()


def eligibility(ids: Iterable[int]) -> tuple[int, tuple[int, ...]]:
    """Eligibility bits of a trade's condition set, and the ids the table does not know.

    :param ids: the trade's condition ids (any order, repeats allowed; empty = regular sale).
    :returns: ``(flags, unknown)`` — ``flags`` is the AND of the ``ELIG_*`` bits over the ids that
        have rules (:data:`ALL_FLAGS` when none has), ``unknown`` the sorted distinct ids missing
        from :data:`CONDITIONS` (ignored in the AND, to be reported).
    """
    flags = ALL_FLAGS
    unknown: set[int] = set()
    for cid in ids:
        record = CONDITIONS.get(cid)
        if record is None:
            unknown.add(int(cid))
        elif record.flags is not None:
            flags &= record.flags
    return flags, tuple(sorted(unknown))
