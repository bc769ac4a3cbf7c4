"""A recorded websocket session for the host tests: the golden ``gap_and_flush`` case (a gap,
a flush, one setup that passes its gates and one candidate the gates block) as Massive
websocket frames, one JSON array per line — what ``spxcc live --record`` writes."""

from __future__ import annotations

from pathlib import Path

from test_live_parity import ws_frames, ws_shaped

from spxcc_core.golden.sessions import case_events

__all__ = ["CASE", "write_recording"]

CASE = "gap_and_flush"


def write_recording(path: Path, *, seed: int = 7) -> Path:
    """Write the case's frames (1–40 events each, cut by ``seed``) to ``path``."""
    frames = ws_frames(ws_shaped(case_events(CASE)), seed)
    path.write_text("\n".join(frames) + "\n", encoding="utf-8")
    return path
