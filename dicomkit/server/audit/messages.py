"""Audit messages of PS3.15 A.5 (the DICOM Audit Message Schema, A.5.1) built from what the server knows.

Each kind of event the server records is one entry of :data:`EVENTS`: its Event ID (PS3.15 A.5.3, DCID 400),
Event Type Code (DCID 401), Event Action Code and the roles the active participants take. :func:`build`
turns an event, who asked (a :class:`~dicomkit.services.sources.Requester`), the studies touched and the
details into the XML of one ``AuditMessage``; every message it makes validates against the schema shipped
in ``schema/audit_message.rng`` (tests run ``xmllint --relaxng`` on each kind).

Mapping of the server's events onto the standard's messages:

==========================  =============================================  =======  ==========================
event                       Event ID (A.5.3.x)                             action   Event Type Code
==========================  =============================================  =======  ==========================
application-start / -stop   110100 Application Activity (A.5.3.1)          E        110120 / 110121
association-accepted        110114 User Authentication (A.5.3.12)          E        110122 Login
association-rejected        110114 User Authentication, outcome >= 4       E        110122 Login
login / logout              110114 User Authentication                     E        110122 / 110123
instances-stored            110104 DICOM Instances Transferred (A.5.3.5)   C        —
instances-transferred       110104 DICOM Instances Transferred             R        —
export / import             110106 Export / 110107 Import (A.5.3.7, 8)     R / C    —
query                       110112 Query (A.5.3.10)                        E        —
instances-accessed          110103 DICOM Instances Accessed (A.5.3.4)      R        —
study-deleted               110105 DICOM Study Deleted (A.5.3.6)           D        —
security-alert              110113 Security Alert (A.5.3.11)               E        per ``alert=``
audit-log-used              110101 Audit Log Used (A.5.3.2)                R        —
==========================  =============================================  =======  ==========================
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum

from ...core.errors import DicomError
from ...services.sources import Requester


class AuditError(DicomError):
    """An audit event that cannot be described (unknown kind, missing detail)."""


class Outcome(IntEnum):
    """EventOutcomeIndicator (PS3.15 A.5.1.1, A.5.2)."""

    SUCCESS = 0
    MINOR_FAILURE = 4  # e.g. an invalid password, first attempt
    SERIOUS_FAILURE = 8  # e.g. action terminated; forged credentials
    MAJOR_FAILURE = 12  # e.g. account locked after excessive failures


@dataclass(frozen=True)
class Code:
    """A coded value: csd-code, codeSystemName, originalText (PS3.15 A.5.1.1 CodedValueType)."""

    value: str
    scheme: str
    meaning: str

    def attrs(self) -> dict[str, str]:
        return {"csd-code": self.value, "codeSystemName": self.scheme, "originalText": self.meaning}


def _dcm(value: str, meaning: str) -> Code:
    return Code(value, "DCM", meaning)


# PS3.16 CID 400 Audit Event ID
APPLICATION_ACTIVITY = _dcm("110100", "Application Activity")
AUDIT_LOG_USED = _dcm("110101", "Audit Log Used")
INSTANCES_ACCESSED = _dcm("110103", "DICOM Instances Accessed")
INSTANCES_TRANSFERRED = _dcm("110104", "DICOM Instances Transferred")
STUDY_DELETED = _dcm("110105", "DICOM Study Deleted")
EXPORT = _dcm("110106", "Export")
IMPORT = _dcm("110107", "Import")
QUERY = _dcm("110112", "Query")
SECURITY_ALERT = _dcm("110113", "Security Alert")
USER_AUTHENTICATION = _dcm("110114", "User Authentication")
# PS3.16 CID 401 Audit Event Type Code
APPLICATION_START = _dcm("110120", "Application Start")
APPLICATION_STOP = _dcm("110121", "Application Stop")
LOGIN = _dcm("110122", "Login")
LOGOUT = _dcm("110123", "Logout")
ALERTS: dict[str, Code] = {
    "node-authentication": _dcm("110126", "Node Authentication"),
    "emergency-override-started": _dcm("110127", "Emergency Override Started"),
    "network-configuration": _dcm("110128", "Network Configuration"),
    "security-configuration": _dcm("110129", "Security Configuration"),
    "hardware-configuration": _dcm("110130", "Hardware Configuration"),
    "software-configuration": _dcm("110131", "Software Configuration"),
    "use-of-restricted-function": _dcm("110132", "Use of Restricted Function"),
    "audit-recording-stopped": _dcm("110133", "Audit Recording Stopped"),
    "audit-recording-started": _dcm("110134", "Audit Recording Started"),
    "object-security-attributes-changed": _dcm("110135", "Object Security Attributes Changed"),
    "security-roles-changed": _dcm("110136", "Security Roles Changed"),
    "user-security-attributes-changed": _dcm("110137", "User security Attributes Changed"),
}
# PS3.16 CID 402 Audit Active Participant Role ID
ROLE_APPLICATION = _dcm("110150", "Application")
ROLE_LAUNCHER = _dcm("110151", "Application Launcher")
ROLE_DESTINATION = _dcm("110152", "Destination Role ID")
ROLE_SOURCE = _dcm("110153", "Source Role ID")
# PS3.16 CID 404 Audit Participant Object ID Type Code, and the RFC 3881 codes A.5.1.2.4 keeps
STUDY_UID = _dcm("110180", "Study Instance UID")
SOP_CLASS_UID = _dcm("110181", "SOP Class UID")
NODE_ID = _dcm("110182", "Node ID")
PATIENT_NUMBER = Code("2", "RFC-3881", "Patient Number")
USER_IDENTIFIER = Code("11", "RFC-3881", "User Identifier")
URI = Code("12", "RFC-3881", "URI")


@dataclass(frozen=True)
class EventKind:
    name: str
    event_id: Code
    action: str
    type_code: Code | None = None


EVENTS: dict[str, EventKind] = {k.name: k for k in (
    EventKind("application-start", APPLICATION_ACTIVITY, "E", APPLICATION_START),
    EventKind("application-stop", APPLICATION_ACTIVITY, "E", APPLICATION_STOP),
    EventKind("association-accepted", USER_AUTHENTICATION, "E", LOGIN),
    EventKind("association-rejected", USER_AUTHENTICATION, "E", LOGIN),
    EventKind("login", USER_AUTHENTICATION, "E", LOGIN),
    EventKind("logout", USER_AUTHENTICATION, "E", LOGOUT),
    EventKind("instances-stored", INSTANCES_TRANSFERRED, "C"),
    EventKind("instances-transferred", INSTANCES_TRANSFERRED, "R"),
    EventKind("instances-accessed", INSTANCES_ACCESSED, "R"),
    EventKind("export", EXPORT, "R"),
    EventKind("import", IMPORT, "C"),
    EventKind("query", QUERY, "E"),
    EventKind("study-deleted", STUDY_DELETED, "D"),
    EventKind("security-alert", SECURITY_ALERT, "E"),
    EventKind("audit-log-used", AUDIT_LOG_USED, "R"),
)}


@dataclass(frozen=True)
class StudyRef:
    """A study an event touched: its UID, and what is known of it (each may be empty)."""

    study_uid: str
    patient_id: str = ""
    patient_name: str = ""
    accession_numbers: tuple[str, ...] = ()
    sop_classes: Mapping[str, int] = field(default_factory=dict)  # SOP Class UID -> instances

    @property
    def instances(self) -> int:
        return sum(self.sop_classes.values())


@dataclass(frozen=True)
class Source:
    """The audit source (PS3.15 A.5.2: AuditSourceIdentification) and the local application as a
    participant: our AE title, the host's name, the enterprise site."""

    source_id: str
    ae_title: str = ""
    site_id: str = ""
    host: str = field(default_factory=socket.getfqdn)


def _timestamp(when: dt.datetime) -> str:
    # PS3.15 A.5.2.5: UTC, or with the offset; xsd:dateTime
    return when.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _address_type(address: str) -> str:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in address else socket.AF_INET, address)
        return "2"  # IP address
    except OSError:
        return "1"  # machine name


def _token(text: str) -> str:
    """xsd:token content: no leading, trailing or repeated white space, and no control characters."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else " " for c in text)
    return " ".join(text.split())


def _participant(parent: ET.Element, user_id: str, *, requestor: bool, roles: Iterable[Code] = (),
                 alternative: str | None = None, user_name: str | None = None,
                 address: str | None = None) -> ET.Element:
    attrs = {"UserID": user_id or "unknown", "UserIsRequestor": "true" if requestor else "false"}
    if alternative:
        attrs["AlternativeUserID"] = alternative
    if user_name:
        attrs["UserName"] = user_name
    if address:
        attrs["NetworkAccessPointID"] = _token(address)
        attrs["NetworkAccessPointTypeCode"] = _address_type(address)
    node = ET.SubElement(parent, "ActiveParticipant", attrs)
    for role in roles:
        ET.SubElement(node, "RoleIDCode", role.attrs())
    return node


def _requester_participant(parent: ET.Element, who: Requester, *, requestor: bool, roles: Iterable[Code]) -> None:
    ae = who.calling_ae_title
    user_id = who.user_identity or ae or who.address or "unknown"
    # PS3.15 A.5.2.2: a DICOM application's AE titles go in AlternativeUserID as AETITLES=...
    _participant(parent, user_id, requestor=requestor, roles=roles,
                 alternative=f"AETITLES={ae}" if ae else None, user_name=who.user_identity or None,
                 address=who.address)


def _local_participant(parent: ET.Element, source: Source, *, requestor: bool, roles: Iterable[Code]) -> None:
    _participant(parent, source.ae_title or source.source_id, requestor=requestor, roles=roles,
                 alternative=f"AETITLES={source.ae_title}" if source.ae_title else None, address=source.host)


def _object(parent: ET.Element, object_id: str, id_type: Code, *, type_code: str, role: str | None = None,
            name: str | None = None, query: bytes | None = None, lifecycle: str | None = None,
            details: Iterable[tuple[str, bytes]] = ()) -> ET.Element:
    attrs = {"ParticipantObjectID": _token(object_id) or "unknown", "ParticipantObjectTypeCode": type_code}
    if role is not None:
        attrs["ParticipantObjectTypeCodeRole"] = role
    if lifecycle is not None:
        attrs["ParticipantObjectDataLifeCycle"] = lifecycle
    node = ET.SubElement(parent, "ParticipantObjectIdentification", attrs)
    ET.SubElement(node, "ParticipantObjectIDTypeCode", id_type.attrs())
    if query is not None:
        ET.SubElement(node, "ParticipantObjectQuery").text = base64.b64encode(query).decode("ascii")
    else:
        ET.SubElement(node, "ParticipantObjectName").text = _token(name or object_id) or "unknown"
    for key, value in details:
        ET.SubElement(node, "ParticipantObjectDetail", {"type": _token(key), "value":
                                                         base64.b64encode(value).decode("ascii")})
    return node


def _study_objects(parent: ET.Element, studies: Iterable[StudyRef], lifecycle: str | None) -> None:
    patients: dict[str, str] = {}
    for study in studies:
        node = _object(parent, study.study_uid, STUDY_UID, type_code="2", role="3", lifecycle=lifecycle)
        description = ET.SubElement(node, "ParticipantObjectDescription")
        for number in study.accession_numbers:
            if _token(number):
                ET.SubElement(description, "Accession", {"Number": _token(number)})
        for sop_class, count in sorted(study.sop_classes.items()):
            ET.SubElement(description, "SOPClass", {"UID": sop_class, "NumberOfInstances": str(int(count))})
        if study.patient_id and study.patient_id not in patients:
            patients[study.patient_id] = study.patient_name
    # PS3.15 A.5.3.5: the patients of the studies, one object each
    for patient_id, name in patients.items():
        _object(parent, patient_id, PATIENT_NUMBER, type_code="1", role="1", name=name or patient_id)


def build(event: str, source: Source, *, requester: Requester | None = None, studies: Iterable[StudyRef] = (),
          outcome: int = Outcome.SUCCESS, description: str | None = None, when: dt.datetime | None = None,
          destination: Requester | None = None, alert: str | None = None, query: bytes | None = None,
          sop_class: str | None = None, transfer_syntax: str | None = None, subject: str | None = None,
          launcher: str | None = None) -> str:
    """The XML of one audit message (see the module documentation for the events and their details).

    ``requester`` is who asked; ``destination`` the receiver of transferred instances when it is not the
    requester (C-MOVE); ``alert`` the Security Alert type (a key of :data:`ALERTS`); ``query`` the
    encoded Identifier or the query string of a query, with its ``sop_class`` and ``transfer_syntax``;
    ``subject`` what a security alert is about (an AE title, a user, a file, a URL).
    """
    kind = EVENTS.get(event)
    if kind is None:
        raise AuditError(f"unknown audit event {event!r}; known: {', '.join(EVENTS)}")
    if int(outcome) not in (0, 4, 8, 12):
        raise AuditError(f"audit outcome {outcome!r} must be 0, 4, 8 or 12 (PS3.15 A.5.1.1)")
    studies = list(studies)
    when = when or dt.datetime.now(dt.UTC)
    root = ET.Element("AuditMessage")
    ident = ET.SubElement(root, "EventIdentification", {"EventActionCode": kind.action,
                                                        "EventDateTime": _timestamp(when),
                                                        "EventOutcomeIndicator": str(int(outcome))})
    ET.SubElement(ident, "EventID", kind.event_id.attrs())
    type_code = kind.type_code
    if event == "security-alert":
        type_code = ALERTS.get(alert or "")
        if type_code is None:
            raise AuditError(f"security-alert needs alert= one of {', '.join(ALERTS)}")
    if type_code is not None:
        ET.SubElement(ident, "EventTypeCode", type_code.attrs())
    if description:
        ET.SubElement(ident, "EventOutcomeDescription").text = "".join(
            c if c.isprintable() or c in "\t\n" else " " for c in description)

    who = requester
    if event in ("application-start", "application-stop"):
        # PS3.15 A.5.3.1: the application, and who started or stopped it
        _local_participant(root, source, requestor=False, roles=[ROLE_APPLICATION])
        if launcher:
            _participant(root, launcher, requestor=True, roles=[ROLE_LAUNCHER])
    elif event in ("instances-stored", "import"):
        # the requester sent, we received (A.5.3.5 action C)
        if who is not None:
            _requester_participant(root, who, requestor=True, roles=[ROLE_SOURCE])
        _local_participant(root, source, requestor=who is None, roles=[ROLE_DESTINATION])
    elif event in ("instances-transferred", "export"):
        # we sent; to the destination (C-MOVE: another AE than the requester)
        _local_participant(root, source, requestor=who is None, roles=[ROLE_SOURCE])
        receiver = destination or who
        if receiver is not None:
            _requester_participant(root, receiver, requestor=receiver is who, roles=[ROLE_DESTINATION])
        if who is not None and destination is not None:
            _requester_participant(root, who, requestor=True, roles=[])
    elif event == "query":
        if who is not None:
            _requester_participant(root, who, requestor=True, roles=[ROLE_SOURCE])
        _local_participant(root, source, requestor=who is None, roles=[ROLE_DESTINATION])
    else:
        if who is not None:
            _requester_participant(root, who, requestor=True, roles=[])
        _local_participant(root, source, requestor=who is None, roles=[ROLE_APPLICATION])

    audit_source = {"AuditSourceID": _token(source.source_id) or "dicomkit"}
    if source.site_id:
        audit_source["AuditEnterpriseSiteID"] = _token(source.site_id)
    src = ET.SubElement(root, "AuditSourceIdentification", audit_source)
    ET.SubElement(src, "AuditSourceTypeCode", {"csd-code": "4"})  # application server process

    if event == "query":
        # PS3.15 A.5.3.10: the SOP Class queried, the query itself and its transfer syntax
        details = [("TransferSyntax", transfer_syntax.encode("ascii"))] if transfer_syntax else []
        _object(root, sop_class or "unknown", SOP_CLASS_UID, type_code="2", role="24", query=query or b"",
                details=details)
    elif event == "security-alert" and subject:
        _object(root, subject, NODE_ID if alert == "node-authentication" else URI, type_code="2", role="13")
    elif event in ("association-accepted", "association-rejected", "login", "logout") and subject:
        _object(root, subject, USER_IDENTIFIER, type_code="1", role="11")
    lifecycle = {"instances-stored": "1", "import": "2", "export": "10", "study-deleted": "14",
                 "instances-accessed": "6", "instances-transferred": "6"}.get(event)
    _study_objects(root, studies, lifecycle)
    return to_xml(root)


def to_xml(node: ET.Element) -> str:
    """The XML of a tree of plain elements (no namespaces, no tails) — what ``ET.tostring`` writes for it —
    with what peers sent (user names, AE titles, descriptions: anything) made safe by :func:`xml_safe`."""
    out: list[str] = []
    _write(node, out)
    return "".join(out)


def _write(node: ET.Element, out: list[str]) -> None:
    out.append("<" + node.tag)
    for name, value in node.attrib.items():
        out.append(f' {name}="{_escape_attribute(xml_safe(value))}"')
    if node.text or len(node):
        out.append(">")
        if node.text:
            out.append(_escape_text(xml_safe(node.text)))
        for child in node:
            _write(child, out)
        out.append(f"</{node.tag}>")
    else:
        out.append(" />")


def _escape_text(text: str) -> str:
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


_ATTRIBUTE_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;",
                                    "\n": "&#10;", "\t": "&#09;"})
_PLAIN_ATTRIBUTE = re.compile('[^&<>"\r\n\t]*')


def _escape_attribute(text: str) -> str:
    return text if _PLAIN_ATTRIBUTE.fullmatch(text) else text.translate(_ATTRIBUTE_ESCAPES)


_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """Characters XML 1.0 cannot hold (controls, lone surrogates, U+FFFE/FFFF) as U+FFFD (XML 1.0 2.2)."""
    if text.isascii() and text.isprintable():
        return text
    return _NOT_XML.sub("\ufffd", text)


__all__ = ["ALERTS", "EVENTS", "AuditError", "Code", "EventKind", "Outcome", "Source", "StudyRef", "build", "xml_safe"]
