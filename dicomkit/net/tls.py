"""TLS for DICOM connections (PS3.15 B.9-B.11) with the standard library's ``ssl`` module.

Profiles:

- ``"bcp195-nd"`` (default): Non-Downgrading BCP 195 TLS Profile (PS3.15 B.9): TLS 1.2 or later, the
  four AES-GCM suites with (EC)DHE key exchange for TLS 1.2, and TLS 1.3.
- ``"bcp195"``: BCP 195 TLS Profile (PS3.15 B.8). Its TLS 1.0/1.1 fallback is not offered: current
  OpenSSL builds refuse those versions, so it behaves as the non-downgrading profile with the wider
  BCP 195 cipher list (RFC 9325 4.2).
- ``"bcp195-ex"``: Extended BCP 195 TLS Profile (PS3.15 B.10): TLS 1.2 or later, ECDHE with AES-GCM only.

DICOM over TLS authenticates both ends with certificates in the usual deployment (PS3.15 B.1): a server
context asks for a client certificate when ``ca`` is given and ``require_client_cert`` is left on.
"""

from __future__ import annotations

import os
import ssl

from ..core.errors import NetworkError

# OpenSSL names of the TLS 1.2 suites each profile allows (TLS 1.3 suites are fixed by OpenSSL and all AEAD).
_PROFILES: dict[str, str] = {
    "bcp195-nd": ("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:"
                  "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:"
                  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384"),
    "bcp195": ("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:"
               "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:"
               "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
               "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"),
    "bcp195-ex": ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                  "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384"),
}
PROFILES = tuple(_PROFILES)


def _configure(ctx: ssl.SSLContext, profile: str) -> None:
    if profile not in _PROFILES:
        raise NetworkError(f"unknown TLS profile {profile!r}; choose one of {', '.join(PROFILES)}")
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.set_ciphers(_PROFILES[profile])
    except ssl.SSLError as exc:  # pragma: no cover - depends on the OpenSSL build
        raise NetworkError(f"this OpenSSL build supports none of the {profile} cipher suites: {exc}") from exc
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION


def _load_chain(ctx: ssl.SSLContext, cert: str | os.PathLike[str] | None, key: str | os.PathLike[str] | None,
                password: str | None) -> None:
    if cert is None:
        if key is not None:
            raise NetworkError("a TLS private key was given without its certificate")
        return
    try:
        ctx.load_cert_chain(cert, key, password)
    except (OSError, ssl.SSLError) as exc:
        raise NetworkError(f"cannot load TLS certificate {cert} / key {key}: {exc}") from exc


def _load_ca(ctx: ssl.SSLContext, ca: str | os.PathLike[str] | None) -> None:
    if ca is None:
        return
    try:
        if os.path.isdir(ca):
            ctx.load_verify_locations(capath=os.fspath(ca))
        else:
            ctx.load_verify_locations(cafile=os.fspath(ca))
    except (OSError, ssl.SSLError) as exc:
        raise NetworkError(f"cannot load trusted certificates from {ca}: {exc}") from exc


def server_context(cert: str | os.PathLike[str], key: str | os.PathLike[str] | None = None, *,
                   ca: str | os.PathLike[str] | None = None, require_client_cert: bool = True,
                   profile: str = "bcp195-nd", password: str | None = None) -> ssl.SSLContext:
    """A TLS context for an SCP: our certificate, and the CAs whose client certificates we accept."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _configure(ctx, profile)
    _load_chain(ctx, cert, key, password)
    if ca is not None:
        _load_ca(ctx, ca)
        ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    return ctx


def client_context(*, ca: str | os.PathLike[str] | None = None, cert: str | os.PathLike[str] | None = None,
                   key: str | os.PathLike[str] | None = None, check_hostname: bool = False,
                   verify: bool = True, profile: str = "bcp195-nd", password: str | None = None) -> ssl.SSLContext:
    """A TLS context for an SCU: the CAs we trust for the server, and our own certificate if any.

    DICOM peers are usually addressed by IP and identified by certificate, so the host name is not
    checked unless asked; the certificate chain is verified unless ``verify=False``.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _configure(ctx, profile)
    ctx.check_hostname = check_hostname and verify
    if verify:
        if ca is not None:
            _load_ca(ctx, ca)
        else:
            ctx.load_default_certs()
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.verify_mode = ssl.CERT_NONE
    _load_chain(ctx, cert, key, password)
    return ctx
