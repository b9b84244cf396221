"""Sources in memory and over a folder of Part 10 files (see :mod:`dicomkit.services.sources`).

:class:`MemorySource` holds composite instances and builds the patient -> study -> series -> instance
hierarchy from their attributes (each attribute goes to the level of its Information Entity, see
:meth:`~.query_retrieve.levels.InformationModel.level_of`; the first instance of an entity gives the entity's
attributes). It computes the attributes of PS3.4 C.3 that no instance carries: Number of Patient Related
Studies / Series / Instances, Number of Study Related Series / Instances, Number of Series Related
Instances, Modalities in Study and SOP Classes in Study. It is a query, retrieve and commitment source,
and executes every plan with the one evaluator (:class:`~.query_retrieve.matching.Matcher`).

:class:`FolderSource` reads the header of each Part 10 file of a folder once (``stop_before_pixels``), keeps
a compact copy of it (values up to ``keep_values_up_to`` bytes, no pixel data) and opens the files only to
retrieve them. :class:`MemoryWorklistSource` and :class:`MemoryMppsSource` serve worklist items and
performed procedure steps.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from ..core.dataset import Dataset
from ..core.element import DataElement
from ..core.errors import DicomError
from ..core.uid import UID
from .commitment import CLASS_INSTANCE_CONFLICT, NO_SUCH_OBJECT_INSTANCE, CommitmentResult, SopReference
from .query_retrieve.levels import PATIENT_ROOT, Level
from .query_retrieve.matching import Matcher, project
from .query_retrieve.plan import QueryPlan
from .sources import DuplicateInstanceError, NoSuchInstanceError, Requester, StoredObject

YIELD_EVERY = 64  # matches between two yields to the event loop

PATIENT_ID, ISSUER_OF_PATIENT_ID = 0x00100020, 0x00100021
STUDY_UID, SERIES_UID, SOP_CLASS, SOP_INSTANCE = 0x0020000D, 0x0020000E, 0x00080016, 0x00080018
MODALITY = 0x00080060


# The attributes MemorySource computes (PS3.4 C.3): made for an entity only when a query asks for one of them.
COMPUTED_TAGS = frozenset({0x00201200, 0x00201202, 0x00201204, 0x00201206, 0x00201208, 0x00201209,
                           0x00080061, 0x00080062})


class EntityRecord:
    """What the evaluator reads for one entity: its own attributes first, then those of the entities above (for
    each, the computed attributes of PS3.4 C.3 before the instances' ones)."""

    __slots__ = ("computed", "generation", "nodes")

    def __init__(self, nodes: tuple[_Entity, ...], computed: Callable[[_Entity], Dataset], generation: int = 0) -> None:
        self.nodes = nodes
        self.computed = computed
        self.generation = generation  # the source's count of additions when it was made

    @property
    def layers(self) -> tuple[Dataset, ...]:
        out: list[Dataset] = []
        for node in self.nodes:
            if node.level is not Level.IMAGE:
                out.append(self.computed(node))
            out.append(node.attrs)
        return tuple(out)

    def get(self, key: int, default: object = None) -> object:
        if key.__class__ is not int:
            for layer in self.layers:
                elem = layer.get(key)
                if elem is not None:
                    return elem
            return default
        computed = key in COMPUTED_TAGS
        for node in self.nodes:
            if computed and node.level is not Level.IMAGE:
                elem = self.computed(node)._element(key)
                if elem is not None:
                    return elem
            elem = node.attrs._element(key)  # the tag lookup without key conversion: the hot path of queries
            if elem is not None:
                return elem
        return default


class _Entity:
    __slots__ = ("attrs", "children", "computed", "level", "parent", "record", "uid")

    def __init__(self, level: Level, uid: str, attrs: Dataset, parent: _Entity | None) -> None:
        self.level = level
        self.uid = uid
        self.attrs = attrs
        self.parent = parent
        self.children: dict[str, _Entity] = {}
        self.computed: Dataset | None = None
        self.record: EntityRecord | None = None  # made once, until an instance is added below it


class _Instance(_Entity):
    __slots__ = ("stored",)

    def __init__(self, uid: str, attrs: Dataset, parent: _Entity, stored: StoredObject) -> None:
        super().__init__(Level.IMAGE, uid, attrs, parent)
        self.stored = stored


def _text(ds: Dataset, tag: int) -> str:
    value = ds.value(tag) if tag in ds else None
    if isinstance(value, tuple):
        value = value[0] if value else None
    return str(value).strip("\x00 ") if value is not None else ""


class MemorySource:
    """Instances in memory as a query, retrieve and commitment source.

    ``retrieve_ae_title`` is what :meth:`check` reports as the place the committed instances can be
    retrieved from (an SCP also puts it in C-FIND responses).
    """

    def __init__(self, datasets: Iterable[Dataset] = (), *, retrieve_ae_title: str | None = None) -> None:
        self.retrieve_ae_title = retrieve_ae_title
        self._patients: dict[tuple[str, str], _Entity] = {}
        self._patients_by_id: dict[str, list[_Entity]] = {}
        self._studies: dict[str, _Entity] = {}
        self._series: dict[str, _Entity] = {}
        self._instances: dict[str, _Instance] = {}
        self._stale_records = 0
        for ds in datasets:
            self.add(ds)

    # -- building the hierarchy ----------------------------------------------------------------------------
    def add(self, dataset: Dataset, stored: StoredObject | None = None) -> StoredObject:
        """Add an instance (``stored`` says how to retrieve it; default: the data set itself). An instance
        whose SOP Instance UID is already held replaces nothing and is ignored; its stored object is returned."""
        sop_instance = _text(dataset, SOP_INSTANCE)
        sop_class = _text(dataset, SOP_CLASS)
        study_uid, series_uid = _text(dataset, STUDY_UID), _text(dataset, SERIES_UID)
        if not (sop_instance and sop_class and study_uid and series_uid):
            raise DicomError("an instance needs SOP Class, SOP Instance, Study Instance and Series Instance UIDs")
        if sop_instance in self._instances:
            return self._instances[sop_instance].stored
        if stored is None:
            ts = str(dataset.transfer_syntax or dataset.__dict__.get("read_transfer_syntax") or "1.2.840.10008.1.2.1")
            stored = StoredObject(sop_class, sop_instance, ts, study_instance_uid=study_uid,
                                  series_instance_uid=series_uid, dataset=dataset)
        patient_key = (_text(dataset, PATIENT_ID), _text(dataset, ISSUER_OF_PATIENT_ID))
        patient = self._patients.get(patient_key)
        if patient is None:
            patient = _Entity(Level.PATIENT, patient_key[0], _level_attrs(dataset, Level.PATIENT), None)
            self._patients[patient_key] = patient
            self._patients_by_id.setdefault(patient_key[0], []).append(patient)
        study = self._studies.get(study_uid)
        if study is None:
            study = _Entity(Level.STUDY, study_uid, _level_attrs(dataset, Level.STUDY), patient)
            self._studies[study_uid] = study
            patient.children[study_uid] = study
        series = self._series.get(series_uid)
        if series is None:
            series = _Entity(Level.SERIES, series_uid, _level_attrs(dataset, Level.SERIES), study)
            self._series[series_uid] = series
            study.children[series_uid] = series
        instance = _Instance(sop_instance, dataset, series, stored)
        self._instances[sop_instance] = instance
        series.children[sop_instance] = instance
        node: _Entity | None = series
        while node is not None:
            node.computed = None
            node = node.parent
        self._stale_records += 1
        return stored

    def __len__(self) -> int:
        return len(self._instances)

    def stored_object(self, sop_instance_uid: str) -> StoredObject | None:
        instance = self._instances.get(sop_instance_uid)
        return instance.stored if instance is not None else None

    def _computed(self, entity: _Entity) -> Dataset:
        if entity.computed is not None:
            return entity.computed
        ds = Dataset()
        if entity.level is Level.PATIENT:
            studies = list(entity.children.values())
            series = [s for st in studies for s in st.children.values()]
            ds.add_new(0x00201200, "IS", len(studies))
            ds.add_new(0x00201202, "IS", len(series))
            ds.add_new(0x00201204, "IS", sum(len(s.children) for s in series))
        elif entity.level is Level.STUDY:
            series = list(entity.children.values())
            modalities = sorted({m for s in series for m in _values(s.attrs, MODALITY)})
            classes = sorted({i.attrs.value(SOP_CLASS) for s in series for i in s.children.values()})
            ds.add_new(0x00201206, "IS", len(series))
            ds.add_new(0x00201208, "IS", sum(len(s.children) for s in series))
            ds.add_new(0x00080061, "CS", modalities)
            ds.add_new(0x00080062, "UI", [str(c).strip("\x00 ") for c in classes])
        elif entity.level is Level.SERIES:
            ds.add_new(0x00201209, "IS", len(entity.children))
        entity.computed = ds
        return ds

    def record(self, entity: _Entity) -> EntityRecord:
        cached = entity.record
        if cached is not None and cached.generation == self._stale_records:
            return cached
        nodes: list[_Entity] = []
        node: _Entity | None = entity
        while node is not None:
            nodes.append(node)
            node = node.parent
        entity.record = EntityRecord(tuple(nodes), self._computed, self._stale_records)
        return entity.record

    # -- executing plans -----------------------------------------------------------------------------------
    def _entities(self, level: Level) -> Iterable[_Entity]:
        # snapshots: instances may be added while a query streams its matches
        if level is Level.PATIENT:
            return tuple(self._patients.values())
        if level is Level.STUDY:
            return tuple(self._studies.values())
        if level is Level.SERIES:
            return tuple(self._series.values())
        return tuple(self._instances.values())

    def _lookup(self, level: Level, values: Sequence[str]) -> list[_Entity]:
        if level is Level.PATIENT:
            return [p for v in values for p in self._patients_by_id.get(v, ())]
        table: Mapping[str, _Entity]
        if level is Level.STUDY:
            table = self._studies
        elif level is Level.SERIES:
            table = self._series
        else:
            table = self._instances
        return [e for v in dict.fromkeys(values) if (e := table.get(v)) is not None]

    def _candidates(self, plan: QueryPlan, level: Level) -> Iterable[_Entity]:
        """Entities at ``level`` that may match, narrowed by the deepest unique key with values (the
        evaluator still checks every key)."""
        model_levels = plan.model.levels[: plan.model.levels.index(level) + 1]
        for lv in reversed(model_levels):
            values = plan.unique_values(lv)
            if values is None:
                continue
            found = self._lookup(lv, values)
            return found if lv is level else _descendants(found, level)
        return self._entities(level)

    def _matches(self, plan: QueryPlan, level: Level) -> Iterator[_Entity]:
        model = plan.model
        below = model.levels_below(level)
        lower = [k for k in plan.matching_keys if k.level in below]
        if not lower:
            matcher = plan.matcher
            for entity in self._candidates(plan, level):
                if matcher(self.record(entity)):
                    yield entity
            return
        upper = Matcher(plan, levels=model.levels[: model.levels.index(level) + 1])
        lower_matcher = Matcher(plan, levels=below)
        deepest = max((k.level for k in lower if k.level is not None), key=lambda lv: lv.depth)
        for entity in self._candidates(plan, level):
            if not upper(self.record(entity)):
                continue
            if any(lower_matcher(self.record(d)) for d in _descendants([entity], deepest)):
                yield entity

    def unsupported_keys(self, plan: QueryPlan) -> frozenset[int]:
        """Keys of unknown level (private or non-standard attributes) live with the instances: they can be
        matched at IMAGE level only."""
        if plan.level is Level.IMAGE or plan.level is None:
            return frozenset()
        return frozenset(k.tag for k in plan.matching_keys if PATIENT_ROOT.level_of(k.tag) is None)

    async def find(self, plan: QueryPlan, requester: Requester) -> AsyncIterator[Dataset]:
        if plan.level is None:
            raise DicomError("a MemorySource answers Query/Retrieve plans; use MemoryWorklistSource for worklists")
        for n, entity in enumerate(self._matches(plan, plan.level), 1):
            yield project(plan, self.record(entity))
            if n % YIELD_EVERY == 0:
                await asyncio.sleep(0)

    async def retrieve(self, plan: QueryPlan, requester: Requester) -> AsyncIterator[StoredObject]:
        if plan.level is None:
            raise DicomError("a retrieval plan has a level")
        n = 0
        for entity in self._matches(plan, plan.level):
            for instance in _descendants([entity], Level.IMAGE):
                assert isinstance(instance, _Instance)
                yield instance.stored
                n += 1
                if n % YIELD_EVERY == 0:
                    await asyncio.sleep(0)

    async def count(self, plan: QueryPlan, requester: Requester) -> int:
        if plan.level is None:
            return 0
        return sum(1 for entity in self._matches(plan, plan.level) for _ in _descendants([entity], Level.IMAGE))

    async def check(self, references: Sequence[SopReference], requester: Requester) -> list[CommitmentResult]:
        """Committed when the instance is held with the same SOP Class (PS3.4 J.3.2.2)."""
        out = []
        for ref in references:
            instance = self._instances.get(ref.sop_instance_uid)
            if instance is None:
                out.append(CommitmentResult(ref, NO_SUCH_OBJECT_INSTANCE))
            elif instance.stored.sop_class_uid != ref.sop_class_uid:
                out.append(CommitmentResult(ref, CLASS_INSTANCE_CONFLICT))
            else:
                out.append(CommitmentResult(ref, None, self.retrieve_ae_title))
        return out


def _values(ds: Dataset, tag: int) -> list[str]:
    value = ds.value(tag) if tag in ds else None
    if value is None or value == "":
        return []
    items = value if isinstance(value, tuple) else (value,)
    return [str(v) for v in items if str(v)]


def _level_attrs(ds: Dataset, level: Level) -> Dataset:
    """The attributes of an instance that belong to the entity at ``level`` (shared, not copied)."""
    out = Dataset()
    for tag in ds.tags():
        if PATIENT_ROOT.level_of(tag) is level:
            elem = ds.get(tag)
            if elem is not None:
                out.add(elem)
    return out


def _descendants(entities: Iterable[_Entity], level: Level) -> Iterator[_Entity]:
    for entity in entities:
        if entity.level is level:
            yield entity
        elif entity.level.depth < level.depth:
            yield from _descendants(tuple(entity.children.values()), level)


# -- a folder of Part 10 files ------------------------------------------------------------------------------
_BULK_VRS = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN"})


def detached(ds: Dataset, keep_values_up_to: int = 1024) -> Dataset:
    """A compact copy of a data set that holds no reference to the buffer it was read from: pixel data and
    binary values longer than ``keep_values_up_to`` bytes are left out; other values keep their bytes and
    decode on access."""
    out = Dataset()
    for elem in ds:
        tag = int(elem.tag)
        if tag >> 16 == 0x7FE0:
            continue
        if elem.vr == "SQ":
            out.add(DataElement(tag, "SQ", [detached(item, keep_values_up_to) for item in elem.value]))
            continue
        raw, src = elem.raw, elem.source
        if elem.vr in _BULK_VRS and (raw is None or len(raw) > keep_values_up_to):
            continue
        if raw is not None and src is not None:
            out.add(DataElement.from_raw(tag, elem.vr, bytes(raw), src))
        else:
            out.add(elem.copy())
    return out


class FolderSource(MemorySource):
    """The Part 10 files under ``root`` (recursively) as a query, retrieve and commitment source.

    The headers are read once, by :meth:`scan` (called at creation; call it again to pick up new files).
    Files that are not DICOM, or lack SOP or study/series UIDs, are listed in :attr:`skipped` with the reason.
    """

    def __init__(self, root: str | os.PathLike[str], *, recursive: bool = True, retrieve_ae_title: str | None = None,
                 keep_values_up_to: int = 1024) -> None:
        super().__init__(retrieve_ae_title=retrieve_ae_title)
        self.root = Path(root)
        self.recursive = recursive
        self.keep_values_up_to = keep_values_up_to
        self.skipped: list[tuple[str, str]] = []
        self._paths: set[str] = set()
        self.scan()

    def _files(self) -> Iterator[Path]:
        """The DICOM files under the root, by the one folder walker (FIFOs and devices are never opened);
        what it finds that is not DICOM is listed in :attr:`skipped` once."""
        from ..io.files import Kind, walk

        if not self.root.is_dir():
            raise DicomError(f"{self.root} is not a folder")
        for found in walk([self.root], recursive=self.recursive):
            if found.kind is Kind.DICOM:
                yield found.path
            elif found.kind is not Kind.DICOMDIR and str(found.path) not in self._paths:
                self._paths.add(str(found.path))
                self.skipped.append((str(found.path), found.reason))

    def scan(self) -> int:
        """Index the files not indexed yet; the number of instances added."""
        from ..io.reader import read

        added = 0
        for path in self._files():
            key = str(path)
            if key in self._paths or path.name == "DICOMDIR" or path.name.startswith(".dicomkit-"):
                continue
            self._paths.add(key)
            try:
                try:
                    ds = read(path, stop_before_pixels=True)
                except DicomError:
                    ds = read(path, stop_before_pixels=True, force=True)
                meta = ds.file_meta
                ts = str(meta.value(0x00020010, "") if meta is not None else "").strip("\x00 ")
                ts = ts or str(ds.__dict__.get("read_transfer_syntax") or "1.2.840.10008.1.2.1")
                header = detached(ds, self.keep_values_up_to)
                del ds
                sop_class, sop_instance = _text(header, SOP_CLASS), _text(header, SOP_INSTANCE)
                if not UID(sop_class).is_valid or not UID(sop_instance).is_valid:
                    raise DicomError("no valid SOP Class UID / SOP Instance UID")
                stored = StoredObject(sop_class, sop_instance, ts, path=key, size=path.stat().st_size,
                                      study_instance_uid=_text(header, STUDY_UID) or None,
                                      series_instance_uid=_text(header, SERIES_UID) or None)
                existing = self.stored_object(sop_instance)
                if existing is not None:
                    raise DicomError(f"SOP Instance UID {sop_instance} is also in {existing.path}")
                self.add(header, stored)
                added += 1
            except (DicomError, OSError) as exc:
                self.skipped.append((key, str(exc)))
        return added


# -- worklist items and performed procedure steps ------------------------------------------------------------
class MemoryWorklistSource:
    """Worklist items (data sets of the Modality Worklist model, PS3.4 K.6) as a worklist source."""

    def __init__(self, items: Iterable[Dataset] = ()) -> None:
        self.items: list[Dataset] = list(items)

    def add(self, item: Dataset) -> None:
        self.items.append(item)

    def unsupported_keys(self, plan: QueryPlan) -> frozenset[int]:
        return frozenset()

    async def find(self, plan: QueryPlan, requester: Requester) -> AsyncIterator[Dataset]:
        matcher = plan.matcher
        n = 0
        for item in list(self.items):
            if matcher(item):
                yield project(plan, item)
                n += 1
                if n % YIELD_EVERY == 0:
                    await asyncio.sleep(0)


class MemoryMppsSource:
    """Performed procedure steps in a dict (SOP Instance UID -> data set)."""

    def __init__(self) -> None:
        self.steps: dict[str, Dataset] = {}

    async def get(self, sop_instance_uid: str, requester: Requester) -> Dataset | None:
        ds = self.steps.get(sop_instance_uid)
        return ds.copy() if ds is not None else None

    async def create(self, sop_instance_uid: str, dataset: Dataset, requester: Requester) -> None:
        if sop_instance_uid in self.steps:
            raise DuplicateInstanceError(f"Performed Procedure Step {sop_instance_uid} exists")
        self.steps[sop_instance_uid] = dataset.copy()

    async def set(self, sop_instance_uid: str, dataset: Dataset, requester: Requester) -> None:
        if sop_instance_uid not in self.steps:
            raise NoSuchInstanceError(f"no Performed Procedure Step {sop_instance_uid}")
        self.steps[sop_instance_uid] = dataset.copy()
