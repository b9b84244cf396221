"""The audit trail the server writes to: :class:`Auditor` (``audit.record(event, requester=..., ...)``).

``record`` builds the PS3.15 A.5 message at once (cheap, in the caller's thread, so the time and the
content are those of the event) and hands it to every sink without waiting (:mod:`.sinks`). It never
raises for a sink that is slow or down; a message that cannot be described (an unknown event) is a
programming error and raises :class:`~.messages.AuditError`.
"""

from __future__ import annotations

import datetime as dt
import logging
import ssl
from collections.abc import Iterable, Sequence
from typing import Any

from ...services.sources import Requester
from .messages import Outcome, Source, StudyRef, build, xml_safe
from .sinks import AuditRecord, FileSink, Sink, SyslogSink, parse_url

log = logging.getLogger("dicomkit.server.audit")


class Auditor:
    """Records audit events to its sinks (see the module documentation)."""

    def __init__(self, source: Source, sinks: Sequence[Sink] = (), *, enabled: bool = True) -> None:
        self.source = source
        self.sinks = list(sinks)
        self.enabled = enabled
        self.recorded = 0
        self._started = False

    def start(self) -> Auditor:
        if not self._started:
            for sink in self.sinks:
                sink.start()
            self._started = True
        return self

    def record(self, event: str, *, requester: Requester | None = None, studies: Iterable[StudyRef | str] = (),
               outcome: int = Outcome.SUCCESS, description: str | None = None, when: dt.datetime | None = None,
               **details: Any) -> AuditRecord | None:
        """Record one event (names and details: :func:`.messages.build`); returns the record (None when
        auditing is disabled). Studies may be given as :class:`StudyRef` or as bare Study Instance UIDs."""
        if not self.enabled:
            return None
        refs = [s if isinstance(s, StudyRef) else StudyRef(str(s)) for s in studies]
        when = when or dt.datetime.now(dt.UTC)
        xml = build(event, self.source, requester=requester, studies=refs, outcome=outcome,
                    description=description, when=when, **details)
        extra = {k: v for k, v in details.items() if k in ("alert", "sop_class", "subject") and v}
        if "destination" in details and details["destination"] is not None:
            extra["destination"] = str(details["destination"].calling_ae_title or details["destination"])
        def clean(text: str | None) -> str | None:
            return xml_safe(text) if text else None

        record = AuditRecord(event=event, time=when, outcome=int(outcome), xml=xml,
                             user=clean(requester.user_identity) if requester else None,
                             calling_ae=clean(requester.calling_ae_title) if requester else None,
                             address=clean(requester.address) if requester else None,
                             association=clean(requester.association_id) if requester else None,
                             studies=tuple(xml_safe(r.study_uid) for r in refs),
                             extra={k: xml_safe(str(v)) for k, v in extra.items()})
        self.recorded += 1
        for sink in self.sinks:
            sink.offer(record)
        return record

    @property
    def dropped(self) -> int:
        """Messages some sink could not take (full queue while its collector was down) or never sent."""
        return sum(s.dropped for s in self.sinks)

    def stats(self) -> dict[str, dict[str, int]]:
        return {s.name: s.stats() for s in self.sinks}

    def close(self, timeout: float = 5.0) -> None:
        """Flush every sink for up to ``timeout`` seconds in all (a collector that is down costs that long at
        most; what it could not take is counted as dropped)."""
        import time

        deadline = time.monotonic() + timeout
        for sink in self.sinks:
            sink.begin_close()
        for sink in self.sinks:
            sink.finish_close(deadline)
        self._started = False

    def __enter__(self) -> Auditor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def syslog_sink(url: str, *, ca: str | None = None, cert: str | None = None, key: str | None = None,
                app_name: str = "dicomkit", capacity: int = 10000, verify: bool = True) -> SyslogSink:
    """A sink for ``udp://``, ``tcp://`` or ``tls://HOST:PORT``; TLS verifies the collector against
    ``ca`` (the system's CAs when None) and presents ``cert``/``key`` when given (RFC 5425 5.3)."""
    transport, host, port = parse_url(url)
    context: ssl.SSLContext | None = None
    if transport == "tls":
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
        context.minimum_version = ssl.TLSVersion.TLSv1_2  # RFC 5425 5.1 (updated by RFC 9662): TLS 1.2+
        if not verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if cert:
            context.load_cert_chain(cert, key)
    return SyslogSink(transport, host, port, tls=context, app_name=app_name, capacity=capacity)


__all__ = ["Auditor", "FileSink", "syslog_sink"]
