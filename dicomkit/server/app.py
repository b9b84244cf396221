"""``dicomkit serve`` wired: the archive, the DIMSE listener and the HTTP app in one asyncio process.

:class:`Pacs` is the running server inside an event loop (``await pacs.start()`` ... ``await pacs.stop()``);
:func:`run` is what the command does (signals, printing where it listens); :class:`Server` runs a Pacs
in a thread of its own, for tests and pipelines::

    with dicomkit.server.Server(data_dir=tmp_path, dicom_port=0, http_port=0) as pacs:
        subprocess.run(["storescu", "127.0.0.1", str(pacs.port), "-aec", pacs.ae_title, "ct.dcm"])
        assert pacs.index.count("instance") == 1
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import signal
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import DicomError
from ..net import ApplicationEntity
from ..net.ae import Server as DimseServer
from ..net.association import Association
from ..net.dimse import RESPONSE_FOR, CEchoRSP, CStoreRQ, DataSink, MemorySink, Request, Response
from ..net.handlers import DimseHandler, RequestContext, closing
from ..net.payload import Payload
from ..net.status import Status
from ..services.query_retrieve.plan import QueryPlan
from ..services.sources import Requester, StoredObject
from ..services.storage.scp import StorageSCP, StoreRefused
from ..services.verification import VerificationSCP
from .access import AccessPolicy
from .config import Config, load_config
from .deidexport import DeidExport, deid_configured
from .deidview import DeidFindSource, DeidView, translate_plan
from .index import Index
from .ingest import Archive, ArchiveReceiver, Events
from .integrity import IntegrityError
from .sources import (
    IndexCommitmentSource,
    IndexMppsSource,
    IndexQuerySource,
    IndexRetrieveSource,
    IndexWorklistSource,
    WorklistFolder,
)
from .sweep import SweepReport, startup_sweep

log = logging.getLogger("dicomkit.server")

NOT_AUTHORIZED = 0x0124  # PS3.7 C.5: Refused: Not Authorized
HEARTBEAT = 10.0  # seconds between a node's heartbeats


class _Verification(VerificationSCP):
    def __init__(self, pacs: Pacs) -> None:
        self.pacs = pacs

    def handle_now(self, request: Request, data: DataSink | None, rc: RequestContext) -> Response | None:
        if not self.pacs.permits(rc, "echo"):
            return CEchoRSP(status=Status(NOT_AUTHORIZED), error_comment="C-ECHO not granted to this AE")
        self.pacs.archive.metrics.echoes += 1
        return super().handle_now(request, data, rc)


class _Storage(StorageSCP):
    def __init__(self, pacs: Pacs) -> None:
        super().__init__(ArchiveReceiver(pacs.archive), immediate=False)
        self.pacs = pacs

    def data_sink(self, request: Request, rc: RequestContext) -> DataSink:
        if isinstance(request, CStoreRQ) and not self.pacs.permits(rc, "store"):
            raise StoreRefused("C-STORE not granted to this AE", NOT_AUTHORIZED)
        return super().data_sink(request, rc)

    async def handle(self, request: Request, data: DataSink | None, rc: RequestContext) -> Response:
        response = await super().handle(request, data, rc)
        status = Status(response.status or 0)
        if isinstance(request, CStoreRQ) and self.pacs.policy is not None and status.category != "failure":
            self.pacs.policy.stored(rc, request.affected_sop_instance_uid or "")  # audited per study at the end
        return response


@dataclass(frozen=True)
class ArchiveSources:
    """The archive as the data sources the SCPs of :mod:`dicomkit.services` take."""

    query: IndexQuerySource
    retrieve: IndexRetrieveSource
    worklist: IndexWorklistSource
    mpps: IndexMppsSource
    commitment: IndexCommitmentSource

    @classmethod
    def of(cls, archive: Archive, ae_title: str,
           on_mismatch: Callable[[StoredObject, IntegrityError], None] | None = None) -> ArchiveSources:
        index, store = archive.index, archive.store
        retrieve = IndexRetrieveSource(index, store, verify=archive.config.storage.verify_on_retrieve,
                                       on_mismatch=on_mismatch)
        return cls(IndexQuerySource(index, retrieve_ae_title=ae_title), retrieve,
                   IndexWorklistSource(index), IndexMppsSource(index),
                   IndexCommitmentSource(index, store, retrieve_ae_title=ae_title))


@dataclass
class _Retrieval:
    """The C-MOVE / C-GET being served: what was listed (for its audit message), and whether what leaves is
    de-identified (``[deid]``)."""

    listed: list[StoredObject]
    deid: DeidExport | None = None


_RETRIEVAL: contextvars.ContextVar[_Retrieval | None] = contextvars.ContextVar("dicomkit_retrieval", default=None)


class _ListedRetrieveSource:
    """The retrieve source as the C-MOVE / C-GET SCPs see it: notes what it lists, de-identifies on the way out
    when the retrieval says so. With de-identified views configured, a de-identified requester may name the
    replacement UIDs it was given, and the replacements sent are recorded for their reverse lookup."""

    def __init__(self, inner: IndexRetrieveSource, view: DeidView | None = None) -> None:
        self.inner, self.view = inner, view

    async def retrieve(self, plan: QueryPlan, requester: Requester) -> AsyncIterator[StoredObject]:
        retrieval = _RETRIEVAL.get()
        view = self.view
        loop = asyncio.get_running_loop()
        if view is not None and view.applies_dimse(requester):
            plan = await loop.run_in_executor(None, lambda: translate_plan(plan, view.uids, keep_unknown=True))
        pairs: list[tuple[str, str, str]] = []
        try:
            async for item in self.inner.retrieve(plan, requester):
                if retrieval is None:
                    yield item
                    continue
                retrieval.listed.append(item)
                if retrieval.deid is None:
                    yield item
                    continue
                out = retrieval.deid.stored_object(item)
                pairs += [(new, old, level) for new, old, level in (
                    (out.study_instance_uid, item.study_instance_uid, "study"),
                    (out.series_instance_uid, item.series_instance_uid, "series"),
                    (out.sop_instance_uid, item.sop_instance_uid, "instance")) if new and old]
                yield out
        finally:
            if view is not None and pairs:
                await loop.run_in_executor(None, view.uids.remember, pairs)

    async def count(self, plan: QueryPlan, requester: Requester) -> int:
        return await self.inner.count(plan, requester)


class _GuardedHandler(DimseHandler):
    """A service's handler behind the access policy: a request the association may not make is answered
    0x0124 Refused: Not Authorized (PS3.7 C.5.x) with an Error Comment, and never reaches the service.
    Queries (C-FIND) and retrievals (C-MOVE, C-GET) are audited (PS3.15 A.5.3.10, A.5.3.5)."""

    def __init__(self, inner: DimseHandler, pacs: Pacs, service: str) -> None:
        self.inner, self.pacs, self.service = inner, pacs, service

    def data_sink(self, request: Request, rc: RequestContext) -> DataSink:
        return self.inner.data_sink(request, rc)

    def handle_now(self, request: Request, data: DataSink | None, rc: RequestContext) -> Response | None:
        if not self.pacs.permits(rc, self.service):
            return RESPONSE_FOR[type(request)](status=Status(NOT_AUTHORIZED),
                                               error_comment=f"{request.name} not granted to this AE")
        started = time.perf_counter()
        response = self.inner.handle_now(request, data, rc)
        if response is not None:
            self._answered(request, started)
        return response

    async def responses(self, request: Request, data: DataSink | None,
                        rc: RequestContext) -> AsyncIterator[tuple[Response, Payload | None]]:
        refusal = self.handle_now(request, data, rc) if not self.pacs.permits(rc, self.service) else None
        if refusal is not None:
            yield refusal, None
            return
        policy = self.pacs.policy
        if policy is not None and self.service in ("find", "worklist"):
            identifier = bytes(data.data) if isinstance(data, MemorySink) else b""
            policy.auditor.record("query", requester=policy.requester(rc), query=identifier,
                                  sop_class=rc.context.abstract_syntax, transfer_syntax=rc.transfer_syntax)
        started = time.perf_counter()
        if policy is None or self.service not in ("move", "get"):
            async with closing(self.inner.responses(request, data, rc)) as responses:
                async for item in responses:
                    yield item
            self._answered(request, started)  # the query latency of the metrics (a cancelled one is not counted)
            return
        retrieval = _Retrieval([], self._deid(request, rc))
        token = _RETRIEVAL.set(retrieval)
        last: Response | None = None
        try:
            async with closing(self.inner.responses(request, data, rc)) as responses:
                async for item in responses:
                    last = item[0]
                    yield item
            self._answered(request, started)
        finally:
            try:
                # what was sent is audited even when the requester went away mid-retrieval (PS3.15 A.5.3.2)
                if retrieval.listed:
                    self._audit_retrieve(policy, request, rc, retrieval.listed, rc.unsent or last,
                                         retrieval.deid is not None)
            finally:
                with contextlib.suppress(ValueError):  # closed by asyncio from another task: its context is gone
                    _RETRIEVAL.reset(token)

    def _answered(self, request: Request, started: float) -> None:
        self.pacs.archive.metrics.answered(self.service, request.name.removesuffix("-RQ"),
                                           time.perf_counter() - started)

    def _deid(self, request: Request, rc: RequestContext) -> DeidExport | None:
        """The de-identification of this retrieval: C-MOVE to (or C-GET from) an AE of ``deid.remotes``, or
        asked by a user of ``deid.users``."""
        export = self.pacs.deid
        if export is None or self.pacs.policy is None:
            return None
        to = str(getattr(request, "move_destination", "") or "") if self.service == "move" else rc.calling_ae_title
        user = self.pacs.policy.requester(rc).user_identity
        return export if export.applies(ae_title=to, user=user) else None

    def _audit_retrieve(self, policy: AccessPolicy, request: Request, rc: RequestContext,
                        listed: list[StoredObject], last: Response | None, deidentified: bool) -> None:
        """One message per study of what a C-MOVE / C-GET sent: outcome 0 when every sub-operation
        succeeded, 4 when some failed, 8 when none succeeded (or the association went away)."""
        requester = policy.requester(rc)
        destination = Requester(str(getattr(request, "move_destination", "") or "").strip()) \
            if self.service == "move" else None
        completed = (last.number_of_completed_suboperations or 0) if last is not None else 0
        failed = (last.number_of_failed_suboperations or 0) if last is not None else len(listed)
        status = Status(last.status or 0) if last is not None else None
        outcome = 0 if status is not None and status.category != "failure" and not failed else \
            4 if completed else 8
        description = f"{request.name.replace('-RQ', '')}: {completed} sent, {failed} failed of {len(listed)}" + (
            " (de-identified)" if deidentified else "")
        uids = [o.sop_instance_uid for o in listed]

        def record() -> None:
            try:
                studies = policy.studies_of(uids)
            except Exception as exc:
                log.warning("%s: the retrieval of %d instance(s) not audited: %s", rc.association_id, len(uids), exc)
                return
            for study in studies:
                policy.auditor.record("instances-transferred", requester=requester, destination=destination,
                                      studies=[study], outcome=outcome, description=description)

        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().run_in_executor(None, record)


class _Guarded:
    """A :class:`~dicomkit.net.ae.Service` whose every handler asks the access policy for ``service``."""

    def __init__(self, inner: Any, pacs: Pacs, service: str) -> None:
        self.inner, self.pacs, self.service = inner, pacs, service
        answer = getattr(inner, "extended_negotiation", None)
        if answer is not None:
            self.extended_negotiation = answer

    def contexts(self) -> Any:
        return self.inner.contexts()

    def handlers(self) -> dict[type[Request], DimseHandler]:
        return {kind: _GuardedHandler(handler, self.pacs, self.service)
                for kind, handler in self.inner.handlers().items()}


def register_services(ae: ApplicationEntity, pacs: Pacs) -> list[str]:
    """Put the archive's services on ``ae``; the names of those registered (for the start-up line).

    Every SCP of :mod:`dicomkit.services` on its source of ``pacs.sources``, each request first asking
    ``pacs.permits(rc, service)`` (the AE table with ``dicom.access = "known"``, the user's roles). C-MOVE
    sends to the AEs of ``[remotes]``; Storage Commitment reports on the association when the requester still
    holds it, else on a new one to its entry in ``[remotes]``.
    """
    from ..services.commitment import CommitmentSCP
    from ..services.mpps import MppsSCP
    from ..services.query_retrieve.find import FindSCP
    from ..services.query_retrieve.get import GetSCP
    from ..services.query_retrieve.move import MoveSCP
    from ..services.worklist import WorklistSCP

    config, sources, title = pacs.config, pacs.sources, pacs.ae_title
    options = {"max_pdu": config.dicom.max_pdu, "network_timeout": config.dicom.network_timeout}
    ae.add_service(_Verification(pacs))
    ae.add_service(_Storage(pacs))
    view: DeidView | None = getattr(pacs, "deid_view", None)  # [deid]: what its AEs and users find, de-identified
    query: Any = sources.query if view is None else DeidFindSource(sources.query, view)
    # every instance of the archive is in its store: ONLINE (PS3.4 C.4.1.1.3.2)
    ae.add_service(_Guarded(FindSCP(query, retrieve_ae_title=title, instance_availability="ONLINE"), pacs, "find"))
    listed = _ListedRetrieveSource(sources.retrieve, view)
    ae.add_service(_Guarded(MoveSCP(listed, config.remotes, ae_options=options), pacs, "move"))
    ae.add_service(_Guarded(GetSCP(listed), pacs, "get"))
    ae.add_service(_Guarded(WorklistSCP(sources.worklist), pacs, "worklist"))
    ae.add_service(_Guarded(MppsSCP(sources.mpps), pacs, "mpps"))
    ae.add_service(_Guarded(CommitmentSCP(sources.commitment, ae_table=config.remotes, retrieve_ae_title=title,
                                          ae_options=options), pacs, "commit"))
    return ["Verification", "Storage", "Query/Retrieve (FIND, MOVE, GET)", "Modality Worklist", "MPPS",
            "Storage Commitment"]


class Pacs:
    """The running server (see the module documentation)."""

    def __init__(self, config: Config, *, archive: Archive | None = None, events: Events | None = None) -> None:
        self.config = config
        self._archive = archive
        self._events = events
        self.dimse: DimseServer | None = None
        self._http: Any = None
        self._http_task: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self.http_port: int | None = None
        self.http_extensions: list[str] = []  # the dicomkit.http entry points loaded (e.g. "web")
        self.sweep: SweepReport | None = None
        self._sources: ArchiveSources | None = None
        self._worklist_task: asyncio.Task[None] | None = None
        self.services: list[str] = []
        self.policy: AccessPolicy | None = None
        self.deid: DeidExport | None = None  # de-identified export ([deid]), when configured
        self.deid_view: DeidView | None = None  # what [deid] AEs, users and roles see, when configured

    @property
    def archive(self) -> Archive:
        assert self._archive is not None, "the server is not started"
        return self._archive

    @property
    def index(self) -> Index:
        return self.archive.index

    @property
    def sources(self) -> ArchiveSources:
        """The archive as the services' sources (query, retrieve, worklist, MPPS, commitment)."""
        if self._sources is None:
            self._sources = ArchiveSources.of(self.archive, self.ae_title, self._integrity_failure)
        return self._sources

    def _integrity_failure(self, obj: StoredObject, error: IntegrityError) -> None:
        """A stored object that does not match its SHA-256 was not delivered: audited (PS3.15 A.5.3.5,
        outcome 8) with the study it belongs to."""
        if self.policy is not None:
            self.policy.auditor.record("instances-transferred", studies=[obj.study_instance_uid]
                                       if obj.study_instance_uid else [], outcome=8, description=str(error))

    @property
    def ae_title(self) -> str:
        return self.config.dicom.ae_title

    @property
    def port(self) -> int:
        assert self.dimse is not None
        return self.dimse.port

    def permits(self, rc: RequestContext, service: str) -> bool:
        return self.policy is not None and self.policy.permits(rc, service)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        config = self.config
        if self._archive is None:
            self._archive = await loop.run_in_executor(None, lambda: Archive(config, events=self._events))
        archive = self._archive
        try:
            await loop.run_in_executor(None, archive.index.register_node, archive.node)
            self.sweep = await loop.run_in_executor(None, startup_sweep, archive)
            dicom = config.dicom
            self.policy = AccessPolicy(config, index=archive.index)  # the audit trail starts here
            if deid_configured(config):
                self.deid = await loop.run_in_executor(None, DeidExport, config)
                self.deid_view = DeidView(config, self.deid, archive.index)
            ae = ApplicationEntity(dicom.ae_title, max_pdu=dicom.max_pdu, max_ops_performed=dicom.async_ops,
                                   network_timeout=dicom.network_timeout, maximum_associations=dicom.max_associations)
            self.policy.install(ae)
            self.services = register_services(ae, self)
            if dicom.access == "open":
                log.info("access is open: any calling AE may use every service (set dicom.access = \"known\" "
                         "to accept only the AEs of [remotes])")
            index = archive.index
            archive.metrics.gauges.update({
                "dicomkit_index_instances": lambda: index.count("instance"),
                "dicomkit_index_studies": lambda: index.count("study"),
                "dicomkit_index_stored_bytes": index.total_size,
                "dicomkit_index_database_bytes": index.database_size,
                "dicomkit_audit_dropped": lambda: self.policy.auditor.dropped if self.policy else 0,
            })
            self.dimse = await self.policy.listen(ae, dicom.host, dicom.port, on_association=self._on_association)
            if config.http.enabled:
                await self._start_http()
            self._heartbeat = loop.create_task(self._beat())
            if config.worklist.folder:
                self._worklist_task = loop.create_task(self._watch_worklist(Path(config.worklist.folder)))
        except BaseException:
            await self._close_parts()
            raise

    def _on_association(self, assoc: Association) -> None:
        metrics = self.archive.metrics
        metrics.associations_active += 1

        def closed(_: object) -> None:
            metrics.associations_active -= 1
            if assoc.info is not None:
                metrics.associations_total += 1
            else:
                metrics.associations_rejected += 1
        assoc.protocol.closed.add_done_callback(closed)

    async def _start_http(self) -> None:
        import uvicorn

        from .http import create_app

        http = self.config.http
        family = socket.AF_INET6 if ":" in http.host else socket.AF_INET
        # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets that say so, and without it every
        # keep-alive answer written in two pieces waited 40 ms for the client's delayed ACK (Nagle)
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((http.host, http.port))
        except OSError as exc:
            sock.close()
            raise DicomError(f"cannot listen for HTTP on {http.host}:{http.port}: {exc.strerror or exc}") from exc
        sock.listen(128)
        sock.setblocking(False)
        self.http_port = int(sock.getsockname()[1])

        class _Embedded(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Any:  # the process's signals are ours, not uvicorn's
                yield

        settings = uvicorn.Config(create_app(self), log_config=None, lifespan="off", access_log=False,
                                  timeout_graceful_shutdown=5)
        context = self.policy.http_tls_context() if self.policy is not None else None
        if context is not None:  # HTTPS with the DIMSE side's certificate and BCP 195 profile (issue 14)
            settings.load()
            settings.ssl = context
        server = _Embedded(settings)
        self._http = server
        self._http_socket = sock
        self._http_task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
        while not server.started:
            if self._http_task.done():
                self._http_task.result()
                raise DicomError("the HTTP server did not start")
            await asyncio.sleep(0.01)

    async def _beat(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(HEARTBEAT)
            try:
                await loop.run_in_executor(None, self.archive.index.heartbeat, self.archive.node)
            except Exception as exc:
                log.warning("heartbeat not recorded (index unavailable?): %s", exc)

    async def _watch_worklist(self, folder: Path) -> None:
        """Pick up the worklist files dropped in ``folder`` (see :class:`~.sources.WorklistFolder`)."""
        loop = asyncio.get_running_loop()
        watcher = WorklistFolder(self.archive.index, folder)
        with contextlib.suppress(OSError):
            folder.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                await loop.run_in_executor(None, watcher.scan)
            except Exception as exc:
                log.warning("worklist folder %s not scanned: %s", folder, exc)
            await asyncio.sleep(self.config.worklist.scan_interval)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop accepting, let running associations finish (up to ``grace`` seconds), then close."""
        if self.dimse is not None:
            await self.dimse.close(grace=grace)
            self.dimse = None
        await self._close_parts()

    async def _close_parts(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None
        if self._worklist_task is not None:
            self._worklist_task.cancel()
            with contextlib.suppress(BaseException):
                await self._worklist_task
            self._worklist_task = None
        if self._http is not None:
            self._http.should_exit = True
            if self._http_task is not None:
                with contextlib.suppress(Exception):
                    await self._http_task
            self._http = None
        if self.dimse is not None:
            await self.dimse.close(grace=0)
            self.dimse = None
        if self.policy is not None:
            await self.policy.close(grace=0)
            self.policy = None
        if self._archive is not None:
            archive = self._archive
            loop = asyncio.get_running_loop()
            with contextlib.suppress(Exception):
                await loop.run_in_executor(None, archive.index.stop_node, archive.node)
            await loop.run_in_executor(None, archive.close)
            self._archive = None

    def describe(self) -> list[str]:
        """What it listens on and where the data is, for the start-up lines."""
        config = self.config
        db = config.database_url
        where = "SQLite " + db[len("sqlite:///"):] if db.startswith("sqlite:") else "PostgreSQL " + _hide_password(db)
        services = ", ".join(self.services) or "Verification, Storage"
        lines = [f"DICOM  {self.ae_title} on {config.dicom.host}:{self.port} ({services}; access "
                 f"{config.dicom.access})"]
        if self.policy is not None and self.policy.tls_port is not None:
            lines.append(f"TLS    DICOM TLS on {config.dicom.host}:{self.policy.tls_port}"
                         f"{' only' if not config.tls.plaintext else ''}")
        if self.http_port is not None:
            shown = "127.0.0.1" if config.http.host in ("0.0.0.0", "::") else config.http.host
            scheme = "https" if config.tls.http else "http"
            from .httpauth import http_auth_configured

            authenticated = self.policy is not None and http_auth_configured(config, self.policy.authenticator)
            who = "authenticated clients" if authenticated else \
                "any client" if config.http.allow_remote else "loopback clients only"
            lines.append(f"HTTP   {scheme}://{shown}:{self.http_port}/health and /metrics on {config.http.host} "
                         f"({who})")
            if "web" in self.http_extensions:
                lines.append(f"web    {scheme}://{shown}:{self.http_port}/dicom-web/ (DICOMweb), /wado (WADO-URI), "
                             f"/ (viewer)")
        lines.append(f"data   {Path(config.storage.data_dir).resolve()} (index: {where}; durability "
                     f"{config.storage.durability}; duplicates {config.storage.duplicates})")
        return lines


def _hide_password(url: str) -> str:
    import re

    return re.sub(r"(//[^:/@]+:)[^@]*@", r"\1***@", url)


M_MMAP_THRESHOLD = -3  # glibc mallopt parameter


def fix_allocator() -> bool:
    """Keep the heap from growing with many short connections (glibc only; True when set).

    Each association's receive buffer is 256 KiB. glibc serves such blocks with mmap — until the first one
    is freed, when it raises its mmap threshold to that size and serves the next ones from the heap, where
    the buffers of thousands of short (hostile) connections fragment it: ``dicomkit receive`` climbed from
    28 MB to ~170 MB over 10^4 mutated exchanges. A fixed threshold (what ``MALLOC_MMAP_THRESHOLD_=131072``
    does) keeps them mapped and returned to the system when freed.
    """
    import ctypes
    import ctypes.util
    import os

    if os.environ.get("MALLOC_MMAP_THRESHOLD_"):
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        return bool(libc.mallopt(M_MMAP_THRESHOLD, 128 * 1024))
    except (OSError, AttributeError):
        return False


async def serve(config: Config, *, ready: Callable[[Pacs], None] | None = None,
                stop: asyncio.Event | None = None, grace: float | None = None) -> int:
    """Run until SIGTERM/SIGINT (or ``stop``); returns the exit code. Running associations get ``grace``
    seconds to finish (default: the configuration's ``dicom.shutdown_grace``)."""
    grace = config.dicom.shutdown_grace if grace is None else grace
    fix_allocator()
    pacs = Pacs(config)
    await pacs.start()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    try:
        if ready is not None:
            ready(pacs)
        await stop.wait()
        log.info("shutting down: no new associations; waiting up to %.0f s for running ones", grace)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
        await pacs.stop(grace)
    return 0


class Server:
    """A real archive in a thread of its own (see the module documentation).

    Keyword arguments set the common options (``data_dir``, ``ae_title``, ``dicom_port``, ``http_port``,
    ``database``, ``durability``, ``duplicates``, ``http``); ``config`` gives a whole :class:`Config`
    (or a path to a TOML file) and ``overrides`` any ``"section.key": value``.
    """

    def __init__(self, config: Config | str | Path | None = None, *, data_dir: str | Path | None = None,
                 ae_title: str | None = None, dicom_port: int | None = None, http_port: int | None = None,
                 database: str | None = None, durability: str | None = None, duplicates: str | None = None,
                 http: bool | None = None, host: str = "127.0.0.1", overrides: dict[str, Any] | None = None,
                 events: Events | None = None) -> None:
        self._events = events
        settings: dict[str, Any] = {"dicom.host": host, "http.host": host}
        for key, value in (("storage.data_dir", data_dir), ("dicom.ae_title", ae_title), ("dicom.port", dicom_port),
                           ("http.port", http_port), ("database.url", database),
                           ("storage.durability", durability), ("storage.duplicates", duplicates),
                           ("http.enabled", http)):
            if value is not None:
                settings[key] = str(value) if key == "storage.data_dir" else value
        settings.update(overrides or {})
        if isinstance(config, Config):
            from .config import set_value

            for key, value in settings.items():
                set_value(config, key, value)
            self.config = config.check()
        else:
            self.config = load_config(config, settings)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pacs: Pacs | None = None
        self._stop: asyncio.Event | None = None
        self._done: asyncio.Future[None] | None = None

    # the running archive
    @property
    def pacs(self) -> Pacs:
        assert self._pacs is not None, "the server is not started"
        return self._pacs

    @property
    def port(self) -> int:
        return self.pacs.port

    @property
    def http_port(self) -> int | None:
        return self.pacs.http_port

    @property
    def ae_title(self) -> str:
        return self.config.dicom.ae_title

    @property
    def archive(self) -> Archive:
        return self.pacs.archive

    @property
    def index(self) -> Index:
        return self.pacs.index

    @property
    def data_dir(self) -> Path:
        return self.config.storage.data_dir

    def start(self) -> Server:
        started = threading.Event()
        failure: list[BaseException] = []

        async def main() -> None:
            self._stop = asyncio.Event()
            pacs = Pacs(self.config, events=self._events)
            try:
                await pacs.start()
            except BaseException as exc:
                failure.append(exc)
                started.set()
                return
            self._pacs = pacs
            started.set()
            await self._stop.wait()
            await pacs.stop(grace=5.0)

        def thread() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(main())
            finally:
                loop.close()

        self._thread = threading.Thread(target=thread, name="dicomkit-server", daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            self._thread.join()
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=60)
            self._thread = None

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["ArchiveSources", "Pacs", "Server", "register_services", "serve"]
