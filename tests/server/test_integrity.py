"""Integrity on retrieve: a blob hashed while it is read, the last part held back until the SHA-256 matches."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from dicomkit.server.audit import Auditor, FileSink, Source
from dicomkit.server.audit.read import entries
from dicomkit.server.integrity import IntegrityError, VerifiedReader, audit_mismatch, verified_chunks, verified_opener
from dicomkit.services.sources import Requester


def _blob(tmp_path: Path, size: int = 300_000) -> tuple[Path, str]:
    data = os.urandom(size)
    path = tmp_path / "blob.dcm"
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("chunk", [1, 1000, 65536, 10**6])
def test_a_sound_blob_is_delivered_whole(tmp_path: Path, chunk: int) -> None:
    path, digest = _blob(tmp_path, 200_001)
    out = b"".join(verified_chunks(io.FileIO(path), digest, size=200_001, chunk=chunk))
    assert out == path.read_bytes()


@pytest.mark.parametrize("where", [0, 150_000, 299_999])
def test_a_corrupt_blob_is_never_delivered_complete(tmp_path: Path, where: int) -> None:
    path, digest = _blob(tmp_path)
    original = path.read_bytes()
    corrupt = bytearray(original)
    corrupt[where] ^= 0xFF  # one flipped bit, anywhere: at the start, in the middle, in the last byte
    path.write_bytes(bytes(corrupt))
    failures: list[IntegrityError] = []
    delivered = bytearray()
    reader = VerifiedReader(io.FileIO(path), digest, on_mismatch=failures.append, name="1.2.3")
    with pytest.raises(IntegrityError) as info:
        while chunk := reader.read(8192):
            delivered += chunk
    assert len(delivered) < len(original)  # the held-back tail never left
    assert len(failures) == 1 and failures[0] is info.value and "1.2.3" in str(info.value)
    with pytest.raises(IntegrityError):  # and it stays failed
        reader.read(1)
    reader.close()
    assert len(failures) == 1


def test_truncated_blob_and_wrong_size(tmp_path: Path) -> None:
    path, digest = _blob(tmp_path)
    with pytest.raises(IntegrityError):
        b"".join(verified_chunks(io.BytesIO(path.read_bytes()[:-1]), digest))
    with pytest.raises(IntegrityError):
        b"".join(verified_chunks(io.FileIO(path), digest, size=123))


def test_opener_for_retrieve_and_the_audit_event(tmp_path: Path) -> None:
    path, digest = _blob(tmp_path)
    opener = verified_opener(lambda: io.FileIO(path), digest)
    with opener() as stream:
        assert stream.read() == path.read_bytes()
    path.write_bytes(b"x" + path.read_bytes()[1:])
    log = tmp_path / "audit.log"
    with Auditor(Source("PACS", ae_title="PACS"), [FileSink(log)]) as auditor:
        on_mismatch = audit_mismatch(auditor, study_uid="1.2.3.4", requester=Requester("WS1", address="127.0.0.1"))
        with pytest.raises(IntegrityError), verified_opener(lambda: io.FileIO(path), digest,
                                                             on_mismatch=on_mismatch)() as stream:
            stream.read()
    [entry] = list(entries(log))
    assert entry["event"] == "instances-transferred" and entry["outcome"] == 8 and entry["studies"] == ["1.2.3.4"]
    assert "does not match" in entry["message"]
