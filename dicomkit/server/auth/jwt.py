"""JSON Web Tokens (RFC 7519) signed with JWS (RFC 7515): validation against configured keys, a JWKS
(RFC 7517) file or URL, or an OpenID Connect issuer's discovery document.

Checked: the algorithm is one allowed by the configuration and matches the key's type (no ``none``, no
HS256 with a public key), the signature, ``exp`` (required), ``nbf`` and ``iat`` with a leeway, ``iss`` when
configured, ``aud`` (a token naming an audience is refused unless that audience is configured, RFC 7519
4.1.3), and the ``crit`` header (none understood, so any refuses the token). Asymmetric
signatures (RS256/384/512, ES256/384/512) use the ``cryptography`` package (the ``security`` extra);
HS256/384/512 use the standard library.

>>> validator = TokenValidator(KeySet.from_jwks(jwks), audience="dicomkit", issuer="https://idp.example")
>>> claims = validator.validate(token)            # a dict, or TokenError with .reason
"""

from __future__ import annotations

import abc
import base64
import hmac
import json
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ...core.errors import DicomError

MAX_TOKEN = 16384  # bytes; a larger "token" is refused before any parsing
MAX_DOCUMENT = 1 << 20  # bytes of a JWKS or discovery document
_HASHES = {"256": "sha256", "384": "sha384", "512": "sha512"}
_CURVES = {"ES256": ("P-256", 32), "ES384": ("P-384", 48), "ES512": ("P-521", 66)}
ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "HS256", "HS384", "HS512")


class TokenError(DicomError):
    """A token that is not accepted; ``reason`` is one of malformed, algorithm, key, signature, expired,
    not-yet-valid, audience, issuer, claims."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _b64decode(text: str | bytes) -> bytes:
    raw = text.encode("ascii") if isinstance(text, str) else text
    if b"=" in raw or any(c not in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in raw):
        raise TokenError("malformed", "token part is not unpadded base64url")
    try:
        return base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
    except ValueError:
        raise TokenError("malformed", "token part is not base64url") from None


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives import hashes, serialization  # noqa: F401
        from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils  # noqa: F401
    except ImportError:  # pragma: no cover - the extra is missing
        raise TokenError("key", "RS*/ES* tokens need the 'cryptography' package: pip install 'dicomkit[security]'"
                         ) from None
    import cryptography.hazmat.primitives as primitives

    return primitives


@dataclass(frozen=True)
class Key:
    """One verification key: ``kind`` "RSA", "EC" (with ``curve``) or "oct" (a shared secret)."""

    kind: str
    material: Any  # a cryptography public key, or bytes for "oct"
    kid: str | None = None
    alg: str | None = None  # the key's "alg", when its JWK names one
    curve: str | None = None

    def fits(self, alg: str) -> bool:
        if self.alg is not None and self.alg != alg:
            return False
        if alg.startswith("RS"):
            return self.kind == "RSA"
        if alg.startswith("ES"):
            return self.kind == "EC" and self.curve == _CURVES[alg][0]
        return self.kind == "oct"


def _int(text: Any) -> int:
    if not isinstance(text, str):
        raise TokenError("key", "JWK parameter is not a base64url text")
    return int.from_bytes(_b64decode(text), "big")


def key_from_jwk(jwk: Mapping[str, Any]) -> Key | None:
    """A verification key from one JWK (None for keys of other uses or types, e.g. "enc" keys)."""
    if jwk.get("use") not in (None, "sig"):
        return None
    kty, kid, alg = jwk.get("kty"), jwk.get("kid"), jwk.get("alg")
    kid = kid if isinstance(kid, str) else None
    alg = alg if isinstance(alg, str) else None
    if kty == "RSA":
        primitives = _crypto()
        rsa = primitives.asymmetric.rsa
        public = rsa.RSAPublicNumbers(_int(jwk.get("e")), _int(jwk.get("n"))).public_key()
        if public.key_size < 2048:
            raise TokenError("key", f"RSA key {kid or ''} is shorter than 2048 bits")
        return Key("RSA", public, kid, alg)
    if kty == "EC":
        primitives = _crypto()
        ec = primitives.asymmetric.ec
        curves = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}
        crv = jwk.get("crv")
        if crv not in curves:
            return None
        public = ec.EllipticCurvePublicNumbers(_int(jwk.get("x")), _int(jwk.get("y")), curves[crv]).public_key()
        return Key("EC", public, kid, alg, str(crv))
    if kty == "oct":
        return Key("oct", _b64decode(str(jwk.get("k", ""))), kid, alg)
    return None


def key_from_pem(data: bytes, kid: str | None = None) -> Key:
    """A public key (or certificate) in PEM."""
    primitives = _crypto()
    from cryptography import x509

    try:
        if b"CERTIFICATE" in data:
            public = x509.load_pem_x509_certificate(data).public_key()
        else:
            public = primitives.serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise TokenError("key", f"not a PEM public key or certificate: {exc}") from None
    if isinstance(public, primitives.asymmetric.rsa.RSAPublicKey):
        return Key("RSA", public, kid)
    if isinstance(public, primitives.asymmetric.ec.EllipticCurvePublicKey):
        names = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
        return Key("EC", public, kid, None, names.get(public.curve.name))
    raise TokenError("key", "only RSA and EC public keys are supported")


class KeySource(abc.ABC):
    """Where the keys come from: :meth:`candidates` for a token's ``kid`` and ``alg``."""

    @abc.abstractmethod
    def candidates(self, kid: str | None, alg: str) -> list[Key]:
        """The keys that may have signed a token with this ``kid`` and ``alg``."""


class KeySet(KeySource):
    def __init__(self, keys: Iterable[Key] = ()) -> None:
        self.keys = list(keys)

    @classmethod
    def from_jwks(cls, jwks: Mapping[str, Any]) -> KeySet:
        items = jwks.get("keys")
        if not isinstance(items, list):
            raise TokenError("key", "a JWKS is an object with a 'keys' list")
        return cls(k for k in (key_from_jwk(item) for item in items if isinstance(item, Mapping)) if k is not None)

    @classmethod
    def secret(cls, secret: bytes, kid: str | None = None) -> KeySet:
        if len(secret) < 32:
            raise TokenError("key", "an HS256 secret must be at least 32 bytes (RFC 7518 3.2)")
        return cls([Key("oct", secret, kid)])

    def candidates(self, kid: str | None, alg: str) -> list[Key]:
        fitting = [k for k in self.keys if k.fits(alg)]
        if kid is not None:
            named = [k for k in fitting if k.kid == kid]
            return named or [k for k in fitting if k.kid is None]
        return fitting

    def __add__(self, other: KeySet) -> KeySet:
        return KeySet([*self.keys, *other.keys])


Fetch = Callable[[str], bytes]


def fetch_url(url: str, timeout: float = 10.0) -> bytes:
    """GET ``url`` (https, or http to a loopback host), at most :data:`MAX_DOCUMENT` bytes."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")):
        raise TokenError("key", f"{url}: key documents are fetched over https only")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # the scheme is checked above
            data: bytes = response.read(MAX_DOCUMENT + 1)
    except OSError as exc:
        raise TokenError("key", f"cannot fetch {url}: {exc}") from None
    if len(data) > MAX_DOCUMENT:
        raise TokenError("key", f"{url}: document larger than {MAX_DOCUMENT} bytes")
    return data


def _json_document(data: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError:
        raise TokenError("key", f"{what} is not JSON") from None
    if not isinstance(doc, dict):
        raise TokenError("key", f"{what} is not a JSON object")
    return doc


class RemoteKeySet(KeySource):
    """A JWKS URL, cached for ``ttl`` seconds and fetched again early when a token names a ``kid`` the
    cache lacks (at most once every ``min_refresh`` seconds, so unknown kids cannot make us hammer the
    identity provider). When a refresh fails, the keys already known keep working."""

    def __init__(self, url: str, *, ttl: float = 3600.0, min_refresh: float = 30.0, fetch: Fetch = fetch_url,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.url, self.ttl, self.min_refresh, self.fetch, self.clock = url, ttl, min_refresh, fetch, clock
        self._keys: KeySet | None = None
        self._fetched = -1e18
        self._lock = threading.Lock()
        self.fetches = 0

    def _refresh(self, now: float) -> None:
        self._fetched = now
        self.fetches += 1
        self._keys = KeySet.from_jwks(_json_document(self.fetch(self.url), f"the JWKS at {self.url}"))

    def candidates(self, kid: str | None, alg: str) -> list[Key]:
        with self._lock:
            now = self.clock()
            try:
                if self._keys is None or now - self._fetched > self.ttl:
                    self._refresh(now)
                assert self._keys is not None
                found = self._keys.candidates(kid, alg)
                if not found and kid is not None and now - self._fetched >= self.min_refresh:
                    self._refresh(now)  # key rotation: a new kid
                    found = self._keys.candidates(kid, alg)
                return found
            except TokenError:
                if self._keys is None:
                    raise
                return self._keys.candidates(kid, alg)


class DiscoveredKeySet(KeySource):
    """The keys of an OpenID Connect issuer: its discovery document is read on first use (not at start-up,
    so an identity provider that is down delays logins, never the server), then its JWKS as RemoteKeySet."""

    def __init__(self, issuer: str, *, fetch: Fetch = fetch_url, **options: Any) -> None:
        self.issuer, self.fetch, self.options = issuer, fetch, options
        self._remote: RemoteKeySet | None = None
        self._lock = threading.Lock()

    def candidates(self, kid: str | None, alg: str) -> list[Key]:
        with self._lock:
            if self._remote is None:
                jwks_uri, _ = discover(self.issuer, self.fetch)
                self._remote = RemoteKeySet(jwks_uri, fetch=self.fetch, **self.options)
        return self._remote.candidates(kid, alg)


def discover(issuer: str, fetch: Fetch = fetch_url) -> tuple[str, str]:
    """OpenID Connect Discovery 1.0 section 4: the issuer's ``jwks_uri`` and ``issuer`` (which must be the
    issuer asked for)."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    doc = _json_document(fetch(url), f"the discovery document at {url}")
    jwks_uri, named = doc.get("jwks_uri"), doc.get("issuer")
    if not isinstance(jwks_uri, str) or not isinstance(named, str):
        raise TokenError("key", f"{url}: no jwks_uri or issuer")
    if named.rstrip("/") != issuer.rstrip("/"):
        raise TokenError("key", f"{url} names issuer {named!r}, not {issuer!r}")
    return jwks_uri, named


class TokenValidator:
    def __init__(self, keys: KeySource, *, algorithms: Iterable[str] = ("RS256", "ES256"),
                 audience: str | None = None, issuer: str | None = None, leeway: float = 30.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.keys = keys
        self.algorithms = frozenset(algorithms)
        unknown = self.algorithms - set(ALGORITHMS)
        if unknown:
            raise TokenError("algorithm", f"unsupported JWT algorithm(s): {', '.join(sorted(unknown))}")
        self.audience, self.issuer, self.leeway, self.clock = audience or None, issuer or None, leeway, clock

    def validate(self, token: str | bytes) -> dict[str, Any]:
        """The token's claims when it is valid; TokenError otherwise."""
        raw = token.encode("ascii", "replace") if isinstance(token, str) else bytes(token)
        raw = raw.strip()
        if len(raw) > MAX_TOKEN:
            raise TokenError("malformed", f"token longer than {MAX_TOKEN} bytes")
        parts = raw.split(b".")
        if len(parts) != 3:
            raise TokenError("malformed", "a JWS compact token has three parts")
        try:
            header = json.loads(_b64decode(parts[0]))
            claims = json.loads(_b64decode(parts[1]))
        except (ValueError, UnicodeDecodeError):
            raise TokenError("malformed", "token header or claims are not JSON") from None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise TokenError("malformed", "token header and claims must be JSON objects")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise TokenError("algorithm", f"token algorithm {alg!r} is not allowed")
        if "crit" in header:
            raise TokenError("malformed", "token has critical header parameters this server does not understand")
        kid = header.get("kid") if isinstance(header.get("kid"), str) else None
        signature = _b64decode(parts[2])
        keys = self.keys.candidates(kid, alg)
        if not keys:
            raise TokenError("key", f"no {alg} key{f' with kid {kid!r}' if kid else ''} to check the token")
        signed = parts[0] + b"." + parts[1]
        if not any(_verify(alg, key, signed, signature) for key in keys):
            raise TokenError("signature", "token signature does not verify")
        self._check_claims(claims)
        return claims

    def _check_claims(self, claims: dict[str, Any]) -> None:
        now = self.clock()

        def number(name: str) -> float | None:
            value = claims.get(name)
            if value is None:
                return None
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TokenError("claims", f"claim {name} is not a number")
            return float(value)

        exp, nbf, iat = number("exp"), number("nbf"), number("iat")
        if exp is None:
            raise TokenError("claims", "token has no expiry (exp)")
        if now > exp + self.leeway:
            raise TokenError("expired", "token has expired")
        if nbf is not None and now + self.leeway < nbf:
            raise TokenError("not-yet-valid", "token is not valid yet (nbf)")
        if iat is not None and now + self.leeway < iat:
            raise TokenError("not-yet-valid", "token was issued in the future (iat)")
        if self.issuer is not None and claims.get("iss") != self.issuer:
            raise TokenError("issuer", "token issuer is not the configured one")
        aud = claims.get("aud")
        if self.audience is not None:
            audiences = aud if isinstance(aud, list) else [aud]
            if self.audience not in audiences:
                raise TokenError("audience", "token is not meant for this server (aud)")
        elif aud is not None:
            # RFC 7519 4.1.3: a token meant for someone must be refused by whoever does not know its name
            raise TokenError("audience", "token names an audience (aud) and none is configured (auth.audience)")


def _verify(alg: str, key: Key, signed: bytes, signature: bytes) -> bool:
    digest = _HASHES[alg[2:]]
    if alg.startswith("HS"):
        expected = hmac.new(key.material, signed, digest).digest()
        return hmac.compare_digest(expected, signature)
    primitives = _crypto()
    from cryptography.exceptions import InvalidSignature

    hash_algorithm = getattr(primitives.hashes, digest.upper())()
    try:
        if alg.startswith("RS"):
            key.material.verify(signature, signed, primitives.asymmetric.padding.PKCS1v15(), hash_algorithm)
        else:
            size = _CURVES[alg][1]
            if len(signature) != 2 * size:  # RFC 7518 3.4: R || S, each of the curve's size
                return False
            r, s = int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
            der = primitives.asymmetric.utils.encode_dss_signature(r, s)
            key.material.verify(der, signed, primitives.asymmetric.ec.ECDSA(hash_algorithm))
        return True
    except (InvalidSignature, ValueError):
        return False


def sign(claims: Mapping[str, Any], key: Any, alg: str, *, kid: str | None = None) -> str:
    """A compact JWS of ``claims`` (for tests, tools and clients): ``key`` is a cryptography private key,
    or bytes for HS*."""
    header: dict[str, Any] = {"alg": alg, "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    signed = (b64encode(json.dumps(header, separators=(",", ":")).encode()) + "." +
              b64encode(json.dumps(dict(claims), separators=(",", ":")).encode())).encode("ascii")
    digest = _HASHES[alg[2:]]
    if alg.startswith("HS"):
        signature = hmac.new(key, signed, digest).digest()
    else:
        primitives = _crypto()
        hash_algorithm = getattr(primitives.hashes, digest.upper())()
        if alg.startswith("RS"):
            signature = key.sign(signed, primitives.asymmetric.padding.PKCS1v15(), hash_algorithm)
        else:
            r, s = primitives.asymmetric.utils.decode_dss_signature(
                key.sign(signed, primitives.asymmetric.ec.ECDSA(hash_algorithm)))
            size = _CURVES[alg][1]
            signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return signed.decode("ascii") + "." + b64encode(signature)


def public_jwk(key: Any, kid: str | None = None) -> dict[str, Any]:
    """The JWK of a cryptography public (or private) key, for JWKS documents (tests, tools)."""
    primitives = _crypto()
    public = key.public_key() if hasattr(key, "public_key") else key
    out: dict[str, Any]
    if isinstance(public, primitives.asymmetric.rsa.RSAPublicKey):
        n = public.public_numbers()
        out = {"kty": "RSA", "n": b64encode(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big")),
               "e": b64encode(n.e.to_bytes((n.e.bit_length() + 7) // 8, "big"))}
    else:
        numbers = public.public_numbers()
        crv = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[public.curve.name]
        size = {"P-256": 32, "P-384": 48, "P-521": 66}[crv]
        out = {"kty": "EC", "crv": crv, "x": b64encode(numbers.x.to_bytes(size, "big")),
               "y": b64encode(numbers.y.to_bytes(size, "big"))}
    if kid is not None:
        out["kid"] = kid
    out["use"] = "sig"
    return out


__all__ = ["ALGORITHMS", "DiscoveredKeySet", "Key", "KeySet", "KeySource", "RemoteKeySet", "TokenError",
           "TokenValidator", "discover", "fetch_url", "key_from_jwk", "key_from_pem", "public_jwk", "sign"]
