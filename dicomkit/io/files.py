"""Finding DICOM files: the one folder walker of the command line and the services, and the look at a
file's first bytes that tells DICOM from the rest.

A folder of DICOM files in the wild also holds README files, JSON sidecars, ICC profiles, thumbnails,
FIFOs and sockets. :func:`walk` lists what is under the paths it is given and classifies each file from
its first bytes (:func:`sniff`) without parsing it: a Part 10 file (the ``DICM`` prefix, PS3.10 7.1), a
raw data set (its first element header is a plausible one, PS3.5 7.1), a DICOMDIR (PS3.3 F), or not
DICOM. Nothing but a regular file is ever opened: a FIFO would block the walk, a device could have side
effects. Whether a DICOM file is *broken* (the reader refuses it) is for the caller to find out by reading
it; a walk only says what it looks like.

Hidden entries (names starting with ``.``, such as the work folder of ``dicomkit receive``) are left out of
folder walks; a path named by the caller is always classified.
"""

from __future__ import annotations

import enum
import os
import stat
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..core.dictionary import lookup
from ..core.errors import InvalidFileError, TruncatedError
from ..core.uid import MediaStorageDirectoryStorage
from ..core.vr import VR_FROM_BYTES
from .raw import EXPLICIT_LITTLE, element_header

HEAD_SIZE = 4096  # bytes read to classify a file: the preamble, the File Meta Information, the first elements
_DICOMDIR_CLASS = str(MediaStorageDirectoryStorage)  # PS3.4 Annex I
_MEDIA_STORAGE_SOP_CLASS_UID = 0x00020002
_DIRECTORY_GROUP = 0x0004  # only a DICOMDIR has elements of group 0004 (PS3.3 F.3)
_UNDEFINED = 0xFFFFFFFF
_NOT_DICOM = "not a DICOM file (no 'DICM' prefix and no data set at the start)"


class Kind(enum.Enum):
    """What a path turned out to be."""

    DICOM = "DICOM"  # a Part 10 file or a raw data set
    DICOMDIR = "DICOMDIR"  # a Media Storage Directory (PS3.10 8.6): offsets inside, never re-encode it blindly
    NOT_DICOM = "not DICOM"  # a regular file that does not start like DICOM
    SPECIAL = "not a regular file"  # FIFO, socket, device: never opened
    UNREADABLE = "unreadable"  # cannot be opened or listed (permissions, I/O error)
    MISSING = "missing"  # a path named by the caller that does not exist


@dataclass(frozen=True)
class FoundFile:
    """One path of a walk: what it is, whether the caller named it, and why it is not DICOM if it is not."""

    path: Path
    kind: Kind
    explicit: bool  # named by the caller, not found inside a folder
    reason: str = ""  # why it is not DICOM ("a DICOMDIR" for one)
    head: bytes = field(default=b"", repr=False, compare=False)  # the first bytes, when the walk kept them

    @property
    def is_dicom(self) -> bool:
        return self.kind is Kind.DICOM or self.kind is Kind.DICOMDIR

    @property
    def note(self) -> str:
        """``PATH: skipped, REASON`` — the line a command prints for a file it leaves out of a walk."""
        reason = "not a DICOM file" if self.reason == _NOT_DICOM else self.reason or self.kind.value
        return f"{self.path}: skipped, {reason}"


def _group_length_or_known(tag: int) -> bool:
    return tag & 0xFFFF == 0 or lookup(tag) is not None


def looks_like_dataset(head: bytes | bytearray | memoryview, size: int | None = None) -> bool:
    """Whether ``head`` starts like a raw data set (PS3.5 7.1): a first element of an even group from 0002
    to 00FF (text never has a zero second byte; group 0000 is the command set) with a valid explicit VR, or
    in Implicit VR Little Endian a tag the dictionary knows whose length fits in the ``size`` bytes there are.
    """
    if len(head) < 8:
        return False
    size = len(head) if size is None else size
    vr = bytes(head[4:6])
    for order in "<>":
        group, element = struct.unpack_from(f"{order}HH", head, 0)
        if group & 1 or not 0x0002 <= group <= 0x00FF:
            continue
        if vr in VR_FROM_BYTES:
            return True  # explicit VR, little or big endian
        if order == "<":
            length = struct.unpack_from("<I", head, 4)[0]
            if (length == _UNDEFINED or 8 + length <= size) and _group_length_or_known((group << 16) | element):
                return True
    return False


def _media_storage_sop_class(head: bytes | bytearray | memoryview) -> str | None:
    """(0002,0002) of the File Meta Information starting at offset 132, if it is within ``head``."""
    pos, end = 132, len(head)
    while pos + 8 <= end:
        try:
            tag, _vr, length, value = element_header(head, pos, end, EXPLICIT_LITTLE)
        except (InvalidFileError, TruncatedError):
            return None
        if tag >> 16 != 0x0002 or length == _UNDEFINED:
            return None
        if tag == _MEDIA_STORAGE_SOP_CLASS_UID:
            return bytes(head[value:value + length]).decode("ascii", "replace").strip("\x00 ")
        pos = value + length
    return None


def sniff(head: bytes | bytearray | memoryview, size: int | None = None) -> Kind:
    """Classify a file from its first bytes (``HEAD_SIZE`` of them, or all if shorter): DICOM, DICOMDIR or
    NOT_DICOM. ``size`` is the whole file's size when known."""
    if len(head) >= 132 and bytes(head[128:132]) == b"DICM":
        return Kind.DICOMDIR if _media_storage_sop_class(head) == _DICOMDIR_CLASS else Kind.DICOM
    if not looks_like_dataset(head, size):
        return Kind.NOT_DICOM
    if bytes(head[0:2]) == b"\x02\x00":  # File Meta Information without the preamble (PS3.10 7.1 not met)
        padded = bytes(128) + b"DICM" + bytes(head)
        return Kind.DICOMDIR if _media_storage_sop_class(padded) == _DICOMDIR_CLASS else Kind.DICOM
    first_group = struct.unpack_from("<H", head, 0)[0]
    return Kind.DICOMDIR if first_group == _DIRECTORY_GROUP else Kind.DICOM


_SPECIAL_NAMES = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                  (stat.S_ISBLK, "a block device"))


def _special(mode: int) -> str:
    for test, name in _SPECIAL_NAMES:
        if test(mode):
            return f"not a regular file ({name})"
    return "not a regular file"


def classify(path: str | os.PathLike[str], explicit: bool = True, *, keep_head: bool = False) -> FoundFile:
    """What one file is (see :class:`Kind`); only a regular file is opened, and only its first bytes read
    (``HEAD_SIZE``; kept in :attr:`FoundFile.head` with ``keep_head``, so a caller need not read them again)."""
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return FoundFile(path, Kind.MISSING, explicit, "no such file or folder")
    except OSError as exc:
        return FoundFile(path, Kind.UNREADABLE, explicit, f"cannot be read: {exc.strerror or exc}")
    if not stat.S_ISREG(st.st_mode):
        return FoundFile(path, Kind.SPECIAL, explicit, _special(st.st_mode))
    try:
        # O_NONBLOCK: should the path have become a FIFO since the stat, opening it still does not block
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        return FoundFile(path, Kind.UNREADABLE, explicit, f"cannot be read: {exc.strerror or exc}")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return FoundFile(path, Kind.SPECIAL, explicit, _special(st.st_mode))
        head = os.read(fd, HEAD_SIZE)
    except OSError as exc:
        return FoundFile(path, Kind.UNREADABLE, explicit, f"cannot be read: {exc.strerror or exc}")
    finally:
        os.close(fd)
    kind = sniff(head, st.st_size)
    if kind is Kind.NOT_DICOM:
        reason = "not a DICOM file (empty)" if not head else _NOT_DICOM
        return FoundFile(path, kind, explicit, reason)
    return FoundFile(path, kind, explicit, "a DICOMDIR" if kind is Kind.DICOMDIR else "", head if keep_head else b"")


def walk(paths: Iterable[str | os.PathLike[str]], *, recursive: bool = True,
         keep_head: bool = False) -> Iterator[FoundFile]:
    """Every file under ``paths``, classified, in a stable order (each folder's entries sorted by name).

    A path that is a folder is walked (its subfolders too with ``recursive``), leaving out hidden entries
    and following links to folders only once each; any other path is classified as given (``explicit``).
    A folder that cannot be listed comes back as UNREADABLE. ``keep_head``: see :func:`classify`.
    """
    for given in paths:
        path = Path(given)
        if path.is_dir():
            yield from _walk_folder(path, recursive, set(), keep_head)
        else:
            yield classify(path, explicit=True, keep_head=keep_head)


def _walk_folder(folder: Path, recursive: bool, seen: set[tuple[int, int]], keep_head: bool) -> Iterator[FoundFile]:
    try:
        st = os.stat(folder)
        key = (st.st_dev, st.st_ino)
        if key in seen:
            return  # a link back to a folder being walked
        seen.add(key)
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        yield FoundFile(folder, Kind.UNREADABLE, False, f"cannot be listed: {exc.strerror or exc}")
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir()  # follows links
        except OSError:
            is_dir = False
        if is_dir:
            if recursive:
                yield from _walk_folder(path, recursive, seen, keep_head)
            continue
        yield classify(path, explicit=False, keep_head=keep_head)


__all__ = ["HEAD_SIZE", "FoundFile", "Kind", "classify", "looks_like_dataset", "sniff", "walk"]
