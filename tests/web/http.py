"""Plain HTTP for the web tests (the standard library: what goes on the wire is what is checked)."""

from __future__ import annotations

import http.client
import urllib.parse
from dataclasses import dataclass
from email.message import Message


@dataclass
class Answer:
    status: int
    headers: Message
    body: bytes

    def header(self, name: str) -> str:
        return self.headers.get(name, "")


def request(method: str, url: str, headers: dict[str, str] | None = None, body: bytes | None = None) -> Answer:
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    try:
        path = u.path + (f"?{u.query}" if u.query else "")
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return Answer(resp.status, resp.msg, resp.read())
    finally:
        conn.close()


def get(url: str, **headers: str) -> Answer:
    return request("GET", url, {k.replace("_", "-"): v for k, v in headers.items()})


def parts(answer: Answer) -> list[tuple[dict[str, str], bytes]]:
    """The parts of a multipart/related answer, split at its boundary."""
    from dicomkit.web.media import parse_media_type
    from dicomkit.web.multipart import MultipartReader, PartEnd, PartStart

    media, params = parse_media_type(answer.header("content-type"))
    assert media == "multipart/related", answer.header("content-type")
    reader = MultipartReader(params["boundary"])
    out: list[tuple[dict[str, str], bytes]] = []
    for event in reader.feed(answer.body):
        if isinstance(event, PartStart):
            out.append((event.headers, b""))
        elif isinstance(event, PartEnd):
            pass
        else:
            out[-1] = (out[-1][0], out[-1][1] + event)
    reader.close()
    return out
