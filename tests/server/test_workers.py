"""The store path's thread hand-offs: the worker pool, the one-shot signal, and commits that complete a
callback instead of a future (``GroupCommitWriter.submit_then``)."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

from dicomkit.server import Server
from dicomkit.server.index.dialect import connect
from dicomkit.server.index.writer import GroupCommitWriter
from dicomkit.server.workers import Signal, WorkerPool

from ..helpers import wait_until
from .data import files
from .test_ingest import send


def test_the_pool_runs_calls_in_order_on_named_threads_and_closes_after_them() -> None:
    pool = WorkerPool(3, "dicomkit-archive-test")
    seen: list[tuple[int, str]] = []
    lock = threading.Lock()
    gate = threading.Event()

    def call(i: int) -> None:
        if i == 0:
            gate.wait(10)
        with lock:
            seen.append((i, threading.current_thread().name))

    for i in range(20):
        pool.post(call, i)
    gate.set()
    pool.close()  # runs what was posted first
    assert sorted(i for i, _ in seen) == list(range(20))
    names = {name for _, name in seen}
    assert names and all(name.startswith("dicomkit-archive-test_") for name in names)
    assert len(names) <= 3
    with pytest.raises(RuntimeError, match="closed"):
        pool.post(call, 99)


def test_a_call_that_waits_for_one_posted_before_it_never_blocks_the_pool() -> None:
    """Each store posts the sync of its file, then the work that waits for it: with every thread taken by
    such work the syncs still run (they were posted first)."""
    pool = WorkerPool(2, "dicomkit-archive-test")
    results: list[int] = []
    lock = threading.Lock()
    try:
        for i in range(10):
            signal = Signal()
            pool.post(signal.set)

            def work(i: int = i, signal: Signal = signal) -> None:
                signal.wait()
                with lock:
                    results.append(i)
            pool.post(work)
        wait_until(lambda: len(results) == 10)
    finally:
        pool.close()
    assert sorted(results) == list(range(10))


def test_a_signal_hands_over_the_exception_of_its_work() -> None:
    ok, failed = Signal(), Signal()
    threading.Thread(target=ok.set).start()
    threading.Thread(target=failed.set, args=(OSError(5, "Input/output error"),)).start()
    ok.wait()
    with pytest.raises(OSError, match="Input/output"):
        failed.wait()


def test_submit_then_calls_back_once_committed_or_failed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    setup = connect(url)
    setup.execute("CREATE TABLE t (v INTEGER UNIQUE)")
    setup.close()
    writer = GroupCommitWriter(lambda: connect(url))
    got: list[tuple[object, BaseException | None]] = []
    try:
        for here in (False, True):
            writer.submit_then(lambda db, here=here: db.execute("INSERT INTO t VALUES (?)", (int(here),)) and 7,
                               lambda value, exc: got.append((value, exc)), here=here)
        writer.submit_then(lambda db: db.execute("INSERT INTO t VALUES (1)"),
                           lambda value, exc: got.append((value, exc)))

        def broken(value: object, exc: BaseException | None) -> None:
            raise RuntimeError("a callback that fails")
        # a failing callback is logged; the other pieces of its batch are still completed
        writer.submit_then(lambda db: db.execute("INSERT INTO t VALUES (5)"), broken)
        done = writer.submit(lambda db: db.execute("INSERT INTO t VALUES (6)"))
        done.result(10)
        wait_until(lambda: len(got) == 3)
    finally:
        writer.close()
    assert got[0] == (7, None) and got[1] == (7, None)
    assert got[2][0] is None and isinstance(got[2][1], Exception)  # the unique value: rolled back, reported
    check = connect(url)
    assert sorted(r[0] for r in check.rows("SELECT v FROM t")) == [0, 1, 5, 6]
    check.close()


def test_a_file_that_cannot_be_synced_is_refused_and_not_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Durability full: the sync of the received file runs in one worker while another checks it; when it
    fails, the store is answered 0xA700 with the reason, nothing is indexed, and the next store succeeds."""
    paths = files(tmp_path / "in", 2)
    with Server(data_dir=tmp_path / "data", dicom_port=0, http=False) as pacs:
        real_fsync = os.fsync
        failing = [True]

        def fsync(fd: int) -> None:
            if failing[0] and os.readlink(f"/proc/self/fd/{fd}").endswith(".part"):
                raise OSError(5, "Input/output error")
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", fsync)
        assert asyncio.run(send(pacs.port, paths[:1])) == [0xA700]
        assert pacs.index.count("instance") == 0
        failing[0] = False
        assert asyncio.run(send(pacs.port, paths[1:])) == [0]
        assert pacs.index.count("instance") == 1
