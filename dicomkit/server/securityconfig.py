"""The security sections of the server's configuration (issue 14): ``[audit]``, ``[tls]``, ``[auth]``,
``[users.NAME]`` and ``[[labels.rules]]``. :mod:`.config` holds them in its tree and reads them like the
other sections; :mod:`.access`, :mod:`.auth` and :mod:`.audit` consume them.

See docs/security.md for every key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..core.errors import DicomError

IdentityMode = Literal["off", "optional", "required"]


class Size(int):
    """A number of bytes (written in TOML as an integer or as ``"10 GB"``)."""


class SecurityConfigError(DicomError):
    """A security setting that cannot be used; the message starts with the key."""


@dataclass
class AuditConfig:
    enabled: bool = True
    file: str = "audit/audit.log"  # relative to storage.data_dir; "" = no local file
    max_file_size: Size = field(default_factory=lambda: Size(100 * 10**6))  # bytes before the file is rotated
    backups: int = 10  # rotated files kept
    syslog: str = ""  # "udp://host:514", "tcp://host:601" or "tls://host:6514"; "" = none
    syslog_ca: str = ""  # the collector's CA (TLS); "" = the system's
    syslog_certificate: str = ""  # our client certificate for the collector (TLS), and its key
    syslog_key: str = ""
    queue: int = 10000  # messages held per destination while it is slow or down; beyond: dropped, counted
    source_id: str = ""  # AuditSourceID; "" = the AE title
    site_id: str = ""  # AuditEnterpriseSiteID
    associations: bool = True  # record accepted associations too (refused ones always are)

    def file_path(self, data_dir: Path) -> Path | None:
        if not self.file:
            return None
        path = Path(self.file)
        return path if path.is_absolute() else data_dir / path


@dataclass
class TlsConfig:
    """DICOM TLS on the DIMSE port (PS3.15 B.9 profiles, :mod:`dicomkit.net.tls`)."""

    port: int = -1  # the TLS listener's port; -1 = no TLS listener, 0 = a free port
    certificate: str = ""  # PEM: the server's certificate (chain)
    key: str = ""  # PEM: its private key ("" = in the certificate file)
    ca: str = ""  # CAs whose client certificates are accepted (file or folder); "" = no client certificates
    verify_clients: bool = False  # mutual authentication: a client certificate signed by ca is required
    profile: str = "bcp195-nd"  # bcp195-nd, bcp195, bcp195-ex
    plaintext: bool = True  # false: TLS only, the plaintext listener (dicom.port) is not started
    http: bool = False  # HTTPS on the HTTP port (http.port) with the same certificate, key and profile


@dataclass
class AuthConfig:
    """User identity (DIMSE User Identity negotiation, later HTTP) and tokens."""

    dicom_identity: IdentityMode = "optional"  # "required": associations without an accepted identity are refused
    jwt_keys: str = ""  # a JWKS file or a PEM public key file for JWT signatures
    jwks_url: str = ""  # or a JWKS URL (fetched, cached, refreshed)
    oidc_issuer: str = ""  # or an OpenID Connect issuer (its discovery document names the JWKS)
    jwt_secret: str = ""  # HS256 secret, or "env:NAME" to read it from the environment
    audience: str = ""  # required "aud" of tokens ("" = tokens naming an audience are refused, RFC 7519 4.1.3)
    issuer: str = ""  # required "iss" ("" = oidc_issuer, or not checked)
    algorithms: list[str] = field(default_factory=lambda: ["RS256", "ES256"])
    leeway: float = 30.0  # seconds of clock skew accepted for exp / nbf
    username_claim: str = "preferred_username"  # then "sub"
    roles_claim: str = "roles"
    labels_claim: str = "labels"
    max_failures: int = 5  # failed logins per user or address within failure_window before a lockout
    failure_window: float = 300.0
    lockout: float = 300.0
    check_ae_host: bool = False  # a known AE must connect from an address of its [remotes] host


@dataclass
class DeidConfig:
    """De-identified export (PS3.15 E with :mod:`dicomkit.deid`): what leaves for these AEs and users."""

    remotes: list[str] = field(default_factory=list)  # AE titles: C-MOVE destinations, C-GET requesters
    users: list[str] = field(default_factory=list)  # users (DIMSE User Identity, HTTP) who get de-identified data
    roles: list[str] = field(default_factory=list)  # HTTP users with one of these roles get de-identified data
    destinations: list[str] = field(default_factory=list)  # [destinations.NAME] whose STOW-RS exports are de-identified
    key: str = ""  # pseudonym key ("env:NAME" reads it); "" = a random key each start (other UIDs each time)
    mapping: str = ""  # file (relative to storage.data_dir) keeping the UID and patient mapping; "" = not kept
    dates: Literal["remove", "keep", "shift"] = "remove"
    retain_safe_private: bool = False
    retain_patient_characteristics: bool = False
    allow_burned_in: bool = False  # else objects that may carry burned-in text are not exported

    def mapping_path(self, data_dir: Path) -> Path | None:
        if not self.mapping:
            return None
        path = Path(self.mapping)
        return path if path.is_absolute() else data_dir / path


@dataclass(frozen=True)
class Destination:
    """``[destinations.NAME]``: a DICOMweb server that studies are exported to by STOW-RS (``dicomkit archive
    export``). ``password`` and ``token`` may be ``env:NAME``."""

    name: str
    url: str  # the DICOMweb root (``https://host/dicom-web``); STOW-RS posts to {url}/studies
    username: str = ""  # HTTP Basic (RFC 7617) with password
    password: str = ""
    token: str = ""  # or a bearer token (RFC 6750)
    ca: str = ""  # PEM CAs for an https url ("" = the system's)
    timeout: float = 60.0  # seconds per request


def destinations_from_mapping(data: Mapping[str, Any]) -> dict[str, Destination]:
    out: dict[str, Destination] = {}
    known = ("ca", "password", "timeout", "token", "url", "username")
    for name, entry in data.items():
        key = f"destinations.{name}"
        if not isinstance(entry, Mapping):
            raise SecurityConfigError(f"{key}: expected a table with url")
        unknown = set(entry) - set(known)
        if unknown:
            raise SecurityConfigError(f"{key}.{sorted(unknown)[0]}: unknown key (known: {', '.join(known)})")
        url = entry.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise SecurityConfigError(f"{key}.url: required, an http:// or https:// URL (the DICOMweb root)")
        values: dict[str, Any] = {}
        for field_name in ("username", "password", "token", "ca"):
            value = entry.get(field_name, "")
            if not isinstance(value, str):
                raise SecurityConfigError(f"{key}.{field_name}: expected text")
            values[field_name] = value
        if values["token"] and values["username"]:
            raise SecurityConfigError(f"{key}: give username + password or token, not both")
        timeout = entry.get("timeout", 60.0)
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
            raise SecurityConfigError(f"{key}.timeout: expected a number of seconds above 0")
        out[str(name)] = Destination(str(name), url.rstrip("/"), timeout=float(timeout), **values)
    return out


@dataclass(frozen=True)
class UserEntry:
    """``[users.NAME]``: password (an scrypt hash from ``dicomkit security hash-password``), roles, labels."""

    name: str
    password: str = ""
    roles: tuple[str, ...] = ("viewer",)
    labels: tuple[str, ...] = ()  # the user sees studies carrying any of these (none: all studies)
    ae_titles: tuple[str, ...] = ()  # optional: the AEs this user may log in from over DIMSE


@dataclass(frozen=True)
class LabelRule:
    """``[[labels.rules]]``: put ``label`` on a study when a stored instance matches every condition given."""

    label: str
    calling_ae: str | None = None  # the AE that sent it
    attribute: str | None = None  # a keyword, e.g. InstitutionName
    value: str | None = None  # its value (exact, case-insensitive; a trailing * matches a prefix)


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise SecurityConfigError(f"{key}: expected a list of text values")
    return tuple(value)


def users_from_mapping(data: Mapping[str, Any]) -> dict[str, UserEntry]:
    from .auth.roles import ROLES  # the layer below knows the roles

    out: dict[str, UserEntry] = {}
    for name, entry in data.items():
        key = f"users.{name}"
        if not isinstance(entry, Mapping):
            raise SecurityConfigError(f"{key}: expected a table with password and roles")
        unknown = set(entry) - {"password", "roles", "labels", "ae_titles"}
        if unknown:
            raise SecurityConfigError(f"{key}.{sorted(unknown)[0]}: unknown key (known: ae_titles, labels, "
                                      "password, roles)")
        password = entry.get("password", "")
        if not isinstance(password, str):
            raise SecurityConfigError(f"{key}.password: expected text (an scrypt hash)")
        if password and not password.startswith("scrypt$"):
            raise SecurityConfigError(f"{key}.password: expected an scrypt hash (make one with "
                                      "'dicomkit security hash-password'), never the password itself")
        roles = _strings(entry.get("roles", ["viewer"]), f"{key}.roles")
        for role in roles:
            if role not in ROLES:
                raise SecurityConfigError(f"{key}.roles: unknown role {role!r} (known: {', '.join(ROLES)})")
        out[str(name)] = UserEntry(str(name), password, roles, _strings(entry.get("labels", []), f"{key}.labels"),
                                   _strings(entry.get("ae_titles", []), f"{key}.ae_titles"))
    return out


def label_rules_from(data: Any) -> list[LabelRule]:
    from ..core.dictionary import tag_for_keyword

    if not isinstance(data, Mapping) or set(data) - {"rules"}:
        raise SecurityConfigError("labels: expected [[labels.rules]] tables")
    rules = data.get("rules", [])
    if not isinstance(rules, list):
        raise SecurityConfigError("labels.rules: expected [[labels.rules]] tables")
    out = []
    for i, rule in enumerate(rules):
        key = f"labels.rules[{i}]"
        if not isinstance(rule, Mapping):
            raise SecurityConfigError(f"{key}: expected a table")
        unknown = set(rule) - {"label", "calling_ae", "attribute", "value"}
        if unknown:
            raise SecurityConfigError(f"{key}.{sorted(unknown)[0]}: unknown key")
        label = rule.get("label")
        if not isinstance(label, str):
            raise SecurityConfigError(f"{key}.label: required text")
        from .auth.labels import check_label

        try:
            check_label(label)
        except DicomError as exc:
            raise SecurityConfigError(f"{key}.label: {exc}") from None
        attribute, value = rule.get("attribute"), rule.get("value")
        if (attribute is None) != (value is None):
            raise SecurityConfigError(f"{key}: attribute and value go together")
        if attribute is not None and (not isinstance(attribute, str) or tag_for_keyword(attribute) is None):
            raise SecurityConfigError(f"{key}.attribute: not a keyword of the DICOM dictionary")
        calling = rule.get("calling_ae")
        if calling is None and attribute is None:
            raise SecurityConfigError(f"{key}: give calling_ae and/or attribute + value")
        out.append(LabelRule(label, calling, attribute, None if value is None else str(value)))
    return out


__all__ = ["AuditConfig", "AuthConfig", "DeidConfig", "Destination", "LabelRule", "SecurityConfigError", "Size",
           "TlsConfig", "UserEntry", "destinations_from_mapping", "label_rules_from", "users_from_mapping"]
