"""Storage Commitment Push Model (PS3.4 Annex J): the data of the N-ACTION request and the N-EVENT-REPORT.

The SCU asks with N-ACTION (Action Type ID 1, "Request Storage Commitment", PS3.4 J.3.2.1, Table J.3-1) on
the well-known SOP Instance :data:`WELL_KNOWN_INSTANCE`, with a Transaction UID and the Referenced SOP
Sequence of the instances to commit. The SCP answers later with N-EVENT-REPORT (J.3.3.1, Table J.3-2): Event
Type ID 1 when every instance is committed, 2 when some failed; the committed ones in the Referenced SOP
Sequence, the others in the Failed SOP Sequence with a Failure Reason (PS3.3 C.14.1.1,
:data:`FAILURE_REASONS`).

This module builds and reads those data sets (:class:`CommitmentRequest`, :class:`CommitmentReport`); the
check itself is a :class:`~dicomkit.services.sources.CommitmentSource`'s.

On the network:

- :class:`CommitmentSCP` answers the N-ACTION at once (Success, or 0115H / 0123H / 0112H for a request it
  cannot take), checks the instances with its source in the background and sends the N-EVENT-REPORT
  (:data:`REPORT_MODES`): on the same association (``same``), on a new one it opens to the requestor, found in
  the AE table by its calling AE title, proposing the SCP role (``new``, PS3.4 J.3.3), or on the same one while
  it is open and else on a new one (``auto``, the default).
- :func:`request_commitment` is the SCU: it sends the N-ACTION and waits for the report that carries its
  Transaction UID — on the same association, or on a :class:`CommitmentListener` (an SCP it runs to receive
  reports on new associations). :class:`CommitmentReportSCP` is the N-EVENT-REPORT handler both use.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..core import uid
from ..core.dataset import Dataset
from ..core.errors import DicomError, NetworkError, NetworkTimeout
from ..core.uid import UID, generate_uid
from ..net.ae import ApplicationEntity, Server
from ..net.association import DEFAULT_TIMEOUT, Association, Timeout
from ..net.negotiation import PresentationContext
from .dimse_n import (
    INVALID_SOP_INSTANCE,
    NO_SUCH_SOP_INSTANCE,
    NOutcome,
    NRequest,
    NResult,
    NServiceSCP,
    n_action,
    n_event_report,
)
from .sources import CommitmentSource, SyncCommitmentSource, ThreadedCommitmentSource
from .verification import VerificationSCP

if TYPE_CHECKING:
    from .aetable import AETable

log = logging.getLogger("dicomkit.services.commitment")




SOP_CLASS = uid.registered("StorageCommitmentPushModel")
WELL_KNOWN_INSTANCE = uid.registered("StorageCommitmentPushModelInstance")

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


# -- the network side (PS3.4 J.3) ------------------------------------------------------------------------------
ReportMode = Literal["same", "new", "auto"]
REPORT_MODES: tuple[ReportMode, ...] = ("same", "new", "auto")


def as_commitment_source(source: CommitmentSource | SyncCommitmentSource) -> CommitmentSource:
    if inspect.iscoroutinefunction(getattr(source, "check", None)):
        return source  # type: ignore[return-value]
    return ThreadedCommitmentSource(source)  # type: ignore[arg-type]


class CommitmentSCP(NServiceSCP):
    """The Storage Commitment Push Model SCP (see the module documentation).

    ``report``: where the N-EVENT-REPORT goes (:data:`REPORT_MODES`); ``ae_table`` gives the requestor's
    address for a new association (a requestor it does not list gets its report only on the same one);
    ``retrieve_ae_title`` goes into the report; ``ae_options`` configure the AE of new associations."""

    def __init__(self, source: CommitmentSource | SyncCommitmentSource, *, ae_table: AETable | None = None,
                 report: ReportMode = "auto", retrieve_ae_title: str | None = None,
                 ae_options: dict[str, Any] | None = None) -> None:
        if report not in REPORT_MODES:
            raise DicomError(f"report must be one of {', '.join(REPORT_MODES)}, not {report!r}")
        super().__init__([str(SOP_CLASS)])
        self.source = as_commitment_source(source)
        self.ae_table = ae_table
        self.report_mode = report
        self.retrieve_ae_title = retrieve_ae_title
        self.ae_options = dict(ae_options or {})
        self._tasks: set[asyncio.Task[None]] = set()
        self.reports_sent = 0

    async def n_action(self, req: NRequest) -> NOutcome:
        if req.sop_instance_uid != str(WELL_KNOWN_INSTANCE):
            return NOutcome.failure(NO_SUCH_SOP_INSTANCE, "not the Storage Commitment Push Model SOP Instance")
        if req.action_type_id != ACTION_REQUEST_STORAGE_COMMITMENT:
            return NOutcome.failure(NO_SUCH_ACTION, f"no action type {req.action_type_id} (PS3.4 J.3.2.1)")
        try:
            request = CommitmentRequest.from_dataset(req.dataset if req.dataset is not None else Dataset())
        except CommitmentError as exc:
            return NOutcome.failure(exc.status, str(exc), tags=exc.offending)
        if self.report_mode == "new" and (self.ae_table is None or self.ae_table.get(req.rc.calling_ae_title) is None):
            return NOutcome.failure(PROCESSING_FAILURE, f"{req.rc.calling_ae_title} is not in the AE table: "
                                    "no address for the report")
        task = asyncio.ensure_future(self._report(request, req))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return NOutcome()

    async def _report(self, request: CommitmentRequest, req: NRequest) -> None:
        rc = req.rc
        try:
            results = await self.source.check(request.references, req.requester)
        except DicomError as exc:
            log.warning("%s: storage commitment %s: the check failed: %s", rc.association_id,
                        request.transaction_uid, exc)
            results = [CommitmentResult(r, PROCESSING_FAILURE) for r in request.references]
        report = CommitmentReport.from_results(request.transaction_uid, results,
                                               retrieve_ae_title=self.retrieve_ae_title)
        data = report.to_dataset()
        same = rc.association
        try:
            result = None
            if self.report_mode == "same" or (self.report_mode == "auto" and same.is_established):
                try:
                    result = await n_event_report(same, str(SOP_CLASS), str(WELL_KNOWN_INSTANCE),
                                                  report.event_type_id, data)
                    how = "on the same association"
                except NetworkError:
                    if self.report_mode == "same":
                        raise
                    # auto: the requestor released the association meanwhile; a new one takes the report
            if result is None:
                result = await self._report_on_new(rc.calling_ae_title, rc.called_ae_title, report, data)
                how = "on a new association"
        except (NetworkError, DicomError) as exc:
            log.warning("%s: storage commitment %s: the report to %s could not be sent: %s", rc.association_id,
                        request.transaction_uid, rc.calling_ae_title, exc)
            return
        self.reports_sent += 1
        log.info("%s: storage commitment %s: %d committed, %d failed, reported %s (0x%04X)", rc.association_id,
                 request.transaction_uid, len(report.committed), len(report.failed), how, int(result.status))

    async def _report_on_new(self, calling: str, called: str, report: CommitmentReport,
                             data: Dataset) -> NResult:
        if self.ae_table is None:
            raise DicomError("no AE table: nowhere to open a new association")
        remote = self.ae_table.require(calling)
        ae = ApplicationEntity(called or "DICOMKIT", **self.ae_options)
        contexts = [PresentationContext(str(SOP_CLASS), ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"],
                                        scu_role=False, scp_role=True)]  # PS3.4 J.3.3: we are the SCP
        async with await remote.associate(ae, contexts) as assoc:
            return await n_event_report(assoc, str(SOP_CLASS), str(WELL_KNOWN_INSTANCE), report.event_type_id, data)

    async def drain(self) -> None:
        """Wait for the reports still being checked or sent (for an orderly shutdown)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


OnReport = Callable[[CommitmentReport], None]


class CommitmentReportSCP(NServiceSCP):
    """Receives Storage Commitment N-EVENT-REPORTs: each resolves the waiter of its Transaction UID
    (:meth:`expect`), and ``on_report`` sees every report (also ones nobody waits for)."""

    def __init__(self, on_report: OnReport | None = None) -> None:
        super().__init__([str(SOP_CLASS)], scp_role=True)
        self.on_report = on_report
        self.waiters: dict[str, asyncio.Future[CommitmentReport]] = {}

    def expect(self, transaction_uid: str) -> asyncio.Future[CommitmentReport]:
        future = self.waiters.get(transaction_uid)
        if future is None or future.done():
            future = self.waiters[transaction_uid] = asyncio.get_running_loop().create_future()
        return future

    def forget(self, transaction_uid: str) -> None:
        self.waiters.pop(transaction_uid, None)

    async def n_event_report(self, req: NRequest) -> NOutcome:
        if req.sop_instance_uid != str(WELL_KNOWN_INSTANCE):
            return NOutcome.failure(INVALID_SOP_INSTANCE, "not the Storage Commitment Push Model SOP Instance")
        try:
            report = CommitmentReport.from_dataset(req.dataset if req.dataset is not None else Dataset(),
                                                   req.event_type_id)
        except CommitmentError as exc:
            return NOutcome.failure(exc.status, str(exc), tags=exc.offending)
        future = self.waiters.pop(report.transaction_uid, None)
        if future is not None and not future.done():
            future.set_result(report)
        if self.on_report is not None:
            self.on_report(report)
        log.info("%s: storage commitment report %s from %s: %d committed, %d failed", req.rc.association_id,
                 report.transaction_uid, req.rc.calling_ae_title, len(report.committed), len(report.failed))
        return NOutcome()


class CommitmentListener:
    """An SCP that receives Storage Commitment reports on associations the commitment SCP opens:
    ``async with CommitmentListener("MYSCU", port=11113) as listener:`` then
    ``await request_commitment(assoc, refs, listener=listener)``."""

    def __init__(self, ae_title: str = "DICOMKIT", *, host: str = "0.0.0.0", port: int = 0, **ae_options: Any) -> None:
        self.ae = ApplicationEntity(ae_title, **ae_options)
        self.handler = CommitmentReportSCP()
        self.ae.add_service(self.handler)
        self.ae.add_service(VerificationSCP())
        self.host = host
        self.port = port
        self.server: Server | None = None

    async def __aenter__(self) -> CommitmentListener:
        self.server = await self.ae.start_server(self.host, self.port)
        self.port = self.server.port
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.server is not None:
            await self.server.close(grace=2.0)


async def request_commitment(assoc: Association, references: Iterable[SopReference | tuple[str, str]], *,
                             listener: CommitmentListener | None = None, wait: bool = True,
                             transaction_uid: str | None = None, timeout: float | None = 300.0,
                             dimse_timeout: Timeout | None = None) -> CommitmentReport | str:
    """N-ACTION "Request Storage Commitment" (PS3.4 J.3.2) for ``references`` and, with ``wait``, the report
    (PS3.4 J.3.3) — on ``assoc`` or on ``listener`` — within ``timeout`` seconds (NetworkTimeout after).
    Without ``wait`` the Transaction UID is returned at once. A refused N-ACTION raises
    :class:`~.dimse_n.NServiceFailed`."""
    request = CommitmentRequest.new(references, transaction_uid)
    waiters = [CommitmentReportSCP.install(assoc.ae)]
    if listener is not None:
        waiters.append(listener.handler)
    futures = [w.expect(request.transaction_uid) for w in waiters]
    try:
        result = await n_action(assoc, str(SOP_CLASS), str(WELL_KNOWN_INSTANCE), ACTION_REQUEST_STORAGE_COMMITMENT,
                                request.to_dataset(),
                                timeout=DEFAULT_TIMEOUT if dimse_timeout is None else dimse_timeout)
        result.raise_for_status()
        if not wait:
            return request.transaction_uid
        done, _ = await asyncio.wait(futures, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if not done:
            raise NetworkTimeout(f"no storage commitment report for {request.transaction_uid} within {timeout} s")
        return next(iter(done)).result()
    finally:
        for w in waiters:
            if wait:
                w.forget(request.transaction_uid)


def references_of(items: Sequence[Any]) -> list[SopReference]:
    """References from (SOP Class, SOP Instance) pairs, FileInfo / StoredObject objects or data sets."""
    out = []
    for item in items:
        if isinstance(item, SopReference):
            out.append(item)
        elif isinstance(item, tuple):
            out.append(SopReference(str(item[0]), str(item[1])))
        elif isinstance(item, Dataset):
            out.append(SopReference(str(item.value(0x00080016)), str(item.value(0x00080018))))
        else:
            out.append(SopReference(str(item.sop_class_uid), str(getattr(item, "sop_instance_uid", "") or "")))
    return out
