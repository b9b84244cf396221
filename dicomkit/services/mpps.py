"""Modality Performed Procedure Step (PS3.4 Annex F.7): the states and the rules of N-CREATE and N-SET, as data.

A step is created IN PROGRESS (N-CREATE, F.7.2.1.3: any other status is refused with 0106H "Invalid
attribute value") and N-SET to COMPLETED or DISCONTINUED (F.7.2.2.3); once final it may no longer be updated:
an N-SET is refused with 0110H "Processing failure" and the Specific Error Comment of Table F.7.2-2
(Error ID A710). :data:`TRANSITIONS` is that state table.

:data:`ATTRIBUTES` transcribes the SCP requirements of Table F.7.2-1 ("N-CREATE, N-SET and Final State
Attributes"): the type at N-CREATE (1: present with a value, 2: present, 3: optional), whether N-SET may
change the attribute, and the type required once the status becomes final (the Performed Procedure Step End
Date and Time and a Performed Series Sequence with at least one item, F.7.2-1 Note 2). Attributes the table
does not name are type 3 for both operations ("all other attributes").

:func:`check_create` and :func:`check_set` return the :class:`Refusal` to answer (status, Error Comment,
Error ID, offending tags), or None; :func:`apply_set` merges a Modification List. The SCP keeps the result
in an :class:`~dicomkit.services.sources.MppsSource`.

On the network (PS3.4 F.7.2): :class:`MppsSCP` performs N-CREATE and N-SET of the MPPS SOP Class (and
N-GET of the MPPS Retrieve SOP Class) with these rules — a refusal is answered with its status, Error
Comment, Error ID and Attribute Identifier List / Offending Element, logged, and the association goes on;
N-SET of an instance it does not hold is 0112H No Such SOP Instance. Requests on one instance are performed
one at a time. :func:`create_step` and :func:`set_step` are the SCU calls, :func:`step_attributes` builds the
N-CREATE Attribute List of a modality::

    uid = await create_step(assoc, step_attributes(patient_id="P1", modality="CT", station_ae="CT1"))
    await set_step(assoc, uid, completion(series=[...]))
"""

from __future__ import annotations

import asyncio
import datetime
import inspect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from ..core import uid
from ..core.dataset import Dataset
from ..core.dictionary import tag_for_keyword
from ..core.errors import DicomError
from ..net.association import DEFAULT_TIMEOUT, Association, Timeout
from .dimse_n import (
    INVALID_SOP_INSTANCE,
    SOP_CLASS_NOT_SUPPORTED,
    NOutcome,
    NRequest,
    NResult,
    NServiceFailed,
    NServiceSCP,
    attributes_outcome,
    n_create,
    n_get,
    n_set,
)
from .sources import DuplicateInstanceError, MppsSource, NoSuchInstanceError, SyncMppsSource, ThreadedMppsSource

SOP_CLASS = uid.registered("ModalityPerformedProcedureStep")
RETRIEVE_SOP_CLASS = uid.registered("ModalityPerformedProcedureStepRetrieve")

STATUS_TAG = 0x00400252  # Performed Procedure Step Status

# PS3.7 Annex C / 10.1: the statuses the rules answer with
INVALID_ATTRIBUTE_VALUE = 0x0106
PROCESSING_FAILURE = 0x0110
DUPLICATE_SOP_INSTANCE = 0x0111
NO_SUCH_SOP_INSTANCE = 0x0112
MISSING_ATTRIBUTE = 0x0120
MISSING_ATTRIBUTE_VALUE = 0x0121
MAY_NO_LONGER_BE_UPDATED = 0xA710  # PS3.4 Table F.7.2-2, Error ID (0000,0903)


class MppsState(str, Enum):
    """Performed Procedure Step Status (0040,0252), PS3.3 C.4.14 Enumerated Values."""

    IN_PROGRESS = "IN PROGRESS"
    COMPLETED = "COMPLETED"
    DISCONTINUED = "DISCONTINUED"

    @property
    def is_final(self) -> bool:
        return self is not MppsState.IN_PROGRESS


@dataclass(frozen=True)
class Refusal:
    """What to answer instead of Success: ``status``, Error Comment, Error ID (0000,0903) and the tags for
    Offending Element / Attribute Identifier List."""

    status: int
    comment: str
    error_id: int | None = None
    tags: tuple[int, ...] = ()

    def __str__(self) -> str:
        return f"0x{self.status:04X}: {self.comment}"


NO_LONGER_UPDATABLE = Refusal(PROCESSING_FAILURE, "Performed Procedure Step Object may no longer be updated",
                              MAY_NO_LONGER_BE_UPDATED)
_CREATE_NOT_IN_PROGRESS = Refusal(INVALID_ATTRIBUTE_VALUE, "N-CREATE needs Performed Procedure Step Status "
                                  "IN PROGRESS (PS3.4 F.7.2.1.3)", tags=(STATUS_TAG,))

# (current state, status asked for) -> None when allowed, else the refusal. None as the current state is
# N-CREATE (no instance yet); None as the status asked for is an N-SET that leaves the status alone.
TRANSITIONS: dict[tuple[MppsState | None, MppsState | None], Refusal | None] = {
    (None, MppsState.IN_PROGRESS): None,
    (None, MppsState.COMPLETED): _CREATE_NOT_IN_PROGRESS,
    (None, MppsState.DISCONTINUED): _CREATE_NOT_IN_PROGRESS,
    (MppsState.IN_PROGRESS, None): None,
    (MppsState.IN_PROGRESS, MppsState.IN_PROGRESS): None,
    (MppsState.IN_PROGRESS, MppsState.COMPLETED): None,
    (MppsState.IN_PROGRESS, MppsState.DISCONTINUED): None,
    **{(final, asked): NO_LONGER_UPDATABLE
       for final in (MppsState.COMPLETED, MppsState.DISCONTINUED)
       for asked in (None, MppsState.IN_PROGRESS, MppsState.COMPLETED, MppsState.DISCONTINUED)},
}


@dataclass(frozen=True)
class MppsAttribute:
    """One row of Table F.7.2-1 (SCP column): ``create`` type at N-CREATE, ``settable`` whether N-SET may
    change it, ``final`` the type once the step is COMPLETED or DISCONTINUED (None: as at N-CREATE)."""

    tag: int
    keyword: str
    create: str
    settable: bool
    final: str | None = None
    items: tuple[MppsAttribute, ...] = ()


def _a(keyword: str, create: str, settable: bool, final: str | None = None, *items: MppsAttribute) -> MppsAttribute:
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise DicomError(f"unknown keyword {keyword!r} in the MPPS table")
    return MppsAttribute(tag, keyword, create, settable, final, tuple(items))


ATTRIBUTES: tuple[MppsAttribute, ...] = (
    # Performed Procedure Step Relationship
    _a("ScheduledStepAttributesSequence", "1", False, None,
       _a("StudyInstanceUID", "1", False),
       _a("ReferencedStudySequence", "2", False),
       _a("AccessionNumber", "2", False),
       _a("RequestedProcedureID", "2", False),
       _a("RequestedProcedureDescription", "2", False),
       _a("ScheduledProcedureStepID", "2", False),
       _a("ScheduledProcedureStepDescription", "2", False),
       _a("ScheduledProtocolCodeSequence", "2", False)),
    _a("PatientName", "2", False),
    _a("PatientID", "2", False),
    _a("IssuerOfPatientID", "3", False),
    _a("PatientBirthDate", "2", False),
    _a("PatientSex", "2", False),
    _a("ReferencedPatientSequence", "2", False),
    # Performed Procedure Step Information
    _a("PerformedProcedureStepID", "1", False),
    _a("PerformedStationAETitle", "1", False),
    _a("PerformedStationName", "2", False),
    _a("PerformedLocation", "2", False),
    _a("PerformedProcedureStepStartDate", "1", False),
    _a("PerformedProcedureStepStartTime", "1", False),
    _a("PerformedProcedureStepStatus", "1", True, "1"),
    _a("PerformedProcedureStepDescription", "2", True),
    _a("PerformedProcedureTypeDescription", "2", True),
    _a("ProcedureCodeSequence", "2", True),
    _a("PerformedProcedureStepEndDate", "2", True, "1"),
    _a("PerformedProcedureStepEndTime", "2", True, "1"),
    _a("CommentsOnThePerformedProcedureStep", "3", True),
    _a("PerformedProcedureStepDiscontinuationReasonCodeSequence", "3", True),
    # Image Acquisition Results
    _a("Modality", "1", False),
    _a("StudyID", "2", False),
    _a("PerformedProtocolCodeSequence", "2", True),
    _a("PerformedSeriesSequence", "2", True, "1",
       _a("PerformingPhysicianName", "2", True),
       _a("ProtocolName", "1", True),
       _a("OperatorsName", "2", True),
       _a("SeriesInstanceUID", "1", True),
       _a("SeriesDescription", "2", True),
       _a("RetrieveAETitle", "2", True),
       _a("ReferencedImageSequence", "2", True),
       _a("ReferencedNonImageCompositeSOPInstanceSequence", "2", True)),
)

_BY_TAG = {a.tag: a for a in ATTRIBUTES}


def state_of(ds: Dataset) -> MppsState | None:
    """The state a data set records, None when it has no (known) Performed Procedure Step Status."""
    value = ds.value(STATUS_TAG) if STATUS_TAG in ds else None
    try:
        return MppsState(str(value).strip()) if value else None
    except ValueError:
        return None


def _present(ds: Dataset, tag: int) -> bool:
    return tag in ds


def _has_value(ds: Dataset, tag: int) -> bool:
    if tag not in ds:
        return False
    value = ds.value(tag)
    return value is not None and value != "" and value != b"" and not (isinstance(value, list) and not value)


def _check_types(ds: Dataset, rows: tuple[MppsAttribute, ...], column: str, *, strict: bool,
                 missing_status: int, where: str) -> Refusal | None:
    for row in rows:
        kind = row.final if column == "final" and row.final is not None else row.create
        if kind == "1":
            if not _present(ds, row.tag):
                return Refusal(missing_status, f"{row.keyword} missing{where} (PS3.4 Table F.7.2-1)",
                               tags=(row.tag,))
            if not _has_value(ds, row.tag):
                return Refusal(MISSING_ATTRIBUTE_VALUE, f"{row.keyword} has no value{where} (PS3.4 Table F.7.2-1)",
                               tags=(row.tag,))
        elif kind == "2" and strict and not _present(ds, row.tag):
            return Refusal(missing_status, f"{row.keyword} missing{where} (PS3.4 Table F.7.2-1)", tags=(row.tag,))
        if row.items and _present(ds, row.tag) and ds[row.tag].vr == "SQ":
            for item in ds[row.tag].value:
                refusal = _check_types(item, row.items, column, strict=strict, missing_status=missing_status,
                                       where=f" in {row.keyword}{where}")
                if refusal is not None:
                    return refusal
    return None


def check_create(ds: Dataset, *, strict: bool = False) -> Refusal | None:
    """The refusal of an N-CREATE Attribute List, or None. Type 1 attributes are required with a value
    (0120H Missing Attribute / 0121H Missing Attribute Value); type 2 must be present only with ``strict``."""
    if not _present(ds, STATUS_TAG) or not _has_value(ds, STATUS_TAG):
        return Refusal(MISSING_ATTRIBUTE if not _present(ds, STATUS_TAG) else MISSING_ATTRIBUTE_VALUE,
                       "PerformedProcedureStepStatus missing (PS3.4 F.7.2.1.3)", tags=(STATUS_TAG,))
    asked = state_of(ds)
    if asked is None:
        return Refusal(INVALID_ATTRIBUTE_VALUE, f"PerformedProcedureStepStatus {str(ds.value(STATUS_TAG))!r} is not "
                       "IN PROGRESS, COMPLETED or DISCONTINUED", tags=(STATUS_TAG,))
    refusal = TRANSITIONS[(None, asked)]
    if refusal is not None:
        return refusal
    return _check_types(ds, ATTRIBUTES, "create", strict=strict, missing_status=MISSING_ATTRIBUTE, where="")


def check_set(current: Dataset, modification: Dataset) -> Refusal | None:
    """The refusal of an N-SET Modification List on the step ``current``, or None.

    The step must be IN PROGRESS (else 0110H with Error ID A710); attributes that Table F.7.2-1 does not let
    N-SET change are refused with 0106H unless sent with their current value; a status that makes the step
    final needs the final-state attributes in the merged step (0121H).
    """
    state = state_of(current)
    asked: MppsState | None = None
    if STATUS_TAG in modification:
        asked = state_of(modification)
        if asked is None:
            return Refusal(INVALID_ATTRIBUTE_VALUE, f"PerformedProcedureStepStatus "
                           f"{str(modification.value(STATUS_TAG))!r} is not IN PROGRESS, COMPLETED or DISCONTINUED",
                           tags=(STATUS_TAG,))
    refusal = TRANSITIONS.get((state, asked), NO_LONGER_UPDATABLE)
    if refusal is not None:
        return refusal
    for elem in modification:
        row = _BY_TAG.get(int(elem.tag))
        if row is None or row.settable:
            continue
        if int(elem.tag) in current and current[int(elem.tag)] == elem:
            continue  # sent again unchanged: nothing is modified
        return Refusal(INVALID_ATTRIBUTE_VALUE, f"{row.keyword} may not be changed by N-SET (PS3.4 Table F.7.2-1)",
                       tags=(row.tag,))
    if asked is not None and asked.is_final:
        merged = apply_set(current, modification)
        refusal = _check_types(merged, ATTRIBUTES, "final", strict=False, missing_status=MISSING_ATTRIBUTE_VALUE,
                               where=f" to set {asked.value}")
        if refusal is not None:
            return refusal
        series = merged.value(0x00400340) if 0x00400340 in merged else None
        if not series:
            return Refusal(MISSING_ATTRIBUTE_VALUE, f"PerformedSeriesSequence needs an item to set {asked.value} "
                           "(PS3.4 Table F.7.2-1 Note 2)", tags=(0x00400340,))
    return None


def apply_set(current: Dataset, modification: Dataset) -> Dataset:
    """The step after an N-SET: each attribute of the Modification List replaces the current one (a
    sequence as a whole, PS3.7 10.1.3); a zero-length value clears it."""
    merged = current.copy()
    for elem in modification:
        merged.add(elem.copy())
    return merged


# -- the SCP (PS3.4 F.7.2) ------------------------------------------------------------------------------------
def _outcome(refusal: Refusal) -> NOutcome:
    return NOutcome.failure(refusal.status, refusal.comment, tags=refusal.tags, error_id=refusal.error_id)


def as_mpps_source(source: MppsSource | SyncMppsSource) -> MppsSource:
    if inspect.iscoroutinefunction(getattr(source, "create", None)):
        return source  # type: ignore[return-value]
    return ThreadedMppsSource(source)  # type: ignore[arg-type]


class MppsSCP(NServiceSCP):
    """The Modality Performed Procedure Step SCP over an :class:`~.sources.MppsSource` (see the module doc).

    ``strict``: N-CREATE also needs the type 2 attributes of Table F.7.2-1 present (default: type 1 only,
    as most modalities send)."""

    def __init__(self, source: MppsSource | SyncMppsSource, *, strict: bool = False,
                 transfer_syntaxes: Sequence[str] | None = None) -> None:
        from .registry import REGISTRY

        super().__init__(REGISTRY.sop_classes("mpps", role="scp"), transfer_syntaxes=transfer_syntaxes)
        self.source = as_mpps_source(source)
        self.strict = strict
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, sop_instance_uid: str) -> asyncio.Lock:
        lock = self._locks.get(sop_instance_uid)
        if lock is None:
            if len(self._locks) > 4096:  # forget the idle ones
                self._locks = {k: v for k, v in self._locks.items() if v.locked()}
            lock = self._locks[sop_instance_uid] = asyncio.Lock()
        return lock

    async def n_create(self, req: NRequest) -> NOutcome:
        if req.sop_class_uid != str(SOP_CLASS):
            return NOutcome.failure(SOP_CLASS_NOT_SUPPORTED, "N-CREATE is for the MPPS SOP Class")
        ds = req.dataset if req.dataset is not None else Dataset()
        refusal = check_create(ds, strict=self.strict)
        if refusal is not None:
            return _outcome(refusal)
        instance = req.request.affected_sop_instance_uid or str(uid.generate_uid())
        if not uid.UID(instance).is_valid:
            return NOutcome.failure(INVALID_SOP_INSTANCE, f"{instance[:40]!r} is not a valid UID")
        async with self._lock(instance):
            try:
                await self.source.create(instance, ds, req.requester)
            except DuplicateInstanceError:
                return NOutcome.failure(DUPLICATE_SOP_INSTANCE, f"Performed Procedure Step {instance} exists")
        return NOutcome(affected_sop_instance_uid=instance)

    async def n_set(self, req: NRequest) -> NOutcome:
        if req.sop_class_uid != str(SOP_CLASS):
            return NOutcome.failure(SOP_CLASS_NOT_SUPPORTED, "N-SET is for the MPPS SOP Class")
        instance = req.sop_instance_uid or ""
        modification = req.dataset if req.dataset is not None else Dataset()
        async with self._lock(instance):
            current = await self.source.get(instance, req.requester)
            if current is None:
                return NOutcome.failure(NO_SUCH_SOP_INSTANCE, f"no Performed Procedure Step {instance}")
            refusal = check_set(current, modification)
            if refusal is not None:
                return _outcome(refusal)
            try:
                await self.source.set(instance, apply_set(current, modification), req.requester)
            except NoSuchInstanceError:
                return NOutcome.failure(NO_SUCH_SOP_INSTANCE, f"no Performed Procedure Step {instance}")
        return NOutcome()

    async def n_get(self, req: NRequest) -> NOutcome:
        """PS3.4 F.8 (MPPS Retrieve): the attributes asked for, or all; unknown ones listed with 0107H."""
        instance = req.sop_instance_uid or ""
        current = await self.source.get(instance, req.requester)
        if current is None:
            return NOutcome.failure(NO_SUCH_SOP_INSTANCE, f"no Performed Procedure Step {instance}")
        return attributes_outcome(current, req.attribute_identifiers)


# -- the SCU ---------------------------------------------------------------------------------------------------
def step_attributes(*, patient_id: str = "", patient_name: str = "", modality: str, station_ae: str,
                    step_id: str | None = None, study_instance_uid: str | None = None, accession_number: str = "",
                    scheduled_step_id: str = "", description: str = "", start: datetime.datetime | None = None,
                    station_name: str = "", birth_date: str = "", sex: str = "") -> Dataset:
    """The N-CREATE Attribute List of a step IN PROGRESS (every type 1 and type 2 attribute of Table F.7.2-1)."""
    start = start or datetime.datetime.now()
    ds = Dataset()
    item = Dataset()
    item.StudyInstanceUID = study_instance_uid or str(uid.generate_uid())
    item.ReferencedStudySequence = []
    item.AccessionNumber = accession_number
    item.RequestedProcedureID = ""
    item.RequestedProcedureDescription = ""
    item.ScheduledProcedureStepID = scheduled_step_id
    item.ScheduledProcedureStepDescription = ""
    item.ScheduledProtocolCodeSequence = []
    ds.ScheduledStepAttributesSequence = [item]
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.PatientBirthDate = birth_date
    ds.PatientSex = sex
    ds.ReferencedPatientSequence = []
    ds.PerformedProcedureStepID = step_id or start.strftime("%H%M%S%f")[:16]
    ds.PerformedStationAETitle = station_ae
    ds.PerformedStationName = station_name
    ds.PerformedLocation = ""
    ds.PerformedProcedureStepStartDate = start.strftime("%Y%m%d")
    ds.PerformedProcedureStepStartTime = start.strftime("%H%M%S")
    ds.PerformedProcedureStepStatus = MppsState.IN_PROGRESS.value
    ds.PerformedProcedureStepDescription = description
    ds.PerformedProcedureTypeDescription = ""
    ds.ProcedureCodeSequence = []
    ds.PerformedProcedureStepEndDate = ""
    ds.PerformedProcedureStepEndTime = ""
    ds.Modality = modality
    ds.StudyID = ""
    ds.PerformedProtocolCodeSequence = []
    ds.PerformedSeriesSequence = []
    return ds


def completion(status: MppsState | str = MppsState.COMPLETED, *, series: Iterable[Dataset | dict[str, Any]] = (),
               end: datetime.datetime | None = None) -> Dataset:
    """The N-SET Modification List that ends a step: the status, the end date and time, the Performed Series
    Sequence (``series`` items: data sets, or mappings of keywords such as SeriesInstanceUID, ProtocolName)."""
    end = end or datetime.datetime.now()
    ds = Dataset()
    ds.PerformedProcedureStepStatus = MppsState(status).value
    ds.PerformedProcedureStepEndDate = end.strftime("%Y%m%d")
    ds.PerformedProcedureStepEndTime = end.strftime("%H%M%S")
    items = []
    for entry in series:
        if isinstance(entry, Dataset):
            items.append(entry)
            continue
        item = Dataset()
        for keyword in ("PerformingPhysicianName", "OperatorsName", "SeriesDescription", "RetrieveAETitle"):
            setattr(item, keyword, "")
        item.ReferencedImageSequence = []
        item.ReferencedNonImageCompositeSOPInstanceSequence = []
        for keyword, value in entry.items():
            setattr(item, keyword, value)
        items.append(item)
    if items:
        ds.PerformedSeriesSequence = items
    return ds


async def create_step(assoc: Association, attributes: Dataset, *, sop_instance_uid: str | None = None,
                      timeout: Timeout = DEFAULT_TIMEOUT) -> str:
    """N-CREATE a step (PS3.4 F.7.2.1); its SOP Instance UID. :class:`~.dimse_n.NServiceFailed` on refusal."""
    result = await n_create(assoc, str(SOP_CLASS), attributes, sop_instance_uid=sop_instance_uid or
                            str(uid.generate_uid()), timeout=timeout)
    result.raise_for_status()
    assert result.affected_sop_instance_uid is not None
    return result.affected_sop_instance_uid


async def set_step(assoc: Association, sop_instance_uid: str, modification: Dataset, *,
                   timeout: Timeout = DEFAULT_TIMEOUT) -> NResult:
    """N-SET a step (PS3.4 F.7.2.2). :class:`~.dimse_n.NServiceFailed` on refusal."""
    return (await n_set(assoc, str(SOP_CLASS), sop_instance_uid, modification, timeout=timeout)).raise_for_status()


async def get_step(assoc: Association, sop_instance_uid: str, attributes: Iterable[int] = (), *,
                   timeout: Timeout = DEFAULT_TIMEOUT) -> Dataset:
    """N-GET a step (MPPS Retrieve SOP Class, PS3.4 F.8)."""
    result = await n_get(assoc, str(RETRIEVE_SOP_CLASS), sop_instance_uid, attributes, timeout=timeout)
    result.raise_for_status()
    return result.dataset if result.dataset is not None else Dataset()


__all__ = ["ATTRIBUTES", "NO_LONGER_UPDATABLE", "RETRIEVE_SOP_CLASS", "SOP_CLASS", "TRANSITIONS", "MppsAttribute",
           "MppsSCP", "MppsState", "NServiceFailed", "Refusal", "apply_set", "check_create", "check_set",
           "completion", "create_step", "get_step", "set_step", "state_of", "step_attributes"]
