"""Helpers shared by the broker CLI tests: intent files and running ``spxcc`` in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spxcc_core.cli import main

ACCOUNT = "VA00000001"
#: Not expired at any date the suite runs (the paper broker refuses expired contracts).
SYM = "SPXW991218C05900000"


def intent_file(tmp_path: Path, intent_id: str, **kw: object) -> Path:
    """Write a limit buy-to-open ``OrderIntent`` JSON file (fields overridable by ``kw``)."""
    data: dict[str, object] = {"intentId": intent_id, "optionSymbol": SYM, "underlying": "SPX",
                               "side": "buy_to_open", "quantity": 2, "orderType": "limit",
                               "limitPrice": 1.50, "duration": "day"}
    data.update(kw)
    path = tmp_path / f"{intent_id}.json"
    path.write_text(json.dumps(data))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``spxcc`` with ``argv`` in-process: (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err
