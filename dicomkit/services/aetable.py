"""The AE table: the remote Application Entities a local AE knows, and what each may ask of it.

Data only — who is who and what each may do. The services and the server consult it: C-MOVE destinations
(title → host, port, TLS), and, with access mode ``known``, which calling AEs are accepted and which
services each may use (``echo``, ``store``, ``find``, ``move``, ``get``, ``worklist``, ``mpps``,
``commit``). The server loads it from its configuration (``[remotes.TITLE]`` tables) and from
``--remote AE=HOST:PORT``.

>>> table = AETable.from_mapping({"CT1": {"host": "10.0.0.5", "port": 104, "services": ["echo", "store"]}})
>>> table.permits("CT1", "store"), table.permits("CT1", "move"), table.permits("OTHER", "echo")
(True, False, False)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import DicomError

# The services an AE may be granted (issue 10's list; PS3.4 annexes A, B, C, K, F, J).
SERVICES: tuple[str, ...] = ("echo", "store", "find", "move", "get", "worklist", "mpps", "commit")
ALL_SERVICES = frozenset(SERVICES)
_FIELDS = frozenset({"host", "port", "tls", "services", "description", "tls_subject"})
_HOST = re.compile(r"^[A-Za-z0-9.\-:\[\]_%]+$")


class AETableError(DicomError):
    """An AE table entry that cannot be used; the message names the entry and the field."""


def _check_title(title: str, where: str) -> str:
    stripped = title.strip(" ")
    if not stripped:
        raise AETableError(f"{where}: the AE title must not be empty")
    if len(stripped) > 16:
        raise AETableError(f"{where}: AE title {title!r} is longer than 16 characters")
    if any(not (0x20 <= ord(c) < 0x7F) or c == "\\" for c in stripped):
        raise AETableError(f"{where}: AE title {title!r} has characters outside the AE repertoire (PS3.5 6.2)")
    return stripped


@dataclass(frozen=True)
class RemoteAE:
    """One remote AE: where it listens (for C-MOVE, storage commitment reports) and what it may do."""

    ae_title: str
    host: str
    port: int
    tls: bool = False
    services: frozenset[str] = ALL_SERVICES
    description: str = ""
    tls_subject: str = ""  # the name (CN or subjectAltName) its TLS client certificate must carry; "" = any

    def __post_init__(self) -> None:
        where = f"remote AE {self.ae_title!r}"
        object.__setattr__(self, "ae_title", _check_title(self.ae_title, where))
        if not self.host or not _HOST.match(self.host):
            raise AETableError(f"{where}: host {self.host!r} is not a host name or address")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 1 <= self.port <= 65535:
            raise AETableError(f"{where}: port {self.port!r} must be a number from 1 to 65535")
        unknown = set(self.services) - ALL_SERVICES
        if unknown:
            raise AETableError(f"{where}: unknown service(s) {', '.join(sorted(unknown))}; "
                               f"known: {', '.join(SERVICES)}")

    def permits(self, service: str) -> bool:
        return service in self.services

    @classmethod
    def parse(cls, text: str) -> RemoteAE:
        """``AE=HOST:PORT`` (the ``--remote`` option); every service granted."""
        title, sep, address = text.partition("=")
        host, colon, port = address.rpartition(":")
        if not sep or not colon or not host or not port.isdigit():
            raise AETableError(f"--remote {text!r}: expected AE=HOST:PORT")
        return cls(title, host.strip("[]") if host.startswith("[") else host, int(port))


@dataclass(frozen=True)
class AETable:
    """The remote AEs by title (titles compare exactly, after trailing spaces are removed)."""

    remotes: Mapping[str, RemoteAE] = field(default_factory=dict)

    def __iter__(self) -> Iterator[RemoteAE]:
        return iter(self.remotes.values())

    def __len__(self) -> int:
        return len(self.remotes)

    def __contains__(self, title: object) -> bool:
        return isinstance(title, str) and title.strip(" ") in self.remotes

    def get(self, title: str) -> RemoteAE | None:
        return self.remotes.get(title.strip(" "))

    def permits(self, title: str, service: str) -> bool:
        """Whether the AE ``title`` is listed and granted ``service``."""
        remote = self.get(title)
        return remote is not None and remote.permits(service)

    def with_remotes(self, remotes: Iterable[RemoteAE]) -> AETable:
        """A table with ``remotes`` added (replacing entries of the same title)."""
        merged = dict(self.remotes)
        for remote in remotes:
            merged[remote.ae_title] = remote
        return AETable(merged)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "remotes") -> AETable:
        """The table of ``{title: {host, port, tls, services, description, tls_subject}}`` (a TOML ``[remotes.TITLE]``
        section); an unknown field or a bad value raises AETableError naming ``where.TITLE.field``."""
        remotes: dict[str, RemoteAE] = {}
        for title, entry in data.items():
            key = f"{where}.{title}"
            if not isinstance(entry, Mapping):
                raise AETableError(f"{key}: expected a table with host and port")
            unknown = set(entry) - _FIELDS
            if unknown:
                raise AETableError(f"{key}.{sorted(unknown)[0]}: unknown key (known: {', '.join(sorted(_FIELDS))})")
            for required in ("host", "port"):
                if required not in entry:
                    raise AETableError(f"{key}.{required}: missing")
            services = entry.get("services", list(SERVICES))
            if not isinstance(services, list | tuple) or not all(isinstance(s, str) for s in services):
                raise AETableError(f"{key}.services: expected a list of service names")
            tls = entry.get("tls", False)
            if not isinstance(tls, bool):
                raise AETableError(f"{key}.tls: expected true or false")
            host = entry["host"]
            if not isinstance(host, str):
                raise AETableError(f"{key}.host: expected text")
            subject = entry.get("tls_subject", "")
            if not isinstance(subject, str):
                raise AETableError(f"{key}.tls_subject: expected text")
            try:
                remote = RemoteAE(str(title), host, entry["port"], tls, frozenset(services),
                                  str(entry.get("description", "")), subject)
            except AETableError as exc:
                raise AETableError(f"{key}: {exc}") from None
            if remote.ae_title in remotes:
                raise AETableError(f"{key}: AE title listed twice")
            remotes[remote.ae_title] = remote
        return cls(remotes)


__all__ = ["ALL_SERVICES", "SERVICES", "AETable", "AETableError", "RemoteAE"]
