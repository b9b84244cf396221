"""Authentication and authorization building blocks of the PACS (issue 14).

- :mod:`.passwords`: scrypt password hashes, constant-time checks.
- :mod:`.roles`: viewer / uploader / admin and what each may do.
- :mod:`.labels`: study labels and :class:`~.labels.Visibility`, the one rule for who sees which study
  (an SQL predicate and a Python predicate).
- :mod:`.jwt`: JWT validation (RS*/ES*/HS*, exp/nbf/aud/iss) against keys, a JWKS (URL) or OIDC discovery.
- :mod:`.ratelimit`: failed-login lockouts per user and per address.

:class:`Authenticator` puts them together over the configuration: ``password_login(user, password,
address)`` and ``token_login(token, address)`` give an :class:`Identity` (name, roles, labels) or raise
:class:`AuthenticationError`, whatever the protocol (DIMSE User Identity, HTTP Basic or Bearer).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...core.errors import DicomError
from .jwt import DiscoveredKeySet, KeySet, KeySource, RemoteKeySet, TokenError, TokenValidator, fetch_url, key_from_pem
from .labels import Visibility
from .passwords import hash_password, verify_password
from .ratelimit import FailureLimiter
from .roles import ROLES, permits

if TYPE_CHECKING:
    from ..securityconfig import AuthConfig, UserEntry


class AuthenticationError(DicomError):
    """Credentials not accepted. ``reason``: unknown-user, bad-password, locked-out, token-<TokenError reason>,
    not-configured, ae-not-allowed. Its message is safe to log (never the credential)."""

    def __init__(self, reason: str, message: str, *, outcome: int = 4) -> None:
        super().__init__(message)
        self.reason = reason
        self.outcome = outcome  # the audit outcome (PS3.15 A.5.1.1): 4 minor, 8 serious, 12 major


@dataclass(frozen=True)
class Identity:
    """An authenticated user: name, roles, labels (None: sees every study), how it logged in."""

    name: str
    roles: tuple[str, ...] = ("viewer",)
    labels: frozenset[str] | None = None
    method: str = "password"  # password, jwt, username (asserted, not verified)
    claims: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def visibility(self) -> Visibility:
        return Visibility.of(self.labels, self.roles)

    def permits(self, action: str | None) -> bool:
        return permits(self.roles, action)


def _secret(text: str) -> bytes:
    if text.startswith("env:"):
        value = os.environ.get(text[4:], "")
        if not value:
            raise DicomError(f"auth.jwt_secret: the environment variable {text[4:]} is not set")
        return value.encode("utf-8")
    return text.encode("utf-8")


def key_source(config: AuthConfig, fetch: Callable[[str], bytes] = fetch_url) -> tuple[KeySource | None, str | None]:
    """The JWT keys the configuration names, and the issuer to require (from discovery when configured)."""
    static = KeySet()
    issuer = config.issuer or None
    if config.jwt_keys:
        path = Path(config.jwt_keys)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DicomError(f"auth.jwt_keys: cannot read {path}: {exc.strerror or exc}") from None
        import json

        try:
            static = KeySet.from_jwks(json.loads(data)) if data.lstrip().startswith(b"{") else \
                KeySet([key_from_pem(data)])
        except (TokenError, ValueError) as exc:
            raise DicomError(f"auth.jwt_keys: {path}: {exc}") from None
    if config.jwt_secret:
        static = static + KeySet.secret(_secret(config.jwt_secret))
    remote: KeySource | None = None
    if config.oidc_issuer:
        remote = DiscoveredKeySet(config.oidc_issuer, fetch=fetch)  # discovery (A.4) at the first token
        issuer = issuer or config.oidc_issuer  # discovery insists that the document names this issuer
    elif config.jwks_url:
        remote = RemoteKeySet(config.jwks_url, fetch=fetch)
    if remote is not None:
        return (_Both(static, remote) if static.keys else remote), issuer
    return (static if static.keys else None), issuer


class _Both(KeySource):
    def __init__(self, first: KeySet, second: KeySource) -> None:
        self.first, self.second = first, second

    def candidates(self, kid: str | None, alg: str) -> list[Any]:
        return self.first.candidates(kid, alg) or self.second.candidates(kid, alg)


class Authenticator:
    """Password and token logins against the configured users and keys, with failed-login limits."""

    def __init__(self, users: dict[str, UserEntry], config: AuthConfig, *, keys: KeySource | None = None,
                 issuer: str | None = None, clock: Callable[[], float] | None = None) -> None:
        self.users = users
        self.config = config
        import time

        self.limiter = FailureLimiter(config.max_failures, config.failure_window, config.lockout,
                                      clock=clock or time.monotonic)
        self.validator = TokenValidator(keys, algorithms=config.algorithms, audience=config.audience or None,
                                        issuer=issuer, leeway=config.leeway,
                                        clock=clock or time.time) if keys is not None else None

    @classmethod
    def from_config(cls, users: dict[str, UserEntry], config: AuthConfig) -> Authenticator:
        keys, issuer = key_source(config)
        return cls(users, config, keys=keys, issuer=issuer)

    def _locked(self, user: str | None, address: str | None) -> None:
        which = self.limiter.locked(user, address)
        if which is not None:
            raise AuthenticationError("locked-out", f"too many failed logins for this {which}; try again later",
                                      outcome=12)

    def _fail(self, user: str | None, address: str | None, reason: str, message: str, outcome: int = 4) -> None:
        locked = self.limiter.failure(user, address)
        raise AuthenticationError(reason, message + ("; now locked out" if locked else ""),
                                  outcome=12 if locked else outcome)

    def password_login(self, user: str, password: str, address: str | None = None) -> Identity:
        self._locked(user, address)
        entry = self.users.get(user)
        ok = verify_password(password, entry.password if entry is not None and entry.password else None)
        if entry is None or not ok:
            self._fail(user, address, "unknown-user" if entry is None else "bad-password",
                       "user name or password not accepted")
        assert entry is not None
        self.limiter.success(user, address)
        return Identity(entry.name, entry.roles, frozenset(entry.labels) if entry.labels else None, "password")

    def token_login(self, token: str | bytes, address: str | None = None) -> Identity:
        self._locked(None, address)
        if self.validator is None:
            raise AuthenticationError("not-configured", "no JWT keys are configured (auth.jwt_keys, auth.jwks_url, "
                                      "auth.oidc_issuer or auth.jwt_secret)")
        try:
            claims = self.validator.validate(token)
        except TokenError as exc:
            outcome = 8 if exc.reason in ("signature", "algorithm", "malformed") else 4
            self._fail(None, address, f"token-{exc.reason}", f"token not accepted: {exc}", outcome)
            raise  # pragma: no cover - _fail raises
        return self.identity_from_claims(claims)

    def identity_from_claims(self, claims: dict[str, Any]) -> Identity:
        config = self.config
        name = claims.get(config.username_claim) or claims.get("sub")
        if not isinstance(name, str) or not name:
            raise AuthenticationError("token-claims", "token names no user (sub)")
        entry = self.users.get(name)

        def strings(claim: str) -> tuple[str, ...] | None:
            value = claims.get(claim)
            if value is None:
                return None
            if isinstance(value, str):
                return tuple(value.split())
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return tuple(value)
            raise AuthenticationError("token-claims", f"token claim {claim} is not a list of names", outcome=8)

        roles = tuple(r for r in (strings(config.roles_claim) or ()) if r in ROLES)
        if not roles:
            roles = entry.roles if entry is not None else ("viewer",)
        labels = strings(config.labels_claim)
        if labels is None and entry is not None and entry.labels:
            labels = entry.labels
        try:
            visibility = Visibility.of(labels) if labels else Visibility()
        except DicomError:
            raise AuthenticationError("token-claims", "token labels are not valid labels") from None
        return Identity(name, roles, visibility.labels, "jwt", claims)


__all__ = ["AuthenticationError", "Authenticator", "Identity", "Visibility", "hash_password", "key_source",
           "verify_password"]
