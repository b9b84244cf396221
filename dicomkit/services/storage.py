"""Storage Service Class (PS3.4 Annex B): C-STORE SCP that streams each object to its file, and SCU helpers.

SCP side: :class:`StorageSCP` accepts every Storage SOP Class of the UID registry in every transfer syntax
dicomkit can read. For each C-STORE-RQ it asks a *receiver* for a :class:`StoreTarget`; the target gets
the data set fragment by fragment as P-DATA arrives, then :meth:`StoreTarget.commit` decides the status
that is sent back. :class:`FileStoreTarget` writes the Part 10 preamble and meta (from the command's
SOP Class/Instance and the context's transfer syntax), appends the fragments to a temporary file, checks
the data set's UIDs, optionally fsyncs, renames it into place and only then lets 0x0000 go out. An
archive replaces it with a target that also indexes the object before answering.

SCU side: :func:`storage_contexts` proposes contexts for a set of files, :func:`store_files` sends them
over one association using the negotiated asynchronous operations window.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import inspect
import logging
import os
import re
import struct
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol

from ..core.errors import DicomError, InvalidFileError, NetworkError, TruncatedError
from ..core.uid import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME, TRANSFER_SYNTAXES, UID
from ..core.uid import storage_sop_classes as registry_storage_classes
from ..io.reader import read, read_file_meta
from ..net.assoc import Association, DimseHandler, RequestContext
from ..net.association import MAX_CONTEXTS, PresentationContext
from ..net.dimse import CStoreRQ, CStoreRSP, DataSink, Request, Response
from ..net.payload import NATIVE_SYNTAXES, StoreSource, probe_part10, sop_uids
from ..net.status import (
    CANNOT_UNDERSTAND,
    DATA_SET_DOES_NOT_MATCH,
    OUT_OF_RESOURCES,
    PROCESSING_FAILURE,
    SOP_CLASS_NOT_SUPPORTED,
    SUCCESS,
    Status,
)

log = logging.getLogger("dicomkit.storage")

HEAD_BYTES = 1 << 16  # the start of each received data set kept to check its UIDs
WRITE_BUFFER = 1 << 18  # received data gathered before a write to the file


def storage_transfer_syntaxes() -> list[str]:
    """Every transfer syntax dicomkit reads, in the SCP's order of preference: uncompressed first (so a
    proposal of several uncompressed syntaxes gets Explicit VR Little Endian), then all the others."""
    first = ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2", "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2"]
    return first + [ts for ts in TRANSFER_SYNTAXES if ts not in first]


def storage_sop_classes() -> list[str]:
    """Every Storage SOP Class of the UID registry (retired ones included: old modalities still send them)."""
    return [str(u) for u in registry_storage_classes()]


class StoreOutcome(NamedTuple):
    """What to answer a C-STORE with."""

    status: int
    comment: str | None = None


class StoreTarget(DataSink, Protocol):
    """A data set being received for one C-STORE; ``commit`` runs once it is complete."""

    async def commit(self) -> StoreOutcome:
        """Make the object durable (or refuse it) and return the status to send back."""


class StoreRefused(DicomError):
    """Raised by a receiver to refuse a C-STORE before its data arrives (the data is then discarded)."""

    def __init__(self, message: str, status: int = OUT_OF_RESOURCES) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class StoredInstance:
    """An object that was written: for logs, callbacks and indexing."""

    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax: str
    path: Path
    size: int  # bytes of the data set received
    calling_ae_title: str
    peer: tuple[str, int] | None


def part10_header(sop_class_uid: str, sop_instance_uid: str, transfer_syntax: str,
                  source_ae_title: str = "") -> bytes:
    """Preamble, "DICM" and File Meta Information (PS3.10 7.1) for a data set received over the network,
    from the C-STORE command and the presentation context (built directly: this runs for every object)."""

    def element(elem: int, vr: bytes, value: bytes, pad: bytes) -> bytes:
        if len(value) & 1:
            value += pad
        if vr == b"OB":
            return struct.pack("<HH2sHI", 0x0002, elem, vr, 0, len(value)) + value
        return struct.pack("<HH2sH", 0x0002, elem, vr, len(value)) + value

    body = b"".join((
        element(0x0001, b"OB", b"\x00\x01", b"\x00"),
        element(0x0002, b"UI", sop_class_uid.encode("ascii", "replace"), b"\x00"),
        element(0x0003, b"UI", sop_instance_uid.encode("ascii", "replace"), b"\x00"),
        element(0x0010, b"UI", transfer_syntax.encode("ascii"), b"\x00"),
        element(0x0012, b"UI", IMPLEMENTATION_CLASS_UID.encode("ascii"), b"\x00"),
        element(0x0013, b"SH", IMPLEMENTATION_VERSION_NAME.encode("ascii"), b" "),
        element(0x0016, b"AE", source_ae_title.encode("ascii", "replace"), b" ") if source_ae_title else b"",
    ))
    return bytes(128) + b"DICM" + struct.pack("<HH2sHI", 0x0002, 0x0000, b"UL", 4, len(body)) + body


_SAFE = re.compile(r"[^0-9A-Za-z.\-]")


def safe_filename(uid: str, suffix: str = ".dcm") -> str:
    """A file name from a UID that cannot leave its directory (no separators, no leading dot, bounded)."""
    name = _SAFE.sub("_", uid.strip("\x00 "))[:64].lstrip(".")
    return (name or "unnamed") + suffix


Receiver = Callable[[CStoreRQ, RequestContext], StoreTarget]
OnStored = Callable[[StoredInstance], "Awaitable[StoreOutcome | None] | StoreOutcome | None"]


class FileStoreTarget:
    """Streams one received data set into ``directory/<SOP Instance UID>.dcm`` (see the module doc)."""

    def __init__(self, request: CStoreRQ, rc: RequestContext, directory: str | os.PathLike[str], *,
                 fsync: bool = False, validate: bool = True, on_stored: OnStored | None = None,
                 filename: str | None = None, temp_files: TempFiles | None = None) -> None:
        self.request = request
        self.rc = rc
        self.directory = Path(directory)
        self.fsync = fsync
        self.validate = validate
        self.on_stored = on_stored
        self.sop_class_uid = str(request.affected_sop_class_uid or "")
        self.sop_instance_uid = str(request.affected_sop_instance_uid or "")
        self.transfer_syntax = rc.transfer_syntax
        self.path = self.directory / (filename or safe_filename(self.sop_instance_uid))
        self.error: OSError | None = None
        self.received = 0
        self.head = bytearray()
        self._meta = self._file_meta()
        self.temp_path, fd = temp_files.take() if temp_files is not None else _create_temp(self.directory)
        self._file = os.fdopen(fd, "wb", buffering=0)
        # small objects reach the disk in one write; larger ones every WRITE_BUFFER bytes (bounded memory)
        self._buffer: list[bytes] = [self._meta]
        self._buffered = len(self._meta)

    def _file_meta(self) -> bytes:
        return part10_header(self.sop_class_uid, self.sop_instance_uid, self.transfer_syntax,
                             self.rc.calling_ae_title)

    # -- DataSink -----------------------------------------------------------------------------------------
    def write(self, data: memoryview) -> None:
        if self.error is not None:
            return
        if len(self.head) < HEAD_BYTES:
            self.head += data[:HEAD_BYTES - len(self.head)]
        self.received += len(data)
        self._buffer.append(bytes(data))
        self._buffered += len(data)
        if self._buffered >= WRITE_BUFFER:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        chunks, self._buffer, self._buffered = self._buffer, [], 0
        try:
            self._file.writelines(chunks)
        except OSError as exc:
            self.error = exc  # answered with Out of Resources at commit

    def finish(self) -> None:
        pass

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        try:
            self.temp_path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("cannot remove %s: %s", self.temp_path, exc)

    # -- commit --------------------------------------------------------------------------------------------
    async def commit(self) -> StoreOutcome:
        problem = self._refusal()
        if problem is not None:
            return problem
        if self.fsync:
            try:
                await asyncio.get_running_loop().run_in_executor(None, os.fsync, self._file.fileno())
            except OSError as exc:
                self.discard()
                return StoreOutcome(OUT_OF_RESOURCES, f"cannot store the object: {exc.strerror or exc}")
        problem = self._place()
        if problem is not None:
            return problem
        result = self.on_stored(self._stored()) if self.on_stored is not None else None
        if inspect.isawaitable(result):
            result = await result
        return result if isinstance(result, StoreOutcome) else StoreOutcome(SUCCESS)

    def commit_now(self) -> StoreOutcome | None:
        """``commit`` without waiting, when nothing in it needs to (no fsync, no coroutine callback);
        None otherwise. Saves a task per object on the common path."""
        if self.fsync or (self.on_stored is not None and inspect.iscoroutinefunction(self.on_stored)):
            return None
        problem = self._refusal() or self._place()
        if problem is not None:
            return problem
        result = self.on_stored(self._stored()) if self.on_stored is not None else None
        if inspect.isawaitable(result):  # a plain function returning an awaitable: not supported here
            if inspect.iscoroutine(result):
                result.close()
            raise TypeError("on_stored returned an awaitable: make it an async def")
        return result if isinstance(result, StoreOutcome) else StoreOutcome(SUCCESS)

    def _place(self) -> StoreOutcome | None:
        """Close the temporary file and rename it into place (atomic within one file system)."""
        try:
            self._file.close()
            os.replace(self.temp_path, self.path)
        except OSError as exc:
            self.discard()
            return StoreOutcome(OUT_OF_RESOURCES, f"cannot store the object: {exc.strerror or exc}")
        return None

    def _refusal(self) -> StoreOutcome | None:
        self._flush()
        if self.error is not None:
            self.discard()
            return StoreOutcome(OUT_OF_RESOURCES, f"cannot write the object: {self.error.strerror or self.error}")
        if self.validate:
            problem = self._check()
            if problem is not None:
                self.discard()
                return problem
        return None

    def _stored(self) -> StoredInstance:
        return StoredInstance(self.sop_class_uid, self.sop_instance_uid, self.transfer_syntax, self.path,
                              self.received, self.rc.calling_ae_title, self.rc.association.peer_address)

    def _check(self) -> StoreOutcome | None:
        """The data set must carry the SOP Class/Instance UIDs the command announced (PS3.4 B.2.3)."""
        uids = sop_uids(self.head, self.transfer_syntax)
        if uids is None:  # not plain at its start (or deflated): the full reader looks at the header
            return self._check_parsed()
        return self._compare(*uids)

    def _compare(self, sop_class: str, sop_instance: str) -> StoreOutcome | None:
        if not sop_class or not sop_instance:
            return StoreOutcome(CANNOT_UNDERSTAND, "the data set has no SOP Class/Instance UID")
        if sop_class != self.sop_class_uid:
            return StoreOutcome(DATA_SET_DOES_NOT_MATCH, "SOP Class UID differs from the command's")
        if sop_instance != self.sop_instance_uid:
            return StoreOutcome(DATA_SET_DOES_NOT_MATCH, "SOP Instance UID differs from the command's")
        return None

    def _check_parsed(self) -> StoreOutcome | None:
        try:
            ds = read(memoryview(self._meta + self.head), stop_before_pixels=True)
        except TruncatedError:
            if len(self.head) >= self.received:
                return StoreOutcome(CANNOT_UNDERSTAND, "the data set is truncated")
            try:
                self._flush()
                ds = read(self.temp_path, stop_before_pixels=True)
            except (DicomError, OSError) as exc:
                return StoreOutcome(CANNOT_UNDERSTAND, f"cannot parse the data set: {exc}"[:64])
        except DicomError as exc:
            return StoreOutcome(CANNOT_UNDERSTAND, f"cannot parse the data set: {exc}"[:64])
        return self._compare(str(ds.value(0x00080016) or "").strip("\x00 "),
                             str(ds.value(0x00080018) or "").strip("\x00 "))


def _create_temp(directory: Path) -> tuple[Path, int]:
    """A new temporary file next to its final place (so the rename is atomic), mode from the umask."""
    for _ in range(100):
        path = directory / f".dicomkit-{os.urandom(8).hex()}.part"
        try:
            return path, os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
    raise StoreRefused(f"cannot create a temporary file in {directory}")


def sweep_temp_files(directory: str | os.PathLike[str], older_than: float = 3600.0) -> list[Path]:
    """Remove ``.dicomkit-*.part`` files a crashed receiver left in ``directory`` (at start-up).

    Only files untouched for ``older_than`` seconds go, so a receiver still writing into the same folder
    keeps its objects in progress. Returns what was removed.
    """
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return removed
    for entry in entries:
        if not (entry.name.startswith(".dicomkit-") and entry.name.endswith(".part")):
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
    """Empty temporary files made ahead of need by a helper thread.

    Creating a file can cost more than receiving a small object (hundreds of microseconds on some file
    systems); a spare made while the network was busy keeps that off each C-STORE's path. Spares are
    removed by :meth:`close` (and at exit); a crash leaves empty ``.dicomkit-*.part`` files behind.
    """

    def __init__(self, directory: Path, spare: int = 4) -> None:
        self.directory = directory
        self.spare = spare
        self._ready: collections.deque[tuple[Path, int]] = collections.deque()
        self._wanted = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._fill, name="dicomkit-tempfiles", daemon=True)
        self._thread.start()
        self._wanted.set()
        atexit.register(self.close)

    def _fill(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            while not self._closed and len(self._ready) < self.spare:
                try:
                    self._ready.append(_create_temp(self.directory))
                except (OSError, StoreRefused) as exc:  # the next take() creates its own and reports it
                    log.debug("cannot make a spare temporary file: %s", exc)
                    break
            if self._closed:
                self._drain()
                return

    def take(self) -> tuple[Path, int]:
        try:
            item = self._ready.popleft()
        except IndexError:
            item = _create_temp(self.directory)
        self._wanted.set()
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
                path.unlink()

    def close(self) -> None:
        self._closed = True
        self._wanted.set()
        self._thread.join(timeout=5)
        self._drain()
        atexit.unregister(self.close)


class DirectoryReceiver:
    """A receiver writing each object to ``directory`` (created if needed) through a FileStoreTarget."""

    def __init__(self, directory: str | os.PathLike[str], *, fsync: bool = False, validate: bool = True,
                 on_stored: OnStored | None = None, spare_files: int = 4) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self.validate = validate
        self.on_stored = on_stored
        self.temp_files = TempFiles(self.directory, spare_files) if spare_files else None

    def __call__(self, request: CStoreRQ, rc: RequestContext) -> StoreTarget:
        return FileStoreTarget(request, rc, self.directory, fsync=self.fsync, validate=self.validate,
                               on_stored=self.on_stored, temp_files=self.temp_files)

    def close(self) -> None:
        if self.temp_files is not None:
            self.temp_files.close()


def directory_receiver(directory: str | os.PathLike[str], *, fsync: bool = False, validate: bool = True,
                       on_stored: OnStored | None = None) -> DirectoryReceiver:
    """A receiver writing each object to ``directory`` through a FileStoreTarget (see DirectoryReceiver)."""
    return DirectoryReceiver(directory, fsync=fsync, validate=validate, on_stored=on_stored)


class StorageSCP(DimseHandler):
    """The Storage SCP: register with ``ae.add_service(StorageSCP(directory_receiver("in")))``."""

    def __init__(self, receiver: Receiver, *, sop_classes: Iterable[str] | None = None,
                 transfer_syntaxes: Sequence[str] | None = None) -> None:
        self.receiver = receiver
        self.sop_classes = [str(u) for u in sop_classes] if sop_classes is not None else storage_sop_classes()
        self.transfer_syntaxes = list(transfer_syntaxes) if transfer_syntaxes else storage_transfer_syntaxes()

    def contexts(self) -> Sequence[PresentationContext]:
        return [PresentationContext(uid, list(self.transfer_syntaxes)) for uid in self.sop_classes]

    def handlers(self) -> dict[type[Request], DimseHandler]:
        return {CStoreRQ: self}

    def data_sink(self, request: Request, rc: RequestContext) -> DataSink:
        assert isinstance(request, CStoreRQ)
        if request.affected_sop_class_uid != rc.context.abstract_syntax:
            raise StoreRefused(f"C-STORE of {request.affected_sop_class_uid} on a context for "
                               f"{rc.context.abstract_syntax}", SOP_CLASS_NOT_SUPPORTED)
        try:
            return self.receiver(request, rc)
        except StoreRefused:
            raise
        except OSError as exc:
            raise StoreRefused(f"cannot store: {exc.strerror or exc}") from exc

    def handle_now(self, request: Request, data: DataSink | None, rc: RequestContext) -> Response | None:
        if type(self).handle is not StorageSCP.handle:
            return None  # a subclass changed handle(): let it run
        commit_now = getattr(data, "commit_now", None)
        outcome = commit_now() if commit_now is not None else None
        if outcome is None:
            return None
        return CStoreRSP(status=Status(outcome.status), error_comment=outcome.comment[:64] if outcome.comment else None)

    async def handle(self, request: Request, data: DataSink | None, rc: RequestContext) -> Response:
        commit = getattr(data, "commit", None)
        if commit is None:
            return CStoreRSP(status=Status(PROCESSING_FAILURE), error_comment="no data set received")
        outcome: StoreOutcome = await commit()
        comment = outcome.comment[:64] if outcome.comment else None
        return CStoreRSP(status=Status(outcome.status), error_comment=comment)


# -- SCU ------------------------------------------------------------------------------------------------


@dataclass
class FileInfo:
    """What a quick look at a file found: enough to propose contexts for it."""

    path: Path
    sop_class_uid: str = ""
    transfer_syntax: str = ""
    error: str | None = None


def find_files(paths: Iterable[str | os.PathLike[str]], *, recursive: bool = False) -> list[Path]:
    """Files named, plus those in the folders named (their subfolders with ``recursive``), in sorted order."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            pattern = "**/*" if recursive else "*"
            out += sorted(f for f in p.glob(pattern) if f.is_file() and not f.name.startswith("."))
        else:
            out.append(p)
    return out


def peek(path: Path) -> FileInfo:
    """SOP Class UID and transfer syntax from the File Meta Information (or the data set if it has none)."""
    try:
        with open(path, "rb") as f:
            probe = probe_part10(f.read(8192))
        if probe is not None:
            return FileInfo(path, probe.sop_class_uid, probe.transfer_syntax)
        meta = read_file_meta(path)
        sop_class = str(meta.value(0x00020002, "") or "").strip("\x00 ")
        ts = str(meta.value(0x00020010, "") or "").strip("\x00 ")
        if sop_class and ts in TRANSFER_SYNTAXES:
            return FileInfo(path, sop_class, ts)
    except (DicomError, OSError):
        pass
    try:
        ds = read(path, stop_before_pixels=True, force=True)
        sop_class = str(ds.value(0x00080016) or "").strip("\x00 ")
        if not sop_class:
            return FileInfo(path, error="not a DICOM object (no SOP Class UID)")
        return FileInfo(path, sop_class, str(ds.__dict__.get("read_transfer_syntax") or ""))
    except OSError as exc:
        return FileInfo(path, error=f"cannot read: {exc.strerror or exc}")
    except DicomError as exc:
        return FileInfo(path, error=f"not a readable DICOM file: {exc}")


def storage_contexts(files: Iterable[FileInfo]) -> list[PresentationContext]:
    """Contexts for these files: per SOP class one context with the uncompressed syntaxes (the files' own
    first), and one context per compressed syntax in use. The uncompressed context is proposed for
    compressed-only classes too, so a peer that refuses the compressed syntax still gets them (decompressed)."""
    native: dict[str, list[str]] = {}
    compressed: dict[tuple[str, str], None] = {}
    for info in files:
        if info.error or not info.sop_class_uid:
            continue
        ts = info.transfer_syntax
        if ts in NATIVE_SYNTAXES or (ts in TRANSFER_SYNTAXES and not UID(ts).is_encapsulated):
            own = native.setdefault(info.sop_class_uid, [])
            if ts in NATIVE_SYNTAXES and ts not in own:
                own.append(ts)
        else:
            native.setdefault(info.sop_class_uid, [])
            compressed[(info.sop_class_uid, ts)] = None
    contexts = []
    for sop_class, own in native.items():
        syntaxes = own + [t for t in ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2") if t not in own]
        contexts.append(PresentationContext(sop_class, syntaxes))
    contexts += [PresentationContext(sop_class, [ts]) for sop_class, ts in compressed]
    if len(contexts) > MAX_CONTEXTS - 1:
        raise NetworkError(f"these files need {len(contexts)} presentation contexts; one association holds "
                           f"{MAX_CONTEXTS - 1} besides Verification: send them in several runs")
    return contexts


@dataclass
class StoreResult:
    """The outcome for one file."""

    path: Path
    sop_instance_uid: str = ""
    status: Status | None = None
    error: str | None = None
    nbytes: int = 0

    @property
    def ok(self) -> bool:
        return self.status is not None and not self.status.is_failure and self.error is None

    @property
    def text(self) -> str:
        if self.error is not None:
            return self.error
        assert self.status is not None
        return f"{self.status} ({self.status.meaning('storage')})"


@dataclass
class StoreSummary:
    results: list[StoreResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def sent(self) -> list[StoreResult]:
        return [r for r in self.results if r.ok]

    @property
    def failed(self) -> list[StoreResult]:
        return [r for r in self.results if not r.ok]

    @property
    def nbytes(self) -> int:
        return sum(r.nbytes for r in self.results if r.ok)

    @property
    def mb_per_s(self) -> float:
        return self.nbytes / 1e6 / self.seconds if self.seconds > 0 else 0.0


async def store_files(assoc: Association, files: Sequence[FileInfo], *,
                      on_result: Callable[[StoreResult], None] | None = None) -> StoreSummary:
    """C-STORE every file over ``assoc``, keeping as many requests outstanding as the window allows;
    the next file is read while earlier requests wait for their responses."""
    assert assoc.info is not None
    window = assoc.info.max_ops_invoked_local or 64
    summary = StoreSummary()
    started = time.perf_counter()
    queue: asyncio.Queue[tuple[FileInfo, StoreSource | None, str | None] | None] = asyncio.Queue(maxsize=window + 1)

    def report(result: StoreResult) -> None:
        summary.results.append(result)
        if on_result is not None:
            on_result(result)

    async def produce() -> None:
        for info in files:
            if info.error is not None:
                await queue.put((info, None, info.error))
                continue
            try:
                source = StoreSource.from_path(info.path)
                await queue.put((info, source, None))
            except InvalidFileError as exc:  # the summary names the file already
                await queue.put((info, None, f"cannot read: {exc.detail}"))
            except (DicomError, OSError) as exc:
                await queue.put((info, None, f"cannot read: {exc}"))
        for _ in range(window):
            await queue.put(None)

    async def consume() -> None:
        while (item := await queue.get()) is not None:
            info, source, error = item
            if source is None:
                report(StoreResult(info.path, error=error))
                continue
            result = StoreResult(info.path, source.sop_instance_uid, nbytes=source.size)
            try:
                rsp = await assoc.store(source)
                result.status = rsp.status_value
                if rsp.error_comment and result.status.is_failure:
                    result.error = f"{result.text}: {rsp.error_comment}"
            except NetworkError as exc:
                result.error = str(exc)
            except DicomError as exc:
                result.error = str(exc)
            report(result)

    producer = asyncio.create_task(produce())
    try:
        await asyncio.gather(*(consume() for _ in range(window)))
    finally:
        producer.cancel()
    summary.seconds = time.perf_counter() - started
    return summary
