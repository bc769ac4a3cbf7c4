"""Concurrent ``spxcc broker submit --broker paper`` processes on one fresh store: an order
acknowledged is an order that exists (real processes released together, a real SQLite file or
PostgreSQL schema)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from broker_cli_helpers import intent_file
from together import spxcc_together

from spxcc_core.broker import tag_for

N = 6
PAPER = ["--broker", "paper", "--account", "P1"]


def test_concurrent_submits_on_a_fresh_store_every_ack_is_an_order(
        tmp_path: Path, store_target: str | Path) -> None:
    db = store_target
    ids = [f"conc-{n}" for n in range(N)]
    argvs = [["broker", "submit", *PAPER, "--db", str(db),
              "--intent", str(intent_file(tmp_path, i, quantity=1, limitPrice=1.0))]
             for i in ids]
    runs = spxcc_together(argvs, tmp_path / "barrier")
    acked: dict[str, str] = {}
    for intent_id, r in zip(ids, runs, strict=True):
        assert "Traceback" not in r.stderr, r.stderr
        if r.returncode == 0:
            ack = json.loads(r.stdout)
            assert (ack["intentId"], ack["duplicate"]) == (intent_id, False)
            acked[intent_id] = ack["brokerOrderId"]
        else:  # a process that could not place its order says so in one line
            lines = r.stderr.strip().splitlines()
            assert r.returncode == 2 and len(lines) == 1, r.stderr
            assert lines[0].startswith("spxcc: error: ") and intent_id in lines[0]
    assert acked, [r.stderr for r in runs]
    # every acknowledged order is in the paper book, once, with its own id
    env = {**os.environ, "SPXCC_DISABLE_PLUGIN_AUTOLOAD": "1"}
    snap = subprocess.run(
        [sys.executable, "-c", "import sys; from spxcc_core.cli import main; sys.exit(main())",
         "broker", "snapshot", *PAPER, "--db", str(db)],
        capture_output=True, text=True, env=env, timeout=300)
    assert snap.returncode == 0, snap.stderr
    book = {o["tag"]: o["id"] for o in json.loads(snap.stdout)["openOrders"]}
    assert {tag_for(i): oid for i, oid in acked.items()}.items() <= book.items()
    assert len(set(book.values())) == len(book)
