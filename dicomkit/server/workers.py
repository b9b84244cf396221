"""Worker threads for the steps of a store: calls posted to a queue, without a future per call.

A C-STORE hands its work to a thread once (and, with durability ``full``, the sync of its file to another),
and that thread completes the store's own event-loop future. A ``concurrent.futures`` executor would add a
future per call (with its condition variable, state changes and callbacks) that nobody waits on: here a call
is one ``SimpleQueue.put`` and one ``get``. What a call raises is logged (the callers complete their store's
answer themselves, also on failure). :class:`Signal` is the one-shot completion the store's two calls share.
"""

from __future__ import annotations

import _thread
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("dicomkit.server.workers")


class WorkerPool:
    """Up to ``workers`` threads (named ``name_N``), started as calls find no idle one, that run posted calls
    in the order they were posted (a call never waits behind one posted after it)."""

    def __init__(self, workers: int, name: str) -> None:
        self._max = workers
        self._name = name
        self._queue: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._idle = 0  # threads waiting for a call that no posted call has claimed yet
        self._closed = False

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` in a worker thread (RuntimeError once the pool is closed)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the archive is closed")
            if self._idle:
                self._idle -= 1
                start = False
            else:
                start = len(self._threads) < self._max
                if start:
                    thread = threading.Thread(target=self._run, name=f"{self._name}_{len(self._threads)}",
                                              daemon=True)
                    self._threads.append(thread)
            self._queue.put((fn, args))
        if start:
            thread.start()

    def _run(self) -> None:
        get, lock = self._queue.get, self._lock
        while True:
            item = get()
            if item is None:
                return
            fn, args = item
            try:
                fn(*args)
            except BaseException:  # pragma: no cover - the callers catch what they expect
                log.exception("a worker's call failed")
            with lock:
                self._idle += 1

    def close(self) -> None:
        """Run what was posted, then stop the threads."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(None)
        for thread in threads:
            thread.join()


class Signal:
    """Set once by one thread (with the exception of its work, if any), waited for by another."""

    __slots__ = ("_error", "_lock")

    def __init__(self) -> None:
        self._lock = _thread.allocate_lock()
        self._lock.acquire()
        self._error: BaseException | None = None

    def set(self, error: BaseException | None = None) -> None:
        self._error = error
        self._lock.release()

    def wait(self) -> None:
        """Until :meth:`set`; then raise the exception it was given."""
        with self._lock:
            pass
        if self._error is not None:
            raise self._error


__all__ = ["Signal", "WorkerPool"]
