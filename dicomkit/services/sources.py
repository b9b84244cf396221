"""The data sources the SCPs of :mod:`dicomkit.services` take (PS3.4 Annexes C, F, J, K).

An SCP knows the protocol; a *source* knows the data. ``services`` never imports an archive: the PACS
server implements these protocols on its index and blob store, :mod:`dicomkit.services.memory_source`
implements them in memory and over a folder, and tests implement them however they like.

Every call carries a :class:`Requester` (who asked: AE titles, address, user identity, association id) so
that access control and audit can be applied in one place.

==========================  ====================================================================================
protocol                    what the SCP asks
==========================  ====================================================================================
:class:`QuerySource`        C-FIND (Query/Retrieve): the matches of a :class:`~.query_retrieve.plan.QueryPlan`,
                            one :class:`~dicomkit.Dataset` at a time, and which keys it cannot match
:class:`RowQuerySource`     the same, and the matches as rows of plain values (``find_rows``): the SCP writes
                            each response from the row (:mod:`~.query_retrieve.rows`)
:class:`WorklistSource`     Modality Worklist C-FIND: the same, over worklist items
:class:`RetrieveSource`     C-MOVE / C-GET: the instances of a plan as :class:`StoredObject`, and their count
:class:`MppsSource`         N-CREATE / N-SET / N-GET of Modality Performed Procedure Steps: records only; the
                            state rules (:mod:`dicomkit.services.mpps`) are the SCP's
:class:`CommitmentSource`   Storage Commitment: is each (SOP Class, SOP Instance) pair safely stored?
==========================  ====================================================================================

**Streaming and cancel.** ``find`` and ``retrieve`` are async iterators: the SCP sends each match as it
comes and keeps memory flat whatever the number of matches. On C-CANCEL (or a lost association) the SCP
stops iterating and closes the iterator (``await iterator.aclose()``): the ``finally`` of an async generator
runs then, and is where a source releases its cursor. A source must not read ahead more than it needs.

**Sync sources.** A source written without asyncio implements the ``Sync...`` protocols (plain iterators and
functions) and is wrapped by an adapter: its calls run in worker threads, its iterators are drained
in small batches (so one slow database never stalls the event loop) and closed when the SCP stops:
``ThreadedQuerySource(sync_source)`` and its siblings.
"""

from __future__ import annotations

import asyncio
import io
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, Protocol, TypeVar, runtime_checkable

from ..core.dataset import Dataset
from ..core.errors import DicomError

if TYPE_CHECKING:
    from ..net.handlers import RequestContext
    from .commitment import CommitmentResult, SopReference
    from .query_retrieve.plan import QueryPlan
    from .query_retrieve.rows import RowMatch

T = TypeVar("T")


@dataclass(frozen=True)
class Requester:
    """Who made a request, for access control and audit.

    ``user_identity`` is the user as the peer identified itself (PS3.7 D.3.3.7: the username, or the
    subject of a Kerberos ticket, SAML assertion or JWT; for DICOMweb the HTTP user) — never a passcode.
    ``association_id`` ties the log lines of one association (or HTTP request) together. ``labels`` restricts
    what the requester may see: only the studies that carry at least one of these labels (None: every study);
    the archive's sources apply it to every query, retrieval and count.
    """

    calling_ae_title: str = ""
    called_ae_title: str = ""
    address: str | None = None
    port: int | None = None
    user_identity: str | None = None
    user_identity_type: int | None = None  # PS3.7 Table D.3-14: 1 username ... 5 JWT
    association_id: str | None = None
    protocol: str = "dimse"  # or "dicomweb"
    labels: frozenset[str] | None = None  # sees only studies carrying one of these; None: all studies

    def __str__(self) -> str:
        who = self.calling_ae_title or self.user_identity or "?"
        where = f"@{self.address}" + (f":{self.port}" if self.port else "") if self.address else ""
        assoc = f" [{self.association_id}]" if self.association_id else ""
        return f"{who}{where}{assoc}"


LOCAL = Requester(calling_ae_title="", protocol="local")
"""The requester of calls made in-process (tools, tests)."""


@runtime_checkable
class Authorization(Protocol):
    """What an association check may leave in ``AssociationInfo.authorization`` so that the SCPs take the
    requester from it (the verified user, the studies it may see) instead of from the A-ASSOCIATE-RQ alone."""

    def requester(self, rc: RequestContext) -> Requester:
        """Who made the request ``rc``."""
        ...


class DuplicateInstanceError(DicomError):
    """A source was asked to create an instance whose SOP Instance UID it already holds (0x0111)."""


class NoSuchInstanceError(DicomError):
    """A source was asked to update an instance it does not hold (0x0112)."""


@dataclass(frozen=True)
class StoredObject:
    """A stored composite instance, as a retrieval sends it.

    It can be opened as a Part 10 stream (:meth:`open`), or read from :attr:`path` when the source has it
    as a file, or taken as :attr:`dataset` when it lives in memory. ``transfer_syntax`` is the one it is
    stored in (C-MOVE/C-GET propose it and transcode when the peer refuses it).
    """

    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax: str
    path: str | None = None
    size: int | None = None
    study_instance_uid: str | None = None
    series_instance_uid: str | None = None
    opener: Callable[[], BinaryIO] | None = field(default=None, compare=False, repr=False)
    dataset: Dataset | None = field(default=None, compare=False, repr=False)

    def open(self) -> BinaryIO:
        """The object as a Part 10 byte stream (the caller closes it)."""
        if self.opener is not None:
            return self.opener()
        if self.path is not None:
            return open(self.path, "rb")
        if self.dataset is not None:
            buf = io.BytesIO()
            self.dataset.save(buf, transfer_syntax=self.transfer_syntax)
            buf.seek(0)
            return buf
        raise DicomError(f"stored object {self.sop_instance_uid} has no path, opener or data set")

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> StoredObject:
        """A stored object for a Part 10 file (its header is read to find the UIDs and transfer syntax)."""
        from ..io.reader import read

        path = os.fspath(path)
        ds = read(path, stop_before_pixels=True)
        meta = ds.file_meta
        ts = str(meta.value(0x00020010, "") if meta is not None else "") or str(ds.transfer_syntax or "")
        return cls(str(ds.value(0x00080016, "") or (meta.value(0x00020002, "") if meta else "")),
                   str(ds.value(0x00080018, "") or (meta.value(0x00020003, "") if meta else "")),
                   ts.strip("\x00 "), path=path, size=os.path.getsize(path),
                   study_instance_uid=str(ds.value(0x0020000D, "") or "") or None,
                   series_instance_uid=str(ds.value(0x0020000E, "") or "") or None)


# -- the async protocols the SCPs take ---------------------------------------------------------------------
@runtime_checkable
class QuerySource(Protocol):
    """Answers C-FIND (Query/Retrieve information models)."""

    def unsupported_keys(self, plan: QueryPlan) -> frozenset[int]:
        """The tags of the plan's matching keys this source cannot match. The SCP matches the plan
        :meth:`~.query_retrieve.plan.QueryPlan.relaxed` by them and answers Pending 0xFF01 (PS3.4
        C.4.1.1.4). Unique and Required keys must be supported (C.2.2.1)."""
        ...

    def find(self, plan: QueryPlan, requester: Requester) -> AsyncIterator[Dataset]:
        """The matches of ``plan``, one data set per matching entity at the plan's level, holding (at least)
        the return keys the entity has a value for. The SCP builds the response Identifier from it with
        :func:`~.query_retrieve.matching.response_identifier`; a source may yield
        :func:`~.query_retrieve.matching.project` of its record."""
        ...


@runtime_checkable
class RowQuerySource(QuerySource, Protocol):
    """A query source whose matches are rows of a table (the archive's index). ``find_rows`` gives the
    matches ``find`` gives as :class:`~.query_retrieve.rows.RowMatch` (``find`` yields their ``dataset()``):
    the C-FIND SCP and QIDO-RS write each response straight from the row's values
    (:class:`~.query_retrieve.rows.IdentifierEncoder`, :class:`~.query_retrieve.rows.JsonEncoder`) instead of
    building and copying a data set per match."""

    def find_rows(self, plan: QueryPlan, requester: Requester) -> AsyncIterator[RowMatch]:
        """The matches of ``plan`` as rows, in the order and with the restrictions of ``find``."""
        ...


@runtime_checkable
class WorklistSource(QuerySource, Protocol):
    """Answers Modality Worklist C-FIND (PS3.4 K): ``find`` yields the matching worklist items."""


@runtime_checkable
class RetrieveSource(Protocol):
    """Serves C-MOVE and C-GET (PS3.4 C.4.2, C.4.3)."""

    def retrieve(self, plan: QueryPlan, requester: Requester) -> AsyncIterator[StoredObject]:
        """Every instance under the entities the plan identifies (its unique keys)."""
        ...

    async def count(self, plan: QueryPlan, requester: Requester) -> int:
        """How many instances :meth:`retrieve` will give: the first Number of Remaining Sub-operations."""
        ...


@runtime_checkable
class MppsSource(Protocol):
    """Keeps Modality Performed Procedure Step instances (PS3.4 F). The SCP applies the state rules of
    :mod:`dicomkit.services.mpps` and hands the source the complete data set to keep."""

    async def get(self, sop_instance_uid: str, requester: Requester) -> Dataset | None:
        """The instance's attributes, or None when it does not exist."""
        ...

    async def create(self, sop_instance_uid: str, dataset: Dataset, requester: Requester) -> None:
        """Keep a new instance; raise :class:`DuplicateInstanceError` when the UID exists (atomically)."""
        ...

    async def set(self, sop_instance_uid: str, dataset: Dataset, requester: Requester) -> None:
        """Replace the instance's attributes by ``dataset`` (the result of the N-SET); raise
        :class:`NoSuchInstanceError` when it does not exist."""
        ...


@runtime_checkable
class CommitmentSource(Protocol):
    """Checks the instances of a Storage Commitment request (PS3.4 J.3)."""

    async def check(self, references: Sequence[SopReference], requester: Requester) -> list[CommitmentResult]:
        """One result per reference, in order: committed, or failed with a Failure Reason (PS3.3 C.14.1.1)."""
        ...


# -- the same without asyncio -----------------------------------------------------------------------------
class SyncQuerySource(Protocol):
    def unsupported_keys(self, plan: QueryPlan) -> frozenset[int]: ...

    def find(self, plan: QueryPlan, requester: Requester) -> Iterator[Dataset]: ...


class SyncRetrieveSource(Protocol):
    def retrieve(self, plan: QueryPlan, requester: Requester) -> Iterator[StoredObject]: ...

    def count(self, plan: QueryPlan, requester: Requester) -> int: ...


class SyncMppsSource(Protocol):
    def get(self, sop_instance_uid: str, requester: Requester) -> Dataset | None: ...

    def create(self, sop_instance_uid: str, dataset: Dataset, requester: Requester) -> None: ...

    def set(self, sop_instance_uid: str, dataset: Dataset, requester: Requester) -> None: ...


class SyncCommitmentSource(Protocol):
    def check(self, references: Sequence[SopReference], requester: Requester) -> list[CommitmentResult]: ...


BATCH = 64  # items fetched per thread hop
BATCH_SECONDS = 0.05  # ... or fewer, when producing them takes longer (the first match goes out early)


async def iterate_in_thread(make: Callable[[], Iterator[T]], *, batch: int = BATCH) -> AsyncIterator[T]:
    """Drain a blocking iterator from worker threads, ``batch`` items (or :data:`BATCH_SECONDS`) at a time,
    closing it (in a thread, after any running batch) when the consumer stops."""
    lock = threading.Lock()
    iterator = await asyncio.to_thread(make)

    def take() -> list[T]:
        with lock:
            out: list[T] = []
            deadline = time.monotonic() + BATCH_SECONDS
            for item in iterator:
                out.append(item)
                if len(out) >= batch or time.monotonic() >= deadline:
                    break
            return out

    def close() -> None:
        with lock:
            closer = getattr(iterator, "close", None)
            if closer is not None:
                closer()

    try:
        while True:
            chunk = await asyncio.to_thread(take)
            if not chunk:
                return
            for item in chunk:
                yield item
    finally:
        await asyncio.shield(asyncio.to_thread(close))


class ThreadedQuerySource:
    """A :class:`SyncQuerySource` as a :class:`QuerySource` (and :class:`WorklistSource`)."""

    def __init__(self, source: SyncQuerySource, *, batch: int = BATCH) -> None:
        self.source = source
        self.batch = batch

    def unsupported_keys(self, plan: QueryPlan) -> frozenset[int]:
        return self.source.unsupported_keys(plan)

    def find(self, plan: QueryPlan, requester: Requester) -> AsyncIterator[Dataset]:
        return iterate_in_thread(lambda: iter(self.source.find(plan, requester)), batch=self.batch)


class ThreadedRetrieveSource:
    """A :class:`SyncRetrieveSource` as a :class:`RetrieveSource`."""

    def __init__(self, source: SyncRetrieveSource, *, batch: int = BATCH) -> None:
        self.source = source
        self.batch = batch

    def retrieve(self, plan: QueryPlan, requester: Requester) -> AsyncIterator[StoredObject]:
        return iterate_in_thread(lambda: iter(self.source.retrieve(plan, requester)), batch=self.batch)

    async def count(self, plan: QueryPlan, requester: Requester) -> int:
        return await asyncio.to_thread(self.source.count, plan, requester)


class ThreadedMppsSource:
    """A :class:`SyncMppsSource` as an :class:`MppsSource`."""

    def __init__(self, source: SyncMppsSource) -> None:
        self.source = source

    async def get(self, sop_instance_uid: str, requester: Requester) -> Dataset | None:
        return await asyncio.to_thread(self.source.get, sop_instance_uid, requester)

    async def create(self, sop_instance_uid: str, dataset: Dataset, requester: Requester) -> None:
        await asyncio.to_thread(self.source.create, sop_instance_uid, dataset, requester)

    async def set(self, sop_instance_uid: str, dataset: Dataset, requester: Requester) -> None:
        await asyncio.to_thread(self.source.set, sop_instance_uid, dataset, requester)


class ThreadedCommitmentSource:
    """A :class:`SyncCommitmentSource` as a :class:`CommitmentSource`."""

    def __init__(self, source: SyncCommitmentSource) -> None:
        self.source = source

    async def check(self, references: Sequence[SopReference], requester: Requester) -> list[CommitmentResult]:
        return await asyncio.to_thread(self.source.check, list(references), requester)
