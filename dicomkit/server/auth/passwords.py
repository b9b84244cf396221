"""Password hashes with scrypt (RFC 7914, :func:`hashlib.scrypt`) and a constant-time check.

A hash is the text ``scrypt$N$r$p$SALT$KEY`` (salt and key in unpadded base64url), what ``[users.NAME]
password`` holds; the password itself is never stored or logged. :func:`verify_password` takes as long
for an unknown user (``stored=None``: a dummy hash is checked) as for a wrong password, so timing does
not tell which user names exist.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from ...core.errors import DicomError

N, R, P = 2**15, 8, 1  # ~32 MiB and ~50 ms a check on this machine's class (RFC 7914 12: interactive logins)
KEY_LENGTH = 32
_MAXMEM = 128 * R * (N + P + 2) + 1024 * 1024


class PasswordHashError(DicomError):
    """A stored password hash that is not of the form ``scrypt$N$r$p$salt$key``."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def hash_password(password: str, *, n: int = N, r: int = R, p: int = P, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else os.urandom(16)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=KEY_LENGTH,
                         maxmem=128 * r * (n + p + 2) + 1024 * 1024)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(key)}"


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes]:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt" or not all(x.isdigit() for x in parts[1:4]):
        raise PasswordHashError("not an scrypt password hash (scrypt$N$r$p$salt$key)")
    n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
    if n < 2 or n & (n - 1) or n > 2**20 or not 1 <= r <= 32 or not 1 <= p <= 16:
        raise PasswordHashError("scrypt parameters out of range")
    try:
        return n, r, p, _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        raise PasswordHashError("scrypt hash: salt or key is not base64url") from None


_DUMMY = hash_password("dicomkit: no such user", salt=b"\0" * 16)


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored`` (None: no such user — False, after the same work)."""
    n, r, p, salt, key = _parse(stored if stored else _DUMMY)
    candidate = hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, n=n, r=r, p=p,
                               dklen=len(key) or KEY_LENGTH, maxmem=128 * r * (n + p + 2) + 1024 * 1024)
    return hmac.compare_digest(candidate, key) and stored is not None and bool(stored)


__all__ = ["PasswordHashError", "hash_password", "verify_password"]
