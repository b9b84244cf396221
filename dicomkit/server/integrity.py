"""Integrity on retrieve (issue 14): a blob is hashed while it is read, and its last part is held back until
the SHA-256 of the whole matches the one recorded at ingest, so a corrupt object is never delivered
complete. Usable by C-GET / C-MOVE (a :class:`~dicomkit.services.sources.StoredObject` opener) and WADO
(an iterator of chunks).

>>> with VerifiedReader(open(path, "rb"), expected_sha256, on_mismatch=report) as stream:
...     while chunk := stream.read(65536):
...         send(chunk)                 # IntegrityError instead of the last chunk when the blob is corrupt

Partial reads (frames, byte ranges) cannot be checked this way; ``dicomkit archive verify`` covers them.
"""

from __future__ import annotations

import hashlib
import hmac
import io
from collections.abc import Callable, Iterator
from typing import BinaryIO

from ..core.errors import DicomError
from ..services.sources import Requester
from .audit import Auditor

HOLD_BACK = 64 * 1024  # bytes held until the hash is checked (at least the last read's worth)


class IntegrityError(DicomError):
    """A blob whose SHA-256 is not the recorded one (or whose size is not): it was not delivered whole."""

    def __init__(self, message: str, *, expected: str, actual: str, size: int) -> None:
        super().__init__(message)
        self.expected, self.actual, self.size = expected, actual, size


MismatchCallback = Callable[[IntegrityError], None]


class VerifiedReader(io.RawIOBase):
    """A read-only stream over ``source`` that delivers everything but the last ``hold_back`` bytes as it
    reads, and those only once the SHA-256 of the whole (and the size, when given) matches. On a mismatch
    ``read`` raises :class:`IntegrityError` (after calling ``on_mismatch`` once, e.g. to record an audit
    event and quarantine the blob)."""

    def __init__(self, source: BinaryIO, sha256: str, *, size: int | None = None, hold_back: int = HOLD_BACK,
                 on_mismatch: MismatchCallback | None = None, name: str = "blob") -> None:
        super().__init__()
        self.source = source
        self.expected = sha256.lower()
        self.size = size
        self.hold_back = max(hold_back, 1)
        self.on_mismatch = on_mismatch
        self.name_ = name
        self._hash = hashlib.sha256()
        self._held = bytearray()
        self._read = 0
        self._eof = False
        self._verified = False
        self.failure: IntegrityError | None = None

    def readable(self) -> bool:
        return True

    def _fill(self, wanted: int) -> None:
        """Read from the source until more than ``hold_back`` + ``wanted`` bytes are held, or its end."""
        while not self._eof and len(self._held) < self.hold_back + wanted:
            chunk = self.source.read(max(wanted, self.hold_back, 65536))
            if not chunk:
                self._eof = True
                self._check()
                break
            self._hash.update(chunk)
            self._read += len(chunk)
            self._held += chunk

    def _check(self) -> None:
        actual = self._hash.hexdigest()
        size_ok = self.size is None or self._read == self.size
        if size_ok and hmac.compare_digest(actual, self.expected):
            self._verified = True
            return
        what = "size" if not size_ok else "SHA-256"
        self.failure = IntegrityError(f"{self.name_}: {what} does not match the one recorded at ingest (read "
                                      f"{self._read} bytes, SHA-256 {actual[:16]}..., expected "
                                      f"{self.expected[:16]}...); not delivered", expected=self.expected,
                                      actual=actual, size=self._read)
        if self.on_mismatch is not None:
            self.on_mismatch(self.failure)

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.failure is not None:
            raise self.failure
        wanted = len(buffer)
        if wanted == 0:
            return 0
        self._fill(wanted)
        if self.failure is not None:
            raise self.failure
        available = len(self._held) if self._verified else max(len(self._held) - self.hold_back, 0)
        n = min(wanted, available)
        buffer[:n] = self._held[:n]
        del self._held[:n]
        return n

    @property
    def verified(self) -> bool:
        """True once the whole blob was read and matched."""
        return self._verified

    def close(self) -> None:
        try:
            self.source.close()
        finally:
            super().close()


def verified_chunks(source: BinaryIO, sha256: str, *, size: int | None = None, chunk: int = 65536,
                    on_mismatch: MismatchCallback | None = None, name: str = "blob") -> Iterator[bytes]:
    """The blob in chunks for a streaming response (WADO): the last chunk only after the hash matched."""
    with VerifiedReader(source, sha256, size=size, on_mismatch=on_mismatch, name=name) as reader:
        while True:
            data = reader.read(chunk)
            if not data:
                return
            yield data


def verified_opener(open_blob: Callable[[], BinaryIO], sha256: str, *, size: int | None = None,
                    on_mismatch: MismatchCallback | None = None, name: str = "blob") -> Callable[[], BinaryIO]:
    """An opener for :class:`~dicomkit.services.sources.StoredObject` whose stream is verified."""

    def opener() -> BinaryIO:
        reader = VerifiedReader(open_blob(), sha256, size=size, on_mismatch=on_mismatch, name=name)
        return io.BufferedReader(reader)

    return opener


def audit_mismatch(auditor: Auditor, *, study_uid: str | None, requester: Requester | None = None,
                   destination: Requester | None = None) -> MismatchCallback:
    """An ``on_mismatch`` that records the failed transfer (PS3.15 A.5.3.5, outcome 8: serious failure)."""

    def record(error: IntegrityError) -> None:
        auditor.record("instances-transferred", requester=requester, destination=destination,
                       studies=[study_uid] if study_uid else [], outcome=8, description=str(error))

    return record


__all__ = ["HOLD_BACK", "IntegrityError", "VerifiedReader", "audit_mismatch", "verified_chunks", "verified_opener"]
