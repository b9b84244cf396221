"""The AE table: the remote Application Entities a local AE knows, where they listen and what each may ask.

Defined once, here; the C-MOVE SCP (sub-associations to the Move Destination), the Storage Commitment SCP
(the N-EVENT-REPORT on a new association) and the server's access rules all read it, and the security
issue extends it. An entry (:class:`RemoteAE`) is

=================  ========================================================================================
``ae_title``       the title it calls with and is called by (1 to 16 characters of the AE repertoire)
``host``, ``port`` where it listens (for C-MOVE destinations and commitment reports)
``tls``            whether to use TLS to it; ``tls_ca`` / ``tls_cert`` / ``tls_key`` / ``tls_server_name``
                   the trust anchors, our client certificate and the name to check (PS3.15 B.9)
``tls_subject``    the name (CN or subjectAltName) its TLS client certificate must carry when it calls us
                   ("" = any; the server's access policy checks it)
``services``       what it may ask of us: ``echo``, ``store``, ``find``, ``move``, ``get``, ``worklist``,
                   ``mpps``, ``commit`` (default: all; :data:`~.registry.SERVICES`)
``associations``   how many sub-associations a C-MOVE to it may open in parallel (default 1)
``description``    free text
=================  ========================================================================================

It is read from plain data (:meth:`AETable.from_mapping`, the ``[remotes.TITLE]`` tables of a TOML file:
:meth:`AETable.from_toml`, :meth:`AETable.load`) or from ``AE=HOST:PORT`` (:meth:`RemoteAE.parse`, the
``--remote`` option). A bad entry raises :class:`AETableError` naming the entry and the field.

>>> table = AETable.from_mapping({"CT1": {"host": "10.0.0.5", "port": 104, "services": ["echo", "store"]}})
>>> table.permits("CT1", "store"), table.permits("CT1", "move"), table.permits("OTHER", "echo")
(True, False, False)
>>> table.get("CT1").address
'10.0.0.5:104'
"""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.errors import DicomError
from .registry import ALL_SERVICES, SERVICES

if TYPE_CHECKING:
    from ..net.ae import ApplicationEntity, ContextSpec
    from ..net.association import Association

_FIELDS = frozenset({"host", "port", "tls", "services", "description", "associations", "tls_subject"})
_TLS_FIELDS = frozenset({"ca", "cert", "key", "server_name", "profile", "verify"})
_HOST = re.compile(r"^[A-Za-z0-9.\-:\[\]_%]+$")


class AETableError(DicomError):
    """An AE table entry that cannot be used; the message names the entry and the field."""


class UnknownAE(DicomError):
    """An AE title the table does not list (a C-MOVE to it is refused with 0xA801)."""


def check_title(title: str, where: str = "AE title") -> str:
    """The title without padding; AETableError unless it is 1-16 characters of the AE repertoire (PS3.5 6.2)."""
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
    """One remote AE: where it listens and what it may do (see the module documentation)."""

    ae_title: str
    host: str
    port: int
    tls: bool = False
    services: frozenset[str] = ALL_SERVICES
    description: str = ""
    associations: int = 1
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_server_name: str | None = None
    tls_profile: str = "bcp195-nd"
    tls_verify: bool = True
    tls_subject: str = ""  # the name its TLS client certificate must carry when it calls us; "" = any

    def __post_init__(self) -> None:
        where = f"remote AE {self.ae_title!r}"
        object.__setattr__(self, "ae_title", check_title(self.ae_title, where))
        if not self.host or not _HOST.match(self.host):
            raise AETableError(f"{where}: host {self.host!r} is not a host name or address")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 1 <= self.port <= 65535:
            raise AETableError(f"{where}: port {self.port!r} must be a number from 1 to 65535")
        object.__setattr__(self, "services", frozenset(self.services))
        unknown = set(self.services) - ALL_SERVICES
        if unknown:
            raise AETableError(f"{where}: unknown service(s) {', '.join(sorted(unknown))}; "
                               f"known: {', '.join(SERVICES)}")
        if isinstance(self.associations, bool) or not isinstance(self.associations, int) \
                or not 1 <= self.associations <= 64:
            raise AETableError(f"{where}: associations {self.associations!r} must be a number from 1 to 64")
        if (self.tls_ca or self.tls_cert or self.tls_key) and not self.tls:
            object.__setattr__(self, "tls", True)

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def permits(self, service: str) -> bool:
        return service in self.services

    def ssl_context(self) -> ssl.SSLContext | None:
        """The client TLS context to reach it (None without TLS)."""
        if not self.tls:
            return None
        from ..net import tls

        return tls.client_context(ca=self.tls_ca, cert=self.tls_cert, key=self.tls_key,
                                  check_hostname=self.tls_server_name is not None, verify=self.tls_verify,
                                  profile=self.tls_profile)

    async def associate(self, ae: ApplicationEntity, contexts: Iterable[ContextSpec] | None = None,
                        **options: Any) -> Association:
        """Open an association from ``ae`` to this AE (called with its title, over TLS when it says so)."""
        if self.tls:
            options.setdefault("tls", self.ssl_context())
            options.setdefault("server_hostname", self.tls_server_name or self.host)
        return await ae.associate(self.host, self.port, contexts, called_ae_title=self.ae_title, **options)

    @classmethod
    def parse(cls, text: str) -> RemoteAE:
        """``AE=HOST:PORT`` (the ``--remote`` option; ``[::1]`` for an IPv6 host); every service granted."""
        title, sep, address = text.partition("=")
        host, colon, port = address.rpartition(":")
        if not sep or not colon or not host or not port.isdigit():
            raise AETableError(f"--remote {text!r}: expected AE=HOST:PORT")
        return cls(title, host[1:-1] if host.startswith("[") and host.endswith("]") else host, int(port))

    @classmethod
    def from_mapping(cls, title: str, entry: Mapping[str, Any], where: str = "remotes") -> RemoteAE:
        """One ``[remotes.TITLE]`` table: ``host``, ``port``, ``tls`` (true, or a table of ``ca``, ``cert``,
        ``key``, ``server_name``, ``profile``, ``verify``), ``services``, ``associations``, ``description``."""
        key = f"{where}.{title}"
        if not isinstance(entry, Mapping):
            raise AETableError(f"{key}: expected a table with host and port")
        unknown = set(entry) - _FIELDS
        if unknown:
            raise AETableError(f"{key}.{sorted(unknown)[0]}: unknown key (known: {', '.join(sorted(_FIELDS))})")
        for required in ("host", "port"):
            if required not in entry:
                raise AETableError(f"{key}.{required}: missing")
        host = entry["host"]
        if not isinstance(host, str):
            raise AETableError(f"{key}.host: expected text")
        services = entry.get("services", list(SERVICES))
        if isinstance(services, str) or not isinstance(services, list | tuple | set | frozenset) \
                or not all(isinstance(s, str) for s in services):
            raise AETableError(f"{key}.services: expected a list of service names")
        tls = entry.get("tls", False)
        settings: dict[str, Any] = {}
        if isinstance(tls, Mapping):
            bad = set(tls) - _TLS_FIELDS
            if bad:
                raise AETableError(f"{key}.tls.{sorted(bad)[0]}: unknown key (known: {', '.join(sorted(_TLS_FIELDS))})")
            for name in ("ca", "cert", "key", "server_name", "profile"):
                value = tls.get(name)
                if value is not None and not isinstance(value, str):
                    raise AETableError(f"{key}.tls.{name}: expected text")
                if value is not None:
                    settings[f"tls_{name}"] = value
            verify = tls.get("verify", True)
            if not isinstance(verify, bool):
                raise AETableError(f"{key}.tls.verify: expected true or false")
            settings["tls_verify"] = verify
            tls = True
        elif not isinstance(tls, bool):
            raise AETableError(f"{key}.tls: expected true, false or a table")
        subject = entry.get("tls_subject", "")
        if not isinstance(subject, str):
            raise AETableError(f"{key}.tls_subject: expected text")
        if subject:
            settings["tls_subject"] = subject
        try:
            return cls(str(title), host, entry["port"], tls, frozenset(services), str(entry.get("description", "")),
                       entry.get("associations", 1), **settings)
        except AETableError as exc:
            raise AETableError(f"{key}: {exc}") from None

    def to_mapping(self) -> dict[str, Any]:
        """The entry as plain data (what :meth:`from_mapping` reads)."""
        out: dict[str, Any] = {"host": self.host, "port": self.port}
        tls = {k: getattr(self, f"tls_{k}") for k in ("ca", "cert", "key", "server_name") if getattr(self, f"tls_{k}")}
        if not self.tls_verify:
            tls["verify"] = False
        if self.tls_profile != "bcp195-nd":
            tls["profile"] = self.tls_profile
        if self.tls:
            out["tls"] = tls or True
        if self.services != ALL_SERVICES:
            out["services"] = [s for s in SERVICES if s in self.services]
        if self.associations != 1:
            out["associations"] = self.associations
        if self.tls_subject:
            out["tls_subject"] = self.tls_subject
        if self.description:
            out["description"] = self.description
        return out


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

    def require(self, title: str, service: str | None = None) -> RemoteAE:
        """The entry of ``title``; :class:`UnknownAE` when it is not listed (or not granted ``service``)."""
        remote = self.get(title)
        if remote is None:
            raise UnknownAE(f"{title.strip() or '(empty)'} is not in the AE table")
        if service is not None and not remote.permits(service):
            raise UnknownAE(f"{remote.ae_title} may not use {service}")
        return remote

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
    def of(cls, *remotes: RemoteAE | str) -> AETable:
        """A table of these entries (``RemoteAE`` or ``AE=HOST:PORT`` text)."""
        return cls().with_remotes(r if isinstance(r, RemoteAE) else RemoteAE.parse(r) for r in remotes)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "remotes") -> AETable:
        """The table of ``{title: {host, port, tls, services, associations, description}}`` (the
        ``[remotes.TITLE]`` tables of a TOML file); an unknown field or a bad value raises AETableError
        naming ``where.TITLE.field``."""
        if not isinstance(data, Mapping):
            raise AETableError(f"{where}: expected a table of AE titles")
        remotes: dict[str, RemoteAE] = {}
        for title, entry in data.items():
            remote = RemoteAE.from_mapping(str(title), entry, where)
            if remote.ae_title in remotes:
                raise AETableError(f"{where}.{title}: AE title listed twice")
            remotes[remote.ae_title] = remote
        return cls(remotes)

    @classmethod
    def from_toml(cls, text: str, where: str = "remotes") -> AETable:
        """The ``[remotes.TITLE]`` tables of TOML text (a file holding only them, or a whole configuration)."""
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise AETableError(f"the AE table is not valid TOML: {exc}") from None
        return cls.from_mapping(data.get(where, {}), where)

    @classmethod
    def load(cls, path: str | os.PathLike[str], where: str = "remotes") -> AETable:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as exc:
            raise AETableError(f"cannot read the AE table {path}: {exc.strerror or exc}") from None
        try:
            return cls.from_toml(text, where)
        except AETableError as exc:
            raise AETableError(f"{path}: {exc}") from None

    def to_mapping(self) -> dict[str, Any]:
        return {r.ae_title: r.to_mapping() for r in self}


__all__ = ["ALL_SERVICES", "SERVICES", "AETable", "AETableError", "RemoteAE", "UnknownAE", "check_title"]
