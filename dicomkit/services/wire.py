"""Data sets in DIMSE messages: reading one received on a presentation context, encoding one to send.

A DIMSE data set (an Identifier, an Attribute List, Event or Action Information) has no File Meta
Information: it is encoded in the transfer syntax of the presentation context that carries it (PS3.7 6.3.1).
"""

from __future__ import annotations

import zlib

from ..core.dataset import Dataset
from ..core.errors import DicomError, DimseError
from ..core.uid import TRANSFER_SYNTAXES
from ..io.reader import read_buffer
from ..net.association import Association
from ..net.dimse import DataSink, MemorySink
from ..net.handlers import RequestContext
from ..net.negotiation import NegotiatedContext
from ..net.payload import DatasetPayload
from .sources import Authorization, Requester


class UnreadableDataSet(DicomError):
    """A received data set that cannot be decoded in its context's transfer syntax."""


def decode(data: bytes | bytearray | memoryview | None, transfer_syntax: str) -> Dataset:
    """The data set of a DIMSE message (empty for no data); :class:`UnreadableDataSet` when it cannot be read."""
    if not data:
        return Dataset()
    raw = bytes(data)
    info = TRANSFER_SYNTAXES.get(str(transfer_syntax))
    encoding = str(transfer_syntax) if info is not None else None
    try:
        if info is not None and info.deflated:
            raw = zlib.decompress(raw, -15)  # PS3.5 A.5: raw deflate, then Explicit VR Little Endian
            encoding = "1.2.840.10008.1.2.1"
        # the context says how it is encoded (PS3.7 6.3.1); values decode on first access (read_buffer: what
        # read does for bytes, without its checks of what it was given, once per C-FIND match)
        return read_buffer(memoryview(raw), force=True, transfer_syntax=encoding)
    except (DicomError, zlib.error, ValueError) as exc:
        raise UnreadableDataSet(f"the data set cannot be read: {exc}") from exc


def received(sink: DataSink | None, transfer_syntax: str) -> Dataset | None:
    """The data set a handler's sink gathered (None when the request carried none)."""
    if sink is None:
        return None
    if isinstance(sink, MemorySink):
        if sink.overflow:
            raise UnreadableDataSet(f"the data set exceeds {sink.limit} bytes")
        return decode(sink.data, transfer_syntax)
    raise UnreadableDataSet(f"unexpected data sink {type(sink).__name__}")


def payload(ds: Dataset | None, transfer_syntax: str) -> DatasetPayload | None:
    return DatasetPayload(ds, transfer_syntax) if ds is not None else None


def context_for(assoc: Association, sop_class_uid: str, *, as_scu: bool = True) -> NegotiatedContext:
    """The accepted presentation context of ``sop_class_uid`` on ``assoc`` in the role asked; DimseError naming
    what was proposed otherwise."""
    info = assoc.info
    if info is None:
        raise DimseError("the association is not established")
    ctx = info.find_context(str(sop_class_uid), as_scu=as_scu)
    if ctx is not None:
        return ctx
    from ..core.uid import UID

    offered = [c for c in info.contexts.values() if c.abstract_syntax == str(sop_class_uid)]
    name = UID(str(sop_class_uid)).name
    if not offered:
        raise DimseError(f"{name} was not proposed on this association")
    if not any(c.accepted for c in offered):
        raise DimseError(f"{assoc.peer_ae_title or 'the peer'} rejected {name} "
                         f"({', '.join(sorted({c.result_text for c in offered}))})")
    role = "SCU" if as_scu else "SCP"
    raise DimseError(f"the {role} role of {name} was not agreed on this association")


def requester_of(rc: RequestContext) -> Requester:
    """The :class:`~.sources.Requester` of a request received on an association: the association check's
    (:class:`~.sources.Authorization` in ``AssociationInfo.authorization``) when it left one, else from the
    A-ASSOCIATE-RQ."""
    info = rc.association.info
    authorization = info.authorization if info is not None else None
    if isinstance(authorization, Authorization):
        return authorization.requester(rc)
    identity = rc.user_identity
    # the user as identified: a username (types 1, 2); never a passcode, and never a token (type 5 and the
    # others carry credentials in the primary field: no user name is claimed here)
    user = identity.primary.decode("utf-8", "replace")[:64] if identity is not None and int(identity.type) in (
        1, 2) else None
    peer = rc.peer_address
    return Requester(rc.calling_ae_title, rc.called_ae_title, peer[0] if peer else None, peer[1] if peer else None,
                     user, int(identity.type) if identity is not None else None, rc.association_id)


__all__ = ["UnreadableDataSet", "context_for", "decode", "payload", "received", "requester_of"]
