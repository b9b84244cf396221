"""The server's configuration: a tree of dataclasses, read from TOML and overridden by command-line flags.

Every setting has a default, so ``dicomkit serve`` runs with no file at all. A TOML file (``--config``)
may set any of them; a key the tree does not have, or a value of the wrong kind, fails at start-up with
the key named (``dicom.port: expected an integer from 0 to 65535, not 'abc'``). The sections::

    [storage]   data_dir, durability ("full" | "os"), duplicates ("keep-first" | "overwrite"),
                min_free_space, max_archive_size (bytes, or "500 MB", "2 GiB", ...), temp_grace (seconds),
                compression ("" = as received, "lossless", or a lossless transfer syntax)
    [database]  url ("" = SQLite in the data folder; "sqlite:///path" or "postgresql://...")
    [index]     extra_keys (keyword = level, e.g. { InstitutionName = "series" })
    [dicom]     ae_title, host, port, max_associations, max_pdu, async_ops, network_timeout, shutdown_grace, access
                ("open" | "known")
    [http]      host, port, allow_remote, enabled
    [web]       cors_origins, json_numbers ("number" | "text"), qido_max_limit, render_cache, max_upload, viewer,
                allow_delete
    [logging]   format ("text" | "json"), level
    [remotes.TITLE]  host, port, tls, services (the AE table, see dicomkit.services.aetable)
    [audit] [tls] [auth] [users.NAME] [[labels.rules]]  security (dicomkit.server.securityconfig,
                docs/security.md)
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..core.dictionary import tag_for_keyword
from ..core.errors import DicomError
from ..services.aetable import AETable, AETableError
from .securityconfig import (
    AuditConfig,
    AuthConfig,
    DeidConfig,
    Destination,
    LabelRule,
    SecurityConfigError,
    Size,
    TlsConfig,
    UserEntry,
    destinations_from_mapping,
    label_rules_from,
    users_from_mapping,
)

Durability = Literal["full", "os"]
Duplicates = Literal["keep-first", "overwrite"]
Access = Literal["open", "known"]
LogFormat = Literal["text", "json"]
LEVELS = ("patient", "study", "series", "instance")


class ConfigError(DicomError):
    """A configuration that cannot be used; the message starts with the key (``section.key: ...``)."""


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "ki": 2**10, "kib": 2**10, "mi": 2**20, "mib": 2**20, "gi": 2**30,
          "gib": 2**30, "ti": 2**40, "tib": 2**40}


def parse_size(value: object, key: str) -> int:
    """Bytes from an integer or a text such as ``"500 MB"`` or ``"2 GiB"``."""
    if isinstance(value, bool):
        raise ConfigError(f"{key}: expected a size in bytes or a text such as '10 GB', not {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ConfigError(f"{key}: a size cannot be negative")
        return value
    if isinstance(value, str):
        m = _SIZE.match(value)
        if m:
            return int(float(m[1]) * _UNITS[(m[2] or "").lower()])
    raise ConfigError(f"{key}: expected a size in bytes or a text such as '10 GB', not {value!r}")


@dataclass
class StorageConfig:
    data_dir: Path = Path("./dicomkit-data")
    durability: Durability = "full"
    duplicates: Duplicates = "keep-first"
    min_free_space: Size = field(default_factory=Size)  # refuse new objects when the store's file system has less free
    max_archive_size: Size = field(default_factory=Size)  # refuse beyond this many stored bytes (0: no limit)
    temp_grace: float = 3600.0  # temporary files untouched this long are leftovers (seconds)
    verify_on_retrieve: bool = False  # check the SHA-256 of every whole object sent (C-GET, C-MOVE, WADO)
    compression: str = ""  # "" keeps objects as received; "lossless" (JPEG-LS Lossless) or a lossless syntax


@dataclass
class DatabaseConfig:
    url: str = ""  # "" = <data_dir>/index.sqlite


@dataclass
class IndexConfig:
    # extra keys indexed per deployment: keyword -> level ("patient", "study", "series", "instance")
    extra_keys: dict[str, str] = field(default_factory=dict)


@dataclass
class DicomConfig:
    ae_title: str = "DICOMKIT"
    host: str = "0.0.0.0"
    port: int = 11112
    max_associations: int = 64
    max_pdu: int = 262144
    async_ops: int = 16
    network_timeout: float = 300.0
    shutdown_grace: float = 10.0  # seconds running associations may take to finish at shutdown
    access: Access = "open"


@dataclass
class HttpConfig:
    enabled: bool = True
    host: str = "0.0.0.0"
    port: int = 8042
    allow_remote: bool = False  # answer clients other than loopback ones


@dataclass
class WebConfig:
    """DICOMweb and the viewer (dicomkit.web) on the HTTP port."""

    cors_origins: str = ""  # "" none, "*" any, or origins separated by commas (https://viewer.example.org)
    json_numbers: Literal["number", "text"] = "number"  # IS/DS in DICOM JSON as numbers or strings
    qido_max_limit: int = 10000  # the most results one QIDO-RS answer holds
    render_cache: Size = field(default_factory=lambda: Size(256 * 10**6))  # rendered images kept (bytes)
    max_upload: Size = field(default_factory=Size)  # the largest STOW-RS body (0: no limit)
    viewer: bool = True  # serve the viewer at /
    allow_delete: bool = False  # DELETE of studies, series and instances over DICOMweb


@dataclass
class WorklistConfig:
    folder: str = ""  # files dropped here become worklist items ("" = no folder)
    scan_interval: float = 5.0  # seconds between two looks at the folder


@dataclass
class LoggingConfig:
    format: LogFormat = "text"
    level: str = "info"


@dataclass
class Config:
    storage: StorageConfig = field(default_factory=StorageConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    dicom: DicomConfig = field(default_factory=DicomConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    web: WebConfig = field(default_factory=WebConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    worklist: WorklistConfig = field(default_factory=WorklistConfig)
    remotes: AETable = field(default_factory=AETable)
    audit: AuditConfig = field(default_factory=AuditConfig)
    tls: TlsConfig = field(default_factory=TlsConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    users: dict[str, UserEntry] = field(default_factory=dict)
    label_rules: list[LabelRule] = field(default_factory=list)
    deid: DeidConfig = field(default_factory=DeidConfig)
    destinations: dict[str, Destination] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return self.storage.data_dir

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.storage.data_dir / 'index.sqlite'}"

    def check(self) -> Config:
        """Check the values that depend on each other or on more than their type; returns self."""
        _check_port(self.dicom.port, "dicom.port")
        _check_port(self.http.port, "http.port")
        from ..net.pdu import validate_ae_title

        try:
            validate_ae_title(self.dicom.ae_title)
        except DicomError as exc:
            raise ConfigError(f"dicom.ae_title: {exc}") from None
        if self.dicom.max_associations < 1:
            raise ConfigError("dicom.max_associations: must be at least 1")
        if not (self.dicom.max_pdu == 0 or 4096 <= self.dicom.max_pdu <= 0xFFFFFFFF):
            raise ConfigError("dicom.max_pdu: must be 0 (no limit) or at least 4096")
        if self.dicom.async_ops < 0:
            raise ConfigError("dicom.async_ops: must not be negative")
        if self.worklist.scan_interval <= 0:
            raise ConfigError("worklist.scan_interval: must be more than 0 seconds")
        if self.storage.temp_grace < 0:
            raise ConfigError("storage.temp_grace: must not be negative")
        from .compression import CompressionConfigError, resolve

        try:
            resolve(self.storage.compression)
        except CompressionConfigError as exc:
            raise ConfigError(f"storage.compression: {exc}") from None
        if self.web.qido_max_limit < 1:
            raise ConfigError("web.qido_max_limit: must be at least 1")
        if self.dicom.shutdown_grace < 0:
            raise ConfigError("dicom.shutdown_grace: must not be negative")
        if self.logging.level.lower() not in ("debug", "info", "warning", "error"):
            raise ConfigError("logging.level: expected debug, info, warning or error")
        url = self.database.url
        if url and not (url.startswith("sqlite:") or url.startswith(("postgresql://", "postgres://"))):
            raise ConfigError("database.url: expected sqlite:///PATH or postgresql://...")
        for keyword, level in self.index.extra_keys.items():
            if tag_for_keyword(keyword) is None:
                raise ConfigError(f"index.extra_keys.{keyword}: not a keyword of the DICOM dictionary")
            if level not in LEVELS:
                raise ConfigError(f"index.extra_keys.{keyword}: level must be one of {', '.join(LEVELS)}")
        from .access import check_security_config

        try:
            check_security_config(self)
        except SecurityConfigError as exc:
            raise ConfigError(str(exc)) from None
        return self


def _check_port(port: int, key: str) -> None:
    if not 0 <= port <= 65535:
        raise ConfigError(f"{key}: expected a port from 0 to 65535, not {port}")


def load_config(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> Config:
    """The configuration from a TOML file (None: the defaults), then ``overrides`` (``"dicom.port": 104``,
    what the command-line flags set), checked."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such configuration file") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    config = from_dict(data)
    for dotted, value in (overrides or {}).items():
        set_value(config, dotted, value)
    return config.check()


def from_dict(data: Mapping[str, Any]) -> Config:
    """The configuration of a parsed TOML document (unknown keys and bad values raise ConfigError)."""
    config = Config()
    for section, values in data.items():
        if section == "remotes":
            if not isinstance(values, Mapping):
                raise ConfigError("remotes: expected tables [remotes.TITLE] with host and port")
            try:
                config.remotes = AETable.from_mapping(values)
            except AETableError as exc:
                raise ConfigError(str(exc)) from None
            continue
        try:
            if section == "users":
                if not isinstance(values, Mapping):
                    raise ConfigError("users: expected tables [users.NAME] with password and roles")
                config.users = users_from_mapping(values)
                continue
            if section == "labels":
                config.label_rules = label_rules_from(values)
                continue
            if section == "destinations":
                if not isinstance(values, Mapping):
                    raise ConfigError("destinations: expected tables [destinations.NAME] with url")
                config.destinations = destinations_from_mapping(values)
                continue
        except SecurityConfigError as exc:
            raise ConfigError(str(exc)) from None
        target = getattr(config, section, None) if section in _sections() else None
        if target is None:
            raise ConfigError(f"{section}: unknown section (known: {', '.join(sorted(_sections()))}, "
                              "remotes, users, labels, destinations)")
        if not isinstance(values, Mapping):
            raise ConfigError(f"{section}: expected a table [{section}]")
        for key, value in values.items():
            set_value(config, f"{section}.{key}", value)
    return config


def _sections() -> set[str]:
    return {f.name for f in dataclasses.fields(Config) if f.name not in ("remotes", "users", "label_rules",
                                                                               "destinations")}


def set_value(config: Config, dotted: str, value: Any) -> None:
    """Set ``section.key`` to ``value``, converted to the field's type (ConfigError names the key)."""
    section, _, key = dotted.partition(".")
    if section == "remotes":
        raise ConfigError(f"{dotted}: set remote AEs with [remotes.TITLE] tables or --remote")
    target = getattr(config, section, None) if section in _sections() else None
    if target is None:
        raise ConfigError(f"{dotted}: unknown section {section!r}")
    hints = typing.get_type_hints(type(target))
    if key not in hints:
        known = ", ".join(f.name for f in dataclasses.fields(target))
        raise ConfigError(f"{dotted}: unknown key (known in [{section}]: {known})")
    setattr(target, key, _convert(value, hints[key], dotted))


def _convert(value: Any, hint: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    if hint is Size:
        return Size(parse_size(value, key))
    if origin is Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            raise ConfigError(f"{key}: expected one of {', '.join(map(repr, choices))}, not {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, not {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                return int(value)
            raise ConfigError(f"{key}: expected an integer, not {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            try:
                return float(value)
            except (TypeError, ValueError):
                raise ConfigError(f"{key}: expected a number, not {value!r}") from None
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected text, not {value!r}")
        return value
    if hint is Path:
        if not isinstance(value, str | Path):
            raise ConfigError(f"{key}: expected a path, not {value!r}")
        return Path(value)
    if origin is list:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{key}: expected a list of text values")
        return list(value)
    if origin is dict:
        if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                     for k, v in value.items()):
            raise ConfigError(f"{key}: expected a table of text values")
        return dict(value)
    if isinstance(hint, types.UnionType):  # pragma: no cover - no optional fields yet
        return value
    raise ConfigError(f"{key}: cannot set a value of type {hint}")  # pragma: no cover


__all__ = [
    "Config",
    "ConfigError",
    "DatabaseConfig",
    "DicomConfig",
    "HttpConfig",
    "IndexConfig",
    "LoggingConfig",
    "Size",
    "StorageConfig",
    "WebConfig",
    "WorklistConfig",
    "from_dict",
    "load_config",
    "parse_size",
    "set_value",
]
