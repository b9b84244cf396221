"""Where audit messages go: RFC 5424 syslog over UDP (RFC 5426), TCP (RFC 6587 octet counting) or TLS
(RFC 5425), and a local rotating file of JSON lines.

Every sink has a bounded queue and a thread of its own: :meth:`Sink.offer` never blocks the caller. A sink
whose collector is down keeps its current message and retries with a growing pause (up to
``MAX_BACKOFF``); what does not fit in the queue meanwhile is dropped and counted (:attr:`Sink.dropped`),
never waited for.
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import json
import logging
import os
import queue
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("dicomkit.server.audit")

MAX_BACKOFF = 30.0  # seconds between attempts to reach a collector that is down
MSGID = "DICOM+RFC3881"  # PS3.15 A.6 / A.7: the syslog MSGID of DICOM audit messages
FACILITY_AUTHPRIV = 10  # RFC 5424 6.2.1: security/authorization messages
SEVERITY = {0: 5, 4: 4, 8: 3, 12: 2}  # outcome -> notice, warning, error, critical
UDP_LIMIT = 65507  # the largest IPv4 UDP payload


@dataclass(frozen=True)
class AuditRecord:
    """One recorded event: its message and the fields the local file is searched by."""

    event: str
    time: dt.datetime
    outcome: int
    xml: str
    user: str | None = None
    calling_ae: str | None = None
    address: str | None = None
    association: str | None = None
    studies: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        out: dict[str, Any] = {"time": self.time.astimezone(dt.UTC).isoformat(timespec="milliseconds"),
                               "event": self.event, "outcome": self.outcome}
        for key in ("user", "calling_ae", "address", "association"):
            value = getattr(self, key)
            if value:
                out[key] = value
        if self.studies:
            out["studies"] = list(self.studies)
        out.update(self.extra)
        out["message"] = self.xml
        return json.dumps(out, ensure_ascii=False)


def syslog_frame(record: AuditRecord, *, hostname: str, app_name: str = "dicomkit", procid: str | None = None) -> bytes:
    """The RFC 5424 message: ``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - BOM MSG``."""
    pri = FACILITY_AUTHPRIV * 8 + SEVERITY.get(record.outcome, 3)
    stamp = record.time.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def field_(text: str, limit: int) -> str:  # RFC 5424 6: PRINTUSASCII, no spaces, "-" when empty
        clean = "".join(c for c in text if 33 <= ord(c) <= 126)[:limit]
        return clean or "-"

    header = (f"<{pri}>1 {stamp} {field_(hostname, 255)} {field_(app_name, 48)} "
              f"{field_(procid or str(os.getpid()), 128)} {MSGID} - ")
    return header.encode("ascii") + b"\xef\xbb\xbf" + record.xml.encode("utf-8")  # RFC 5424 6.4: BOM, UTF-8


class Sink(abc.ABC):
    """A destination with a bounded queue and a sender thread."""

    name = "sink"

    def __init__(self, capacity: int = 10000) -> None:
        self.queue: queue.Queue[AuditRecord | None] = queue.Queue(maxsize=max(capacity, 1))
        self.dropped = 0
        self.sent = 0
        self.failures = 0
        self._stop = threading.Event()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> Sink:
        self._thread = threading.Thread(target=self._run, name=f"dicomkit-audit-{self.name}", daemon=True)
        self._thread.start()
        return self

    def offer(self, record: AuditRecord) -> bool:
        """Queue ``record``; False (and counted as dropped) when the queue is full or the sink closed."""
        if self._closing.is_set():
            with self._lock:
                self.dropped += 1
            return False
        try:
            self.queue.put_nowait(record)
            return True
        except queue.Full:
            with self._lock:
                self.dropped += 1
            return False

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued for up to ``timeout`` seconds, then stop (the rest counts as dropped)."""
        self.begin_close()
        self.finish_close(time.monotonic() + timeout)

    def begin_close(self) -> None:
        """Take no more records; the sender drains the queue and stops (see :meth:`finish_close`)."""
        self._closing.set()
        with contextlib.suppress(queue.Full):
            self.queue.put_nowait(None)  # wakes the sender at once when it waits on an empty queue

    def finish_close(self, deadline: float) -> None:
        """Wait for the sender until ``deadline`` (time.monotonic()), then stop it and count what is left."""
        if self._thread is not None:
            self._thread.join(max(deadline - time.monotonic(), 0.0))
            self._stop.set()  # a collector still down: stop retrying
            self._thread.join(1.0)
            self._thread = None
        while True:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                with self._lock:
                    self.dropped += 1
        self.disconnect()

    def _run(self) -> None:
        backoff = 0.5
        while True:
            try:
                item = self.queue.get(timeout=0.5)
            except queue.Empty:
                if self._closing.is_set():
                    return
                continue
            if item is None:
                if self._closing.is_set() and self.queue.empty():
                    return
                continue
            while True:
                try:
                    self.deliver(item)
                    self.sent += 1
                    backoff = 0.5
                    break
                except (ValueError, TypeError) as exc:  # this record cannot be sent at all: never retry it
                    with self._lock:
                        self.dropped += 1
                    log.warning("audit %s: a record that cannot be encoded was dropped: %s", self.name, exc)
                    break
                except Exception as exc:  # a collector down, a full disk: retry, never raise into the server
                    self.failures += 1
                    self.disconnect()
                    if self.failures == 1 or self.failures % 100 == 0:
                        log.warning("audit %s: cannot deliver (%s); retrying, %d dropped so far", self.name,
                                    exc, self.dropped)
                    if self._stop.wait(backoff):
                        with self._lock:
                            self.dropped += 1
                        return
                    backoff = min(backoff * 2, MAX_BACKOFF)

    @abc.abstractmethod
    def deliver(self, record: AuditRecord) -> None:
        """Send one record (the sender thread calls it; raising OSError makes it retry with back-off)."""

    def disconnect(self) -> None:  # noqa: B027 - optional: sinks without a connection keep this
        """Drop the connection (a retry reconnects)."""

    def stats(self) -> dict[str, int]:
        return {"queued": self.queue.qsize(), "sent": self.sent, "dropped": self.dropped, "failures": self.failures}


class SyslogSink(Sink):
    """RFC 5424 messages to ``host:port`` over ``udp``, ``tcp`` or ``tls``."""

    def __init__(self, transport: str, host: str, port: int, *, tls: ssl.SSLContext | None = None,
                 app_name: str = "dicomkit", hostname: str | None = None, capacity: int = 10000,
                 timeout: float = 5.0) -> None:
        super().__init__(capacity)
        if transport not in ("udp", "tcp", "tls"):
            raise ValueError(f"syslog transport must be udp, tcp or tls, not {transport!r}")
        if transport == "tls" and tls is None:
            raise ValueError("syslog over TLS needs a TLS context")
        self.transport, self.host, self.port, self.tls = transport, host, port, tls
        self.name = f"syslog-{transport}"
        self.app_name = app_name
        self.hostname = hostname or socket.getfqdn()
        self.timeout = timeout
        self._sock: socket.socket | None = None

    def _connect(self) -> socket.socket:
        if self.transport == "udp":
            info = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)[0]
            sock = socket.socket(info[0], socket.SOCK_DGRAM)
            sock.connect(info[4])
            return sock
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        if self.tls is not None:
            try:
                sock = self.tls.wrap_socket(sock, server_hostname=self.host if self.tls.check_hostname else None)
            except BaseException:
                sock.close()
                raise
        sock.settimeout(self.timeout)
        return sock

    def deliver(self, record: AuditRecord) -> None:
        data = syslog_frame(record, hostname=self.hostname, app_name=self.app_name)
        if self._sock is None:
            self._sock = self._connect()
        if self.transport == "udp":
            if len(data) > UDP_LIMIT:  # RFC 5426 3.2: one message per datagram; this one cannot be sent
                with self._lock:
                    self.dropped += 1
                log.warning("audit message of %d bytes is too large for UDP: dropped", len(data))
                return
            self._sock.send(data)
        else:
            # RFC 6587 3.4.1 / RFC 5425 4.3: MSG-LEN SP SYSLOG-MSG
            self._sock.sendall(str(len(data)).encode("ascii") + b" " + data)

    def disconnect(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None


class FileSink(Sink):
    """JSON lines (one record each, the XML message in ``message``) in ``path``, rotated at ``max_bytes``
    into ``path.1`` ... ``path.N`` (the oldest removed)."""

    name = "file"

    def __init__(self, path: str | os.PathLike[str], *, max_bytes: int = 100 * 10**6, backups: int = 10,
                 capacity: int = 10000, fsync: bool = False) -> None:
        super().__init__(capacity)
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = max(backups, 0)
        self.fsync = fsync
        self._fd: int | None = None

    def _open(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)  # audit trails hold PHI

    def _rotate(self) -> None:
        self.disconnect()
        if self.backups == 0:
            self.path.unlink(missing_ok=True)
            return
        for i in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{i + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))

    def deliver(self, record: AuditRecord) -> None:
        # one write(2) per line on an O_APPEND descriptor: lines of this process and of others appending to
        # the same file (dicomkit audit, archive delete) never interleave
        line = (record.to_json() + "\n").encode("utf-8", "replace")
        if self._fd is None:
            self._fd = self._open()
        if self.max_bytes:
            size = os.fstat(self._fd).st_size
            if size and size + len(line) > self.max_bytes:
                self._rotate()
                self._fd = self._open()
        view = memoryview(line)
        while view:
            view = view[os.write(self._fd, view):]
        if self.fsync:
            os.fsync(self._fd)

    def disconnect(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def parse_url(url: str) -> tuple[str, str, int]:
    """``udp://host:514``, ``tcp://host:601``, ``tls://host:6514`` -> (transport, host, port)."""
    scheme, sep, rest = url.partition("://")
    defaults = {"udp": 514, "tcp": 601, "tls": 6514}
    if not sep or scheme not in defaults:
        raise ValueError(f"syslog collector {url!r}: expected udp://HOST[:PORT], tcp://... or tls://...")
    host, port = rest.rstrip("/"), defaults[scheme]
    if host.startswith("["):
        inner, _, after = host[1:].partition("]")
        host = inner
        if after.startswith(":"):
            port = int(after[1:]) if after[1:].isdigit() else -1
    elif host.count(":") == 1:
        host, _, text = host.partition(":")
        port = int(text) if text.isdigit() else -1
    if not host or not 0 < port < 65536:
        raise ValueError(f"syslog collector {url!r}: expected a host and a port from 1 to 65535")
    return scheme, host, port


__all__ = ["MSGID", "AuditRecord", "FileSink", "Sink", "SyslogSink", "parse_url", "syslog_frame"]
