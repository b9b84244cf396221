"""The DICOM network protocol: upper layer (PS3.8), association negotiation and DIMSE (PS3.7).

``pdu`` and ``fsm`` are sans-I/O (bytes and events in, bytes and effects out); ``negotiation`` is pure too;
``transport`` runs them on asyncio; ``association`` (a live association), ``handlers`` (the SCP handler API)
and ``ae`` (Application Entities: connecting and serving) give the API. The service classes that run on it
(C-ECHO, C-STORE, ...) are in ``dicomkit.services``::

    from dicomkit.net import connect
    from dicomkit.services import echo, store

    async with connect("pacs", 104, called_ae_title="PACS", contexts=["CTImageStorage"]) as assoc:
        await echo(assoc)
        await store(assoc, "ct.dcm")

``dicomkit.net.sync`` offers the same without asyncio.
"""

from .ae import ApplicationEntity, Connection, Server, connect
from .association import DEFAULT_TIMEOUT, Association, Reply, Timeout
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
from .handlers import DimseHandler, RequestContext, SingleResponse
from .negotiation import AssociationInfo, NegotiatedContext, PresentationContext
from .payload import BytesPayload, DatasetPayload, FilePayload, Payload
from .pdu import UserIdentityRQ, UserIdentityType
from .status import Status

__all__ = [
    "DEFAULT_TIMEOUT",
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
    "SingleResponse",
    "Status",
    "Timeout",
    "UserIdentityRQ",
    "UserIdentityType",
    "connect",
]
