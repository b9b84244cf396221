"""The blob store: where the archive keeps the bytes of each instance, behind a small interface.

:class:`BlobStore` is what the rest of the server uses — temporary files to receive into, put-from-temp
(:meth:`~BlobStore.place`), open, range read, delete, iterate — so that an object store can take the folder's
place later without touching the index or ingest. :class:`FolderBlobStore` is the folder implementation::

    <root>/tmp/<node>.<random>.part                        objects being received (same file system)
    <root>/quarantine/<SOP Instance UID>.<time>.<random>.dcm   refused duplicates, kept
    <root>/<xx>/<Study UID>/<Series UID>/<SOP Instance UID>.<node>.<random>.dcm

``xx`` spreads studies over 256 folders (a hash of the Study Instance UID). Every write gets a name of its
own — the instance's name plus a unique write id (the writing node and a random part) — recorded in the
instance's index row as its *key* (the path below the root). Placing never replaces a file (a hard link to
a new name, then the temporary name removed), so two stores of one UID at once, on one node or two, each
keep their own bytes and the index transaction decides which row wins.

UIDs are checked before they become path components: empty values and values longer than 64 characters
are refused; everything but letters, digits, ``.`` and ``-`` becomes ``_`` and leading dots are removed
(:func:`dicomkit.services.storage.safe_filename`), so no UID can name ``..``, an absolute path or a
separator. Keys read back from the index are checked again (:meth:`FolderBlobStore.path_of`).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import os
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from ..core.errors import DicomError
from ..io.filesystem import fsync_directory, link_new
from ..services.storage.files import safe_filename

TEMP_FOLDER = "tmp"
QUARANTINE_FOLDER = "quarantine"
TEMP_SUFFIX = ".part"
BLOB_SUFFIX = ".dcm"
MAX_UID = 64  # PS3.5 9.1: a UID has at most 64 characters


class BlobStoreError(DicomError):
    """A blob cannot be stored, found or read (a bad UID or key, an I/O error)."""


@dataclass(frozen=True)
class BlobInfo:
    """A stored blob as :meth:`BlobStore.iterate` finds it."""

    key: str
    size: int
    mtime: float
    sop_instance_uid: str  # the (file-name-safe form of the) SOP Instance UID in its name
    node: str  # the node that wrote it


@dataclass(frozen=True)
class TempInfo:
    path: Path
    node: str
    size: int
    mtime: float


class TempBlob:
    """A temporary file in the store that a received object streams into."""

    def __init__(self, path: Path | str, fd: int) -> None:
        self.name = str(path)  # the file's path as text (what the system calls take: no Path per object)
        self.fd = fd
        self.closed = False

    @property
    def path(self) -> Path:
        return Path(self.name)

    def write(self, chunks: list[bytes]) -> None:
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]

    def sync(self) -> None:
        os.fsync(self.fd)

    def rewrite(self, data: bytes) -> None:
        """Replace what was written with ``data`` (compression on store)."""
        os.ftruncate(self.fd, 0)
        os.lseek(self.fd, 0, os.SEEK_SET)
        self.write([data])

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self.fd)

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.name)


class BlobStore(Protocol):
    """What the archive needs of a store (see the module documentation)."""

    node: str

    def create_temp(self) -> TempBlob: ...

    def place(self, temp: TempBlob, study_uid: str, series_uid: str, sop_instance_uid: str, *,
              durable: bool) -> str:
        """Give a complete, closed temporary blob its own name; return the key. ``durable``: the new
        directory entries are synced to disk before this returns (the file itself is synced by the caller,
        with :meth:`TempBlob.sync`)."""
        ...

    def quarantine(self, source: TempBlob | str, sop_instance_uid: str) -> str: ...

    def open(self, key: str) -> BinaryIO: ...

    def read_range(self, key: str, offset: int, length: int) -> bytes: ...

    def size(self, key: str) -> int | None: ...

    def delete(self, key: str) -> bool: ...

    def iterate(self, modified_since: float | None = None) -> Iterator[BlobInfo]: ...

    def temp_files(self) -> Iterator[TempInfo]: ...

    def free_space(self) -> int: ...


def uid_component(uid: str, what: str = "UID") -> str:
    """The path component for a UID (see the module documentation); BlobStoreError when it is unusable."""
    text = str(uid).strip("\x00 ")
    if not text:
        raise BlobStoreError(f"the {what} is empty")
    if len(text) > MAX_UID:
        raise BlobStoreError(f"the {what} is longer than {MAX_UID} characters")
    return safe_filename(text, "")


def fanout(study_uid: str) -> str:
    return hashlib.blake2s(study_uid.encode("utf-8", "replace"), digest_size=1).hexdigest()


@functools.lru_cache(maxsize=1024)  # the instances of one series arrive together
def _instance_folder(study_uid: str, series_uid: str) -> str:
    study = uid_component(study_uid, "Study Instance UID")
    series = uid_component(series_uid, "Series Instance UID")
    return f"{fanout(study_uid.strip(chr(0) + ' '))}/{study}/{series}"


class FolderBlobStore:
    """Blobs as files in a folder (see the module documentation). Thread-safe."""

    def __init__(self, root: str | os.PathLike[str], node: str, *, spare_temps: int = 16) -> None:
        self.root = Path(root)
        self.node = node
        try:
            for folder in (self.root, self.root / TEMP_FOLDER, self.root / QUARANTINE_FOLDER):
                folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BlobStoreError(f"cannot create the store in {self.root}: {exc.strerror or exc}") from exc
        self.temp_dir = self.root / TEMP_FOLDER
        self._temp_prefix = os.path.join(self.temp_dir, f"{node}.")
        self._root_name = str(self.root)
        self._known_dirs: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._spares: collections.deque[TempBlob] = collections.deque()
        self._spare_target = spare_temps
        self._spare_wanted = threading.Event()
        self._closed = False
        self._filler: threading.Thread | None = None
        if spare_temps:
            self._filler = threading.Thread(target=self._fill, name="dicomkit-blob-temps", daemon=True)
            self._filler.start()
            self._spare_wanted.set()

    # -- temporary files ---------------------------------------------------------------------------------
    def _new_temp(self) -> TempBlob:
        for _ in range(100):
            path = f"{self._temp_prefix}{secrets.token_hex(8)}{TEMP_SUFFIX}"
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
            except FileExistsError:
                continue
            return TempBlob(path, fd)
        raise BlobStoreError(f"cannot create a temporary file in {self.temp_dir}")  # pragma: no cover

    def take_spare(self) -> TempBlob | None:
        """A temporary file made ahead, or None when none is ready: never waits on the file system (for the
        event loop, where creating a file would stall every association; :meth:`create_temp` elsewhere)."""
        try:
            temp: TempBlob | None = self._spares.popleft()
        except IndexError:
            temp = None
        self._want_spares()
        return temp

    def _want_spares(self) -> None:
        """Wake the helper thread when the spares are down to half: it makes them up in one go (one wake-up of
        it for several stores, not a thread switch per store)."""
        if len(self._spares) <= self._spare_target // 2:
            self._spare_wanted.set()

    def create_temp(self) -> TempBlob:
        """A new temporary file (made ahead by a helper thread: creating one can cost more than receiving
        a small object)."""
        try:
            temp = self._spares.popleft()
        except IndexError:
            temp = self._new_temp()
        self._want_spares()
        return temp

    def _fill(self) -> None:
        while True:
            self._spare_wanted.wait()
            self._spare_wanted.clear()
            while not self._closed and len(self._spares) < self._spare_target:
                try:
                    self._spares.append(self._new_temp())
                except (OSError, BlobStoreError):  # the next create_temp makes its own and reports it
                    break
            if self._closed:
                self._drain()
                return

    def _drain(self) -> None:
        while True:
            try:
                self._spares.popleft().discard()
            except IndexError:
                return

    def close(self) -> None:
        self._closed = True
        self._spare_wanted.set()
        if self._filler is not None:
            self._filler.join(timeout=5)
        self._drain()

    # -- placing -----------------------------------------------------------------------------------------
    def instance_folder(self, study_uid: str, series_uid: str) -> str:
        return _instance_folder(study_uid, series_uid)

    def _ensure_dir(self, relative: str, durable: bool) -> str:
        path = f"{self._root_name}/{relative}"
        with self._lock:
            if relative in self._known_dirs:
                self._known_dirs.move_to_end(relative)
                return path
        created: list[Path] = []
        parts = relative.split("/")
        current = self.root
        for part in parts:
            current = current / part
            try:
                os.mkdir(current)
                created.append(current)
            except FileExistsError:
                pass
        if durable:
            # a new directory entry is durable once its parent directory is synced (POSIX fsync)
            for folder in created:
                fsync_directory(folder.parent)
        with self._lock:
            self._known_dirs[relative] = None
            if len(self._known_dirs) > 4096:
                self._known_dirs.popitem(last=False)
        return path

    def place(self, temp: TempBlob, study_uid: str, series_uid: str, sop_instance_uid: str, *,
              durable: bool, sync_folder: bool = True) -> str:
        """See :meth:`BlobStore.place`; ``sync_folder=False`` (with ``durable``) leaves the sync of the
        blob's folder to the caller (:meth:`sync_folder`, once for the stores of one group commit)."""
        folder = self.instance_folder(study_uid, series_uid)
        name = uid_component(sop_instance_uid, "SOP Instance UID")
        temp.close()
        try:
            directory = self._ensure_dir(folder, durable)
        except FileNotFoundError:  # the folder went away under a cached entry: make it again
            with self._lock:
                self._known_dirs.pop(folder, None)
            directory = self._ensure_dir(folder, durable)
        for _ in range(100):
            file_name = f"{name}.{self.node}.{secrets.token_hex(6)}{BLOB_SUFFIX}"
            if link_new(temp.name, f"{directory}/{file_name}"):
                break
        else:  # pragma: no cover - 100 random names taken
            raise BlobStoreError(f"cannot find a free name for {sop_instance_uid}")
        if durable and sync_folder:
            fsync_directory(directory)
        return f"{folder}/{file_name}"

    def sync_folder(self, key: str) -> None:
        """Make the name of a placed blob durable: sync its folder (POSIX fsync of the directory)."""
        fsync_directory(self.path_of(key).parent)

    def quarantine(self, source: TempBlob | str, sop_instance_uid: str) -> str:
        """Move a temporary blob, or a stored one by key, to the quarantine folder; return its new key."""
        name = safe_filename(str(sop_instance_uid).strip("\x00 ")[:MAX_UID] or "unnamed", "")
        stamp = time.strftime("%Y%m%dT%H%M%S")
        key = f"{QUARANTINE_FOLDER}/{name}.{stamp}.{secrets.token_hex(4)}{BLOB_SUFFIX}"
        if isinstance(source, TempBlob):
            source.close()
            path: Path | str = source.name
        else:
            path = self.path_of(source)
        os.rename(path, self.root / key)  # a fresh random name: nothing is replaced
        return key

    # -- reading -----------------------------------------------------------------------------------------
    def path_of(self, key: str) -> Path:
        """The file of a key, refusing keys that would leave the store."""
        if not key or key.startswith(("/", "\\")) or "\\" in key or "\x00" in key:
            raise BlobStoreError(f"invalid blob key {key!r}")
        parts = key.split("/")
        if any(p in ("", ".", "..") for p in parts) or len(key) > 1024:
            raise BlobStoreError(f"invalid blob key {key!r}")
        return self.root.joinpath(*parts)

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self.path_of(key), "rb")
        except FileNotFoundError:
            raise BlobStoreError(f"blob {key} is missing") from None

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        with self.open(key) as f:
            f.seek(offset)
            return f.read(length)

    def size(self, key: str) -> int | None:
        try:
            return os.stat(self.path_of(key)).st_size
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> bool:
        try:
            os.unlink(self.path_of(key))
            return True
        except FileNotFoundError:
            return False

    def iterate(self, modified_since: float | None = None) -> Iterator[BlobInfo]:
        """Every blob (quarantine and temporary files excluded); with ``modified_since``, only those in
        series folders changed at or after that time (a new entry changes its folder's mtime)."""
        for bucket in _scandir(self.root):
            if not bucket.is_dir(follow_symlinks=False) or bucket.name in (TEMP_FOLDER, QUARANTINE_FOLDER):
                continue
            for study in _scandir(bucket.path):
                if not study.is_dir(follow_symlinks=False):
                    continue
                for series in _scandir(study.path):
                    if not series.is_dir(follow_symlinks=False):
                        continue
                    if modified_since is not None:
                        try:
                            if series.stat(follow_symlinks=False).st_mtime < modified_since:
                                continue
                        except FileNotFoundError:
                            continue
                    for entry in _scandir(series.path):
                        if not entry.name.endswith(BLOB_SUFFIX) or not entry.is_file(follow_symlinks=False):
                            continue
                        try:
                            st = entry.stat(follow_symlinks=False)
                        except FileNotFoundError:
                            continue
                        sop, node = _parse_name(entry.name)
                        yield BlobInfo(f"{bucket.name}/{study.name}/{series.name}/{entry.name}", st.st_size,
                                       st.st_mtime, sop, node)

    def temp_files(self) -> Iterator[TempInfo]:
        for entry in _scandir(self.temp_dir):
            if not entry.name.endswith(TEMP_SUFFIX):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            yield TempInfo(Path(entry.path), entry.name.split(".", 1)[0], st.st_size, st.st_mtime)

    def quarantined(self) -> Iterator[str]:
        for entry in _scandir(self.root / QUARANTINE_FOLDER):
            if entry.name.endswith(BLOB_SUFFIX):
                yield f"{QUARANTINE_FOLDER}/{entry.name}"

    def free_space(self) -> int:
        st = os.statvfs(self.root)
        return st.f_bavail * st.f_frsize


def _parse_name(name: str) -> tuple[str, str]:
    """(SOP Instance UID part, node) of ``<sop>.<node>.<random>.dcm``."""
    parts = name[: -len(BLOB_SUFFIX)].rsplit(".", 2)
    if len(parts) != 3:
        return name, ""
    return parts[0], parts[1]


def _scandir(path: str | Path) -> list[os.DirEntry[str]]:
    try:
        return list(os.scandir(path))
    except (FileNotFoundError, NotADirectoryError):
        return []


__all__ = [
    "BlobInfo",
    "BlobStore",
    "BlobStoreError",
    "FolderBlobStore",
    "TempBlob",
    "TempInfo",
    "uid_component",
]
