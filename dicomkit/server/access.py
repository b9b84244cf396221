"""The server's access policy on the DIMSE side (issue 14), in one place: who may associate, as whom, over
what, and what each association may do — and the audit trail of it.

:class:`AccessPolicy` is made from the configuration; :mod:`.app` needs only::

    self.policy = AccessPolicy(config, index=archive.index)      # the auditor starts here
    self.policy.install(ae)                                        # ae.association_check
    self.dimse = await self.policy.listen(ae, host, port, on_association=...)   # plaintext and/or TLS
    self.policy.permits(rc, "store")                               # per request
    await self.policy.close()

On each A-ASSOCIATE-RQ (:meth:`AccessPolicy.check`, before negotiation):

1. ``dicom.access = "known"``: a calling AE not in ``[remotes]`` is refused with A-ASSOCIATE-RJ
   (rejected-permanent, service-user, *calling AE title not recognized*, PS3.8 Table 9-21).
2. A known AE with ``tls = true`` that came without TLS, or whose address is not its host's
   (``auth.check_ae_host``), or whose client certificate does not name it (``tls_subject``), is refused
   (*no reason given*).
3. User Identity (PS3.7 D.3.3.7): username + passcode against ``[users]``, a JWT against the configured
   keys; a bare username is recorded but grants nothing; Kerberos and SAML are not supported. A failed
   identity is refused (*no reason given*); ``auth.dicom_identity = "required"`` refuses associations
   without a verified identity. A positive response is sent when it was requested.

Every refusal is audited (Security Alert: node authentication, or User Authentication failure), and so
are accepted associations, TLS handshake failures, the application's start and stop and a configuration
that changed since the last start. The verified identity travels with the association
(``AssociationInfo.authorization``: a :class:`Session`) and every request's :class:`Requester`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import json
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ..net import ApplicationEntity
from ..net.ae import Server as DimseServer
from ..net.association import Association
from ..net.handlers import RequestContext
from ..net.negotiation import AssociationGrant, PeerInfo, Rejection
from ..net.pdu import AAssociateRQ, RejectResult, RejectSource, UserIdentityRQ, UserIdentityType
from ..services.aetable import RemoteAE
from ..services.sources import Requester
from .audit import Auditor, FileSink, Sink, Source, StudyRef, syslog_sink
from .auth import AuthenticationError, Authenticator, Identity, Visibility
from .auth.roles import SERVICE_ACTIONS, permits
from .securityconfig import SecurityConfigError

if TYPE_CHECKING:
    from .config import Config
    from .index import Index

log = logging.getLogger("dicomkit.server.access")

CALLING_AE_NOT_RECOGNIZED = 3  # PS3.8 Table 9-21, source service-user
NO_REASON = 1
CLOSE_TIMEOUT = 3.0  # seconds the audit destinations get to flush at shutdown


def _refuse(message: str, reason: int = NO_REASON) -> Rejection:
    return Rejection(message, RejectResult.REJECTED_PERMANENT, RejectSource.SERVICE_USER, reason)


@dataclass(frozen=True)
class Session:
    """What an accepted association is: its remote AE entry (None: unknown, open access), the verified user
    (None: none), the asserted user name of a type 1 identity, and how it connected."""

    remote: RemoteAE | None = None
    identity: Identity | None = None
    asserted_user: str | None = None
    identity_type: int | None = None
    tls: bool = False
    certificate_subject: str | None = None

    @property
    def user(self) -> str | None:
        return self.identity.name if self.identity is not None else self.asserted_user

    @property
    def labels(self) -> frozenset[str] | None:
        """The study labels the association is limited to (None: every study; :mod:`.auth.labels`)."""
        return self.identity.visibility.labels if self.identity is not None else None

    def requester_of(self, assoc: Association) -> Requester:
        address, port = assoc.peer_address if assoc.peer_address else (None, None)
        return Requester(assoc.peer_ae_title, assoc.local_ae_title, address, port, self.user, self.identity_type,
                         assoc.id, labels=self.labels)

    def requester(self, rc: RequestContext) -> Requester:
        """The services' :class:`~dicomkit.services.sources.Authorization`: every SCP's Requester."""
        return self.requester_of(rc.association)


def check_security_config(config: Config) -> None:
    """The security settings that depend on each other (raises SecurityConfigError naming the key)."""
    tls, audit, auth = config.tls, config.audit, config.auth
    if tls.port >= 0 or not tls.plaintext:
        if tls.port < 0:
            raise SecurityConfigError("tls.plaintext: false needs a TLS listener (set tls.port)")
        if not tls.port <= 65535:
            raise SecurityConfigError(f"tls.port: expected a port from 0 to 65535, not {tls.port}")
        if not tls.certificate:
            raise SecurityConfigError("tls.certificate: the TLS listener needs the server's certificate")
    if tls.http and not tls.certificate:
        raise SecurityConfigError("tls.http: HTTPS needs the server's certificate (tls.certificate)")
    if tls.verify_clients and not tls.ca:
        raise SecurityConfigError("tls.verify_clients: needs tls.ca (the CAs of the accepted client certificates)")
    from .audit.sinks import parse_url
    from .auth.jwt import ALGORITHMS

    if audit.syslog:
        try:
            parse_url(audit.syslog)
        except ValueError as exc:
            raise SecurityConfigError(f"audit.syslog: {exc}") from None
    if audit.queue < 1:
        raise SecurityConfigError("audit.queue: must be at least 1")
    for alg in auth.algorithms:
        if alg not in ALGORITHMS:
            raise SecurityConfigError(f"auth.algorithms: unknown algorithm {alg!r} (known: {', '.join(ALGORITHMS)})")
    if auth.jwt_secret and not any(a.startswith("HS") for a in auth.algorithms):
        raise SecurityConfigError("auth.jwt_secret: add HS256 to auth.algorithms to use it")
    if auth.max_failures < 0:
        raise SecurityConfigError("auth.max_failures: must not be negative")
    from .auth.roles import ROLES

    for role in config.deid.roles:
        if role not in ROLES:
            raise SecurityConfigError(f"deid.roles: unknown role {role!r} (known: {', '.join(ROLES)})")
    for name in config.deid.destinations:
        if name not in config.destinations:
            raise SecurityConfigError(f"deid.destinations: {name!r} is not a [destinations.{name}] table")


def make_auditor(config: Config) -> Auditor:
    """The auditor the configuration describes (started)."""
    audit = config.audit
    sinks: list[Sink] = []
    path = audit.file_path(config.storage.data_dir)
    if audit.enabled and path is not None:
        sinks.append(FileSink(path, max_bytes=int(audit.max_file_size), backups=audit.backups, capacity=audit.queue))
    if audit.enabled and audit.syslog:
        sinks.append(syslog_sink(audit.syslog, ca=audit.syslog_ca or None, cert=audit.syslog_certificate or None,
                                 key=audit.syslog_key or None, app_name="dicomkit", capacity=audit.queue))
    source = Source(audit.source_id or config.dicom.ae_title, ae_title=config.dicom.ae_title, site_id=audit.site_id)
    return Auditor(source, sinks, enabled=audit.enabled).start()


def _subject_names(certificate: dict[str, Any] | None) -> set[str]:
    names: set[str] = set()
    if not certificate:
        return names
    for rdn in certificate.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                names.add(str(value))
    for kind, value in certificate.get("subjectAltName", ()):
        if kind in ("DNS", "URI", "IP Address"):
            names.add(str(value))
    return names


def _host_addresses(host: str) -> set[str]:
    try:
        return {str(ipaddress.ip_address(host))}
    except ValueError:
        pass
    try:
        return {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except OSError:
        return set()


def _decode(value: bytes) -> str:
    return value.decode("utf-8", "replace").strip("\x00 ")


class AccessPolicy:
    """See the module documentation."""

    def __init__(self, config: Config, *, index: Index | None = None, auditor: Auditor | None = None,
                 authenticator: Authenticator | None = None) -> None:
        self.config = config
        self.index = index
        self.auditor = auditor if auditor is not None else make_auditor(config)
        self.authenticator = authenticator if authenticator is not None else Authenticator.from_config(
            config.users, config.auth)
        self.tls_server: DimseServer | None = None
        self.plain_server: DimseServer | None = None
        self._refused: set[str] = set()  # association ids the check refused (and audited)
        self._stored: dict[str, list[str]] = {}  # association id -> SOP Instance UIDs stored
        self._host_cache: dict[str, set[str]] = {}

    # -- the association check ----------------------------------------------------------------------------
    def install(self, ae: ApplicationEntity) -> None:
        ae.association_check = self.check
        ae.calling_ae_titles = None  # the policy decides (and audits) who is known

    def _requester_of(self, rq: AAssociateRQ, peer: PeerInfo, user: str | None = None,
                      identity_type: int | None = None) -> Requester:
        address, port = peer.address if peer.address else (None, None)
        return Requester(rq.calling_ae_title.strip(), rq.called_ae_title.strip(), address, port, user, identity_type,
                         peer.association_id or None)

    def _alert(self, rq: AAssociateRQ, peer: PeerInfo, why: str, reason: int = NO_REASON) -> Rejection:
        self._refused.add(peer.association_id)
        self.auditor.record("security-alert", requester=self._requester_of(rq, peer), outcome=4,
                            alert="node-authentication", subject=rq.calling_ae_title.strip() or "(empty)",
                            description=why)
        return _refuse(why, reason)

    def check(self, rq: AAssociateRQ, peer: PeerInfo) -> AssociationGrant | Awaitable[AssociationGrant]:
        config = self.config
        calling = rq.calling_ae_title.strip()
        remote = config.remotes.get(calling)
        if config.dicom.access == "known" and remote is None:
            raise self._alert(rq, peer, f"calling AE title {calling!r} not recognized", CALLING_AE_NOT_RECOGNIZED)
        subject = None
        if peer.certificate:
            names = _subject_names(peer.certificate)
            subject = sorted(names)[0] if names else None
        if remote is not None:
            if remote.tls and not peer.tls:
                raise self._alert(rq, peer, f"AE {calling!r} must connect over TLS")
            if remote.tls_subject and remote.tls_subject not in _subject_names(peer.certificate):
                raise self._alert(rq, peer, f"the client certificate does not belong to AE {calling!r}")
            if config.auth.check_ae_host and peer.address is not None:
                addresses = self._host_cache.get(remote.host)
                if addresses is None:
                    addresses = self._host_cache[remote.host] = _host_addresses(remote.host)
                if peer.address[0] not in addresses:
                    raise self._alert(rq, peer, f"AE {calling!r} connected from {peer.address[0]}, not from its "
                                                f"host {remote.host}")
        identity_item = rq.user_information.user_identity
        item = identity_item if isinstance(identity_item, UserIdentityRQ) else None
        if item is not None and config.auth.dicom_identity != "off" and item.type in (
                UserIdentityType.USERNAME_AND_PASSCODE, UserIdentityType.JWT):
            # a password hash or a token (perhaps a JWKS fetch): in a worker thread, not in the event loop
            return self._verified(rq, peer, item, remote, subject)
        asserted = None
        if item is not None and config.auth.dicom_identity != "off" and item.type == UserIdentityType.USERNAME:
            asserted = _decode(item.primary)[:64] or None  # asserted only: recorded, grants nothing
        if config.auth.dicom_identity == "required":
            self._refused.add(peer.association_id)
            self.auditor.record("association-rejected", requester=self._requester_of(rq, peer, asserted), outcome=4,
                                description="a verified user identity is required", subject=asserted)
            raise _refuse("a verified user identity is required")
        # Kerberos and SAML are not supported: no identity, no response (PS3.7 D.3.3.7.2)
        session = Session(remote, None, asserted, item.type if item else None, peer.tls, subject)
        return AssociationGrant(authorization=session)

    async def _verified(self, rq: AAssociateRQ, peer: PeerInfo, item: UserIdentityRQ, remote: RemoteAE | None,
                        subject: str | None) -> AssociationGrant:
        loop = asyncio.get_running_loop()
        identity = await loop.run_in_executor(None, self._verify_identity, rq, peer, item)
        session = Session(remote, identity, None, item.type, peer.tls, subject)
        return AssociationGrant(identity_response=b"", authorization=session)

    def _verify_identity(self, rq: AAssociateRQ, peer: PeerInfo, item: UserIdentityRQ) -> Identity:
        """The verified identity of a username + passcode or a JWT; Rejection (audited) otherwise."""
        address = peer.address[0] if peer.address else None
        kind = item.type
        user = _decode(item.primary)[:64] if kind == UserIdentityType.USERNAME_AND_PASSCODE else None
        try:
            if kind == UserIdentityType.USERNAME_AND_PASSCODE:
                identity = self.authenticator.password_login(user or "", item.secondary.decode("utf-8", "replace"),
                                                             address)
            else:
                identity = self.authenticator.token_login(item.primary, address)
            entry = self.config.users.get(identity.name)
            if entry is not None and entry.ae_titles and rq.calling_ae_title.strip() not in entry.ae_titles:
                raise AuthenticationError("ae-not-allowed", f"user {identity.name!r} may not log in from this AE")
        except AuthenticationError as exc:
            self._refused.add(peer.association_id)
            self.auditor.record("association-rejected", requester=self._requester_of(rq, peer, user, kind),
                                outcome=exc.outcome, description=str(exc), subject=user)
            raise _refuse(f"user identity not accepted: {exc}") from None
        return identity

    # -- after negotiation ----------------------------------------------------------------------------------
    def on_association(self, assoc: Association) -> None:
        """Audit the outcome of an association (call from the listener's on_association)."""

        def established(future: asyncio.Future[Any]) -> None:
            if future.cancelled():
                return
            exc = future.exception()
            if exc is None:
                if self.config.audit.associations:
                    self.auditor.record("association-accepted", requester=self.requester_of_association(assoc),
                                        subject=self._session(assoc).user)
            elif assoc.id not in self._refused and assoc.info is None and assoc.peer_ae_title:
                self.auditor.record("association-rejected", requester=self.requester_of_association(assoc),
                                    outcome=4, description=str(exc))
            self._refused.discard(assoc.id)

        assoc.established.add_done_callback(established)
        assoc.protocol.closed.add_done_callback(lambda _: self._closed(assoc))

    @staticmethod
    def _session(assoc: Association) -> Session:
        info = assoc.info
        session = info.authorization if info is not None else None
        return session if isinstance(session, Session) else Session()

    def requester_of_association(self, assoc: Association) -> Requester:
        return self._session(assoc).requester_of(assoc)

    def requester(self, rc: RequestContext) -> Requester:
        """Who made this request (for the sources, the audit trail and the logs)."""
        return self.requester_of_association(rc.association)

    def identity(self, rc: RequestContext) -> Identity | None:
        return self._session(rc.association).identity

    def visibility(self, rc: RequestContext) -> Visibility:
        """Which studies this request may see (for C-FIND, C-MOVE, C-GET; :mod:`.auth.labels`)."""
        identity = self.identity(rc)
        return identity.visibility if identity is not None else Visibility()

    def permits(self, rc: RequestContext, service: str) -> bool:
        """Whether the association may use ``service`` (of dicomkit.services.aetable.SERVICES): the AE table
        (with access "known") and the verified user's roles (when there is one)."""
        session = self._session(rc.association)
        if self.config.dicom.access == "known":
            remote = session.remote or self.config.remotes.get(rc.calling_ae_title)
            if remote is None or not remote.permits(service):
                return False
        if session.identity is not None:
            return permits(session.identity.roles, SERVICE_ACTIONS.get(service))
        return True

    # -- audit helpers the handlers call ------------------------------------------------------------------
    def stored(self, rc: RequestContext, sop_instance_uid: str) -> None:
        """Note an instance stored on this association; one audit message per study follows when it ends."""
        self._stored.setdefault(rc.association_id, []).append(sop_instance_uid)

    def _closed(self, assoc: Association) -> None:
        uids = self._stored.pop(assoc.id, None)
        if not uids:
            return
        requester = self.requester_of_association(assoc)
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().run_in_executor(None, self._record_stored, requester, uids)

    def _record_stored(self, requester: Requester, uids: list[str]) -> None:
        try:
            studies = self.studies_of(uids)
        except Exception as exc:  # the index unavailable: the stores were answered; say what is not audited
            log.warning("%s: %d stored instance(s) not audited: %s", requester.association_id, len(uids), exc)
            return
        for study in studies:
            self.auditor.record("instances-stored", requester=requester, studies=[study])
        if self.config.label_rules:
            try:
                self.apply_label_rules(requester.calling_ae_title, uids)
            except Exception as exc:
                log.warning("%s: label rules not applied: %s", requester.association_id, exc)

    def apply_label_rules(self, calling_ae: str, sop_instance_uids: list[str]) -> dict[str, set[str]]:
        """Label the studies of these instances by the configured ``[[labels.rules]]`` (calling AE, and the
        attributes of one instance per series); returns the labels added per study."""
        from ..core.dictionary import tag_for_keyword
        from .auth.labels import add_labels, labels_for

        if self.index is None or not self.config.label_rules:
            return {}
        index = self.index
        keywords = {r.attribute for r in self.config.label_rules if r.attribute}
        per_study: dict[str, set[str]] = {}
        for start in range(0, len(sop_instance_uids), 500):
            chunk = sop_instance_uids[start:start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows = index.query("SELECT st.study_instance_uid AS study, min(i.sop_instance_uid) AS sop FROM instances i "
                               "JOIN series se ON se.pk = i.series_pk JOIN studies st ON st.pk = se.study_pk "
                               f"WHERE i.sop_instance_uid IN ({marks}) GROUP BY st.study_instance_uid, se.pk", chunk)
            for row in rows:
                attributes: dict[str, Any] = {}
                header = index.header(row["sop"]) if keywords else None
                for keyword in keywords:
                    tag = tag_for_keyword(keyword)
                    element = (header or {}).get(f"{tag:08X}") if tag is not None else None
                    values = element.get("Value", []) if isinstance(element, dict) else []
                    attributes[keyword] = [v.get("Alphabetic", "") if isinstance(v, dict) else str(v) for v in values]
                labels = labels_for(self.config.label_rules, calling_ae=calling_ae, attributes=attributes)
                if labels:
                    per_study.setdefault(row["study"], set()).update(labels)
        for study, labels in per_study.items():
            index.write(lambda db, study=study, labels=labels: add_labels(db, study, labels, source="rule"))
        return per_study

    def studies_of(self, sop_instance_uids: list[str]) -> list[StudyRef]:
        """The studies (patient, SOP classes and counts) of these instances, from the index."""
        if self.index is None:
            return []
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(sop_instance_uids), 500):
            chunk = sop_instance_uids[start:start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows = self.index.query(
                "SELECT st.study_instance_uid AS study, p.patient_id AS pid, p.patient_name AS pname, "
                "st.accession_number AS acc, i.sop_class_uid AS cls, count(*) AS n FROM instances i "
                "JOIN series se ON se.pk = i.series_pk JOIN studies st ON st.pk = se.study_pk "
                f"JOIN patients p ON p.pk = st.patient_pk WHERE i.sop_instance_uid IN ({marks}) "
                "GROUP BY st.study_instance_uid, p.patient_id, p.patient_name, st.accession_number, i.sop_class_uid",
                chunk)
            for row in rows:
                entry = found.setdefault(row["study"], {"pid": row["pid"] or "", "pname": row["pname"] or "",
                                                        "acc": row["acc"] or "", "classes": {}})
                entry["classes"][row["cls"]] = entry["classes"].get(row["cls"], 0) + int(row["n"])
        return [StudyRef(uid, e["pid"], e["pname"], (e["acc"],) if e["acc"] else (), e["classes"])
                for uid, e in found.items()]

    # -- listeners ------------------------------------------------------------------------------------------
    def server_tls_context(self) -> ssl.SSLContext | None:
        tls = self.config.tls
        if tls.port < 0:
            return None
        from ..net.tls import server_context

        return server_context(tls.certificate, tls.key or None, ca=tls.ca or None,
                              require_client_cert=tls.verify_clients, profile=tls.profile)

    def http_tls_context(self) -> ssl.SSLContext | None:
        """HTTPS on the web port (``tls.http``): the DIMSE certificate and profile; client certificates are
        asked for when ``tls.ca`` is set but not required (HTTP users authenticate with passwords or tokens)."""
        tls = self.config.tls
        if not tls.http:
            return None
        from ..net.tls import server_context

        return server_context(tls.certificate, tls.key or None, ca=tls.ca or None, require_client_cert=False,
                              profile=tls.profile)

    def tls_failure(self, peer: tuple[str, int] | None, exc: BaseException) -> None:
        address, port = peer if peer else (None, None)
        self.auditor.record("security-alert", requester=Requester("", self.config.dicom.ae_title, address, port),
                            outcome=4, alert="node-authentication", subject=address or "unknown",
                            description=f"TLS handshake failed: {getattr(exc, 'reason', None) or exc or 'timeout'}")

    async def listen(self, ae: ApplicationEntity, host: str, port: int, *,
                     on_association: Callable[[Association], None] | None = None) -> DimseServer:
        """Start the plaintext listener (unless TLS only) and the TLS one (when configured); returns the
        plaintext one, or the TLS one in TLS-only mode. Records the application's start."""
        from ..net.tlsaccept import start_tls_server

        def both(assoc: Association) -> None:
            self.on_association(assoc)
            if on_association is not None:
                on_association(assoc)

        if self.config.auth.check_ae_host:  # resolved once, at start-up, in a worker thread
            loop = asyncio.get_running_loop()
            for remote in self.config.remotes:
                self._host_cache[remote.host] = await loop.run_in_executor(None, _host_addresses, remote.host)
        context = self.server_tls_context()
        tls = self.config.tls
        try:
            if tls.plaintext:
                self.plain_server = await ae.start_server(host, port, on_association=both)
            if context is not None:
                self.tls_server = DimseServer(ae, both)
                await start_tls_server(self.tls_server, host, tls.port, context, on_failure=self.tls_failure)
        except BaseException:
            await self.close(grace=0)
            raise
        self.auditor.record("application-start", description=self._listening())
        await self._audit_configuration()
        primary = self.plain_server or self.tls_server
        assert primary is not None
        return primary

    def _listening(self) -> str:
        parts = []
        if self.plain_server is not None:
            parts.append(f"DICOM on port {self.plain_server.port}")
        if self.tls_server is not None:
            parts.append(f"DICOM TLS on port {self.tls_server.port}")
        return "; ".join(parts)

    @property
    def tls_port(self) -> int | None:
        return self.tls_server.port if self.tls_server is not None and self.tls_server.server else None

    def fingerprint(self) -> str:
        """A SHA-256 of the configuration (passwords and secrets included only as their hashes)."""
        data = asdict(self.config)
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()

    async def _audit_configuration(self) -> None:
        if self.index is None:
            return
        index = self.index
        loop = asyncio.get_running_loop()
        now = self.fingerprint()
        try:
            before = await loop.run_in_executor(None, index.get_meta, "config_sha256")
            if before != now:
                await loop.run_in_executor(None, index.set_meta, "config_sha256", now)
        except Exception as exc:  # the index being down must not stop the start-up here
            log.warning("configuration fingerprint not recorded: %s", exc)
            return
        if before is not None and before != now:
            self.auditor.record("security-alert", alert="security-configuration", subject="configuration",
                                description="the configuration changed since the previous start")

    async def close(self, grace: float = 10.0) -> None:
        """Stop the TLS listener (the plaintext one is the caller's ``dimse``), record the stop, flush."""
        from ..net.tlsaccept import cancel_handshakes

        if self.tls_server is not None:
            await cancel_handshakes(self.tls_server)
            if self.tls_server.server is not None:
                await self.tls_server.close(grace=grace)
            self.tls_server = None
        self.auditor.record("application-stop")
        await asyncio.get_running_loop().run_in_executor(None, self.auditor.close, CLOSE_TIMEOUT)


_LEVEL_WHERE = {"patient": "p.patient_id = ?", "study": "st.study_instance_uid = ?",
                "series": "se.series_instance_uid = ?", "instance": "i.sop_instance_uid = ?"}


def studies_touched(index: Index, level: str, uid: str) -> list[StudyRef]:
    """The studies (with their patient, SOP classes and instance counts) that a deletion of ``level`` ``uid``
    touches — what its audit message names; read before the rows go."""
    rows = index.query(
        "SELECT st.study_instance_uid AS study, p.patient_id AS pid, p.patient_name AS pname, "
        "st.accession_number AS acc, i.sop_class_uid AS cls, count(*) AS n FROM instances i "
        "JOIN series se ON se.pk = i.series_pk JOIN studies st ON st.pk = se.study_pk "
        f"JOIN patients p ON p.pk = st.patient_pk WHERE {_LEVEL_WHERE[level]} "
        "GROUP BY st.study_instance_uid, p.patient_id, p.patient_name, st.accession_number, i.sop_class_uid", [uid])
    found: dict[str, StudyRef] = {}
    for row in rows:
        ref = found.get(row["study"]) or StudyRef(row["study"], row["pid"] or "", row["pname"] or "",
                                                  (row["acc"],) if row["acc"] else (), {})
        found[row["study"]] = StudyRef(ref.study_uid, ref.patient_id, ref.patient_name, ref.accession_numbers,
                                       {**ref.sop_classes, row["cls"]: int(row["n"])})
    return list(found.values())


__all__ = ["AccessPolicy", "Session", "check_security_config", "make_auditor", "studies_touched"]
