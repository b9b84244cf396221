"""STOW-RS forwarding (issue 14): a study of the archive sent to a remote DICOMweb server (PS3.18 10.5),
de-identified on the way out when the destination is one of ``deid.destinations``.

Destinations are ``[destinations.NAME]`` tables (url, username + password or token, ca, timeout). The
instances go in POST requests to ``{url}/studies`` as ``multipart/related; type="application/dicom"``,
at most :data:`BATCH_BYTES` (or :data:`BATCH_INSTANCES`) per request, so memory stays bounded. The answer of
each request is read as PS3.18 10.5.3 says: 200 every instance stored; 202 some failed (the Failed SOP
Sequence says which and why); 409 none stored; anything else is the destination refusing, reported with its
status and the start of its body. Only the standard library talks HTTP.

:func:`export_study` is what ``dicomkit archive export --study UID --to NAME`` runs; it is audited as Export
(PS3.15 A.5.3.7: the study, the destination, *(de-identified)* when it was).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.errors import DicomError
from ..services.sources import Requester
from .deidexport import DeidExport

if TYPE_CHECKING:
    from .audit import Auditor
    from .index import InstanceRow
    from .ingest import Archive
    from .securityconfig import Destination

BATCH_BYTES = 32 << 20  # bytes of instances per STOW-RS request
BATCH_INSTANCES = 200
FAILED_SOP_SEQUENCE = "00081198"
REFERENCED_SOP_INSTANCE_UID = "00081155"
FAILURE_REASON = "00081197"


class ForwardError(DicomError):
    """A study could not be exported: an unknown destination or study, a destination that refused or
    could not be reached (the message says which and why)."""


@dataclass
class ExportResult:
    """What an export did: the study, the destination, what was sent and stored, what failed and why."""

    study: str
    destination: str
    deidentified: bool
    total: int = 0  # instances of the study
    sent: int = 0
    stored: int = 0
    failed: list[str] = field(default_factory=list)  # "SOP Instance UID: why"
    sent_study: str = ""  # the Study Instance UID the destination received (the replacement when de-identified)

    @property
    def outcome(self) -> int:
        """PS3.15 A.5.1 EventOutcomeIndicator: 0 all stored, 4 some failed, 8 none stored."""
        return 0 if not self.failed else 4 if self.stored else 8


def _secret(text: str, key: str) -> str:
    if text.startswith("env:"):
        value = os.environ.get(text[4:], "")
        if not value:
            raise ForwardError(f"{key}: the environment variable {text[4:]} is not set")
        return value
    return text


class StowClient:
    """POSTs of Part 10 objects to one destination's STOW-RS resource (``{url}/studies``)."""

    def __init__(self, destination: Destination) -> None:
        self.destination = destination
        url = urllib.parse.urlsplit(destination.url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ForwardError(f"destinations.{destination.name}.url: {destination.url!r} is not an http(s) URL")
        self.url = url
        self.headers = {"Accept": "application/dicom+json"}
        key = f"destinations.{destination.name}"
        if destination.token:
            self.headers["Authorization"] = f"Bearer {_secret(destination.token, key + '.token')}"
        elif destination.username:
            pair = f"{destination.username}:{_secret(destination.password, key + '.password')}"
            self.headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")

    def _connection(self) -> http.client.HTTPConnection:
        host, port, timeout = self.url.hostname or "", self.url.port, self.destination.timeout
        if self.url.scheme == "https":
            context = ssl.create_default_context(cafile=self.destination.ca or None)
            return http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
        return http.client.HTTPConnection(host, port, timeout=timeout)

    def post(self, objects: list[tuple[str, bytes]]) -> tuple[int, list[str]]:
        """Store ``objects`` (SOP Instance UID, Part 10 bytes); (how many stored, "uid: why" of each failure)."""
        boundary = uuid.uuid4().hex
        pieces: list[bytes] = []
        for _uid, data in objects:
            pieces += [f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode(), data, b"\r\n"]
        pieces.append(f"--{boundary}--\r\n".encode())
        body = b"".join(pieces)
        headers = {**self.headers, "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
                   "Content-Length": str(len(body))}
        path = self.url.path.rstrip("/") + "/studies"
        name = f"{self.destination.name} ({self.destination.url})"
        conn = self._connection()
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            status, answer = response.status, response.read()
        except ssl.SSLCertVerificationError as exc:  # the handshake failed on our side: name what to fix
            raise ForwardError(f"destination {name}: TLS handshake failed, its certificate is not trusted "
                               f"({exc.verify_message or exc.reason}; set the destination's ca)") from None
        except ssl.SSLError as exc:
            raise ForwardError(f"destination {name}: TLS handshake failed: {exc.reason or exc}") from None
        except (OSError, http.client.HTTPException) as exc:
            raise ForwardError(f"destination {name} cannot be reached: {exc}") from None
        finally:
            conn.close()
        failures = _failures(answer)
        if status in (200, 202, 409) and (status != 409 or failures):
            failed_uids = {uid for uid, _why in failures}
            stored = sum(1 for uid, _data in objects if uid not in failed_uids) if status != 409 else 0
            return stored, [f"{uid}: {why}" for uid, why in failures] or (
                [f"{uid}: not stored (HTTP 409)" for uid, _d in objects] if status == 409 else [])
        text = answer[:300].decode("utf-8", "replace").strip().replace("\n", " ")
        raise ForwardError(f"destination {name} refused the STOW-RS request: HTTP {status}"
                           f"{f' {response.reason}' if response.reason else ''}{f': {text}' if text else ''}")


def _failures(answer: bytes) -> list[tuple[str, str]]:
    """(SOP Instance UID, reason) of the Failed SOP Sequence of a STOW-RS response (PS3.18 10.5.3.1)."""
    try:
        doc: Any = json.loads(answer) if answer.strip() else {}
    except (ValueError, UnicodeDecodeError):
        return []
    if isinstance(doc, list):
        doc = doc[0] if doc else {}
    if not isinstance(doc, dict):
        return []
    out = []
    for item in doc.get(FAILED_SOP_SEQUENCE, {}).get("Value", []) or []:
        if not isinstance(item, dict):
            continue
        uid = (item.get(REFERENCED_SOP_INSTANCE_UID, {}).get("Value") or ["?"])[0]
        reason = (item.get(FAILURE_REASON, {}).get("Value") or [None])[0]
        out.append((str(uid), f"failure reason {reason:#06x}" if isinstance(reason, int) else "failed"))
    return out


def _batches(archive: Archive, rows: list[InstanceRow], export: DeidExport | None,
             result: ExportResult) -> Iterator[list[tuple[str, bytes]]]:
    batch: list[tuple[str, bytes]] = []
    size = 0
    for row in rows:
        try:
            with archive.store.open(row.blob_key) as f:
                data = f.read()
            uid = row.sop_instance_uid
            if export is not None:
                data = export.deidentify(data, uid)
                uid = export.uid(uid)
        except (DicomError, OSError) as exc:
            why = str(exc) if isinstance(exc, DicomError) else f"cannot read the stored object: {exc}"
            result.failed.append(f"{row.sop_instance_uid}: {why}")
            continue
        batch.append((uid, data))
        size += len(data)
        if size >= BATCH_BYTES or len(batch) >= BATCH_INSTANCES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def export_study(archive: Archive, study_uid: str, destination: str, *, auditor: Auditor | None = None,
                 requester: Requester | None = None, export: DeidExport | None = None) -> ExportResult:
    """Send every instance of ``study_uid`` to ``[destinations.<destination>]`` by STOW-RS (see the module
    documentation); ForwardError for an unknown destination or study and for a destination that refused."""
    config = archive.config
    target = config.destinations.get(destination)
    if target is None:
        known = ", ".join(sorted(config.destinations)) or "none are configured"
        raise ForwardError(f"no destination {destination!r} in [destinations] ({known})")
    rows = archive.index.instances(study_instance_uid=study_uid)
    if not rows:
        raise ForwardError(f"no study {study_uid} in the archive")
    deidentified = destination in config.deid.destinations
    if deidentified and export is None:
        export = DeidExport(config)
    result = ExportResult(study_uid, destination, deidentified, len(rows),
                          sent_study=export.uid(study_uid) if deidentified and export is not None else study_uid)
    client = StowClient(target)
    refused: ForwardError | None = None
    try:
        for batch in _batches(archive, rows, export if deidentified else None, result):
            result.sent += len(batch)
            stored, failed = client.post(batch)
            result.stored += stored
            result.failed += failed
    except ForwardError as exc:
        refused = exc
        result.failed.append(str(exc))
    if auditor is not None:
        from .access import studies_touched

        try:
            studies: list[Any] = list(studies_touched(archive.index, "study", study_uid))
        except Exception:
            studies = [study_uid]
        url = urllib.parse.urlsplit(target.url)
        auditor.record("export", requester=requester, studies=studies, outcome=result.outcome,
                       destination=Requester(user_identity=target.url, address=url.hostname, protocol="dicomweb"),
                       description=f"STOW-RS to {destination}: {result.stored} of {len(rows)} instance(s) stored"
                       + (" (de-identified)" if deidentified else ""))
    if refused is not None:
        raise refused
    return result


__all__ = ["BATCH_BYTES", "ExportResult", "ForwardError", "StowClient", "export_study"]
