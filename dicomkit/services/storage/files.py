"""A folder of Part 10 files as the Storage SCP's target (what ``dicomkit receive`` writes).

Each received data set streams into a temporary file in the folder's hidden work area
(``<folder>/.dicomkit/tmp``, on the same file system, so placing it is one atomic step), after its Part 10
header (built from the C-STORE command and the presentation context). When the data set is complete it is
checked (:func:`~dicomkit.services.storage.scp.check_received`), optionally flushed to disk, and linked to
``<folder>/<SOP Instance UID>.dcm`` — never over an existing file: a second object with the same SOP Instance
UID is a *duplicate*. Only then does Success go back.

Duplicates (the policy the archive follows too): an identical data set (the same bytes) is answered Success
and nothing is written; a different one is refused with 0xC111 and kept in ``<folder>/.dicomkit/quarantine``
(nothing received is lost) under ``keep-first``, the default, or replaces the stored file under
``overwrite``.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import functools
import inspect
import logging
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from ...core.errors import DicomError
from ...io.filesystem import fsync_directory, link_new
from ...io.meta import part10_header
from ...io.raw import meta_end
from ...net.dimse import CStoreRQ
from ...net.handlers import RequestContext
from .scp import SUCCESS, OnStored, StoredInstance, StoreOutcome, StoreRefused, StoreTarget, check_received
from .status import DUPLICATE_COMMENT, DUPLICATE_DIFFERENT, OUT_OF_RESOURCES

log = logging.getLogger("dicomkit.storage")

WRITE_BUFFER = 1 << 18  # received data gathered before a write to the file (small objects: one write)
WORK_FOLDER = ".dicomkit"  # hidden, inside the output folder: temporary files and quarantine
TEMP_PREFIX, TEMP_SUFFIX = ".dicomkit-", ".part"
Duplicates = Literal["keep-first", "overwrite"]
DUPLICATE_POLICIES: tuple[Duplicates, ...] = ("keep-first", "overwrite")

_SAFE = re.compile(r"[^0-9A-Za-z.\-]")


def safe_filename(uid: str, suffix: str = ".dcm") -> str:
    """A file name from a UID that cannot leave its directory (no separators, no leading dot, bounded)."""
    name = _SAFE.sub("_", uid.strip("\x00 "))[:64].lstrip(".")
    return (name or "unnamed") + suffix


def work_folder(directory: Path, name: str) -> Path:
    """``<directory>/.dicomkit/<name>``, created on first use."""
    path = directory / WORK_FOLDER / name
    path.mkdir(parents=True, exist_ok=True)
    return path


class FileStoreTarget:
    """Streams one received data set into ``directory/<SOP Instance UID>.dcm`` (see the module doc)."""

    def __init__(self, request: CStoreRQ, rc: RequestContext, directory: str | os.PathLike[str], *,
                 fsync: bool = False, validate: bool = True, on_stored: OnStored | None = None,
                 filename: str | None = None, temp_files: TempFiles | None = None,
                 duplicates: Duplicates = "keep-first") -> None:
        self.request = request
        self.rc = rc
        self.directory = directory if isinstance(directory, Path) else Path(directory)
        self.fsync = fsync
        self.validate = validate
        self.on_stored = on_stored
        self.duplicates = duplicates
        self.sop_class_uid = str(request.affected_sop_class_uid or "")
        self.sop_instance_uid = str(request.affected_sop_instance_uid or "")
        self.transfer_syntax = rc.transfer_syntax
        # the names as text: a Path per object costs more than the rest of this set-up (path makes one)
        self.path_text = (os.path.join(self.directory, filename) if filename is not None
                          else _folder_prefix(str(self.directory)) + safe_filename(self.sop_instance_uid))
        self.error: OSError | None = None
        self.received = 0
        self.corrections: tuple[str, ...] = ()
        self._meta = part10_header(self.sop_class_uid, self.sop_instance_uid, self.transfer_syntax,
                                   rc.calling_ae_title)
        self.temp_path: str
        if temp_files is not None:
            self.temp_path, self._fd = temp_files.take()
        else:
            self.temp_path, self._fd = _create_temp(work_folder(self.directory, "tmp"))
        # Small objects reach the disk in one write, larger ones every WRITE_BUFFER bytes (bounded memory): the
        # fragments are gathered in one buffer (one copy out of the network's), checked there, written from it.
        self._buffer = bytearray(self._meta)
        self._flushed = False  # True once any of the data set was written out

    @functools.cached_property
    def path(self) -> Path:
        """Where the object is stored: ``directory/<SOP Instance UID>.dcm``."""
        return Path(self.path_text)

    # -- DataSink -----------------------------------------------------------------------------------------
    def write(self, data: memoryview) -> None:
        if self.error is not None:
            return
        self.received += len(data)
        self._buffer += data
        if len(self._buffer) >= WRITE_BUFFER:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        data, self._buffer = self._buffer, bytearray()
        self._flushed = True
        try:
            _write_all(self._fd, data)
        except OSError as exc:
            self.error = exc  # answered with Out of Resources at commit

    def finish(self) -> None:
        pass

    def _close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self._close()
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.temp_path)
        except OSError as exc:
            log.warning("cannot remove %s: %s", self.temp_path, exc)

    # -- commit --------------------------------------------------------------------------------------------
    async def commit(self) -> StoreOutcome:
        problem = self._refusal()
        if problem is not None:
            return problem
        if self.fsync:
            try:
                await asyncio.get_running_loop().run_in_executor(None, os.fsync, self._fd)
            except OSError as exc:
                self.discard()
                return StoreOutcome(OUT_OF_RESOURCES, f"cannot store the object: {exc.strerror or exc}")
        outcome, kept = self._place()
        if kept is None:
            return outcome
        if self.fsync:
            await asyncio.get_running_loop().run_in_executor(None, fsync_directory, self.directory)
        result = self.on_stored(self._stored(kept)) if self.on_stored is not None else None
        if inspect.isawaitable(result):
            result = await result
        return result if isinstance(result, StoreOutcome) else outcome

    def commit_now(self) -> StoreOutcome | None:
        """``commit`` without waiting, when nothing in it needs to (no fsync, no coroutine callback);
        None otherwise. Saves a task per object on the common path."""
        if self.fsync or (self.on_stored is not None and inspect.iscoroutinefunction(self.on_stored)):
            return None
        problem = self._refusal()
        if problem is not None:
            return problem
        outcome, kept = self._place()
        if kept is None or self.on_stored is None:
            return outcome
        result = self.on_stored(self._stored(kept))
        if inspect.isawaitable(result):  # a plain function returning an awaitable: not supported here
            if inspect.iscoroutine(result):
                result.close()
            raise TypeError("on_stored returned an awaitable: make it an async def")
        return result if isinstance(result, StoreOutcome) else outcome

    def _refusal(self) -> StoreOutcome | None:
        """Write errors and the check of what arrived; the temporary file is gone when this refuses."""
        if not self._flushed and self.validate and self.error is None:
            # the meta is the one built above: only the data set after it is read (see check_received)
            checked = check_received(memoryview(self._buffer), self.sop_class_uid, self.sop_instance_uid,
                                     transfer_syntax=self.transfer_syntax, meta_length=len(self._meta),
                                     dataset=False)
            self._flush()
        else:
            self._flush()
            if self.error is None and self.validate:
                checked = check_received(self.temp_path, self.sop_class_uid, self.sop_instance_uid)
            else:
                checked = None
        if self.error is not None:
            self.discard()
            return StoreOutcome(OUT_OF_RESOURCES, f"cannot write the object: {self.error.strerror or self.error}")
        if checked is not None:
            if checked.refusal is not None:
                log.warning("%s: refused %s from %s: cannot read the data set: %s", self.rc.association_id,
                            self.sop_instance_uid,
                            self.rc.calling_ae_title or "?", checked.refusal.comment)
                self.discard()
                return checked.refusal
            self.corrections = checked.corrections
            if checked.corrections:
                log.warning("%s: %s from %s stored with corrections: %s", self.rc.association_id,
                            self.sop_instance_uid, self.rc.calling_ae_title or "?", "; ".join(checked.corrections))
        return None

    def _place(self) -> tuple[StoreOutcome, str | None]:
        """Close the temporary file and link it to its name (never replacing a file), or deal with the
        duplicate that is there (see the module doc); with the outcome, how the object was kept ("stored",
        "identical", "replaced"; None: it was not)."""
        try:
            self._close()
            if link_new(self.temp_path, self.path_text):
                return StoreOutcome(SUCCESS), "stored"
            if self._same_as_stored():
                os.unlink(self.temp_path)
                log.info("%s: %s is already stored with the same data set; nothing written",
                         self.rc.association_id, self.sop_instance_uid)
                return StoreOutcome(SUCCESS), "identical"
            if self.duplicates == "overwrite":
                os.replace(self.temp_path, self.path)
                log.warning("%s: %s replaced the stored object of the same SOP Instance UID",
                            self.rc.association_id, self.sop_instance_uid)
                return StoreOutcome(SUCCESS), "replaced"
            kept = self._quarantine()
        except OSError as exc:
            self.discard()
            return StoreOutcome(OUT_OF_RESOURCES, f"cannot store the object: {exc.strerror or exc}"), None
        log.warning("%s: %s from %s is a duplicate SOP Instance UID with different content; the stored object "
                    "is kept, the offered one is in %s", self.rc.association_id, self.sop_instance_uid,
                    self.rc.calling_ae_title or "?", kept)
        return StoreOutcome(DUPLICATE_DIFFERENT, DUPLICATE_COMMENT), None

    def _same_as_stored(self) -> bool:
        """Whether the stored file holds the same data set bytes as the one received (metas may differ)."""
        ours = len(self._meta)
        with open(self.path, "rb") as stored, open(self.temp_path, "rb") as received:
            head = stored.read(1 << 16)
            try:
                offset = meta_end(head) if head[128:132] == b"DICM" else 0
            except DicomError:
                return False
            if os.fstat(stored.fileno()).st_size - offset != self.received:
                return False
            stored.seek(offset)
            received.seek(ours)
            return all(a == b for a, b in zip(_pieces(stored), _pieces(received)))

    def _quarantine(self) -> Path:
        folder = work_folder(self.directory, "quarantine")
        stamp = time.strftime("%Y%m%dT%H%M%S")
        target = folder / f"{self.path.stem}.{stamp}.{os.urandom(4).hex()}{self.path.suffix}"
        os.rename(self.temp_path, target)  # a fresh random name: nothing is replaced
        return target

    def _stored(self, outcome: str) -> StoredInstance:
        return StoredInstance(self.sop_class_uid, self.sop_instance_uid, self.transfer_syntax, self.path,
                              self.received, self.rc.calling_ae_title, self.rc.peer_address, outcome,
                              self.corrections)


def _write_all(fd: int, data: bytearray) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _pieces(f: object, size: int = 1 << 20) -> Iterator[bytes]:
    read = f.read  # type: ignore[attr-defined]
    while True:
        block: bytes = read(size)
        yield block
        if not block:
            return


@functools.lru_cache(maxsize=64)
def _folder_prefix(folder: str) -> str:
    """``folder`` with a separator at its end: a name without separators appended is ``os.path.join``'s path
    (once per folder: the join runs twice per object otherwise; keyed by text, which hashes in C)."""
    return os.path.join(folder, "")


def _create_temp(folder: str | Path) -> tuple[str, int]:
    """A new temporary file in the work folder (so the rename is atomic), mode from the umask."""
    for _ in range(100):
        path = f"{_folder_prefix(str(folder))}{TEMP_PREFIX}{os.urandom(8).hex()}{TEMP_SUFFIX}"
        try:
            return path, os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
    raise StoreRefused(f"cannot create a temporary file in {folder}")


def sweep_temp_files(directory: str | os.PathLike[str], older_than: float = 3600.0) -> list[Path]:
    """Remove the temporary files a crashed receiver left in ``directory`` (at start-up): in its work folder,
    and ``.dicomkit-*.part`` files of earlier versions beside the objects.

    Only files untouched for ``older_than`` seconds go, so a receiver still writing into the same folder
    keeps its objects in progress. Returns what was removed.
    """
    removed: list[Path] = []
    now = time.time()
    for folder in (Path(directory) / WORK_FOLDER / "tmp", Path(directory)):
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if not (entry.name.startswith(TEMP_PREFIX) and entry.name.endswith(TEMP_SUFFIX)):
                continue
            try:
                if now - entry.stat(follow_symlinks=False).st_mtime < older_than:
                    continue
                os.unlink(entry.path)
                removed.append(Path(entry.path))
            except OSError as exc:
                log.warning("cannot remove the leftover %s: %s", entry.path, exc)
    return removed


class TempFiles:
    """Empty temporary files made ahead of need, in the work folder.

    Creating a file can cost more than receiving a small object; a spare made while the peer is sending the
    next object keeps that off each C-STORE's path. :meth:`take` hands out a spare (or creates a file when
    none is left) and asks the event loop it runs in, if any, to make a new spare once the current callback
    is done — after the answer to the C-STORE went out — one file per turn of the loop, up to ``spare``.
    No helper thread: it would have to win the GIL back from the loop's thread for every object, a hand-off
    that costs more than the file on a busy machine. Spares are removed by :meth:`close` (and at exit); a
    crash leaves empty ones that the next start sweeps.
    """

    def __init__(self, folder: Path, spare: int = 4) -> None:
        self.folder = folder
        self.spare = spare
        self._ready: collections.deque[tuple[str, int]] = collections.deque()
        self._closed = False
        self._scheduled = False
        atexit.register(self.close)
        self._refill_soon()

    def _refill_soon(self) -> None:
        if self._scheduled or self._closed or len(self._ready) >= self.spare:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not in an event loop: take() makes each file when it is needed
            return
        self._scheduled = True
        loop.call_soon(self._refill)

    def _refill(self) -> None:
        self._scheduled = False
        if self._closed or len(self._ready) >= self.spare:
            return
        try:
            self._ready.append(_create_temp(self.folder))
        except (OSError, StoreRefused) as exc:  # the next take() creates its own and reports it
            log.debug("cannot make a spare temporary file: %s", exc)
            return
        self._refill_soon()

    def take(self) -> tuple[str, int]:
        """A new empty temporary file: its path and a descriptor open for writing."""
        try:
            item = self._ready.popleft()
        except IndexError:
            item = _create_temp(self.folder)
        self._refill_soon()
        return item

    def _drain(self) -> None:
        while True:
            try:
                path, fd = self._ready.popleft()
            except IndexError:
                return
            with contextlib.suppress(OSError):
                os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(path)

    def close(self) -> None:
        self._closed = True
        self._drain()
        atexit.unregister(self.close)


class DirectoryReceiver:
    """A receiver writing each object to ``directory`` through a :class:`FileStoreTarget`.

    The folder is created if its parent exists; a folder that cannot be written raises DicomError at once
    (not at the first C-STORE)."""

    def __init__(self, directory: str | os.PathLike[str], *, fsync: bool = False, validate: bool = True,
                 on_stored: OnStored | None = None, spare_files: int = 4,
                 duplicates: Duplicates = "keep-first") -> None:
        self.directory = Path(directory)
        if duplicates not in DUPLICATE_POLICIES:
            raise DicomError(f"duplicates must be one of {', '.join(DUPLICATE_POLICIES)}, not {duplicates!r}")
        _prepare_folder(self.directory)
        self.fsync = fsync
        self.validate = validate
        self.on_stored = on_stored
        self.duplicates: Duplicates = duplicates
        self.temp_folder = work_folder(self.directory, "tmp")
        self.temp_files = TempFiles(self.temp_folder, spare_files) if spare_files else None

    def __call__(self, request: CStoreRQ, rc: RequestContext) -> StoreTarget:
        return FileStoreTarget(request, rc, self.directory, fsync=self.fsync, validate=self.validate,
                               on_stored=self.on_stored, temp_files=self.temp_files, duplicates=self.duplicates)

    def close(self) -> None:
        if self.temp_files is not None:
            self.temp_files.close()


def _prepare_folder(directory: Path) -> None:
    if directory.exists() and not directory.is_dir():
        raise DicomError(f"{directory} is not a folder")
    if not directory.parent.is_dir():
        raise DicomError(f"{directory}: its parent folder {directory.parent} does not exist")
    try:
        directory.mkdir(exist_ok=True)
    except OSError as exc:
        raise DicomError(f"cannot create {directory}: {exc.strerror or exc}") from exc
    if not os.access(directory, os.W_OK | os.X_OK):
        raise DicomError(f"{directory} is not writable")


__all__ = [
    "DUPLICATE_POLICIES",
    "DirectoryReceiver",
    "Duplicates",
    "FileStoreTarget",
    "TempFiles",
    "safe_filename",
    "sweep_temp_files",
    "work_folder",
]
