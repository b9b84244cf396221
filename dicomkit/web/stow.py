"""STOW-RS (PS3.18 10.5): ``POST /studies`` and ``POST /studies/{study}``.

The body is read as it arrives (:class:`~.multipart.MultipartReader`). An ``application/dicom`` part of
up to :data:`SMALL` bytes is kept in memory and stored with the parts around it, a batch at a time, by
:meth:`~dicomkit.server.ingest.Archive.ingest_batch` (one hop to a worker per batch; the batch shares its
index commits); a larger one streams into a temporary file of the blob store, hashed on the way (the file,
and its data set after the File Meta Information: what duplicates compare), and is stored by
:meth:`~dicomkit.server.ingest.Archive.ingest_temp`. Both take the very steps and consistency promise of a
C-STORE, with the same duplicates policy, while the next parts are still arriving; at most
:data:`MAX_PENDING` batches or large parts are being stored at a time, so memory stays flat whatever the
body's size.

A body of ``application/dicom+json`` (an array of data sets, PS3.18 F) with bulk data parts (their
``Content-Location`` the BulkDataURIs of the JSON) is stored the same way once complete; bulk data parts
are spooled to temporary files.

The answer (PS3.18 10.5.3): a DICOM JSON data set with Retrieve URL, Referenced SOP Sequence (each stored
instance with its Retrieve URL, and a Warning Reason where the archive answered a warning status; an
identical copy of a stored instance is a success, as for C-STORE) and Failed
SOP Sequence (each refused instance with its Failure Reason: the C-STORE status the archive gave);
200 when every instance was stored, 202 when some were and others failed, 409 when none was.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from typing import IO, Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from ..core.errors import DicomError
from ..io.raw import meta_end
from ..server.blobs import TempBlob
from ..server.ingest import META_UNREADABLE, NO_META_UIDS, NOT_PART10, Stored
from ..services.sources import Requester
from .common import authorize, json_response, service_root, web_of
from .errors import WebError
from .media import DICOM, DICOM_JSON, DICOM_XML, JSON, MULTIPART_RELATED, parse_media_type
from .multipart import MultipartError, MultipartReader, PartEnd, PartStart

log = logging.getLogger("dicomkit.web")

WRITE_BATCH = 1 << 20
SMALL = 1 << 20  # a part up to this size is kept in memory and stored in a batch
BATCH_PARTS = 64  # a batch is handed to the archive at this many parts ...
BATCH_BYTES = 8 << 20  # ... or bytes
MAX_PENDING = 4  # batches or large parts being stored while the next ones arrive
HEAD = 1 << 16  # bytes kept to find the end of the File Meta Information
PROCESSING_FAILURE = 0x0110  # PS3.7 C.4 (PS3.18 Table 10.5.3-2: Failure Reason)
NOT_AUTHORIZED = 0x0124  # PS3.7 C.5: Refused: Not Authorized
STUDY_MISMATCH = 0xA900  # Error: Data Set does not match SOP Class / the study the request names
CANNOT_UNDERSTAND = 0xC000


@dataclass
class Outcome:
    sop_class_uid: str
    sop_instance_uid: str
    study_instance_uid: str | None
    status: int
    comment: str | None = None
    outcome: str = ""


@dataclass
class _Incoming:
    """One application/dicom part: in memory while it is small, then written into the store."""

    temp: TempBlob | None = None
    memory: list[bytes] = field(default_factory=list)
    memory_bytes: int = 0
    file_hash: Any = field(default_factory=hashlib.sha256)
    content_hash: Any = None
    head: bytearray = field(default_factory=bytearray)
    offset: int | None = None
    size: int = 0
    pending: list[bytes] = field(default_factory=list)
    pending_bytes: int = 0
    refused: str | None = None
    uids: tuple[str, str, str] | None = None  # read from the head in memory when it holds them


class Stow:
    """The handling of one STOW-RS request."""

    def __init__(self, request: Request, study: str | None, requester: Requester) -> None:
        self.request = request
        self.requester = requester
        self.new_studies: set[str] = set()  # studies this request created (they get a restricted user's labels)
        self._seen: dict[str, bool] = {}
        self.web = web_of(request)
        self.study = study
        self.archive = self.web.archive.archive
        self.outcomes: list[Outcome] = []
        self.tasks: list[asyncio.Future[list[Outcome]]] = []
        self.batch: list[bytes] = []  # complete small parts not yet handed to the archive
        self.batch_bytes = 0
        self.json_parts: list[bytes] = []
        self.bulk: dict[str, tuple[IO[bytes], str]] = {}
        self.loop = asyncio.get_running_loop()

    async def run_blocking(self, fn: Any, *args: Any) -> Any:
        return await self.loop.run_in_executor(self.archive.executor, fn, *args)

    # -- the body ----------------------------------------------------------------------------------------
    async def read(self, boundary: str, limit: int) -> None:
        reader = MultipartReader(boundary)
        part_type: str | None = None
        incoming: _Incoming | None = None
        collected: bytearray | None = None
        spool: IO[bytes] | None = None
        received = 0
        try:
            async for chunk in self.request.stream():
                received += len(chunk)
                if limit and received > limit:
                    raise WebError(413, f"the body is larger than the {limit} bytes this server takes (web.max_upload)")
                for event in reader.feed(chunk):
                    if isinstance(event, PartStart):
                        part_type, params = parse_media_type(event.content_type or DICOM)
                        if part_type == DICOM:
                            incoming = _Incoming()
                        elif part_type in (DICOM_JSON, JSON):
                            collected = bytearray()
                        elif part_type == DICOM_XML:
                            raise WebError(415, "application/dicom+xml parts are not taken; send application/dicom "
                                           "or application/dicom+json")
                        else:
                            location = event.headers.get("content-location", "")
                            spool = tempfile.SpooledTemporaryFile(max_size=1 << 20)  # noqa: SIM115 (closed in finish)
                            self.bulk[location] = (spool, params.get("transfer-syntax", ""))
                    elif isinstance(event, PartEnd):
                        if incoming is not None:
                            await self._finish_part(incoming)
                            incoming = None
                        elif collected is not None:
                            self.json_parts.append(bytes(collected))
                            collected = None
                        elif spool is not None:
                            spool.seek(0)
                            spool = None
                    elif incoming is not None:
                        await self._write(incoming, event)
                    elif collected is not None:
                        collected += event
                        if len(collected) > 64 << 20:
                            raise WebError(413, "a DICOM JSON part is larger than 64 MB")
                    elif spool is not None:
                        spool.write(event)
            reader.close()
            await self._flush_batch()
        except ClientDisconnect:
            raise WebError(400, "the client closed the connection before the body was complete") from None
        except MultipartError as exc:
            raise WebError(400, f"the body is not a well-formed multipart/related message: {exc}") from None
        finally:
            if incoming is not None and incoming.temp is not None:
                incoming.temp.discard()

    async def _write(self, part: _Incoming, data: bytes) -> None:
        if part.temp is None:
            part.memory.append(data)
            part.memory_bytes += len(data)
            if part.memory_bytes <= SMALL:
                return
            part.temp = await self.run_blocking(self.archive.store.create_temp)  # a large part: streamed
            chunks, part.memory = part.memory, []
            for chunk in chunks:
                await self._stream(part, chunk)
            return
        await self._stream(part, data)

    async def _stream(self, part: _Incoming, data: bytes) -> None:
        assert part.temp is not None
        if part.offset is None:
            part.head += data
            if len(part.head) < HEAD:
                return
            self._start_content(part)
            data = bytes(part.head)
            part.head = bytearray()
            part.file_hash.update(data)
        else:
            part.file_hash.update(data)
            if part.content_hash is not None:
                part.content_hash.update(data)
        part.size += len(data)
        part.pending.append(data)
        part.pending_bytes += len(data)
        if part.pending_bytes >= WRITE_BATCH:
            chunks, part.pending, part.pending_bytes = part.pending, [], 0
            await self.run_blocking(part.temp.write, chunks)

    def _start_content(self, part: _Incoming) -> None:
        """The first :data:`HEAD` bytes of a large part: where its data set starts, and its UIDs."""
        head = part.head
        if len(head) < 132 or head[128:132] != b"DICM":
            part.refused = NOT_PART10
            part.offset = len(head)
            return
        try:
            part.offset = meta_end(head)
        except DicomError as exc:
            part.refused = f"{META_UNREADABLE}: {exc}"
            part.offset = len(head)
            return
        part.content_hash = hashlib.sha256(memoryview(head)[part.offset:])
        part.uids = _head_uids(head)

    async def _finish_part(self, part: _Incoming) -> None:
        if part.temp is None:
            data = b"".join(part.memory)
            self.batch.append(data)
            self.batch_bytes += len(data)
            if len(self.batch) >= BATCH_PARTS or self.batch_bytes >= BATCH_BYTES:
                await self._flush_batch()
            return
        await self._flush_batch()  # the answers keep the body's order
        if part.pending:
            await self.run_blocking(part.temp.write, part.pending)
            part.pending = []
        if part.refused is not None:
            part.temp.discard()
            refused: asyncio.Future[list[Outcome]] = self.loop.create_future()  # answered in the body's order
            refused.set_result([Outcome("", "", None, CANNOT_UNDERSTAND, part.refused, "refused")])
            self.tasks.append(refused)
            return
        assert part.content_hash is not None and part.offset is not None  # SMALL >= HEAD: the head was read
        await self._hand_over(self._store, part.temp, part.size, part.file_hash.hexdigest(),
                              part.content_hash.hexdigest(), part.offset, part.uids)

    async def _flush_batch(self) -> None:
        if self.batch:
            batch, self.batch, self.batch_bytes = self.batch, [], 0
            await self._hand_over(self._store_batch, batch)

    async def _hand_over(self, fn: Any, *args: Any) -> None:
        """``fn(*args)`` in a worker, once fewer than :data:`MAX_PENDING` are being stored."""
        while len(running := [t for t in self.tasks if not t.done()]) >= MAX_PENDING:
            await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
        self.tasks.append(self.loop.run_in_executor(self.archive.executor, fn, *args))

    def _store(self, temp: TempBlob, size: int, file_hash: str, content_hash: str, offset: int,
               uids: tuple[str, str, str] | None) -> list[Outcome]:
        """A large part: check the study, then the archive's ingest (a worker thread)."""
        uids = uids or _uids(temp.path)
        if uids is None:
            temp.discard()
            return [Outcome("", "", None, CANNOT_UNDERSTAND, NO_META_UIDS, "refused")]
        sop_class, sop_instance, study = uids
        refused = self._refusal(sop_class, sop_instance, study)
        if refused is not None:
            temp.discard()
            return [refused]
        stored: Stored = self.archive.ingest_temp(temp, size=size, file_hash=file_hash, content_hash=content_hash,
                                                  dataset_offset=offset)
        return [Outcome(sop_class, sop_instance, study, stored.status, stored.comment, stored.outcome)]

    def _store_batch(self, objects: list[bytes]) -> list[Outcome]:
        """Small parts (a worker thread): the archive checks each, asks :meth:`_admit`, and stores it."""
        return [Outcome(s.sop_class_uid, s.sop_instance_uid, s.study_instance_uid or None, s.status, s.comment,
                        s.outcome) for s in self.archive.ingest_batch(objects, admit=self._admit)]

    def _admit(self, record: Any) -> Stored | None:
        refused = self._refusal(record.sop_class_uid, record.sop_instance_uid, record.study_instance_uid)
        if refused is None:
            return None
        return Stored(refused.status, refused.comment, "refused", refused.sop_instance_uid,
                      sop_class_uid=refused.sop_class_uid, study_instance_uid=refused.study_instance_uid or "")

    def _refusal(self, sop_class: str, sop_instance: str, study: str) -> Outcome | None:
        """Why an instance of ``study`` may not be stored by this request, or None."""
        if self.study is not None and study != self.study:
            return Outcome(sop_class, sop_instance, study, STUDY_MISMATCH,
                           f"the instance belongs to study {study}, not {self.study} named by the request", "refused")
        if not self._may_store(study):
            return _not_authorized(sop_class, sop_instance, study)
        return None

    # -- DICOM JSON + bulk data ----------------------------------------------------------------------------
    def _store_json(self) -> list[Outcome]:
        from ..io.json_model import datasets_from_json

        out = []
        for text in self.json_parts:
            try:
                datasets = datasets_from_json(text, bulk_data_reader=self._bulk_reader)
            except (DicomError, ValueError) as exc:
                out.append(Outcome("", "", None, CANNOT_UNDERSTAND, f"the DICOM JSON cannot be read: {exc}",
                                   "refused"))
                continue
            for ds in datasets:
                out.append(self._store_dataset(ds))
        return out

    def _bulk_reader(self, tag: Any, vr: Any, uri: str) -> bytes:
        entry = self.bulk.get(uri)
        if entry is None:
            entry = next((v for k, v in self.bulk.items() if k and (uri.endswith(k) or k.endswith(uri))), None)
        if entry is None:
            raise DicomError(f"no bulk data part has Content-Location {uri!r}")
        f = entry[0]
        f.seek(0)
        return f.read()

    def _store_dataset(self, ds: Any) -> Outcome:
        sop_class = str(ds.value(0x00080016, "") or "")
        sop_instance = str(ds.value(0x00080018, "") or "")
        study = str(ds.value(0x0020000D, "") or "") or None
        if self.study is not None and study != self.study:
            return Outcome(sop_class, sop_instance, study, STUDY_MISMATCH,
                           f"the instance belongs to study {study}, not {self.study} named by the request", "refused")
        if study is not None and not self._may_store(study):
            return _not_authorized(sop_class, sop_instance, study)
        meta = ds.file_meta
        ts = str(meta.value(0x00020010, "") if meta is not None else "") or next(
            (t for _f, t in self.bulk.values() if t), "") or "1.2.840.10008.1.2.1"
        try:
            from ..io.writer import to_bytes

            data = to_bytes(ds, transfer_syntax=ts)
        except DicomError as exc:
            return Outcome(sop_class, sop_instance, study, CANNOT_UNDERSTAND, f"cannot encode the data set: {exc}",
                           "refused")
        temp = self.archive.store.create_temp()
        try:
            temp.write([data])
        except OSError:
            temp.discard()
            raise
        offset = meta_end(data)
        stored = self.archive.ingest_temp(temp, size=len(data), file_hash=hashlib.sha256(data).hexdigest(),
                                          content_hash=hashlib.sha256(memoryview(data)[offset:]).hexdigest(),
                                          dataset_offset=offset)
        return Outcome(sop_class, sop_instance, study, stored.status, stored.comment, stored.outcome)

    def _may_store(self, study: str) -> bool:
        """A user restricted to labels stores into new studies and those it sees, never into others'
        (a worker thread; the answer is kept for the request)."""
        labels = self.requester.labels
        if labels is None:
            return True
        known = self._seen.get(study)
        if known is not None:
            return known
        from ..server.auth.labels import Visibility, labels_of

        db = self.archive.index.read()
        exists = db.scalar("SELECT pk FROM studies WHERE study_instance_uid = ?", (study,)) is not None
        allowed = not exists or Visibility(labels).sees(labels_of(db, study))
        if not exists:
            self.new_studies.add(study)
        self._seen[study] = allowed
        return allowed

    async def finish(self) -> list[Outcome]:
        for task in self.tasks:
            self.outcomes += await task
        if self.json_parts:
            self.outcomes += await self.run_blocking(self._store_json)
        for f, _ts in self.bulk.values():
            f.close()
        return self.outcomes

    async def abandon(self) -> None:
        """After an error: store the complete parts read so far, and let those handed to the archive finish."""
        try:
            await self._flush_batch()
        except Exception as exc:
            log.warning("the complete STOW-RS parts of an abandoned request were not stored: %s", exc)
        for task in self.tasks:
            try:
                self.outcomes += await task
            except Exception as exc:
                log.warning("a STOW-RS part failed while the request was abandoned: %s", exc)
        for f, _ts in self.bulk.values():
            f.close()


def _not_authorized(sop_class: str, sop_instance: str, study: str) -> Outcome:
    return Outcome(sop_class, sop_instance, study, NOT_AUTHORIZED, f"study {study} exists and is not one this "
                   "user may see: it may not store into it", "refused")


def _head_uids(head: bytearray) -> tuple[str, str, str] | None:
    """SOP Class, SOP Instance and Study Instance UIDs from the first bytes of a part; None when they do not
    hold them all (the file is read then)."""
    from ..io.reader import read_buffer

    try:
        ds = read_buffer(memoryview(bytes(head)), stop_before_pixels=True, prefix=True)
    except DicomError:
        return None
    return _uids_of(ds) if ds is not None else None


def _uids(path: str | os.PathLike[str]) -> tuple[str, str, str] | None:
    from ..io.reader import read

    try:
        ds = read(os.fspath(path), stop_before_pixels=True)
    except DicomError:
        return None
    return _uids_of(ds)


def _uids_of(ds: Any) -> tuple[str, str, str] | None:
    meta = ds.file_meta
    sop_class = str((meta.value(0x00020002, "") if meta is not None else "") or ds.value(0x00080016, "") or "")
    sop_instance = str((meta.value(0x00020003, "") if meta is not None else "") or ds.value(0x00080018, "") or "")
    if not sop_class or not sop_instance:
        return None
    return sop_class.strip("\x00 "), sop_instance.strip("\x00 "), str(ds.value(0x0020000D, "") or "").strip("\x00 ")


def response_body(outcomes: list[Outcome], root: str, study: str | None) -> tuple[int, dict[str, Any]]:
    """The status and the PS3.18 10.5.3 response data set."""
    stored: list[Outcome] = []
    failed: list[Outcome] = []
    for o in outcomes:  # Success or a Warning (0xBxxx) is stored; anything else failed
        (stored if o.status == 0 or (o.status >> 12) == 0xB else failed).append(o)
    body: dict[str, Any] = {}
    if study:
        body["00081190"] = {"vr": "UR", "Value": [f"{root}/studies/{study}"]}
    if failed:
        body["00081198"] = {"vr": "SQ", "Value": [_failed_item(o) for o in failed]}
    if stored:
        body["00081199"] = {"vr": "SQ", "Value": [_stored_item(o, root) for o in stored]}
    if not outcomes:
        return 409, body
    status = 200 if not failed else 202 if stored else 409
    if status == 200 and any(o.status for o in stored):
        status = 202  # stored with warnings (PS3.18 10.5.3.1)
    return status, body


def _failed_item(o: Outcome) -> dict[str, Any]:
    item: dict[str, Any] = {"00081197": {"vr": "US", "Value": [o.status if o.status else PROCESSING_FAILURE]}}
    if o.sop_class_uid:
        item["00081150"] = {"vr": "UI", "Value": [o.sop_class_uid]}
    if o.sop_instance_uid:
        item["00081155"] = {"vr": "UI", "Value": [o.sop_instance_uid]}
    if o.comment:
        item["00000902"] = {"vr": "LO", "Value": [o.comment[:64]]}  # Error Comment (PS3.7 C.4)
    return item


def _stored_item(o: Outcome, root: str) -> dict[str, Any]:
    item: dict[str, Any] = {"00081150": {"vr": "UI", "Value": [o.sop_class_uid]},
                            "00081155": {"vr": "UI", "Value": [o.sop_instance_uid]}}
    if o.study_instance_uid:
        item["00081190"] = {"vr": "UR", "Value": [f"{root}/studies/{o.study_instance_uid}/instances/"
                                                  f"{o.sop_instance_uid}"]}
    if o.status:  # a warning status (0xBxxx): the Warning Reason
        item["00081196"] = {"vr": "US", "Value": [o.status]}
    return item


async def store(request: Request) -> Response:
    """POST /studies and POST /studies/{study}"""
    web = web_of(request)
    study = request.path_params.get("study")
    requester = authorize(request, "store")
    media, params = parse_media_type(request.headers.get("content-type", ""))
    if media != MULTIPART_RELATED:
        raise WebError(415, f"STOW-RS takes multipart/related bodies (PS3.18 10.5.1), not {media or 'no type'!r}")
    part_type = (params.get("type") or DICOM).lower()
    if part_type not in (DICOM, DICOM_JSON, JSON):
        raise WebError(415, f"multipart/related; type={part_type!r}: this server takes application/dicom and "
                       "application/dicom+json (with bulk data parts)")
    boundary = params.get("boundary")
    if not boundary:
        raise WebError(400, "the Content-Type has no boundary parameter", parameter="boundary")
    limit = int(web.config.max_upload)
    length = request.headers.get("content-length")
    if limit and length and length.isdigit() and int(length) > limit:
        raise WebError(413, f"the body ({length} bytes) is larger than the {limit} bytes this server takes "
                       "(web.max_upload)")
    refusal = web.archive.archive.space_refusal(int(length) if length and length.isdigit() else 0)
    if refusal:
        raise WebError(503, refusal, headers={"Retry-After": "300"})
    stow = Stow(request, study, requester)
    try:
        await stow.read(boundary, limit)
    except BaseException:
        await stow.abandon()
        raise
    outcomes = await stow.finish()
    if not outcomes:
        raise WebError(400, "the body holds no DICOM instance")
    await stow.run_blocking(after_store, web.pacs, requester, outcomes, stow.new_studies)
    # the audit messages are not the answer's to wait for (they are queued to the trail's sinks anyway)
    asyncio.get_running_loop().run_in_executor(None, audit_stored, web.pacs, requester, outcomes)
    status, body = response_body(outcomes, service_root(request), study)
    return json_response(request, json.dumps(body).encode(), status=status)


STORED = ("stored", "identical", "replaced")


def after_store(pacs: Any, requester: Requester, outcomes: list[Outcome], new_studies: set[str]) -> None:
    """What follows a STOW-RS request before its answer (a worker thread): the new studies of a user restricted
    to labels get its labels (so that it sees what it stored), and the ``[[labels.rules]]`` run."""
    from ..server.auth.labels import add_labels

    policy = pacs.policy
    stored = [o for o in outcomes if o.outcome in STORED]
    if not stored or policy is None:
        return
    uids = [o.sop_instance_uid for o in stored]
    index = pacs.archive.index
    if requester.labels:
        for study in sorted(new_studies & {o.study_instance_uid for o in stored if o.study_instance_uid}):
            index.write(lambda db, study=study: add_labels(db, study, requester.labels or (), source="stow"))
    try:
        if pacs.config.label_rules:
            policy.apply_label_rules(requester.calling_ae_title, uids)
    except Exception as exc:  # the instances are stored and answered; say what is not labelled
        log.warning("%s: label rules of %d stored instance(s) failed: %s", requester.association_id, len(uids), exc)


def audit_stored(pacs: Any, requester: Requester, outcomes: list[Outcome]) -> None:
    """One audit message per study of what a STOW-RS request stored (PS3.15 A.5.3.5), from a worker thread
    while the answer goes out."""
    policy = pacs.policy
    uids = [o.sop_instance_uid for o in outcomes if o.outcome in STORED]
    if not uids or policy is None:
        return
    try:
        for ref in policy.studies_of(uids):
            policy.auditor.record("instances-stored", requester=requester, studies=[ref])
    except Exception as exc:  # the instances are stored and answered; say what is not audited
        log.warning("%s: the audit of %d stored instance(s) failed: %s", requester.association_id, len(uids), exc)


__all__ = ["Outcome", "after_store", "audit_stored", "response_body", "store"]
