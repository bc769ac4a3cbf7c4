"""Run an iterator in a background thread, a few items ahead of its consumer.

Used to read a flat file (inflate, parse: both release the GIL) while the caller aggregates, and
to read the trades and quotes files at the same time. Items come out in the iterator's order; an
exception raised by the iterator is raised to the consumer at the same point in the sequence, so
errors and their order are unchanged. Memory is bounded by ``depth`` items.

The thread starts when the :class:`Prefetcher` is made, so reading overlaps whatever the caller
does before its first ``next`` (in ``spxcc bars``: importing numba, the kernel and the plugins). It stops when the
iterator is exhausted, closed, or garbage-collected.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

__all__ = ["Prefetcher", "prefetch", "threads_enabled"]

T = TypeVar("T")


def threads_enabled() -> bool:
    """Whether :func:`prefetch` reads in a thread, from ``SPXCC_READ_THREADS``: ``1`` always,
    ``0`` never (read in the consumer's thread), unset or ``auto`` when the machine has a core
    to spare (1-minute load average below the number of CPUs). On a saturated machine every
    hand-over between threads waits for the scheduler, and reading in the consumer's thread
    was faster (2.07–2.14 s against 3.07 s best at load 7 on 2 CPUs, docs/performance.md)."""
    mode = os.environ.get("SPXCC_READ_THREADS", "auto")
    if mode in ("0", "1"):
        return mode == "1"
    try:
        load = os.getloadavg()[0]
    except OSError:  # pragma: no cover - no load average on this platform
        return True
    return load < (os.cpu_count() or 1)

_ITEM, _ERROR, _END = 0, 1, 2


def _produce(items: Iterator[Any], q: queue.Queue[tuple[int, object]],
             stop: threading.Event) -> None:
    def put(entry: tuple[int, object]) -> bool:
        while not stop.is_set():
            try:
                q.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    try:
        for item in items:
            if not put((_ITEM, item)):
                return
    except BaseException as exc:  # handed to the consumer, raised there
        put((_ERROR, exc))
        return
    put((_END, None))


class Prefetcher(Generic[T]):
    """An iterator over ``items`` produced by a daemon thread up to ``depth`` ahead."""

    def __init__(self, items: Iterator[T], depth: int = 2) -> None:
        self._queue: queue.Queue[tuple[int, object]] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._done = False
        # The thread holds no reference to this object, so dropping it runs __del__ → close.
        self._thread = threading.Thread(target=_produce, args=(items, self._queue, self._stop),
                                        name="spxcc-read", daemon=True)
        self._thread.start()

    def __iter__(self) -> Prefetcher[T]:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        kind, value = self._queue.get()
        if kind == _ITEM:
            return value  # type: ignore[return-value]
        self.close()
        if kind == _ERROR:
            assert isinstance(value, BaseException)
            raise value
        raise StopIteration

    def close(self) -> None:
        """Stop the thread (it finishes the item in hand) and wait for it."""
        self._done = True
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def __del__(self) -> None:
        self._stop.set()


def prefetch(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """``items`` read ahead by a :class:`Prefetcher`, or ``items`` itself when
    :func:`threads_enabled` says no. The items and their order are the same either way."""
    return Prefetcher(items, depth) if threads_enabled() else items
