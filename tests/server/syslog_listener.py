"""A small syslog collector for the tests: UDP (RFC 5426), TCP with octet counting (RFC 6587 3.4.1) and
TLS (RFC 5425), parsing each RFC 5424 message into its header fields and the MSG."""

from __future__ import annotations

import re
import socket
import ssl
import threading
from dataclasses import dataclass

_HEADER = re.compile(rb"^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[.*?\]) ", re.DOTALL)


@dataclass
class Message:
    pri: int
    timestamp: str
    hostname: str
    app_name: str
    procid: str
    msgid: str
    msg: str
    bom: bool


def parse(data: bytes) -> Message:
    m = _HEADER.match(data)
    assert m is not None, f"not an RFC 5424 message: {data[:80]!r}"
    body = data[m.end():]
    bom = body.startswith(b"\xef\xbb\xbf")
    return Message(int(m[1]), m[2].decode(), m[3].decode(), m[4].decode(), m[5].decode(), m[6].decode(),
                   body[3 if bom else 0:].decode("utf-8"), bom)


class Collector:
    def __init__(self, transport: str, context: ssl.SSLContext | None = None) -> None:
        self.transport = transport
        self.context = context
        self.messages: list[Message] = []
        self.errors: list[str] = []
        kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
        self.sock = socket.socket(socket.AF_INET, kind)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        if kind == socket.SOCK_STREAM:
            self.sock.listen(8)
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self.transport == "udp":
                    data = self.sock.recv(65536)
                    self.messages.append(parse(data))
                    continue
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._stream, args=(conn,), daemon=True).start()

    def _stream(self, conn: socket.socket) -> None:
        try:
            if self.context is not None:
                conn = self.context.wrap_socket(conn, server_side=True)
            conn.settimeout(5)
            buffer = b""
            while not self._stop.is_set():
                try:
                    chunk = conn.recv(65536)
                except TimeoutError:
                    continue
                if not chunk:
                    return
                buffer += chunk
                while b" " in buffer:
                    length, _, rest = buffer.partition(b" ")
                    assert length.isdigit(), f"not octet-counted: {buffer[:40]!r}"
                    if len(rest) < int(length):
                        break
                    self.messages.append(parse(rest[:int(length)]))
                    buffer = rest[int(length):]
        except (OSError, AssertionError, ssl.SSLError) as exc:
            self.errors.append(str(exc))
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(2)
