"""Run an iterator in a background thread, a few items ahead of its consumer.

Used to read a flat file (inflate, parse: both release the GIL) while the caller aggregates, and
to read the trades and quotes files at the same time. Items come out in the iterator's order; an
exception raised by the iterator is raised to the consumer at the same point in the sequence, so
errors and their order are unchanged. Memory is bounded by ``depth`` items.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

__all__ = ["THREADS_ENABLED", "prefetch"]

T = TypeVar("T")

#: False when ``SPXCC_READ_THREADS=0`` (read in the consumer's thread; for measurements).
THREADS_ENABLED = os.environ.get("SPXCC_READ_THREADS", "1") != "0"

_ITEM, _ERROR, _END = 0, 1, 2


def prefetch(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """``items``, produced by a daemon thread up to ``depth`` ahead (in this thread when
    threads are disabled). Closing the returned iterator stops the thread."""
    if not THREADS_ENABLED:
        yield from items
        return
    q: queue.Queue[tuple[int, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[int, object]) -> bool:
        while not stop.is_set():
            try:
                q.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((_ITEM, item)):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            put((_ERROR, exc))
            return
        put((_END, None))

    worker = threading.Thread(target=produce, name="spxcc-read", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = q.get()
            if kind == _ITEM:
                yield value  # type: ignore[misc]
            elif kind == _ERROR:
                assert isinstance(value, BaseException)
                raise value
            else:
                return
    finally:
        stop.set()
        worker.join()
