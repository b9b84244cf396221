"""The audit trail of the PACS (PS3.15 A.5 messages; syslog RFC 5424 over UDP, TCP and TLS; a local file).

>>> from dicomkit.server.audit import Auditor, FileSink, Source
>>> audit = Auditor(Source("DICOMKIT", ae_title="DICOMKIT"), [FileSink("audit/audit.log")]).start()
>>> audit.record("instances-stored", requester=rq, studies=[StudyRef("1.2.3", patient_id="P1")])
>>> audit.close()

Modules: :mod:`.messages` (the events and their XML), :mod:`.sinks` (transports, queues), :mod:`.trail`
(:class:`Auditor`), :mod:`.read` (the local file for ``dicomkit audit``), :mod:`.rnc` (the schema's
compact syntax to XML), ``schema/`` (the schema of PS3.15 A.5.1.1, both syntaxes).
"""

from __future__ import annotations

from pathlib import Path

from .messages import ALERTS, EVENTS, AuditError, Outcome, Source, StudyRef, build
from .sinks import AuditRecord, FileSink, Sink, SyslogSink, syslog_frame
from .trail import Auditor, syslog_sink

SCHEMA_DIR = Path(__file__).parent / "schema"
SCHEMA_RNC = SCHEMA_DIR / "audit_message.rnc"
SCHEMA_RNG = SCHEMA_DIR / "audit_message.rng"

__all__ = [
    "ALERTS",
    "EVENTS",
    "SCHEMA_RNC",
    "SCHEMA_RNG",
    "AuditError",
    "AuditRecord",
    "Auditor",
    "FileSink",
    "Outcome",
    "Sink",
    "Source",
    "StudyRef",
    "SyslogSink",
    "build",
    "syslog_frame",
    "syslog_sink",
]
