"""The Storage SCP (PS3.4 B.2): C-STORE requests streamed to a target, checked, then answered.

:class:`StorageSCP` accepts every Storage SOP Class of the UID registry in every transfer syntax dicomkit
can read. For each C-STORE-RQ it asks a *receiver* for a :class:`StoreTarget`; the target gets the data set
fragment by fragment as P-DATA arrives, then :meth:`StoreTarget.commit` decides the status that is sent
back. ``files.FileStoreTarget`` writes a folder of Part 10 files; the server's archive plugs in a target
that also indexes the object before answering.

:func:`check_received` is the check every target applies before Success: the object must read with the
rules of the default reader (what it refuses — a truncated value, a length past the end — is refused with
0xC000 and the reason; what it reads with a correction is stored, the corrections reported) and carry the
SOP Class/Instance UIDs its command announced (PS3.4 B.2.3).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Protocol

from ...core.dataset import Correction, Dataset
from ...core.errors import DicomError
from ...core.tag import SOP_CLASS_UID, SOP_INSTANCE_UID, SPECIFIC_CHARACTER_SET
from ...core.uid import NATIVE_TRANSFER_SYNTAXES, TRANSFER_SYNTAXES
from ...core.uid import storage_sop_classes as registry_storage_classes
from ...core.vr import VR_FROM_BYTES
from ...io.raw import PlainElements, plain_elements
from ...io.reader import CHECKED_GROUP_LENGTHS, charset_of, parse_sequences, read, read_buffer
from ...net.dimse import CStoreRQ, CStoreRSP, DataSink, Request, Response, store_response
from ...net.handlers import DimseHandler, RequestContext, SingleResponse
from ...net.negotiation import PresentationContext
from ...net.status import PROCESSING_FAILURE, SOP_CLASS_NOT_SUPPORTED, SUCCESS, Status
from .status import CANNOT_UNDERSTAND, DATA_SET_DOES_NOT_MATCH, OUT_OF_RESOURCES

if TYPE_CHECKING:
    from pathlib import Path


def storage_transfer_syntaxes() -> list[str]:
    """Every transfer syntax dicomkit reads, in the SCP's order of preference: uncompressed first (so a
    proposal of several uncompressed syntaxes gets Explicit VR Little Endian), then all the others."""
    first = [str(ts) for ts in NATIVE_TRANSFER_SYNTAXES]
    return first + [ts for ts in TRANSFER_SYNTAXES if ts not in first]


def storage_sop_classes() -> list[str]:
    """Every Storage SOP Class of the UID registry (retired ones included: old modalities still send them)."""
    return [str(u) for u in registry_storage_classes()]


class StoreOutcome(NamedTuple):
    """What to answer a C-STORE with."""

    status: int
    comment: str | None = None


class StoreTarget(DataSink, Protocol):
    """A data set being received for one C-STORE; ``commit`` runs once it is complete."""

    async def commit(self) -> StoreOutcome:
        """Make the object durable (or refuse it) and return the status to send back."""


class StoreRefused(DicomError):
    """Raised by a receiver to refuse a C-STORE before its data arrives (the data is then discarded)."""

    def __init__(self, message: str, status: int = OUT_OF_RESOURCES) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class StoredInstance:
    """An object that was received and kept: for logs, callbacks and indexing."""

    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax: str
    path: Path
    size: int  # bytes of the data set received
    calling_ae_title: str
    peer: tuple[str, int] | None
    outcome: str = "stored"  # "stored", "identical" (already there, nothing written) or "replaced"
    corrections: tuple[str, ...] = ()  # what the reader corrected while checking it


Receiver = Callable[[CStoreRQ, RequestContext], StoreTarget]
OnStored = Callable[[StoredInstance], "Awaitable[StoreOutcome | None] | StoreOutcome | None"]


class Checked(NamedTuple):
    """The result of :func:`check_received`: a refusal, or None and what the reader corrected, and the data
    set as read (for a target that indexes what it stores; None when refused)."""

    refusal: StoreOutcome | None
    corrections: tuple[str, ...] = ()
    dataset: Dataset | None = None


def check_received(source: bytes | memoryview | str | os.PathLike[str], sop_class_uid: str,
                   sop_instance_uid: str, *, transfer_syntax: str | None = None, meta_length: int = 0,
                   dataset: bool = True) -> Checked:
    """Check a received object — the Part 10 bytes (meta then data set) or their file — as described in
    the module documentation.

    A receiver that built the Part 10 header itself (:func:`~dicomkit.io.meta.part10_header`, from the
    C-STORE command and ``transfer_syntax``, the presentation context's) passes that syntax and the header's
    length: the header is then not read again, only the data set after it — with the same rules and the same
    answers (refusals, corrections and their offsets, which count from the start of ``source``) as a read of
    the whole. The data set's encoding is still checked against the syntax: where that needs a closer look
    (implicit VR, big endian, a start that is no plain explicit little endian element) the whole is read as
    without these arguments. The data set returned then has no ``file_meta`` (the caller has built it).

    With ``dataset=False`` the caller does not want the data set (``Checked.dataset`` is None): a data set
    of plain elements (:func:`~dicomkit.io.raw.plain_elements`: the reader would index it without a
    correction and parse no sequence) whose character set is known and whose SOP UIDs are plainly those
    announced is then accepted from a walk of its element headers, without being read; any other gets the
    read above, and the same answer as with ``dataset=True``.
    """
    if (not dataset and transfer_syntax is not None and not isinstance(source, str | os.PathLike)
            and _plainly_accepted(memoryview(source)[meta_length:], transfer_syntax, sop_class_uid,
                                  sop_instance_uid)):
        return _ACCEPTED
    try:
        ds = None
        shift = 0
        if transfer_syntax is not None and not isinstance(source, str | os.PathLike):
            ds = _read_after_meta(memoryview(source), meta_length, transfer_syntax)
            shift = meta_length
        if ds is None:
            shift = 0
            if isinstance(source, str | os.PathLike):
                ds = read(source)
            else:
                ds = read_buffer(memoryview(source))
        parse_sequences(ds)  # what the reader finds wrong inside an item counts too (it parses them on access)
    except DicomError as exc:
        # the reader's reason alone (it names the element): an Error Comment holds 64 characters (LO)
        return Checked(StoreOutcome(CANNOT_UNDERSTAND, _detail(exc)))
    except OSError as exc:
        return Checked(StoreOutcome(OUT_OF_RESOURCES, f"cannot read the received object: {exc.strerror or exc}"))
    sop_class = str(ds.value(SOP_CLASS_UID) or "").strip("\x00 ")
    sop_instance = str(ds.value(SOP_INSTANCE_UID) or "").strip("\x00 ")
    if not sop_class or not sop_instance:
        return Checked(StoreOutcome(CANNOT_UNDERSTAND, "the data set has no SOP Class/Instance UID"))
    if sop_class != sop_class_uid:
        return Checked(StoreOutcome(DATA_SET_DOES_NOT_MATCH, "SOP Class UID differs from the command's"))
    if sop_instance != sop_instance_uid:
        return Checked(StoreOutcome(DATA_SET_DOES_NOT_MATCH, "SOP Instance UID differs from the command's"))
    corrections = ds.read_corrections
    if shift and corrections:  # offsets within the data set -> within the whole object, as a whole read says
        corrections[:] = [c if c.offset is None else Correction(c.offset + shift, c.message) for c in corrections]
    return Checked(None, tuple(str(c) for c in corrections), ds if dataset else None)


def _read_after_meta(view: memoryview, meta_length: int, transfer_syntax: str) -> Dataset | None:
    """The data set after a File Meta Information of ``transfer_syntax`` that the caller built, read as
    :func:`~dicomkit.io.reader.read_buffer` reads it after reading that meta; None where the two ways could
    differ (the caller then reads the whole).

    The whole read takes the data set at the meta's end when it starts with an element of a group other than
    0002 (group 0002 would continue the meta), and reads it in the meta's transfer syntax without a second look
    when the syntax is explicit VR little endian and the first element looks like one (else it checks the bytes
    against the syntax). A raw data set read in a known syntax must start with a group of at least 0002, and must
    not look like a Part 10 file itself (``DICM`` at 128). Within those bounds the two reads are the same."""
    info = TRANSFER_SYNTAXES.get(transfer_syntax)
    if info is None or info.deflated or info.implicit_vr or not info.little_endian:
        return None
    data = view[meta_length:]
    n = len(data)
    if (n < 8 or data[1] != 0 or data[0] < 3 or bytes(data[4:6]) not in VR_FROM_BYTES
            or (n >= 132 and bytes(data[128:132]) == b"DICM")):
        return None
    return read_buffer(data, force=True, transfer_syntax=transfer_syntax)


_ACCEPTED = Checked(None)
# Explicit VR Little Endian syntaxes, not deflated: the data set is read in them as it is encoded (see
# _read_after_meta), so a walk of its headers in that encoding sees what the reader sees. Not the encapsulated
# ones: their images' Pixel Data has an undefined length (PS3.5 A.4), which the walk declines only at the end
_PLAIN_SYNTAXES = frozenset(uid for uid, info in TRANSFER_SYNTAXES.items()
                            if not (info.deflated or info.implicit_vr or not info.little_endian
                                    or info.encapsulated))
# the top-level elements whose value the check looks at: the character set (its terms may be unknown: a
# correction) and the SOP UIDs; the group lengths the reader compares with their groups send the data set
# to the reader
_WATCHED = {SPECIFIC_CHARACTER_SET: True, SOP_CLASS_UID: True, SOP_INSTANCE_UID: True,
            **dict.fromkeys(CHECKED_GROUP_LENGTHS, False)}
_KNOWN_CHARSETS: dict[bytes, bool] = {}  # Specific Character Set value -> whether the reader knows every term
_PLAIN_LAYOUTS: dict[int, PlainElements] = {}  # data set length -> the last plain one of that length


def _plainly_accepted(data: memoryview, transfer_syntax: str, sop_class_uid: str, sop_instance_uid: str) -> bool:
    """Whether the check of ``data`` (the data set after the meta the caller built) accepts it without a
    correction — True only where a walk of its element headers shows it (see :func:`check_received`); False
    when the walk cannot tell, refusals included (the reader then decides).

    The objects of one series mostly repeat a few layouts (the same elements with values of the same lengths):
    a data set with the headers of one the walk found plain, at the same offsets (``PlainElements.same_headers``:
    one comparison of bytes), is what the walk would find again, so it is not walked."""
    n = len(data)
    if transfer_syntax not in _PLAIN_SYNTAXES or n < 8 or data[1] != 0 or data[0] < 3:
        return False  # see _read_after_meta: a start of group 0000-0002 and the like are the reader's
    if n >= 132 and bytes(data[128:132]) == b"DICM":
        return False  # a whole read would take it for a Part 10 file
    plain = _PLAIN_LAYOUTS.get(n)
    if plain is None or not plain.same_headers(data):
        plain = plain_elements(data, _WATCHED)
        if plain is None:
            return False
        if len(_PLAIN_LAYOUTS) >= 64:
            _PLAIN_LAYOUTS.clear()  # bounded: lengths are the peer's to choose
        _PLAIN_LAYOUTS[n] = plain
    found = plain.found
    charset = found.get(SPECIFIC_CHARACTER_SET)
    if charset is not None:
        value = bytes(data[charset[1]:charset[1] + charset[2]])
        known = _KNOWN_CHARSETS.get(value)
        if known is None:
            try:
                known = not charset_of(value).unknown
            except DicomError:
                return False  # the reader's to refuse, with its reason
            if len(_KNOWN_CHARSETS) < 256:
                _KNOWN_CHARSETS[value] = known
        if not known:
            return False
    # each UID: a UI value that is the announced one between padding (" " and NUL at both ends), not empty, ASCII
    # and one value (no backslash) — what the reader decodes to that UID itself; anything else is the reader's
    for tag, uid in ((SOP_CLASS_UID, sop_class_uid), (SOP_INSTANCE_UID, sop_instance_uid)):
        entry = found.get(tag)
        if entry is None or entry[0] != b"UI":
            return False
        text = bytes(data[entry[1]:entry[1] + entry[2]]).strip(b"\x00 ")
        if not text or not uid.isascii() or text != uid.encode("ascii") or b"\\" in text:
            return False
    return True


def _detail(exc: DicomError) -> str:
    detail = getattr(exc, "detail", None)
    return str(detail) if detail else str(exc)


class StorageSCP(SingleResponse):
    """The Storage SCP: ``ae.add_service(StorageSCP(DirectoryReceiver("in")))``.

    ``immediate`` (the default) answers a C-STORE without a task when its target can commit without
    waiting (``commit_now``); a subclass whose :meth:`handle` must always run passes ``immediate=False``.
    """

    def __init__(self, receiver: Receiver, *, sop_classes: Iterable[str] | None = None,
                 transfer_syntaxes: Sequence[str] | None = None, immediate: bool = True) -> None:
        self.receiver = receiver
        self.sop_classes = [str(u) for u in sop_classes] if sop_classes is not None else storage_sop_classes()
        self.transfer_syntaxes = list(transfer_syntaxes) if transfer_syntaxes else storage_transfer_syntaxes()
        self.immediate = immediate

    def contexts(self) -> Sequence[PresentationContext]:
        return [PresentationContext(uid, list(self.transfer_syntaxes)) for uid in self.sop_classes]

    def handlers(self) -> dict[type[Request], DimseHandler]:
        return {CStoreRQ: self}

    def data_sink(self, request: Request, rc: RequestContext) -> DataSink:
        assert isinstance(request, CStoreRQ)
        if request.affected_sop_class_uid != rc.context.abstract_syntax:
            # the Error Comment keeps the first 64 characters (LO): the reason first, the UIDs in the log
            raise StoreRefused(f"not the SOP Class of this presentation context: {request.affected_sop_class_uid} "
                               f"on a context for {rc.context.abstract_syntax}", SOP_CLASS_NOT_SUPPORTED)
        try:
            return self.receiver(request, rc)
        except StoreRefused:
            raise
        except OSError as exc:
            raise StoreRefused(f"cannot store: {exc.strerror or exc}") from exc

    def handle_now(self, request: Request, data: DataSink | None, rc: RequestContext) -> Response | None:
        if not self.immediate:
            return None
        commit_now = getattr(data, "commit_now", None)
        outcome = commit_now() if commit_now is not None else None
        if outcome is None:
            return None
        return store_response(outcome.status, outcome.comment)

    async def handle(self, request: Request, data: DataSink | None, rc: RequestContext) -> Response:
        commit = getattr(data, "commit", None)
        if commit is None:
            return CStoreRSP(status=Status(PROCESSING_FAILURE), error_comment="no data set received")
        outcome: StoreOutcome = await commit()
        return CStoreRSP(status=Status(outcome.status), error_comment=outcome.comment)


__all__ = [
    "SUCCESS",
    "Checked",
    "OnStored",
    "Receiver",
    "StorageSCP",
    "StoreOutcome",
    "StoreRefused",
    "StoreTarget",
    "StoredInstance",
    "check_received",
    "storage_sop_classes",
    "storage_transfer_syntaxes",
]
