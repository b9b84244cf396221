"""Group commit: one writer thread runs the index transactions that concurrent stores wait for, together.

Each piece of work is a function of the write connection. The writer takes the first waiting one, then
every other one already waiting (up to :data:`MAX_BATCH`), runs them in one transaction, commits once — one
durable flush for the whole batch — and only then completes their futures. One failing piece fails alone:
each runs in a savepoint of its own, where a failure takes back only its own changes (a piece alone in its
batch needs none: its failure rolls the transaction back). A batch of stores only (pieces whose ``folds``
attribute is true: functions of the database alone, which may run again) runs without savepoints first —
two statements fewer per store — and only when one fails is it rolled back and run again with them. With one
association the batch is one store; with eight, the stores that arrived during the previous commit share the
next one.

``submit(work, here=True)`` (from a worker thread that waits for the result anyway, as a store does) runs the
batch in the calling thread when no batch is running — one thread hand-off less per store, which is most of
a store's latency on a busy machine — and otherwise queues the work for the running batch's successor, as
``submit`` does. One lock keeps a single batch at a time on the write connection.

Work that says so (its ``folds`` attribute is true: the stores) may leave part of its statements to the end
of the batch (:class:`Deferred`, given to it as ``db.deferred``): the aggregate updates of a batch's stores
then run once per entity instead of once per store. They run in the batch's transaction before its commit,
and before any other work of the batch (which may read or change what they update); the part a failing
piece left is dropped with its savepoint. A piece alone in its batch runs as it would alone (nothing left).

A batch that the database aborts as a deadlock or a serialization failure (PostgreSQL, two nodes writing
the same study) is rolled back and run again; a connection that breaks (the database restarting) is
reopened, and the batch fails only when it cannot be.
"""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from .dialect import Database, IndexError_

log = logging.getLogger("dicomkit.server.index")

T = TypeVar("T")
MAX_BATCH = 128
RETRIES = 5
Work = Callable[[Database], Any]
# what must be durable before the commit of a piece of work (its key: one run per batch for equal keys)
BeforeCommit = tuple[str, Callable[[], None]]
Item = tuple[Work, "concurrent.futures.Future[Any] | Completion", BeforeCommit | None]


class Deferred(Protocol):
    """What the folding work of one batch left to its end (:class:`GroupCommitWriter`'s ``deferred``)."""

    def mark(self) -> int: ...

    def undo(self, mark: int) -> None:
        """Drop what was left since ``mark`` (the piece that left it failed)."""

    def flush(self, db: Database) -> None:
        """Run what was left (in the batch's transaction), and forget it."""


class DurabilityError(IndexError_):
    """What had to be durable before a commit (a folder sync) failed: the batch is rolled back."""


class _Stop:
    pass


class _PieceFailed(Exception):
    """A piece of a batch run without savepoints failed: the batch runs again with them."""


class Completion:
    """What a batch completes for :meth:`GroupCommitWriter.submit_then`: the parts of a future it uses, calling
    ``callback(result, None)`` or ``callback(None, exception)`` in the thread that ran the batch — one call
    instead of a future's state, condition variable and callback list per store."""

    __slots__ = ("callback",)

    def __init__(self, callback: Callable[[Any, BaseException | None], None]) -> None:
        self.callback = callback

    def set_running_or_notify_cancel(self) -> bool:
        return True

    def set_result(self, value: Any) -> None:
        self._call(value, None)

    def set_exception(self, exc: BaseException) -> None:
        self._call(None, exc)

    def _call(self, value: Any, exc: BaseException | None) -> None:
        try:
            self.callback(value, exc)
        except Exception:  # as a future's done callback: logged, and the batch completes the others
            log.exception("a store's completion failed")


class GroupCommitWriter:
    """The writer thread; ``submit(work)`` returns a future of ``work(db)``'s result, committed."""

    def __init__(self, open_connection: Callable[[], Database], *, name: str = "dicomkit-index-writer",
                 on_commit: Callable[[int, float], None] | None = None,
                 deferred: Callable[[], Deferred] | None = None) -> None:
        self._open = open_connection
        self._deferred = deferred
        self._queue: queue.SimpleQueue[Item | _Stop] = queue.SimpleQueue()
        self._db: Database | None = None
        self._on_commit = on_commit
        self._stopped = False
        self._batch_lock = threading.Lock()  # one batch at a time, in the writer thread or a submitter's
        self.batches = 0
        self.committed = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, work: Callable[[Database], T], *, here: bool = False,
               before_commit: BeforeCommit | None = None) -> concurrent.futures.Future[T]:
        """A future of ``work(db)``'s result once committed; ``here``: run the batch in this thread when the
        write connection is free (never from an event loop: the batch blocks until it is durable).
        ``before_commit``: ``(key, action)``, run after the batch's work and before its commit, once for all
        the pieces of the batch with that key (the sync of a folder several stores placed a file in); if it
        fails, the batch is rolled back and fails."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._submit(work, future, here, before_commit)
        return future

    def submit_then(self, work: Callable[[Database], T], callback: Callable[[T | None, BaseException | None], None],
                    *, here: bool = False, before_commit: BeforeCommit | None = None) -> None:
        """:meth:`submit`, with ``callback(result, None)`` — or ``callback(None, exception)`` — called once
        ``work`` is committed (or failed) instead of a future (in the thread that ran its batch)."""
        self._submit(work, Completion(callback), here, before_commit)

    def _submit(self, work: Work, future: concurrent.futures.Future[Any] | Completion, here: bool,
                before_commit: BeforeCommit | None) -> None:
        if self._stopped:
            future.set_exception(IndexError_("the index writer is closed"))
            return
        item: Item = (work, future, before_commit)
        if here and self._batch_lock.acquire(blocking=False):
            # the write connection is free: this thread runs the batch (this work and what waits), and the
            # writer thread is not woken for it
            try:
                batch, stop = self._drain([item])
                if stop:
                    self._queue.put(_Stop())  # for the writer thread, which ends on it
                self._run_batch(batch)
            finally:
                self._batch_lock.release()
            return
        self._queue.put(item)

    def _drain(self, batch: list[Item]) -> tuple[list[Item], bool]:
        """``batch`` plus what is waiting (up to :data:`MAX_BATCH`), and whether the stop sign was met."""
        while len(batch) < MAX_BATCH:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Stop):
                return batch, True
            batch.append(item)
        return batch, False

    def run(self, work: Callable[[Database], T], timeout: float | None = None) -> T:
        return self.submit(work).result(timeout)

    def close(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._queue.put(_Stop())
            self._thread.join(timeout=30)
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- the thread ----------------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if isinstance(first, _Stop):
                return
            with self._batch_lock:
                batch, stop = self._drain([first])
                self._run_batch(batch)
            if stop:
                return

    def _connection(self) -> Database:
        if self._db is None:
            self._db = self._open()
        return self._db

    def _run_batch(self, batch: list[Item]) -> None:
        live = [(w, f, b) for w, f, b in batch if f.set_running_or_notify_cancel()]
        attempt = 0
        # each piece in a savepoint: unless all are stores (which may run again: tried without, first)
        isolated = not all(getattr(w, "folds", False) for w, _f, _b in live)
        while live:
            attempt += 1
            results: list[tuple[concurrent.futures.Future[Any] | Completion, bool, Any]] = []
            try:
                db = self._connection()
                started = time.perf_counter()
                db.begin()
                if len(live) == 1:  # alone in its transaction: no savepoint, a failure rolls back the whole
                    future = live[0][1]
                    try:
                        results.append((future, True, live[0][0](db)))
                    except Exception as exc:
                        if db.dialect.is_retryable(exc) or db.dialect.is_unavailable(exc):
                            raise
                        db.rollback()
                        future.set_exception(exc)
                        return
                else:
                    left = self._deferred() if self._deferred is not None else None
                    for work, future, _before in live:
                        folds = left is not None and getattr(work, "folds", False)
                        if left is not None and not folds:
                            left.flush(db)  # outside any savepoint: what the stores before it left
                        mark = left.mark() if folds and left is not None else 0
                        db.deferred = left if folds else None
                        try:
                            if isolated:
                                with db.savepoint():
                                    value = work(db)
                            else:
                                value = work(db)
                        except Exception as exc:
                            if folds and left is not None:
                                left.undo(mark)
                            if db.dialect.is_retryable(exc) or db.dialect.is_unavailable(exc):
                                raise
                            if not isolated:
                                raise _PieceFailed() from exc
                            results.append((future, False, exc))
                        else:
                            results.append((future, True, value))
                        finally:
                            db.deferred = None
                    if left is not None:
                        left.flush(db)
                _before_commit([b for (_w, _f, b), (_fu, ok, _v) in zip(live, results, strict=True) if ok and b])
                db.commit()
            except _PieceFailed:
                db.rollback()
                isolated = True
                attempt -= 1  # not a retry: the same batch, its pieces apart
                continue
            except Exception as exc:
                db_ = self._db
                if db_ is not None:
                    db_.rollback()
                retry = db_ is not None and (db_.dialect.is_retryable(exc) or db_.dialect.is_unavailable(exc))
                if db_ is not None and db_.dialect.is_unavailable(exc):
                    db_.close()
                    self._db = None
                if retry and attempt < RETRIES:
                    log.info("index transaction of %d store(s) retried (%s)", len(live), exc)
                    time.sleep(0.05 * attempt)
                    continue
                if isinstance(exc, IndexError_):
                    error: Exception = exc
                else:
                    error = IndexError_(f"index transaction failed: {_first_line(exc)}")
                    error.__cause__ = exc
                for _work, future, _before in live:
                    future.set_exception(error)
                return
            elapsed = time.perf_counter() - started
            self.batches += 1
            self.committed += len(live)
            if self._on_commit is not None:
                self._on_commit(len(live), elapsed)
            for future, ok, value in results:
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
            return


def _before_commit(actions: list[BeforeCommit]) -> None:
    done: set[str] = set()
    for key, action in actions:
        if key in done:
            continue
        done.add(key)
        try:
            action()
        except OSError as exc:
            raise DurabilityError(f"cannot make the stored objects durable: {exc.strerror or exc}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


__all__ = ["MAX_BATCH", "BeforeCommit", "Completion", "Deferred", "GroupCommitWriter"]
