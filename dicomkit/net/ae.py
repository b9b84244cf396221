"""Application Entities: what we propose or accept, the handlers we run, connecting and serving.

>>> ae = ApplicationEntity("MYSCU")
>>> async with ae.connect("pacs.local", 104, called_ae_title="PACS", contexts=[uid.CTImageStorage]) as assoc:
...     await assoc.echo()
...     await assoc.store("ct.dcm")
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable, Generator, Iterable, Sequence
from typing import Any, Protocol

from ..core.errors import NetworkError, NetworkTimeout
from ..core.uid import (
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    Verification,
    by_keyword,
)
from .association import Association
from .dimse import Request
from .handlers import DimseHandler
from .negotiation import (
    DEFAULT_MAX_PDU,
    MAX_CONTEXTS,
    AssociationCheck,
    ExtendedNegotiator,
    IdentityVerifier,
    PresentationContext,
    assign_context_ids,
    build_request,
)
from .pdu import SOPClassCommonExtendedNegotiation, SOPClassExtendedNegotiation, UserIdentityRQ

log = logging.getLogger("dicomkit.net")

# Transfer syntaxes every DICOM AE supports for non-pixel services (PS3.5 10.1: Implicit VR LE is the default).
DEFAULT_TRANSFER_SYNTAXES = [str(ts) for ts in (ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian)]

ContextSpec = PresentationContext | str


class Service(Protocol):
    """An SCP service: the contexts it supports and the handler for each request type it performs."""

    def contexts(self) -> Sequence[PresentationContext]: ...

    def handlers(self) -> dict[type[Request], DimseHandler]: ...


def _uid_of(name: str) -> str:
    named = by_keyword(name)
    return str(named) if named is not None else str(UID(name))


def normalise_contexts(contexts: Iterable[ContextSpec]) -> list[PresentationContext]:
    """PresentationContext objects from contexts, SOP class UIDs or keywords."""
    out = []
    for c in contexts:
        if isinstance(c, PresentationContext):
            out.append(c)
        else:
            out.append(PresentationContext(_uid_of(str(c)), list(DEFAULT_TRANSFER_SYNTAXES)))
    return out


class ApplicationEntity:
    """A local DICOM Application Entity: its title, limits, timeouts, supported contexts and handlers.

    Timeouts are seconds (None: wait forever): ``connect_timeout`` for TCP and TLS set-up,
    ``acse_timeout`` for A-ASSOCIATE and A-RELEASE answers, ``dimse_timeout`` for DIMSE responses,
    ``network_timeout`` for an idle connection, ``artim_timeout`` for the PS3.8 ARTIM timer.

    ``association_check`` (set as an attribute) runs on each A-ASSOCIATE-RQ before negotiation, with what is
    known of the connection (address, TLS, client certificate): it returns an AssociationGrant (or an awaitable
    of one, for a check that must wait: the association answers when it is done) or raises
    ``negotiation.Rejection`` (the server's access policy, :mod:`dicomkit.server.access`).
    """

    association_check: AssociationCheck | None = None

    def __init__(self, ae_title: str = "DICOMKIT", *, max_pdu: int = DEFAULT_MAX_PDU, max_ops_invoked: int = 1,
                 max_ops_performed: int = 16, connect_timeout: float | None = 10.0,
                 acse_timeout: float | None = 30.0, dimse_timeout: float | None = 120.0,
                 network_timeout: float | None = 300.0, artim_timeout: float = 30.0,
                 require_called_ae_title: bool = False, calling_ae_titles: Iterable[str] | None = None,
                 maximum_associations: int = 64, identity_verifier: IdentityVerifier | None = None,
                 extended_negotiator: ExtendedNegotiator | None = None) -> None:
        from .pdu import validate_ae_title

        self.ae_title = validate_ae_title(ae_title)
        if not (max_pdu == 0 or 4096 <= max_pdu <= 0xFFFFFFFF):
            raise NetworkError(f"maximum PDU length {max_pdu} must be 0 (no limit) or at least 4096")
        self.max_pdu = max_pdu
        self.max_ops_invoked = max_ops_invoked
        self.max_ops_performed = max_ops_performed
        self.connect_timeout = connect_timeout
        self.acse_timeout = acse_timeout
        self.dimse_timeout = dimse_timeout
        self.network_timeout = network_timeout
        self.artim_timeout = artim_timeout
        self.require_called_ae_title = require_called_ae_title
        self.calling_ae_titles = frozenset(calling_ae_titles) if calling_ae_titles is not None else None
        self.maximum_associations = maximum_associations
        self.identity_verifier = identity_verifier
        self.extended_negotiator = extended_negotiator
        self.handlers: dict[type[Request], DimseHandler] = {}
        self._supported: list[PresentationContext] = []

    # -- acceptor configuration ---------------------------------------------------------------------------
    def supported_contexts(self) -> Sequence[PresentationContext]:
        return self._supported

    def add_supported_context(self, abstract_syntax: str, transfer_syntaxes: Sequence[str] | None = None, *,
                              scu_role: bool | None = None, scp_role: bool | None = None) -> None:
        """Accept ``abstract_syntax`` in these transfer syntaxes, in this order of preference."""
        ts = [str(t) for t in transfer_syntaxes] if transfer_syntaxes else list(DEFAULT_TRANSFER_SYNTAXES)
        uid = _uid_of(str(abstract_syntax))
        self._supported = [c for c in self._supported if c.abstract_syntax != uid]
        self._supported.append(PresentationContext(uid, ts, scu_role=scu_role, scp_role=scp_role))

    def add_handler(self, request_type: type[Request], handler: DimseHandler) -> None:
        """Perform requests of ``request_type`` (e.g. CStoreRQ) with ``handler``."""
        self.handlers[request_type] = handler

    def add_service(self, service: Service) -> None:
        """Register an SCP service: its contexts and handlers (e.g. ``StorageSCP(...)``)."""
        for ctx in service.contexts():
            self.add_supported_context(ctx.abstract_syntax, ctx.transfer_syntaxes, scu_role=ctx.scu_role,
                                       scp_role=ctx.scp_role)
        for request_type, handler in service.handlers().items():
            self.add_handler(request_type, handler)

    # -- requestor -----------------------------------------------------------------------------------------
    async def associate(self, host: str, port: int, contexts: Iterable[ContextSpec] | None = None, *,
                        called_ae_title: str = "ANY-SCP", tls: ssl.SSLContext | None = None,
                        server_hostname: str | None = None, user_identity: UserIdentityRQ | None = None,
                        max_ops_invoked: int | None = None,
                        extended_negotiation: Iterable[SOPClassExtendedNegotiation] = (),
                        common_extended_negotiation: Iterable[SOPClassCommonExtendedNegotiation] = (),
                        ) -> Association:
        """Open a connection and negotiate an association; raises AssociationRejected, NetworkError."""
        proposals = normalise_contexts(contexts if contexts is not None else [])
        if not any(p.abstract_syntax == Verification for p in proposals) and len(proposals) < MAX_CONTEXTS:
            proposals.append(PresentationContext(Verification, list(DEFAULT_TRANSFER_SYNTAXES)))
        proposals = assign_context_ids(proposals)
        invoked = self.max_ops_invoked if max_ops_invoked is None else max_ops_invoked
        rq = build_request(self.ae_title, called_ae_title, proposals, max_pdu=self.max_pdu,
                           max_ops_invoked=invoked, max_ops_performed=1,
                           user_identity=user_identity, extended_negotiation=extended_negotiation,
                           common_extended_negotiation=common_extended_negotiation)
        loop = asyncio.get_running_loop()
        assoc = Association(self, requestor=True, request=rq)
        where = f"{host}:{port}"
        try:
            async with asyncio.timeout(self.connect_timeout):
                await loop.create_connection(
                    lambda: assoc.protocol, host, port, ssl=tls,
                    server_hostname=(server_hostname or host) if tls is not None else None)
        except TimeoutError:
            raise NetworkTimeout(f"cannot connect to {where} within {self.connect_timeout} s") from None
        except ssl.SSLError as exc:
            raise NetworkError(f"TLS with {where} failed: {exc.reason or exc}") from exc
        except OSError as exc:
            raise NetworkError(f"cannot connect to {where}: {exc.strerror or exc}") from exc
        try:
            async with asyncio.timeout(self.acse_timeout):
                await asyncio.shield(assoc.established)
        except TimeoutError:
            await assoc.abort()
            raise NetworkTimeout(f"no answer to A-ASSOCIATE-RQ from {where} within {self.acse_timeout} s") from None
        return assoc

    def connect(self, host: str, port: int, contexts: Iterable[ContextSpec] | None = None,
                **options: Any) -> Connection:
        """``async with ae.connect(...) as assoc`` (released on exit) or ``assoc = await ae.connect(...)``."""
        return Connection(lambda: self.associate(host, port, contexts, **options))

    # -- acceptor ----------------------------------------------------------------------------------------
    async def start_server(self, host: str = "0.0.0.0", port: int = 104, *, tls: ssl.SSLContext | None = None,
                           on_association: Callable[[Association], None] | None = None) -> Server:
        """Listen for associations; returns a running :class:`Server` (``port=0`` picks a free port)."""
        server = Server(self, on_association)
        loop = asyncio.get_running_loop()
        try:
            server.server = await loop.create_server(server.protocol_factory, host, port, ssl=tls,
                                                     reuse_address=True)
        except OSError as exc:
            raise NetworkError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        log.info("%s listening on %s:%d%s", self.ae_title, host, server.port, " (TLS)" if tls else "")
        return server


class Connection:
    """The result of ``connect()``: await it for an Association, or use it with ``async with``."""

    def __init__(self, open_association: Callable[[], Awaitable[Association]]) -> None:
        self._open = open_association
        self._assoc: Association | None = None

    def __await__(self) -> Generator[Any, None, Association]:
        return self._open().__await__()

    async def __aenter__(self) -> Association:
        self._assoc = await self._open()
        return self._assoc

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self._assoc is not None:
            await self._assoc.__aexit__(exc_type, exc, tb)


class Server:
    """A listening SCP: counts associations, rejects beyond the limit, shuts down gracefully."""

    def __init__(self, ae: ApplicationEntity, on_association: Callable[[Association], None] | None = None) -> None:
        self.ae = ae
        self.server: asyncio.Server | None = None
        self.active: set[Association] = set()
        self.on_association = on_association
        self._closing = False

    def protocol_factory(self) -> asyncio.BaseProtocol:
        overloaded = self._closing or len(self.active) >= self.ae.maximum_associations
        assoc = Association(self.ae, requestor=False, overloaded=overloaded)
        # counted once the connection is up (a failed TLS handshake never gets there, nor leaks here)
        assoc.protocol.on_connected = lambda: self.active.add(assoc)
        assoc.protocol.closed.add_done_callback(lambda _: self.active.discard(assoc))
        if self.on_association is not None:
            try:
                self.on_association(assoc)
            except Exception:
                log.exception("on_association callback failed")
        return assoc.protocol

    @property
    def port(self) -> int:
        assert self.server is not None and self.server.sockets
        return int(self.server.sockets[0].getsockname()[1])

    async def serve_forever(self) -> None:
        assert self.server is not None
        await self.server.serve_forever()

    async def close(self, grace: float = 10.0) -> None:
        """Stop listening, let running associations finish for up to ``grace`` seconds, abort the rest."""
        self._closing = True
        if self.server is not None:
            self.server.close()
        if self.active:
            waits = [asyncio.ensure_future(a.protocol.closed) for a in list(self.active)]
            _, pending = await asyncio.wait(waits, timeout=grace)
            for fut in pending:
                fut.cancel()
            for assoc in list(self.active):
                log.warning("aborting association with %s at shutdown", assoc.peer_ae_title or assoc.protocol.peer_text)
                await assoc.abort()
        if self.server is not None:
            try:
                async with asyncio.timeout(grace):
                    await self.server.wait_closed()
            except TimeoutError:  # pragma: no cover - wait_closed waits on connections in 3.12+
                pass

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def connect(host: str, port: int, *, ae_title: str = "DICOMKIT", called_ae_title: str = "ANY-SCP",
            contexts: Iterable[ContextSpec] | None = None, tls: ssl.SSLContext | None = None,
            user_identity: UserIdentityRQ | None = None, async_ops: int = 1, **ae_options: Any) -> Connection:
    """Associate with ``host:port``: ``async with connect(...) as assoc: await assoc.echo()``.

    ``contexts`` are PresentationContext objects, or SOP class UIDs/keywords (proposed with the default
    uncompressed transfer syntaxes); Verification is always added. ``async_ops`` proposes that many
    outstanding operations (PS3.7 D.3.3.3). Other keywords configure the ApplicationEntity (timeouts,
    ``max_pdu``, ...).
    """
    ae = ApplicationEntity(ae_title, max_ops_invoked=async_ops, **ae_options)
    return ae.connect(host, port, contexts, called_ae_title=called_ae_title, tls=tls, user_identity=user_identity)
