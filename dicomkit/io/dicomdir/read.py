"""DICOMDIR files (PS3.10 8, PS3.3 Annex F): the directory of a File-set, read as a tree of records.

The Basic Directory IOD holds its Directory Records as the items of one sequence (0004,1220); the tree is
made by offsets, counted in bytes from the start of the file (the first byte of the preamble), to the Item
tag of a record (PS3.3 F.3.2.1):

- (0004,1200)/(0004,1202): the first and last record of the root directory entity;
- (0004,1400) Offset of the Next Directory Record: the next record of the same entity (0 at the end);
- (0004,1420) Offset of Referenced Lower-Level Directory Entity: the first record one level down.

Reading resolves those offsets against the positions of the items in the file, refuses offsets that do
not point at a record and links that form a loop (naming the record and the field), and finds referenced
files (Referenced File ID (0004,1500)) relative to the directory that holds the DICOMDIR.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...core.dataset import Correction, Dataset
from ...core.errors import InvalidFileError, TruncatedError
from ...core.tag import ITEM, SEQUENCE_DELIMITATION, tag_str
from ...core.uid import UID, MediaStorageDirectoryStorage
from ..raw import UNDEFINED_LENGTH, Layout, element_header, meta_end, skip_item, skip_sequence
from ..reader import read

MEDIA_STORAGE_DIRECTORY_STORAGE = str(MediaStorageDirectoryStorage)  # PS3.4 Annex I: the DICOMDIR SOP Class

FILE_SET_ID = 0x00041130
OFFSET_FIRST_ROOT_RECORD = 0x00041200
OFFSET_LAST_ROOT_RECORD = 0x00041202
FILE_SET_CONSISTENCY_FLAG = 0x00041212
DIRECTORY_RECORD_SEQUENCE = 0x00041220
OFFSET_NEXT_RECORD = 0x00041400
RECORD_IN_USE_FLAG = 0x00041410
OFFSET_LOWER_LEVEL_ENTITY = 0x00041420
DIRECTORY_RECORD_TYPE = 0x00041430
REFERENCED_FILE_ID = 0x00041500
REFERENCED_SOP_CLASS_UID_IN_FILE = 0x00041510
REFERENCED_SOP_INSTANCE_UID_IN_FILE = 0x00041511
REFERENCED_TRANSFER_SYNTAX_UID_IN_FILE = 0x00041512

_UNDEFINED = UNDEFINED_LENGTH


@dataclass(eq=False)
class DirectoryRecord:
    """One Directory Record (PS3.3 F.3.2.2): its keys (``dataset``), place in the file and in the tree."""

    offset: int  # of the record's Item tag, from the start of the DICOMDIR file
    dataset: Dataset
    fileset: FileSet = field(repr=False)
    parent: DirectoryRecord | None = field(default=None, repr=False)
    children: list[DirectoryRecord] = field(default_factory=list, repr=False)

    @property
    def record_type(self) -> str:
        """Directory Record Type (0004,1430): PATIENT, STUDY, SERIES, IMAGE, SR DOCUMENT, ..."""
        return str(self.dataset.value(DIRECTORY_RECORD_TYPE, "") or "")

    @property
    def in_use(self) -> bool:
        """False for records marked inactive by Record In-use Flag (0004,1410) = 0000H."""
        elem = self.dataset.get(RECORD_IN_USE_FLAG)
        return elem is None or elem.value != 0

    @property
    def file_id(self) -> tuple[str, ...] | None:
        """Referenced File ID (0004,1500) as path components, or None for records without a file."""
        elem = self.dataset.get(REFERENCED_FILE_ID)
        if elem is None or not elem.value:
            return None
        value = elem.value
        return tuple(str(v) for v in value) if isinstance(value, tuple) else (str(value),)

    @property
    def path(self) -> Path | None:
        """The referenced file, relative to the File-set root (matched case-insensitively if needed)."""
        file_id = self.file_id
        if file_id is None:
            return None
        return self.fileset.resolve(file_id, self.offset)

    @property
    def sop_instance_uid(self) -> UID | None:
        value = self.dataset.get(REFERENCED_SOP_INSTANCE_UID_IN_FILE)
        return UID(str(value.value)) if value is not None and value.value else None

    @property
    def sop_class_uid(self) -> UID | None:
        value = self.dataset.get(REFERENCED_SOP_CLASS_UID_IN_FILE)
        return UID(str(value.value)) if value is not None and value.value else None

    @property
    def transfer_syntax_uid(self) -> UID | None:
        value = self.dataset.get(REFERENCED_TRANSFER_SYNTAX_UID_IN_FILE)
        return UID(str(value.value)) if value is not None and value.value else None

    def keys(self) -> Dataset:
        """The record's key attributes: its data set without the directory structure elements (group 0004)."""
        keys = Dataset()
        for elem in self.dataset:
            if elem.tag >> 16 != 0x0004:
                keys.add(elem)
        return keys

    def read(self, **options: Any) -> Dataset:
        """Read the referenced file (options as for :func:`dicomkit.read`)."""
        path = self.path
        if path is None:
            raise InvalidFileError(f"{self.record_type} record at offset {self.offset} references no file")
        return read(path, **options)

    def walk(self) -> Iterator[DirectoryRecord]:
        """This record and every record below it, depth first."""
        stack = [self]
        while stack:
            record = stack.pop()
            yield record
            stack.extend(reversed(record.children))

    def __getattr__(self, name: str) -> Any:
        if name[:1].isupper():  # keys by keyword: record.PatientID, record.StudyDate, ...
            return getattr(self.dataset, name)
        raise AttributeError(name)

    def __repr__(self) -> str:
        ident = "/".join(self.file_id) if self.file_id else ""
        return f"<DirectoryRecord {self.record_type} at {self.offset}{' ' + ident if ident else ''}>"


class FileSet:
    """A DICOMDIR read into a tree: ``fs.roots`` (the root directory entity), ``iter(fs)`` for all records.

    >>> fs = read_dicomdir("/media/cdrom/DICOMDIR")
    >>> for patient in fs.roots: print(patient.PatientID, [s.StudyDate for s in patient.children])
    """

    def __init__(self, path: Path, dataset: Dataset) -> None:
        self.path = path
        self.root_dir = path.parent
        self.dataset = dataset
        self.roots: list[DirectoryRecord] = []
        self.records: list[DirectoryRecord] = []  # every record in file order, referenced or not
        self.corrections: list[Correction] = []
        self._listing: dict[Path, dict[str, str]] = {}

    @property
    def file_set_id(self) -> str:
        value = self.dataset.get("FileSetID")
        return str(value or "")

    def __iter__(self) -> Iterator[DirectoryRecord]:
        """Every record in use, depth first from the root directory entity (an inactive record's
        lower-level records are left out with it)."""
        stack = list(reversed(self.roots))
        while stack:
            record = stack.pop()
            if record.in_use:
                yield record
                stack.extend(reversed(record.children))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def find(self, record_type: str | None = None, **keys: Any) -> list[DirectoryRecord]:
        """Records of a type whose keys equal the given values, e.g. ``fs.find("STUDY", StudyID="1")``."""
        found = []
        for record in self:
            if record_type is not None and record.record_type != record_type:
                continue
            if all(record.dataset.get(k) == v for k, v in keys.items()):
                found.append(record)
        return found

    def instances(self) -> list[DirectoryRecord]:
        """The records that reference a file (images, SR documents, ...), depth first."""
        return [r for r in self if r.file_id is not None]

    def resolve(self, file_id: tuple[str, ...], offset: int = 0) -> Path:
        """The path of a File ID under the File-set root; components are matched case-insensitively when
        the exact name is missing (media written on other systems), and may not leave the root."""
        for part in file_id:
            if not part or part in (".", "..") or any(c in part for c in "/\\\x00:"):
                shown = "\\".join(file_id)
                raise InvalidFileError(f"Referenced File ID {shown!r} of the record at offset {offset} is not a "
                                       "relative path of plain names (PS3.10 8.2)", source=str(self.path))
        path = self.root_dir
        for part in file_id:
            candidate = path / part
            if not candidate.exists():
                listing = self._names(path)
                match = listing.get(part.upper())
                if match is not None:
                    candidate = path / match
            path = candidate
        return path

    def _names(self, directory: Path) -> dict[str, str]:
        names = self._listing.get(directory)
        if names is None:
            try:
                names = {name.upper(): name for name in os.listdir(directory)}
            except OSError:
                names = {}
            self._listing[directory] = names
        return names

    def __repr__(self) -> str:
        return f"<FileSet {self.file_set_id!r} at {self.root_dir}: {len(self.records)} records>"


# ---------------------------------------------------------------------------------------------------
# Item positions


def _skip_undefined(buf: memoryview, value_pos: int, end: int, vr: bytes, layout: Layout, source: str) -> int:
    """The offset after an undefined-length sequence whose items start at ``value_pos``."""
    # PS3.5 6.2.2: an undefined-length UN is a sequence in Implicit VR Little Endian
    little, implicit = (True, True) if vr == b"UN" else (layout.little, layout.implicit)
    seq_end = skip_sequence(buf, value_pos, end, little, implicit)
    if seq_end is None:
        raise InvalidFileError("undefined-length sequence malformed or not terminated", offset=value_pos,
                               source=source)
    return seq_end + 8


def record_offsets(buf: memoryview, layout: Layout, source: str) -> tuple[list[int], int, int]:
    """Offsets of the items of the Directory Record Sequence, and where the sequence value starts and ends.

    Walks the top-level elements from after the File Meta Information to (0004,1220), then its items. The
    last item may run past the end of a defined-length sequence (a known writer's defect that DCMTK and
    pydicom read): the sequence then ends with that item, as the reader reads it.
    """
    if len(buf) < 132 or bytes(buf[128:132]) != b"DICM":
        raise InvalidFileError("a DICOMDIR is a Part 10 file; no 'DICM' prefix", offset=128, source=source)
    pos = meta_end(buf)
    end = len(buf)
    while pos < end:
        tag, vr, length, value_pos = element_header(buf, pos, end, layout, source)
        if tag == DIRECTORY_RECORD_SEQUENCE:
            break
        if tag > DIRECTORY_RECORD_SEQUENCE:
            raise InvalidFileError("no Directory Record Sequence (0004,1220)", offset=pos, source=source)
        pos = _skip_undefined(buf, value_pos, end, vr, layout, source) if length == _UNDEFINED else value_pos + length
    else:
        raise InvalidFileError("no Directory Record Sequence (0004,1220)", offset=pos, source=source)
    seq_end = end if length == _UNDEFINED else value_pos + length
    if seq_end > end:
        raise TruncatedError("Directory Record Sequence runs past the end of the file", offset=pos, source=source)
    offsets = []
    pos = value_pos
    while pos < seq_end:
        tag, _, item_length, item_value = element_header(buf, pos, seq_end, layout, source)
        if tag == SEQUENCE_DELIMITATION and length == _UNDEFINED:
            seq_end = item_value
            break
        if tag != ITEM:
            raise InvalidFileError(f"expected a Directory Record (Item), found {tag_str(tag)}", offset=pos,
                                   source=source)
        offsets.append(pos)
        if item_length == _UNDEFINED:
            after = skip_item(buf, item_value, seq_end, layout.little, layout.implicit, 1)
            if after is None:
                raise TruncatedError("undefined-length Directory Record not terminated", offset=pos, source=source)
            pos = after
        else:
            pos = item_value + item_length
            if pos > seq_end:
                if pos > end:
                    raise TruncatedError("Directory Record runs past the end of the file", offset=offsets[-1],
                                         source=source)
                seq_end = pos  # the last record overruns its sequence: read as the reader reads it
    return offsets, value_pos, seq_end


# ---------------------------------------------------------------------------------------------------
# Reading


def read_dicomdir(path: str | os.PathLike[str]) -> FileSet:
    """Read a DICOMDIR file into a :class:`FileSet` tree.

    Raises :class:`~dicomkit.InvalidFileError` when the file is not a DICOMDIR, an offset does not point
    at a Directory Record, or record links form a loop; the message names the record and the field.
    """
    path = Path(path)
    source = str(path)
    ds = read(path)
    meta_class = ds.file_meta.value(0x00020002) if ds.file_meta is not None else None
    if meta_class is not None and str(meta_class).strip("\x00 ") != MEDIA_STORAGE_DIRECTORY_STORAGE:
        raise InvalidFileError(f"not a DICOMDIR: Media Storage SOP Class is {UID(str(meta_class)).name}",
                               source=source)
    fs = FileSet(path, ds)
    fs.corrections = list(ds.read_corrections)
    if DIRECTORY_RECORD_SEQUENCE not in ds:
        raise InvalidFileError("not a DICOMDIR: no Directory Record Sequence (0004,1220)", source=source)
    ts = ds.read_transfer_syntax or ds.transfer_syntax
    info = UID(str(ts)).transfer_syntax if ts else None
    if info is not None and info.deflated:
        raise InvalidFileError("a deflated DICOMDIR cannot be navigated by offsets (PS3.10 8.6: DICOMDIRs use "
                               "Explicit VR Little Endian)", source=source)
    layout = Layout(info.little_endian if info else True, info.implicit_vr if info else False)
    buf = ds._buf if ds._buf is not None else memoryview(path.read_bytes())
    offsets, _, _ = record_offsets(buf, layout, source)
    items = list(ds.value(DIRECTORY_RECORD_SEQUENCE) or [])
    if len(items) != len(offsets):
        raise InvalidFileError(f"the Directory Record Sequence has {len(items)} items but {len(offsets)} were "
                               "found scanning it", source=source)
    by_offset: dict[int, DirectoryRecord] = {}
    for offset, item in zip(offsets, items):
        record = DirectoryRecord(offset, item, fs)
        by_offset[offset] = record
        fs.records.append(record)
    _link(fs, by_offset, ds, source)
    return fs


def _offset_value(ds: Dataset, tag: int, where: str, source: str) -> int:
    elem = ds.get(tag)
    if elem is None or elem.value is None:
        return 0
    value = elem.value
    if isinstance(value, tuple) or not isinstance(value, int):
        raise InvalidFileError(f"{where}: {tag_str(tag)} must be one offset, got {value!r}", source=source)
    return int(value)


def _link(fs: FileSet, by_offset: dict[int, DirectoryRecord], ds: Dataset, source: str) -> None:
    """Build the tree from the offsets, refusing offsets that point at no record and loops."""
    visited: set[int] = set()

    def chain(first: int, parent: DirectoryRecord | None, field_tag: int, referrer: str) -> list[DirectoryRecord]:
        records = []
        offset = first
        via, via_field = referrer, field_tag
        while offset:
            record = by_offset.get(offset)
            if record is None:
                raise InvalidFileError(f"{tag_str(via_field)} of {via} points to offset {offset}, where no "
                                       "Directory Record starts", source=source)
            if offset in visited:
                raise InvalidFileError(f"loop in the directory record links: {tag_str(via_field)} of {via} points "
                                       f"back to the record at offset {offset}", source=source)
            visited.add(offset)
            record.parent = parent
            records.append(record)
            via, via_field = f"the {record.record_type or 'record'} record at offset {offset}", OFFSET_NEXT_RECORD
            offset = _offset_value(record.dataset, OFFSET_NEXT_RECORD, via, source)
        return records

    fs.roots = chain(_offset_value(ds, OFFSET_FIRST_ROOT_RECORD, "DICOMDIR", source), None,
                     OFFSET_FIRST_ROOT_RECORD, "the DICOMDIR")
    if fs.roots:
        last = _offset_value(ds, OFFSET_LAST_ROOT_RECORD, "DICOMDIR", source)
        if last and last != fs.roots[-1].offset:
            fs.corrections.append(Correction(None, f"(0004,1202) says the last root record is at {last}, the "
                                                   f"chain ends at {fs.roots[-1].offset}"))
    stack = list(fs.roots)
    while stack:
        record = stack.pop()
        where = f"the {record.record_type or 'record'} record at offset {record.offset}"
        lower = _offset_value(record.dataset, OFFSET_LOWER_LEVEL_ENTITY, where, source)
        if lower:
            record.children = chain(lower, record, OFFSET_LOWER_LEVEL_ENTITY, where)
            stack.extend(record.children)
    unreached = [r for r in fs.records if r.offset not in visited]
    if unreached:
        fs.corrections.append(Correction(unreached[0].offset, f"{len(unreached)} directory record(s) not linked "
                                                              "from the root directory entity"))


__all__ = ["MEDIA_STORAGE_DIRECTORY_STORAGE", "DirectoryRecord", "FileSet", "read_dicomdir", "record_offsets"]
