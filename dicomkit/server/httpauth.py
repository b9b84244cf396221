"""Authentication on the HTTP port of ``dicomkit serve`` (issue 14): Basic and Bearer, with the DIMSE side's users,
keys and lockouts.

:class:`Authenticate` is an ASGI middleware in front of every route but ``/health``. It turns the
``Authorization`` header into an :class:`~.auth.Identity` and leaves it in the request's state
(``request.state.identity``) for the layers above (DICOMweb checks the roles and the study labels there):

- ``Basic`` (RFC 7617): a user of ``[users]`` and its password (scrypt, checked in a worker thread; a
  success is remembered for :data:`BASIC_CACHE_SECONDS` under a keyed hash of the header, so a viewer that
  sends the same credentials with each of its hundreds of requests does not pay scrypt each time);
- ``Bearer`` (RFC 6750): a JWT checked against ``auth.jwt_keys`` / ``jwks_url`` / ``oidc_issuer`` (OIDC
  discovery) / ``jwt_secret`` — signature, expiry, audience, issuer.

Answers: 401 with ``WWW-Authenticate`` challenges and a JSON body saying why (no credentials, credentials
not accepted, a malformed header); 429 with ``Retry-After`` while the user or the client address is locked
out after repeated failures (``auth.max_failures`` in ``auth.failure_window``). Every failure is audited
(User Authentication, with the reason, never the credential); a success once per user and address per
:data:`LOGIN_AUDIT_SECONDS` (each HTTP request authenticates: recording each would drown the trail).

HTTP authentication is on when it is configured (:func:`http_auth_configured`: a user with a password, or
JWT keys); until then the port answers loopback clients only unless ``http.allow_remote``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from ..services.sources import Requester
from .auth import AuthenticationError, Authenticator, Identity

if TYPE_CHECKING:
    from .audit import Auditor
    from .config import Config

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REALM = "dicomkit"
BASIC_CACHE_SECONDS = 60.0
BASIC_CACHE_SIZE = 4096
LOGIN_AUDIT_SECONDS = 600.0
OPEN_PATHS = frozenset({"/health"})
MAX_HEADER = 16384  # an Authorization header longer than this is refused unread


def http_auth_configured(config: Config, authenticator: Authenticator) -> bool:
    """Whether HTTP clients can authenticate: a user with a password, or keys for tokens."""
    return any(u.password for u in config.users.values()) or authenticator.validator is not None


class HttpAuth:
    """Checks ``Authorization`` headers (blocking: call :meth:`authenticate` from a worker thread)."""

    def __init__(self, config: Config, authenticator: Authenticator, auditor: Auditor | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.authenticator = authenticator
        self.auditor = auditor
        self.clock = clock
        self.basic = any(u.password for u in config.users.values())
        self.bearer = authenticator.validator is not None
        self._key = os.urandom(32)
        self._cache: OrderedDict[bytes, tuple[float, Identity]] = OrderedDict()
        self._logins: dict[tuple[str, str | None], float] = {}
        self._lock = threading.Lock()

    def challenges(self, error: str | None = None) -> str:
        """The WWW-Authenticate value: one challenge per configured scheme (RFC 9110 11.6.1)."""
        out = []
        if self.basic:
            out.append(f'Basic realm="{REALM}", charset="UTF-8"')
        if self.bearer:
            out.append(f'Bearer realm="{REALM}"' + (f', error="{error}"' if error else ""))
        return ", ".join(out) or f'Basic realm="{REALM}"'

    def authenticate(self, header: str, address: str | None) -> Identity:
        """The identity of an Authorization header; AuthenticationError (reason, audit outcome) otherwise.
        Malformed credentials count as failed logins of the client address, like wrong ones."""
        try:
            return self._authenticate(header, address)
        except AuthenticationError as exc:
            if exc.reason in ("malformed", "not-configured"):
                limiter = self.authenticator.limiter
                if limiter.locked(None, address) is not None:
                    raise AuthenticationError("locked-out", "too many failed logins for this address; try again "
                                              "later", outcome=12) from None
                if limiter.failure(None, address):
                    raise AuthenticationError(exc.reason, f"{exc}; now locked out", outcome=12) from None
            raise

    def _authenticate(self, header: str, address: str | None) -> Identity:
        scheme, _, credentials = header.strip().partition(" ")
        scheme, credentials = scheme.lower(), credentials.strip()
        if scheme == "bearer" and credentials:
            if not self.bearer:
                raise AuthenticationError("not-configured", "this server takes no bearer tokens (no JWT keys are "
                                          "configured)")
            return self.authenticator.token_login(credentials, address)
        if scheme == "basic" and credentials:
            if not self.basic:
                raise AuthenticationError("not-configured", "this server takes no passwords (no user has one)")
            return self._basic(credentials, address)
        raise AuthenticationError("malformed", "the Authorization header is neither Basic nor Bearer credentials",
                                  outcome=8)

    def _basic(self, credentials: str, address: str | None) -> Identity:
        key = hmac.new(self._key, credentials.encode("utf-8", "surrogateescape"), hashlib.sha256).digest()
        now = self.clock()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] > now and self.authenticator.limiter.locked(hit[1].name, address) is None:
                return hit[1]
        try:
            text = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise AuthenticationError("malformed", "Basic credentials that are not base64 of UTF-8 user:password",
                                      outcome=8) from None
        user, colon, password = text.partition(":")
        if not colon or not user:
            raise AuthenticationError("malformed", "Basic credentials without user:password", outcome=8)
        identity = self.authenticator.password_login(user, password, address)
        with self._lock:
            self._cache[key] = (now + BASIC_CACHE_SECONDS, identity)
            self._cache.move_to_end(key)
            while len(self._cache) > BASIC_CACHE_SIZE:
                self._cache.popitem(last=False)
        return identity

    def claimed_user(self, header: str) -> str | None:
        """The user a Basic header names (for the audit of a failure; never the password)."""
        scheme, _, credentials = header.strip().partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user = base64.b64decode(credentials.strip(), validate=True).decode("utf-8").partition(":")[0]
        except (binascii.Error, ValueError):
            return None
        return user[:64] or None

    def audit_success(self, identity: Identity, requester: Requester) -> None:
        if self.auditor is None:
            return
        now = self.clock()
        key = (identity.name, requester.address)
        with self._lock:
            last = self._logins.get(key)
            if last is not None and now - last < LOGIN_AUDIT_SECONDS:
                return
            self._logins[key] = now
            if len(self._logins) > 10000:
                self._logins = {k: t for k, t in self._logins.items() if now - t < LOGIN_AUDIT_SECONDS}
        self.auditor.record("login", requester=requester, subject=identity.name,
                            description=f"HTTP {identity.method} login")

    def audit_failure(self, exc: AuthenticationError, requester: Requester, user: str | None) -> None:
        if self.auditor is not None:
            self.auditor.record("login", requester=requester, outcome=exc.outcome, subject=user,
                                description=f"HTTP login refused: {exc}")


def _address(scope: Scope) -> tuple[str | None, int | None]:
    client = scope.get("client")
    return (str(client[0]), int(client[1])) if client else (None, None)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _preflight(scope: Scope) -> bool:
    """A CORS preflight (RFC 9110 OPTIONS with Origin and Access-Control-Request-Method): browsers send it
    without credentials, and it reveals nothing."""
    return scope.get("method") == "OPTIONS" and _header(scope, b"origin") is not None and \
        _header(scope, b"access-control-request-method") is not None


async def _answer(send: Send, status: int, message: str, headers: dict[str, str], kind: str = "http") -> None:
    if kind == "websocket":  # refused before the handshake completes (RFC 6455 7.4.1: 1008 policy violation)
        await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
        return
    reason = {401: "Unauthorized", 429: "Too Many Requests", 431: "Request Header Fields Too Large"}[status]
    body = json.dumps({"status": status, "error": reason, "message": message}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class Authenticate:
    """ASGI middleware: every request but :data:`OPEN_PATHS` and CORS preflights needs credentials (see the
    module documentation); the identity goes to ``scope["state"]["identity"]``."""

    def __init__(self, app: ASGIApp, auth: HttpAuth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("path") in OPEN_PATHS or _preflight(scope):
            await self.app(scope, receive, send)
            return
        address, port = _address(scope)
        kind = str(scope["type"])
        header = _header(scope, b"authorization")
        if header is None:
            await _answer(send, 401, "authentication required: send Authorization: "
                          + " or ".join(s for s, on in (("Basic (a configured user and its password)", self.auth.basic),
                                                        ("Bearer (a JWT)", self.auth.bearer)) if on),
                          {"WWW-Authenticate": self.auth.challenges()}, kind=kind)
            return
        if len(header) > MAX_HEADER:
            await _answer(send, 431, f"the Authorization header is longer than {MAX_HEADER} characters", {},
                          kind=kind)
            return
        try:
            identity = await asyncio.get_running_loop().run_in_executor(None, self.auth.authenticate, header,
                                                                        address)
        except AuthenticationError as exc:
            user = self.auth.claimed_user(header)
            self.auth.audit_failure(exc, Requester(address=address, port=port, user_identity=user,
                                                   protocol="dicomweb"), user)
            if exc.reason == "locked-out" or exc.outcome == 12:
                await _answer(send, 429, str(exc), {"Retry-After": str(int(self.auth.config.auth.lockout))},
                              kind=kind)
                return
            bearer = header.strip().lower().startswith("bearer")
            await _answer(send, 401, f"credentials not accepted: {exc}",
                          {"WWW-Authenticate": self.auth.challenges("invalid_token" if bearer else None)}, kind=kind)
            return
        self.auth.audit_success(identity, Requester(address=address, port=port, user_identity=identity.name,
                                                    protocol="dicomweb"))
        state = scope.setdefault("state", {})
        state["identity"] = identity
        state["user"] = identity.name
        await self.app(scope, receive, send)


__all__ = ["OPEN_PATHS", "Authenticate", "HttpAuth", "http_auth_configured"]
