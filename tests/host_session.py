"""Recorded sessions for the host tests: the golden ``gap_and_flush`` case (a gap, a flush, one
setup that passes its gates and one candidate the gates block) as Massive websocket frames, one
JSON array per line — what ``spxcc live --record`` writes — or as Massive flat files."""

from __future__ import annotations

from pathlib import Path

from test_live_parity import ws_frames, ws_shaped

from spxcc_core.golden.io import write_flat_files
from spxcc_core.golden.sessions import case_events

__all__ = ["CASE", "DATE", "write_flat_folder", "write_recording"]

CASE = "gap_and_flush"
DATE = "2024-03-07"


def write_recording(path: Path, *, seed: int = 7) -> Path:
    """Write the case's frames (1–40 events each, cut by ``seed``) to ``path``."""
    frames = ws_frames(ws_shaped(case_events(CASE)), seed)
    path.write_text("\n".join(frames) + "\n", encoding="utf-8")
    return path


def write_flat_folder(folder: Path) -> Path:
    """Write the case's trades and quotes (nanosecond times, as generated) as Massive stock
    flat files under ``folder``."""
    write_flat_files(case_events(CASE), folder, DATE)
    return folder
