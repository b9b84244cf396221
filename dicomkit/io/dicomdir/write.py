"""Creating and updating File-sets (PS3.10 8, PS3.3 F, PS3.11 Annex D STD-GEN-CD).

A File-set is a directory tree of DICOM files with a DICOMDIR at its root. :func:`create_fileset` copies
instances into the File-set layout (File IDs of at most 8 components of at most 8 characters from
A-Z, 0-9 and _, PS3.10 8.2), writes one Directory Record per instance under PATIENT, STUDY and SERIES
records, and writes the DICOMDIR; :func:`add_to_fileset` and :func:`remove_from_fileset` change an
existing one. The DICOMDIR is always written whole with fresh offsets, checked by reading it back, and
moved into place atomically; instance files are copied to a temporary name and renamed.

Checks happen before anything is copied: an instance that cannot be described (an unknown SOP Class, a
missing Type 1 key without ``invent``, a duplicate SOP Instance UID) stops the operation with an error
listing every problem, so a File-set never ends up half made.

Compressed instances are decompressed only through a ``decompress`` callable of the caller's (this layer
knows no pixel data; the ``dicomkit dicomdir`` command passes :func:`dicomkit.pixels.decompress`).
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ...core.dataset import Dataset, keyword_vr
from ...core.element import DataElement
from ...core.errors import DicomError, InvalidFileError, InvalidValueError
from ...core.sequence import Sequence
from ...core.tag import PIXEL_DATA
from ...core.uid import UID, ExplicitVRLittleEndian, generate_uid
from ...core.valuetypes import DT
from ...core.vr import VR
from ..files import FoundFile, Kind, walk
from ..raw import EXPLICIT_LITTLE
from ..reader import read
from ..writer import to_bytes, write
from .read import (
    DIRECTORY_RECORD_SEQUENCE,
    DIRECTORY_RECORD_TYPE,
    FILE_SET_CONSISTENCY_FLAG,
    FILE_SET_ID,
    MEDIA_STORAGE_DIRECTORY_STORAGE,
    OFFSET_FIRST_ROOT_RECORD,
    OFFSET_LAST_ROOT_RECORD,
    OFFSET_LOWER_LEVEL_ENTITY,
    OFFSET_NEXT_RECORD,
    RECORD_IN_USE_FLAG,
    REFERENCED_FILE_ID,
    REFERENCED_SOP_CLASS_UID_IN_FILE,
    REFERENCED_SOP_INSTANCE_UID_IN_FILE,
    REFERENCED_TRANSFER_SYNTAX_UID_IN_FILE,
    DirectoryRecord,
    FileSet,
    read_dicomdir,
    record_offsets,
)

EXPLICIT_VR_LITTLE_ENDIAN = str(ExplicitVRLittleEndian)
_FILE_ID_COMPONENT = re.compile(r"[A-Z0-9_]{1,8}\Z")  # PS3.10 8.2 (and ISO 9660 level 1, PS3.12)
_FILE_SET_ID = re.compile(r"[A-Z0-9_ ]{0,16}\Z")  # CS of the default repertoire, PS3.10 8.2

# A data set with encapsulated pixel data -> the same with native pixel data (e.g. dicomkit.pixels.decompress).
Decompress = Callable[[Dataset], Dataset]

# Keys of each Directory Record Type (PS3.3 F.5): (keyword, type). Type 1 keys must have a value, Type 2
# keys are present (empty if unknown), "1C" keys are copied when the instance has them.
PATIENT_KEYS = (("PatientName", "2"), ("PatientID", "1"))
STUDY_KEYS = (("StudyDate", "1"), ("StudyTime", "1"), ("AccessionNumber", "2"), ("StudyDescription", "2"),
              ("StudyInstanceUID", "1"), ("StudyID", "1"))
SERIES_KEYS = (("Modality", "1"), ("SeriesInstanceUID", "1"), ("SeriesNumber", "1"))
_CONTENT_ID = (("InstanceNumber", "1"), ("ContentLabel", "1"), ("ContentDescription", "2"),
               ("ContentCreatorName", "2"))
LEAF_KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    "IMAGE": (("InstanceNumber", "1"),),
    "RT DOSE": (("InstanceNumber", "1"), ("DoseSummationType", "1")),
    "RT STRUCTURE SET": (("InstanceNumber", "1"), ("StructureSetLabel", "1"), ("StructureSetDate", "2"),
                         ("StructureSetTime", "2")),
    "RT PLAN": (("InstanceNumber", "1"), ("RTPlanLabel", "1"), ("RTPlanDate", "2"), ("RTPlanTime", "2")),
    "RT TREAT RECORD": (("InstanceNumber", "1"), ("TreatmentDate", "2"), ("TreatmentTime", "2")),
    "PRESENTATION": (*_CONTENT_ID, ("PresentationCreationDate", "1"), ("PresentationCreationTime", "1"),
                     ("ReferencedSeriesSequence", "1C")),
    "WAVEFORM": (("InstanceNumber", "1"), ("ContentDate", "1"), ("ContentTime", "1")),
    "SR DOCUMENT": (("InstanceNumber", "1"), ("CompletionFlag", "1"), ("VerificationFlag", "1"),
                    ("ContentDate", "1"), ("ContentTime", "1"), ("VerificationDateTime", "1C"),
                    ("ConceptNameCodeSequence", "1")),
    "KEY OBJECT DOC": (("InstanceNumber", "1"), ("ContentDate", "1"), ("ContentTime", "1"),
                       ("ConceptNameCodeSequence", "1")),
    "SPECTROSCOPY": (("ImageType", "1"), ("ContentDate", "1"), ("ContentTime", "1"), ("InstanceNumber", "1"),
                     ("NumberOfFrames", "1"), ("Rows", "1"), ("Columns", "1"), ("DataPointRows", "1"),
                     ("DataPointColumns", "1")),
    "RAW DATA": (("ContentDate", "1"), ("ContentTime", "1"), ("InstanceNumber", "2")),
    "REGISTRATION": (("ContentDate", "1"), ("ContentTime", "1"), *_CONTENT_ID),
    "FIDUCIAL": (("ContentDate", "1"), ("ContentTime", "1"), *_CONTENT_ID),
    "ENCAP DOC": (("ContentDate", "2"), ("ContentTime", "2"), ("InstanceNumber", "1"), ("DocumentTitle", "2"),
                  ("ConceptNameCodeSequence", "2"), ("MIMETypeOfEncapsulatedDocument", "1")),
    "VALUE MAP": (("ContentDate", "1"), ("ContentTime", "1"), *_CONTENT_ID),
    "MEASUREMENT": (("ContentDate", "1"), ("ContentTime", "1"), *_CONTENT_ID),
    "SURFACE": (("ContentDate", "1"), ("ContentTime", "1"), *_CONTENT_ID),
    "TRACT": (("ContentDate", "1"), ("ContentTime", "1"), *_CONTENT_ID),
    "STEREOMETRIC": (),
}

# Storage SOP Class names (PS3.4 registry) -> Directory Record Type (PS3.3 F.5).
_RECORD_BY_NAME = (
    ("Key Object Selection Document", "KEY OBJECT DOC"),
    ("Presentation State", "PRESENTATION"),
    ("Structured Display", "PRESENTATION"),
    ("Waveform", "WAVEFORM"),
    ("SR Storage", "SR DOCUMENT"),
    ("Procedure Log", "SR DOCUMENT"),
    ("RT Dose", "RT DOSE"),
    ("RT Structure Set", "RT STRUCTURE SET"),
    ("RT Plan", "RT PLAN"),
    ("RT Ion Plan", "RT PLAN"),
    ("Treatment Record", "RT TREAT RECORD"),
    ("Encapsulated", "ENCAP DOC"),
    ("Deformable Spatial Registration", "REGISTRATION"),
    ("Spatial Registration", "REGISTRATION"),
    ("Spatial Fiducials", "FIDUCIAL"),
    ("Spectroscopy", "SPECTROSCOPY"),
    ("Raw Data", "RAW DATA"),
    ("Real World Value Mapping", "VALUE MAP"),
    ("Stereometric Relationship", "STEREOMETRIC"),
    ("Surface Segmentation", "SURFACE"),
    ("Tractography Results", "TRACT"),
    ("Measurements", "MEASUREMENT"),
    ("Image Storage", "IMAGE"),
    ("Segmentation Storage", "IMAGE"),
    ("Parametric Map", "IMAGE"),
)
_PIXEL_TAGS = (PIXEL_DATA, 0x7FE00008, 0x7FE00009)
# Record elements written from the tree itself (PS3.3 F.3.2.2); others of group 0004 are kept as they are.
_RECORD_STRUCTURE = frozenset({OFFSET_NEXT_RECORD, RECORD_IN_USE_FLAG, OFFSET_LOWER_LEVEL_ENTITY,
                               DIRECTORY_RECORD_TYPE, REFERENCED_FILE_ID, REFERENCED_SOP_CLASS_UID_IN_FILE,
                               REFERENCED_SOP_INSTANCE_UID_IN_FILE, REFERENCED_TRANSFER_SYNTAX_UID_IN_FILE})
# Top-level DICOMDIR elements written anew (PS3.3 F.3.2.1); others are kept on update.
_DIRECTORY_STRUCTURE = frozenset({FILE_SET_ID, OFFSET_FIRST_ROOT_RECORD, OFFSET_LAST_ROOT_RECORD,
                                  FILE_SET_CONSISTENCY_FLAG, DIRECTORY_RECORD_SEQUENCE})


class FileSetError(InvalidFileError):
    """A File-set operation refused, with every problem found (``problems``); nothing was changed."""

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message + "".join(f"\n  {p}" for p in problems))
        self.problems = problems


def record_type_for(sop_class_uid: str, dataset: Dataset | None = None) -> str | None:
    """The Directory Record Type for instances of a Storage SOP Class (PS3.3 F.5), or None if unknown."""
    name = UID(sop_class_uid).name
    for fragment, record_type in _RECORD_BY_NAME:
        if fragment in name:
            return record_type
    if dataset is not None and any(t in dataset for t in _PIXEL_TAGS):
        return "IMAGE"
    return None


def is_file_id_component(name: str) -> bool:
    return bool(_FILE_ID_COMPONENT.match(name))


# ---------------------------------------------------------------------------------------------------
# The record tree being built


@dataclass(eq=False)
class _Node:
    record_type: str
    keys: Dataset
    children: list[_Node] = field(default_factory=list)
    parent: _Node | None = None
    file_id: tuple[str, ...] | None = None
    references: tuple[str, str, str] | None = None  # SOP Class, SOP Instance, Transfer Syntax UIDs
    extra: list[DataElement] = field(default_factory=list)  # other group 0004 elements kept from a record
    directory: tuple[str, ...] | None = None  # where new instances of a SERIES go

    def walk(self) -> Iterator[_Node]:
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))


@dataclass
class FileSetReport:
    """What an operation did: files added or removed (with their File IDs) and notes worth reading."""

    dicomdir: Path
    added: list[tuple[str, str]] = field(default_factory=list)  # (source, File ID)
    removed: list[str] = field(default_factory=list)  # File IDs
    notes: list[str] = field(default_factory=list)


@dataclass
class _Instance:
    source: Path
    header: Dataset
    record_type: str
    sop_class: str
    sop_instance: str
    transfer_syntax: str
    file_id: tuple[str, ...] | None = None  # when indexed in place


class _Tree:
    def __init__(self) -> None:
        self.dropped_inactive = 0
        self.roots: list[_Node] = []
        self.patients: dict[str, _Node] = {}
        self.studies: dict[str, _Node] = {}
        self.series: dict[str, _Node] = {}
        self.instances: dict[str, _Node] = {}
        self.file_ids: set[tuple[str, ...]] = set()

    @classmethod
    def from_fileset(cls, fs: FileSet) -> _Tree:
        tree = cls()

        def convert(record: DirectoryRecord, parent: _Node | None) -> _Node | None:
            if not record.in_use:
                tree.dropped_inactive += 1  # (0004,1410) = 0000H: not kept when the DICOMDIR is rewritten
                return None
            keys = Dataset()
            extra: list[DataElement] = []
            for elem in record.dataset:
                if elem.tag >> 16 != 0x0004:
                    keys.add(elem)
                elif elem.tag not in _RECORD_STRUCTURE and elem.tag & 0xFFFF:
                    extra.append(elem)  # e.g. Private Record UID, Referenced Related General SOP Class UID
            refs = None
            if record.sop_instance_uid:
                refs = (str(record.sop_class_uid or ""), str(record.sop_instance_uid),
                        str(record.transfer_syntax_uid or ""))
            node = _Node(record.record_type, keys, parent=parent, file_id=record.file_id, references=refs,
                         extra=extra)
            for child in record.children:
                converted = convert(child, node)
                if converted is not None:
                    node.children.append(converted)
            return node

        for root in fs.roots:
            node = convert(root, None)
            if node is not None:
                tree.roots.append(node)
        tree.reindex()
        return tree

    def reindex(self) -> None:
        self.patients.clear()
        self.studies.clear()
        self.series.clear()
        self.instances.clear()
        self.file_ids.clear()
        for root in self.roots:
            for node in root.walk():
                t = node.record_type
                if t == "PATIENT":
                    self.patients.setdefault(str(node.keys.get("PatientID") or ""), node)
                elif t == "STUDY":
                    uid = node.keys.get("StudyInstanceUID") or _first_instance_value(node, "StudyInstanceUID")
                    if uid:
                        self.studies.setdefault(str(uid), node)
                elif t == "SERIES":
                    uid = node.keys.get("SeriesInstanceUID")
                    if uid:
                        self.series.setdefault(str(uid), node)
                if node.references is not None:
                    self.instances.setdefault(node.references[1], node)
                if node.file_id is not None:
                    self.file_ids.add(tuple(p.upper() for p in node.file_id))


def _first_instance_value(node: _Node, keyword: str) -> str | None:
    for child in node.walk():
        value = child.keys.get(keyword)
        if value:
            return str(value)
    return None


# ---------------------------------------------------------------------------------------------------
# Reading candidate instances


def _iter_files(sources: Iterable[str | os.PathLike[str]]) -> Iterator[FoundFile]:
    """Every file under the sources, classified without opening anything but regular files (io.files)."""
    return walk(sources, recursive=True)


def _load_instance(path: Path) -> Dataset:
    """The header of an instance, after checking that the reader accepts the whole file (a truncated file
    must not be copied into a File-set); the check indexes the elements without keeping them."""
    read(path, force=True)
    try:
        return read(path, stop_before_pixels=True)
    except DicomError:
        return read(path, stop_before_pixels=True, force=True)


def _without_source(exc: BaseException) -> str:
    """The reason of a read error without the file name (the problem line names the file already)."""
    if isinstance(exc, InvalidFileError):
        return exc.detail if exc.offset is None else f"offset {exc.offset} (0x{exc.offset:X}): {exc.detail}"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


def _value_text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    if value is None:
        return ""
    if isinstance(value, Sequence):
        return "sequence" if len(value) else ""
    return str(value).strip()


class _Inventor:
    """Values for missing Type 1 keys when asked to invent them, each one reported."""

    def __init__(self) -> None:
        self.counters: dict[str, int] = {}
        self.notes: list[str] = []

    def next(self, what: str) -> int:
        self.counters[what] = self.counters.get(what, 0) + 1
        return self.counters[what]

    def value(self, keyword: str, ds: Dataset, source: Path) -> object:
        today = _dt.datetime.now()
        if keyword == "PatientID":
            value: object = f"DKPAT{self.next(keyword):05d}"
        elif keyword == "StudyID":
            value = f"DKSTUDY{self.next(keyword):05d}"
        elif keyword in ("SeriesNumber", "InstanceNumber"):
            value = str(self.next(keyword))
        elif keyword == "Modality":
            value = "OT"
        elif keyword in ("StudyInstanceUID", "SeriesInstanceUID"):
            value = str(generate_uid())
        elif keyword.endswith("DateTime"):
            date, time = ds.get("ContentDate"), ds.get("ContentTime")
            value = f"{date}{time}" if date and time else today.strftime("%Y%m%d%H%M%S")
        elif keyword.endswith("Date"):
            value = next((str(ds.get(k)) for k in ("SeriesDate", "AcquisitionDate", "ContentDate",
                                                   "InstanceCreationDate") if ds.get(k)), today.strftime("%Y%m%d"))
        elif keyword.endswith("Time"):
            value = next((str(ds.get(k)) for k in ("SeriesTime", "AcquisitionTime", "ContentTime",
                                                   "InstanceCreationTime") if ds.get(k)), today.strftime("%H%M%S"))
        else:
            value = "UNKNOWN"
        self.notes.append(f"{source}: {keyword} missing, invented {value}")
        return value


def _keys(ds: Dataset, spec: tuple[tuple[str, str], ...], source: Path, problems: list[str],
          inventor: _Inventor | None) -> Dataset:
    """The record keys of ``spec`` taken from the instance header ``ds`` (PS3.3 F.5)."""
    keys = Dataset()
    for keyword, key_type in spec:
        if keyword == "VerificationDateTime":
            _verification_key(ds, keys, source, problems, inventor)
            continue
        present = keyword in ds
        if key_type == "1" and not _value_text(ds, keyword):
            if inventor is None:
                problems.append(f"{source}: Type 1 key {keyword} is missing or empty (use invent to make one up)")
                continue
            # invented from the instance's other values (dates, times), taken as they are there
            keys.add_new(keyword, keyword_vr(keyword) or "UN", inventor.value(keyword, ds, source), validate=False)
            continue
        if present:
            keys.add(ds[keyword].copy())
        elif key_type == "2":
            keys[keyword] = None
    return keys


def _verification_key(ds: Dataset, keys: Dataset, source: Path, problems: list[str],
                      inventor: _Inventor | None) -> None:
    """Verification DateTime of an SR DOCUMENT record (PS3.3 F.5.25): required when Verification Flag is
    VERIFIED, it is the most recent Verification DateTime (0040,A030) of the items of the Verifying Observer
    Sequence (0040,A073), where the SR Document General Module keeps it (PS3.3 C.17.2)."""
    if _value_text(ds, "VerificationFlag").upper() != "VERIFIED":
        return
    latest: tuple[_dt.datetime, str] | None = None
    observers = ds.get("VerifyingObserverSequence")
    for item in observers if isinstance(observers, Sequence) else ():
        text = _value_text(item, "VerificationDateTime")
        if not text:
            continue
        try:
            when = DT(text).datetime
        except (DicomError, ValueError):
            when = None
        if when is None:
            continue
        if when.tzinfo is not None:  # compare offsets on one clock
            when = when.astimezone(_dt.UTC).replace(tzinfo=None)
        if latest is None or when > latest[0]:
            latest = (when, text)
    if latest is not None:
        keys["VerificationDateTime"] = latest[1]
    elif inventor is not None:
        keys["VerificationDateTime"] = inventor.value("VerificationDateTime", ds, source)
    else:
        problems.append(f"{source}: Verification Flag is VERIFIED but no item of the Verifying Observer Sequence "
                        "has a Verification DateTime, which the SR DOCUMENT record needs (PS3.3 F.5.25; "
                        "use invent to make one up)")


def _needs_charset(keys: Dataset) -> bool:
    for elem in keys.iterall():
        if elem.vr.uses_charset and elem.value:
            text = "\\".join(str(v) for v in elem.value) if isinstance(elem.value, tuple) else str(elem.value)
            if not text.isascii():
                return True
    return False


def _with_charset(keys: Dataset, ds: Dataset) -> Dataset:
    # PS3.3 F.5: Specific Character Set (1C) when a key uses an extended or replacement character set.
    if ds.get("SpecificCharacterSet") and _needs_charset(keys):
        keys.add(ds["SpecificCharacterSet"].copy())
    return keys


# ---------------------------------------------------------------------------------------------------
# Planning and writing


class _Builder:
    def __init__(self, root: Path, tree: _Tree, invent: bool) -> None:
        self.root = root
        self.tree = tree
        self.inventor = _Inventor() if invent else None
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.taken: set[tuple[str, ...]] = {tuple(p.upper() for p in fid) for fid in tree.file_ids}
        self.sources: dict[str, Path] = {}  # SOP Instance UID -> the file it came from, in this operation

    def examine(self, path: Path, explicit: bool, file_id: tuple[str, ...] | None = None,
                found: FoundFile | None = None) -> _Instance | None:
        if found is not None and not found.is_dicom:
            if explicit or found.kind in (Kind.UNREADABLE, Kind.MISSING):
                self.problems.append(f"{path}: {found.reason}")
            else:
                self.notes.append(found.note)  # README files, JSON, ICC profiles, FIFOs, ...
            return None
        if found is not None and found.kind is Kind.DICOMDIR and not explicit:
            self.notes.append(f"{path}: skipped, a DICOMDIR")
            return None
        try:
            ds = _load_instance(path)
        except (DicomError, OSError) as exc:
            if explicit or found is not None:  # it looks like DICOM, but the reader refuses it: broken
                self.problems.append(f"{path}: not a readable DICOM file ({_without_source(exc)})")
            else:
                self.notes.append(f"{path}: skipped, not a DICOM file")
            return None
        if ds.file_meta is not None and str(ds.file_meta.value(0x00020002, "")).strip("\x00 ") == \
                MEDIA_STORAGE_DIRECTORY_STORAGE:
            self.notes.append(f"{path}: skipped, a DICOMDIR")
            return None
        sop_class = str(ds.get("SOPClassUID") or "").strip()
        sop_instance = str(ds.get("SOPInstanceUID") or "").strip()
        if not sop_class or not sop_instance:
            if explicit or ds.file_meta is not None:
                self.problems.append(f"{path}: no SOP Class UID or SOP Instance UID")
            else:  # found in a directory walk and only readable by guessing: not a DICOM instance
                self.notes.append(f"{path}: skipped, not a DICOM instance")
            return None
        record_type = record_type_for(sop_class, ds)
        if record_type is None:
            self.problems.append(f"{path}: no Directory Record Type is known for {UID(sop_class).name}")
            return None
        ts = str(ds.transfer_syntax or EXPLICIT_VR_LITTLE_ENDIAN)
        return _Instance(path, ds, record_type, sop_class, sop_instance, ts, file_id)

    def place(self, inst: _Instance) -> _Node | None:
        """Add a record for ``inst`` under its patient, study and series; None if it cannot be."""
        ds = inst.header
        if inst.sop_instance in self.tree.instances:
            earlier = self.sources.get(inst.sop_instance)
            where = f"as {earlier}" if earlier is not None else "in the File-set"
            self.problems.append(f"{inst.source}: SOP Instance UID {inst.sop_instance} is already {where}")
            return None
        count = len(self.problems)
        inventor = self.inventor
        patient_keys = _keys(ds, PATIENT_KEYS, inst.source, self.problems, inventor)
        study_keys = _keys(ds, STUDY_KEYS, inst.source, self.problems, inventor)
        series_keys = _keys(ds, SERIES_KEYS, inst.source, self.problems, inventor)
        leaf_keys = _keys(ds, LEAF_KEYS.get(inst.record_type, ()), inst.source, self.problems, inventor)
        if len(self.problems) > count:
            return None
        patient_id = str(patient_keys.get("PatientID"))
        study_uid = str(study_keys.get("StudyInstanceUID"))
        series_uid = str(series_keys.get("SeriesInstanceUID"))
        study = self.tree.studies.get(study_uid)
        if study is not None and study.parent is not None and \
                str(study.parent.keys.get("PatientID") or "") != patient_id:
            self.problems.append(f"{inst.source}: study {study_uid} already belongs to patient "
                                 f"{study.parent.keys.get('PatientID')!r}, not {patient_id!r} (PS3.3 F.5.2)")
            return None
        patient = self.tree.patients.get(patient_id)
        if patient is None:
            patient = _Node("PATIENT", _with_charset(patient_keys, ds))
            self.tree.roots.append(patient)
            self.tree.patients[patient_id] = patient
        if study is None:
            study = _Node("STUDY", _with_charset(study_keys, ds), parent=patient)
            patient.children.append(study)
            self.tree.studies[study_uid] = study
        series = self.tree.series.get(series_uid)
        if series is None:
            series = _Node("SERIES", _with_charset(series_keys, ds), parent=study)
            study.children.append(series)
            self.tree.series[series_uid] = series
        elif series.parent is not study:
            self.problems.append(f"{inst.source}: series {series_uid} is already in another study")
            return None
        leaf = _Node(inst.record_type, _with_charset(leaf_keys, ds), parent=series, file_id=inst.file_id)
        leaf.references = (inst.sop_class, inst.sop_instance, inst.transfer_syntax)
        series.children.append(leaf)
        self.tree.instances[inst.sop_instance] = leaf
        self.sources[inst.sop_instance] = inst.source
        return leaf

    def new_file_id(self, leaf: _Node) -> tuple[str, ...]:
        """A File ID in the layout DICOM/PATnnnnn/STUnnnnn/SERnnnnn/IMGnnnnn (PS3.10 8.2)."""
        series = leaf.parent
        assert series is not None and series.parent is not None and series.parent.parent is not None
        if series.directory is None:
            series.directory = self._series_directory(series)
        prefix = {"IMAGE": "IMG"}.get(leaf.record_type, "OBJ")
        return self._free(series.directory, prefix)

    def _series_directory(self, series: _Node) -> tuple[str, ...]:
        # Reuse the directory of the series' existing files when they share one.
        parents = {c.file_id[:-1] for c in series.children if c.file_id is not None}
        if len(parents) == 1:
            only = next(iter(parents))
            if only and all(is_file_id_component(p) for p in only) and len(only) < 8:
                return only
        study = series.parent
        assert study is not None and study.parent is not None
        if study.directory is None:
            patient = study.parent
            if patient.directory is None:
                patient.directory = self._free(("DICOM",), "PAT")
            study.directory = self._free(patient.directory, "STU")
        return self._free(study.directory, "SER")

    def _free(self, parent: tuple[str, ...], prefix: str) -> tuple[str, ...]:
        directory = self.root.joinpath(*parent)
        existing = {n.upper() for n in os.listdir(directory)} if directory.is_dir() else set()
        for number in range(1, 10 ** (8 - len(prefix))):
            name = f"{prefix}{number:0{8 - len(prefix)}d}"
            candidate = (*parent, name)
            if name not in existing and candidate not in self.taken:
                self.taken.add(candidate)
                return candidate
        raise FileSetError("File-set layout is full", [f"no free name {prefix}... under {'/'.join(parent)}"])


def _decompressed(inst: _Instance, ts: UID, decompress: Decompress | None, notes: list[str]) -> Dataset | None:
    """The instance with native pixel data through ``decompress``, or None (kept compressed, with a note)."""
    if decompress is None:
        notes.append(f"{inst.source}: kept in {ts.name} (STD-GEN-CD asks for Explicit VR Little Endian; "
                     "no decompress function was given: dicomkit.pixels.decompress, which needs numpy and "
                     "imagecodecs, pip install 'dicomkit[codecs]')")
        return None
    try:
        native = decompress(read(inst.source, force=True))
    except DicomError as exc:  # no codec for it, a broken stream, a missing codec library, ...
        notes.append(f"{inst.source}: kept in {ts.name}, not decompressed: {exc}")
        return None
    pixels = native.get(PIXEL_DATA)
    if isinstance(pixels, DataElement) and pixels.is_undefined_length:
        raise InvalidValueError(f"{inst.source}: the decompress function returned encapsulated Pixel Data")
    notes.append(f"{inst.source}: decompressed from {ts.name} to Explicit VR Little Endian")
    return native


def _copy_instance(inst: _Instance, target: Path, transcode: bool, notes: list[str],
                   decompress: Decompress | None = None) -> str:
    """Copy an instance into the File-set (temporary name, fsync, rename); returns the copy's transfer syntax.

    Native transfer syntaxes other than Explicit VR Little Endian are re-encoded to it when ``transcode``
    (STD-GEN-CD, PS3.11 D.3; lossless). Encapsulated ones are decompressed by ``decompress`` when given, else
    copied as they are, with a note. A data set without File Meta Information gets one (PS3.10 7.1).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    ts = UID(inst.transfer_syntax)
    info = ts.transfer_syntax if ts.is_transfer_syntax else None
    encapsulated = info is not None and info.encapsulated
    native = _decompressed(inst, ts, decompress, notes) if encapsulated and transcode else None
    as_is = native is None and (str(ts) == EXPLICIT_VR_LITTLE_ENDIAN or encapsulated or not transcode
                                or info is None)
    fd, tmp_name = tempfile.mkstemp(prefix=".dicomkit-", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            if as_is and inst.header.file_meta is not None:
                with open(inst.source, "rb") as src:
                    shutil.copyfileobj(src, f)
                result = str(ts)
            else:
                result = str(ts) if as_is and info is not None else EXPLICIT_VR_LITTLE_ENDIAN
                write(native if native is not None else read(inst.source, force=True), f, transfer_syntax=result)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if encapsulated and not transcode:
        notes.append(f"{inst.source}: kept in {ts.name} as asked (STD-GEN-CD asks for Explicit VR Little Endian)")
    elif not encapsulated and result != str(ts):
        notes.append(f"{inst.source}: re-encoded from {ts.name} to Explicit VR Little Endian")
    return result


def _record_dataset(node: _Node) -> Dataset:
    ds = Dataset()
    ds.add(DataElement(OFFSET_NEXT_RECORD, VR.UL, 0))
    ds.add(DataElement(RECORD_IN_USE_FLAG, VR.US, 0xFFFF))
    ds.add(DataElement(OFFSET_LOWER_LEVEL_ENTITY, VR.UL, 0))
    ds.add(DataElement(DIRECTORY_RECORD_TYPE, VR.CS, node.record_type))
    for elem in node.extra:
        ds.add(elem)
    if node.file_id is not None and node.references is not None:
        sop_class, sop_instance, ts = node.references
        ds.add(DataElement(REFERENCED_FILE_ID, VR.CS, list(node.file_id)))
        # the referenced file's own UIDs, as they are there (PS3.3 F.5)
        ds.add(DataElement(REFERENCED_SOP_CLASS_UID_IN_FILE, VR.UI, sop_class, validate=False))
        ds.add(DataElement(REFERENCED_SOP_INSTANCE_UID_IN_FILE, VR.UI, sop_instance, validate=False))
        if ts:
            ds.add(DataElement(REFERENCED_TRANSFER_SYNTAX_UID_IN_FILE, VR.UI, ts, validate=False))
    for elem in node.keys:
        ds.add(elem)
    return ds


def encode_dicomdir(roots: list[_Node], file_set_id: str, *, sop_instance_uid: str | None = None,
                    extra: Iterable[DataElement] = ()) -> bytes:
    """The DICOMDIR file for a record tree: records in depth-first order, offsets filled in (PS3.3 F.3).

    Encoded twice: first with zero offsets to learn where each record's Item starts (the offsets are
    fixed-size UL values, so filling them in moves nothing), then with the offsets.
    """
    order: list[_Node] = [node for root in roots for node in root.walk()]
    records = [_record_dataset(node) for node in order]
    ds = Dataset()
    ds.add(DataElement(FILE_SET_ID, VR.CS, file_set_id))
    for elem in extra:
        ds.add(elem)
    ds.add(DataElement(OFFSET_FIRST_ROOT_RECORD, VR.UL, 0))
    ds.add(DataElement(OFFSET_LAST_ROOT_RECORD, VR.UL, 0))
    ds.add(DataElement(FILE_SET_CONSISTENCY_FLAG, VR.US, 0))
    ds.add(DataElement(DIRECTORY_RECORD_SEQUENCE, VR.SQ, Sequence(records)))
    meta = Dataset()
    meta.add_new(0x00020001, "OB", b"\x00\x01")
    meta.add_new(0x00020002, "UI", MEDIA_STORAGE_DIRECTORY_STORAGE)
    meta.add_new(0x00020003, "UI", sop_instance_uid or str(generate_uid()))
    meta.add_new(0x00020010, "UI", EXPLICIT_VR_LITTLE_ENDIAN)
    ds.file_meta = meta
    options = {"transfer_syntax": EXPLICIT_VR_LITTLE_ENDIAN, "sequence_length": "defined"}
    first = to_bytes(ds, **options)
    offsets, _, _ = record_offsets(memoryview(first), EXPLICIT_LITTLE, "DICOMDIR")
    if len(offsets) != len(order):
        raise InvalidValueError(f"internal error: {len(order)} records encoded, {len(offsets)} found")
    where = {id(node): offset for node, offset in zip(order, offsets)}
    for node, record in zip(order, records):
        siblings = node.parent.children if node.parent is not None else roots
        index = next(i for i, s in enumerate(siblings) if s is node)
        next_offset = where[id(siblings[index + 1])] if index + 1 < len(siblings) else 0
        lower = where[id(node.children[0])] if node.children else 0
        record[OFFSET_NEXT_RECORD] = DataElement(OFFSET_NEXT_RECORD, VR.UL, next_offset)
        record[OFFSET_LOWER_LEVEL_ENTITY] = DataElement(OFFSET_LOWER_LEVEL_ENTITY, VR.UL, lower)
    ds[OFFSET_FIRST_ROOT_RECORD] = DataElement(OFFSET_FIRST_ROOT_RECORD, VR.UL, where[id(roots[0])] if roots else 0)
    ds[OFFSET_LAST_ROOT_RECORD] = DataElement(OFFSET_LAST_ROOT_RECORD, VR.UL, where[id(roots[-1])] if roots else 0)
    second = to_bytes(ds, **options)
    if len(second) != len(first):
        raise InvalidValueError("internal error: filling in the offsets changed the DICOMDIR's length")
    return second


def _check_written(path: Path, roots: list[_Node]) -> None:
    """Read the new DICOMDIR back and compare its tree with the one meant (never keep a broken one)."""
    fs = read_dicomdir(path)

    def shape_of_records(records: list[DirectoryRecord]) -> list[object]:
        return [(r.record_type, r.file_id, str(r.sop_instance_uid or ""), shape_of_records(r.children))
                for r in records]

    def shape_of_nodes(nodes: list[_Node]) -> list[object]:
        return [(n.record_type, n.file_id, n.references[1] if n.file_id and n.references else "",
                 shape_of_nodes(n.children)) for n in nodes]

    if shape_of_records(fs.roots) != shape_of_nodes(roots):
        raise InvalidValueError("internal error: the DICOMDIR read back differs from the one written")


def _write_dicomdir(root: Path, tree: _Tree, file_set_id: str, sop_instance_uid: str | None,
                    extra: Iterable[DataElement] = ()) -> Path:
    data = encode_dicomdir(tree.roots, file_set_id, sop_instance_uid=sop_instance_uid, extra=extra)
    target = root / "DICOMDIR"
    fd, tmp_name = tempfile.mkstemp(prefix=".DICOMDIR-", dir=root)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        _check_written(tmp, tree.roots)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def _check_file_set_id(file_set_id: str) -> str:
    if not _FILE_SET_ID.match(file_set_id):
        raise InvalidValueError(f"File-set ID {file_set_id!r}: at most 16 characters from A-Z, 0-9, _ and "
                                "space (PS3.10 8.2)")
    return file_set_id


# ---------------------------------------------------------------------------------------------------
# Public operations


def create_fileset(
    root: str | os.PathLike[str],
    sources: Iterable[str | os.PathLike[str]] = (),
    *,
    file_set_id: str = "",
    invent: bool = False,
    transcode: bool = True,
    decompress: Decompress | None = None,
) -> FileSetReport:
    """Make a File-set at ``root``: copy the DICOM files found under ``sources`` into the File-set layout
    and write its DICOMDIR (STD-GEN-CD, PS3.11 D.3).

    Without ``sources`` the files already under ``root`` are indexed where they are; their paths must
    then be valid File IDs. ``invent`` makes up missing Type 1 keys (each one reported) instead of
    refusing; ``transcode`` re-encodes native transfer syntaxes to Explicit VR Little Endian, and
    compressed ones too through ``decompress(dataset) -> dataset`` (e.g. :func:`dicomkit.pixels.decompress`)
    when given; a file it cannot decompress (it raises a DicomError) is copied as it is, with a note.
    """
    root = Path(root)
    _check_file_set_id(file_set_id)
    if (root / "DICOMDIR").exists():
        raise FileSetError("a DICOMDIR already exists", [f"{root / 'DICOMDIR'}: use add to change it"])
    root.mkdir(parents=True, exist_ok=True)
    tree = _Tree()
    builder = _Builder(root, tree, invent)
    report = FileSetReport(root / "DICOMDIR")
    sources = list(sources)
    in_place = not sources
    instances: list[_Instance] = []
    for found in _iter_files(sources or [root]):
        path, explicit = found.path, found.explicit
        file_id = None
        if in_place:
            rel = path.relative_to(root).parts
            if path.name.startswith(".") or rel == ("DICOMDIR",):
                continue
            if len(rel) > 8 or not all(is_file_id_component(p) for p in rel):
                inst = builder.examine(path, False, found=found)
                if inst is not None:
                    builder.problems.append(f"{path}: the path is not a valid File ID (at most 8 components of "
                                            "1-8 characters A-Z, 0-9, _; PS3.10 8.2); give the files as "
                                            "sources to copy them into a new File-set")
                continue
            file_id = rel
        inst = builder.examine(path, explicit, file_id, found=found)
        if inst is not None:
            instances.append(inst)
    _plan_and_write(builder, instances, root, tree, file_set_id, None, report, transcode, decompress=decompress)
    return report


def _plan_and_write(builder: _Builder, instances: list[_Instance], root: Path, tree: _Tree, file_set_id: str,
                    sop_instance_uid: str | None, report: FileSetReport, transcode: bool,
                    extra: Iterable[DataElement] = (), decompress: Decompress | None = None) -> None:
    leaves = [(inst, builder.place(inst)) for inst in instances]
    if builder.problems:
        raise FileSetError("File-set not changed; problems found", builder.problems)
    planned: list[tuple[_Instance, _Node]] = []
    for inst, leaf in leaves:
        assert leaf is not None
        if leaf.file_id is None:
            leaf.file_id = builder.new_file_id(leaf)
            planned.append((inst, leaf))
        else:
            report.added.append((str(inst.source), "\\".join(leaf.file_id)))
    report.notes += builder.notes
    if builder.inventor is not None:
        report.notes += builder.inventor.notes
    copied: list[Path] = []
    try:
        for inst, leaf in planned:
            assert leaf.file_id is not None and leaf.references is not None
            target = root.joinpath(*leaf.file_id)
            ts = _copy_instance(inst, target, transcode, report.notes, decompress)
            copied.append(target)
            leaf.references = (leaf.references[0], leaf.references[1], ts)
            report.added.append((str(inst.source), "\\".join(leaf.file_id)))
        report.dicomdir = _write_dicomdir(root, tree, file_set_id, sop_instance_uid, extra)
    except BaseException:
        for path in copied:  # leave the File-set as it was
            path.unlink(missing_ok=True)
        raise


def _open(root: str | os.PathLike[str]) -> tuple[Path, FileSet]:
    root = Path(root)
    path = root / "DICOMDIR" if root.is_dir() else root
    fs = read_dicomdir(path)
    return path.parent, fs


def _kept_elements(fs: FileSet) -> list[DataElement]:
    # File-set Descriptor File ID and its character set (PS3.3 F.3), and anything else that is not the
    # directory structure, survive an update.
    return [e for e in fs.dataset if e.tag not in _DIRECTORY_STRUCTURE and e.tag & 0xFFFF]


def _note_dropped(tree: _Tree, report: FileSetReport) -> None:
    if tree.dropped_inactive:
        report.notes.append(f"{tree.dropped_inactive} inactive directory record(s) (Record In-use Flag 0000H) "
                            "left out of the rewritten DICOMDIR")


def add_to_fileset(
    root: str | os.PathLike[str],
    sources: Iterable[str | os.PathLike[str]],
    *,
    invent: bool = False,
    transcode: bool = True,
    decompress: Decompress | None = None,
) -> FileSetReport:
    """Copy the DICOM files under ``sources`` into the File-set at ``root`` and rewrite its DICOMDIR (the
    options are those of :func:`create_fileset`)."""
    root_dir, fs = _open(root)
    tree = _Tree.from_fileset(fs)
    builder = _Builder(root_dir, tree, invent)
    report = FileSetReport(root_dir / "DICOMDIR")
    _note_dropped(tree, report)
    instances = [inst for found in _iter_files(sources)
                 if (inst := builder.examine(found.path, found.explicit, found=found)) is not None]
    meta_uid = str(fs.dataset.file_meta.value(0x00020003, "")) if fs.dataset.file_meta is not None else None
    _plan_and_write(builder, instances, root_dir, tree, fs.file_set_id, meta_uid or None, report, transcode,
                    _kept_elements(fs), decompress)
    return report


def encode_fileset(fs: FileSet) -> bytes:
    """The DICOMDIR of ``fs`` written anew: the same records, keys and File-set elements, every offset
    computed afresh (PS3.3 F.3.2), in Explicit VR Little Endian; inactive records are left out."""
    tree = _Tree.from_fileset(fs)
    meta_uid = str(fs.dataset.file_meta.value(0x00020003, "")) if fs.dataset.file_meta is not None else None
    return encode_dicomdir(tree.roots, fs.file_set_id, sop_instance_uid=meta_uid or None, extra=_kept_elements(fs))


def remove_from_fileset(
    root: str | os.PathLike[str],
    references: Iterable[str],
    *,
    delete_files: bool = False,
) -> FileSetReport:
    """Remove instances (by SOP Instance UID, File ID such as ``DICOM\\PAT00001\\...``, or path) from the
    File-set at ``root``: their records go, and so do series, studies and patients left empty.

    The files themselves stay unless ``delete_files``; each one kept is reported, as STD-GEN-CD wants
    every DICOM file of the File-set referenced.
    """
    root_dir, fs = _open(root)
    tree = _Tree.from_fileset(fs)
    by_file_id = {tuple(p.upper() for p in n.file_id): n for r in tree.roots for n in r.walk()
                  if n.file_id is not None}
    problems = []
    targets: list[_Node] = []
    for ref in references:
        node = tree.instances.get(ref.strip())
        if node is None:
            text = ref.strip()
            path = Path(text)
            if path.is_absolute() or (root_dir / path).exists():
                try:
                    rel = (path if path.is_absolute() else (root_dir / path)).resolve().relative_to(
                        root_dir.resolve()).parts
                except ValueError:
                    rel = ()
            else:
                rel = tuple(p for p in re.split(r"[\\/]", text) if p)
            node = by_file_id.get(tuple(p.upper() for p in rel))
        if node is None:
            problems.append(f"{ref}: no record in the File-set references it")
        elif node not in targets:
            targets.append(node)
    if problems:
        raise FileSetError("File-set not changed; problems found", problems)
    report = FileSetReport(root_dir / "DICOMDIR")
    _note_dropped(tree, report)
    for node in targets:
        assert node.file_id is not None
        parent = node.parent
        siblings = parent.children if parent is not None else tree.roots
        siblings.remove(node)
        while parent is not None and not parent.children and parent.file_id is None:
            grand = parent.parent
            (grand.children if grand is not None else tree.roots).remove(parent)
            parent = grand
        report.removed.append("\\".join(node.file_id))
    tree.reindex()
    meta_uid = str(fs.dataset.file_meta.value(0x00020003, "")) if fs.dataset.file_meta is not None else None
    report.dicomdir = _write_dicomdir(root_dir, tree, fs.file_set_id, meta_uid or None, _kept_elements(fs))
    for node in targets:
        assert node.file_id is not None
        path = fs.resolve(node.file_id)
        if delete_files:
            path.unlink(missing_ok=True)
            _remove_empty_dirs(path.parent, root_dir)
        else:
            report.notes.append(f"{path}: kept on disk but no longer referenced by the DICOMDIR")
    return report


def _remove_empty_dirs(directory: Path, root: Path) -> None:
    root = root.resolve()
    directory = directory.resolve()
    while directory != root and root in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent


__all__ = [
    "LEAF_KEYS",
    "Decompress",
    "FileSetError",
    "FileSetReport",
    "add_to_fileset",
    "create_fileset",
    "encode_dicomdir",
    "encode_fileset",
    "is_file_id_component",
    "record_type_for",
    "remove_from_fileset",
]

