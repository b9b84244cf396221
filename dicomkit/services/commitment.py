"""Storage Commitment Push Model (PS3.4 Annex J): the data of the N-ACTION request and the N-EVENT-REPORT.

The SCU asks with N-ACTION (Action Type ID 1, "Request Storage Commitment", PS3.4 J.3.2.1, Table J.3-1) on
the well-known SOP Instance :data:`WELL_KNOWN_INSTANCE`, with a Transaction UID and the Referenced SOP
Sequence of the instances to commit. The SCP answers later with N-EVENT-REPORT (J.3.3.1, Table J.3-2): Event
Type ID 1 when every instance is committed, 2 when some failed; the committed ones in the Referenced SOP
Sequence, the others in the Failed SOP Sequence with a Failure Reason (PS3.3 C.14.1.1,
:data:`FAILURE_REASONS`).

This module builds and reads those data sets (:class:`CommitmentRequest`, :class:`CommitmentReport`); the
check itself is a :class:`~dicomkit.services.sources.CommitmentSource`'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..core import uid
from ..core.dataset import Dataset
from ..core.errors import DicomError
from ..core.uid import UID, generate_uid


def _registered(keyword: str) -> UID:
    value = uid.by_keyword(keyword)
    if value is None:
        raise DicomError(f"no UID with keyword {keyword!r} in the registry")
    return value


SOP_CLASS = _registered("StorageCommitmentPushModel")
WELL_KNOWN_INSTANCE = _registered("StorageCommitmentPushModelInstance")

ACTION_REQUEST_STORAGE_COMMITMENT = 1  # PS3.4 J.3.2.1, Action Type ID
EVENT_SUCCESSFUL = 1  # PS3.4 J.3.3.1 Table J.3-2: "Storage Commitment Request Successful"
EVENT_FAILURES_EXIST = 2  # "Storage Commitment Request Complete - Failures Exist"

# PS3.3 C.14.1.1: the Enumerated Values of Failure Reason (0008,1197)
PROCESSING_FAILURE = 0x0110
NO_SUCH_OBJECT_INSTANCE = 0x0112
RESOURCE_LIMITATION = 0x0213
REFERENCED_SOP_CLASS_NOT_SUPPORTED = 0x0122
CLASS_INSTANCE_CONFLICT = 0x0119
DUPLICATE_TRANSACTION_UID = 0x0131
FAILURE_REASONS: dict[int, str] = {
    PROCESSING_FAILURE: "Processing failure",
    NO_SUCH_OBJECT_INSTANCE: "No such object instance",
    RESOURCE_LIMITATION: "Resource limitation",
    REFERENCED_SOP_CLASS_NOT_SUPPORTED: "Referenced SOP Class not supported",
    CLASS_INSTANCE_CONFLICT: "Class / Instance conflict",
    DUPLICATE_TRANSACTION_UID: "Duplicate transaction UID",
}

INVALID_ARGUMENT_VALUE = 0x0115  # PS3.7 10.1.4.1.10 (N-ACTION): the Action Information cannot be used
NO_SUCH_EVENT_TYPE = 0x0113  # PS3.7 10.1.1.1.8 (N-EVENT-REPORT)
NO_SUCH_ACTION = 0x0123

TRANSACTION_UID = 0x00081195
REFERENCED_SOP_SEQUENCE = 0x00081199
FAILED_SOP_SEQUENCE = 0x00081198
FAILURE_REASON = 0x00081197
REFERENCED_SOP_CLASS_UID = 0x00081150
REFERENCED_SOP_INSTANCE_UID = 0x00081155
RETRIEVE_AE_TITLE = 0x00080054
STORAGE_MEDIA_FILE_SET_ID = 0x00880130
STORAGE_MEDIA_FILE_SET_UID = 0x00880140


class CommitmentError(DicomError):
    """An N-ACTION or N-EVENT-REPORT data set that cannot be read; ``status`` is the DIMSE status to answer
    and ``offending`` the tags at fault."""

    def __init__(self, message: str, *, status: int = INVALID_ARGUMENT_VALUE, tags: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.offending = tags


@dataclass(frozen=True)
class SopReference:
    """One instance of a request: SOP Class and SOP Instance UIDs (and, rarely, the media it is on)."""

    sop_class_uid: str
    sop_instance_uid: str
    storage_media_file_set_id: str | None = None
    storage_media_file_set_uid: str | None = None


@dataclass(frozen=True)
class CommitmentResult:
    """The outcome for one reference: committed when ``failure_reason`` is None."""

    reference: SopReference
    failure_reason: int | None = None
    retrieve_ae_title: str | None = None

    @property
    def committed(self) -> bool:
        return self.failure_reason is None

    @property
    def reason_text(self) -> str:
        if self.failure_reason is None:
            return "committed"
        return FAILURE_REASONS.get(self.failure_reason, f"failure 0x{self.failure_reason:04X}")


@dataclass(frozen=True)
class CommitmentRequest:
    """The Action Information of a Storage Commitment request (PS3.4 Table J.3-1)."""

    transaction_uid: str
    references: tuple[SopReference, ...]

    @classmethod
    def new(cls, references: Iterable[SopReference | tuple[str, str]],
            transaction_uid: str | None = None) -> CommitmentRequest:
        refs = tuple(r if isinstance(r, SopReference) else SopReference(*r) for r in references)
        return cls(transaction_uid or str(generate_uid()), refs)

    def to_dataset(self) -> Dataset:
        ds = Dataset()
        ds.add_new(TRANSACTION_UID, "UI", self.transaction_uid)
        ds.add_new(REFERENCED_SOP_SEQUENCE, "SQ", [_reference_item(r) for r in self.references])
        return ds

    @classmethod
    def from_dataset(cls, ds: Dataset) -> CommitmentRequest:
        """Read an N-ACTION-RQ's Action Information; :class:`CommitmentError` (0x0115) when it cannot be."""
        transaction = _uid(ds, TRANSACTION_UID, "Transaction UID", required=True)
        assert transaction is not None
        items = _items(ds, REFERENCED_SOP_SEQUENCE, "Referenced SOP Sequence", required=True)
        if not items:
            raise CommitmentError("Referenced SOP Sequence (0008,1199) has no items (PS3.4 J.3.2.1)",
                                  tags=(REFERENCED_SOP_SEQUENCE,))
        return cls(transaction, tuple(_reference(item) for item in items))


@dataclass(frozen=True)
class CommitmentReport:
    """The Event Information of the result (PS3.4 Table J.3-2): committed and failed references."""

    transaction_uid: str
    committed: tuple[CommitmentResult, ...]
    failed: tuple[CommitmentResult, ...]
    retrieve_ae_title: str | None = None

    @classmethod
    def from_results(cls, transaction_uid: str, results: Iterable[CommitmentResult], *,
                     retrieve_ae_title: str | None = None) -> CommitmentReport:
        results = list(results)
        return cls(transaction_uid, tuple(r for r in results if r.committed),
                   tuple(r for r in results if not r.committed), retrieve_ae_title)

    @property
    def event_type_id(self) -> int:
        return EVENT_FAILURES_EXIST if self.failed else EVENT_SUCCESSFUL

    @property
    def results(self) -> tuple[CommitmentResult, ...]:
        return self.committed + self.failed

    def to_dataset(self) -> Dataset:
        ds = Dataset()
        ds.add_new(TRANSACTION_UID, "UI", self.transaction_uid)
        if self.retrieve_ae_title:
            ds.add_new(RETRIEVE_AE_TITLE, "AE", self.retrieve_ae_title)
        if self.committed or not self.failed:  # Referenced SOP Sequence: 1C, present unless everything failed
            items = []
            for r in self.committed:
                item = _reference_item(r.reference)
                if r.retrieve_ae_title and r.retrieve_ae_title != self.retrieve_ae_title:
                    item.add_new(RETRIEVE_AE_TITLE, "AE", r.retrieve_ae_title)
                items.append(item)
            ds.add_new(REFERENCED_SOP_SEQUENCE, "SQ", items)
        if self.failed:
            items = []
            for r in self.failed:
                item = _reference_item(r.reference, media=False)
                item.add_new(FAILURE_REASON, "US", r.failure_reason)
                items.append(item)
            ds.add_new(FAILED_SOP_SEQUENCE, "SQ", items)
        return ds

    @classmethod
    def from_dataset(cls, ds: Dataset, event_type_id: int | None = None) -> CommitmentReport:
        """Read an N-EVENT-REPORT-RQ's Event Information (``event_type_id`` checks it agrees)."""
        if event_type_id is not None and event_type_id not in (EVENT_SUCCESSFUL, EVENT_FAILURES_EXIST):
            raise CommitmentError(f"Event Type ID {event_type_id} is not a Storage Commitment event (PS3.4 J.3.3.1)",
                                  status=NO_SUCH_EVENT_TYPE)
        transaction = _uid(ds, TRANSACTION_UID, "Transaction UID", required=True)
        assert transaction is not None
        retrieve_ae = _text(ds, RETRIEVE_AE_TITLE)
        committed = []
        for item in _items(ds, REFERENCED_SOP_SEQUENCE, "Referenced SOP Sequence", required=False):
            committed.append(CommitmentResult(_reference(item), None, _text(item, RETRIEVE_AE_TITLE) or retrieve_ae))
        failed = []
        for item in _items(ds, FAILED_SOP_SEQUENCE, "Failed SOP Sequence", required=False):
            reason = item.value(FAILURE_REASON) if FAILURE_REASON in item else None
            if not isinstance(reason, int):
                raise CommitmentError("a Failed SOP Sequence item has no Failure Reason (0008,1197) (PS3.4 J.3.3.1)",
                                      tags=(FAILED_SOP_SEQUENCE, FAILURE_REASON))
            failed.append(CommitmentResult(_reference(item), int(reason)))
        report = cls(transaction, tuple(committed), tuple(failed), retrieve_ae)
        if event_type_id is not None and event_type_id != report.event_type_id:
            raise CommitmentError(f"Event Type ID {event_type_id} does not agree with the Event Information "
                                  f"({len(failed)} failed instance(s))", tags=(FAILED_SOP_SEQUENCE,))
        return report


def _reference_item(ref: SopReference, *, media: bool = True) -> Dataset:
    item = Dataset()
    item.add_new(REFERENCED_SOP_CLASS_UID, "UI", ref.sop_class_uid)
    item.add_new(REFERENCED_SOP_INSTANCE_UID, "UI", ref.sop_instance_uid)
    if media and ref.storage_media_file_set_id:
        item.add_new(STORAGE_MEDIA_FILE_SET_ID, "SH", ref.storage_media_file_set_id)
    if media and ref.storage_media_file_set_uid:
        item.add_new(STORAGE_MEDIA_FILE_SET_UID, "UI", ref.storage_media_file_set_uid)
    return item


def _reference(item: Dataset) -> SopReference:
    sop_class = _uid(item, REFERENCED_SOP_CLASS_UID, "Referenced SOP Class UID", required=True)
    sop_instance = _uid(item, REFERENCED_SOP_INSTANCE_UID, "Referenced SOP Instance UID", required=True)
    assert sop_class is not None and sop_instance is not None
    return SopReference(sop_class, sop_instance, _text(item, STORAGE_MEDIA_FILE_SET_ID),
                        _uid(item, STORAGE_MEDIA_FILE_SET_UID, "Storage Media File-Set UID", required=False))


def _text(ds: Dataset, tag: int) -> str | None:
    if tag not in ds:
        return None
    value = ds.value(tag)
    return str(value).strip() or None if value is not None else None


def _uid(ds: Dataset, tag: int, name: str, *, required: bool) -> str | None:
    text = _text(ds, tag)
    if text is None:
        if required:
            raise CommitmentError(f"{name} ({tag >> 16:04X},{tag & 0xFFFF:04X}) missing (PS3.4 J.3)", tags=(tag,))
        return None
    if not UID(text).is_valid:
        raise CommitmentError(f"{name} {text!r} is not a valid UID (PS3.5 9.1)", tags=(tag,))
    return text


def _items(ds: Dataset, tag: int, name: str, *, required: bool) -> list[Dataset]:
    if tag not in ds:
        if required:
            raise CommitmentError(f"{name} ({tag >> 16:04X},{tag & 0xFFFF:04X}) missing (PS3.4 J.3)", tags=(tag,))
        return []
    elem = ds[tag]
    if elem.vr != "SQ":
        raise CommitmentError(f"{name} is not a sequence", tags=(tag,))
    return list(elem.value)
