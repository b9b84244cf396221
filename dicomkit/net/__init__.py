"""The DICOM network protocol: upper layer (PS3.8), association negotiation and DIMSE (PS3.7).

``pdu`` and ``fsm`` are sans-I/O (bytes and events in, bytes and effects out); ``transport`` runs them on
asyncio; ``assoc`` and ``ae`` give the API::

    from dicomkit.net import connect
    async with connect("pacs", 104, called_ae_title="PACS", contexts=["CTImageStorage"]) as assoc:
        await assoc.echo()
        await assoc.store("ct.dcm")

``dicomkit.net.sync`` offers the same without asyncio.
"""

from .ae import ApplicationEntity, Connection, Server, connect
from .assoc import Association, DimseHandler, Reply, RequestContext
from .association import AssociationInfo, NegotiatedContext, PresentationContext
from .dimse import (
    CCancelRQ,
    CEchoRQ,
    CEchoRSP,
    CFindRQ,
    CFindRSP,
    CGetRQ,
    CGetRSP,
    CMoveRQ,
    CMoveRSP,
    CommandField,
    CStoreRQ,
    CStoreRSP,
    DataSink,
    DimseMessage,
    MemorySink,
    NActionRQ,
    NActionRSP,
    NCreateRQ,
    NCreateRSP,
    NDeleteRQ,
    NDeleteRSP,
    NEventReportRQ,
    NEventReportRSP,
    NGetRQ,
    NGetRSP,
    NSetRQ,
    NSetRSP,
    Priority,
    Request,
    Response,
)
from .payload import BytesPayload, DatasetPayload, FilePayload, Payload, StoreSource
from .pdu import UserIdentityRQ, UserIdentityType
from .status import Status

__all__ = [
    "ApplicationEntity",
    "Association",
    "AssociationInfo",
    "BytesPayload",
    "CCancelRQ",
    "CEchoRQ",
    "CEchoRSP",
    "CFindRQ",
    "CFindRSP",
    "CGetRQ",
    "CGetRSP",
    "CMoveRQ",
    "CMoveRSP",
    "CStoreRQ",
    "CStoreRSP",
    "CommandField",
    "Connection",
    "DataSink",
    "DatasetPayload",
    "DimseHandler",
    "DimseMessage",
    "FilePayload",
    "MemorySink",
    "NActionRQ",
    "NActionRSP",
    "NCreateRQ",
    "NCreateRSP",
    "NDeleteRQ",
    "NDeleteRSP",
    "NEventReportRQ",
    "NEventReportRSP",
    "NGetRQ",
    "NGetRSP",
    "NSetRQ",
    "NSetRSP",
    "NegotiatedContext",
    "Payload",
    "PresentationContext",
    "Priority",
    "Reply",
    "Request",
    "RequestContext",
    "Response",
    "Server",
    "Status",
    "StoreSource",
    "UserIdentityRQ",
    "UserIdentityType",
    "connect",
]
