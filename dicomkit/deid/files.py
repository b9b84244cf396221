"""De-identifying files: one instance, or a DICOMDIR whose records keep pointing at their instances.

Output is written atomically (a temporary file beside the target, renamed into place) and never over the
input unless asked. A DICOMDIR's records are de-identified with the same replacements as the instances
(so Referenced SOP Instance UID in File still matches), and the record offsets are recomputed (PS3.3 F.3).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ..core.dataset import Dataset
from ..core.element import DataElement
from ..core.errors import DicomError
from ..core.vr import VR
from ..io.dicomdir import record_offsets
from ..io.raw import Layout
from ..io.reader import read
from ..io.writer import to_bytes, write, write_atomic, write_bytes_atomic
from .profile import DeidentificationError

if TYPE_CHECKING:
    from .engine import Deidentifier

MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"
DIRECTORY_RECORD_SEQUENCE = 0x00041220
OFFSET_FIRST_ROOT = 0x00041200
OFFSET_LAST_ROOT = 0x00041202
OFFSET_NEXT = 0x00041400
OFFSET_LOWER = 0x00041420


def same_file(a: Path, b: Path) -> bool:
    """True when writing ``b`` would replace ``a`` (only an existing ``b`` can be ``a``)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def deidentify_file(deid: Deidentifier, src: str | os.PathLike[str], dst: str | os.PathLike[str], *,
                    in_place: bool = False, force: bool = False) -> int:
    """De-identify ``src`` into ``dst`` (atomically); returns the size of what was written."""
    src_path, dst_path = Path(src), Path(dst)
    if same_file(src_path, dst_path) and not in_place:
        raise DeidentificationError(f"{dst_path} is the input; refusing to write over it (in_place=True allows it)")
    ds = read(src_path, force=force)
    if _is_dicomdir(ds):
        data = deidentify_dicomdir(deid, ds)
        write_bytes_atomic(dst_path, data)
        return len(data)
    out = deid.apply(ds, in_place=True)
    write_atomic(out, dst_path)
    return dst_path.stat().st_size


def deidentify_batch(deid: Deidentifier, pairs: list[tuple[str, str]], *, in_place: bool = False,
                     force: bool = False) -> list[tuple[str, str | None, int]]:
    """De-identify several files: (source, error message or None, bytes written) for each.

    Each output is written to a temporary file beside its target, flushed to disk (fsync) and renamed into
    place, as :func:`dicomkit.io.writer.write_atomic` does; the flush and rename of one file run in a
    background thread while the next file is de-identified, so waiting for the disk overlaps the work.
    Every file of the batch is on disk and in place when this returns.
    """
    results: list[tuple[str, str | None, int]] = []
    pending: list[tuple[str, Future[int]]] = []
    committer = _committer()
    for src, dst in pairs:
        dst_path = Path(dst)
        try:
            if same_file(Path(src), dst_path) and not in_place:
                raise DeidentificationError(f"{dst} is the input; refusing to write over it")
            ds = _read_whole(src, force)
            if _is_dicomdir(ds):
                data = deidentify_dicomdir(deid, ds)
                tmp = _stage(dst_path, lambda f, data=data: f.write(data))  # type: ignore[misc]
            else:
                out = deid.apply(ds, in_place=True)
                tmp = _stage(dst_path, lambda f, out=out: write(out, f))  # type: ignore[misc]
            pending.append((src, committer.submit(_commit, tmp, dst_path)))
        except (DicomError, OSError) as exc:
            results.append((src, _message(exc), 0))
    for src, future in pending:
        try:
            results.append((src, None, future.result()))
        except OSError as exc:
            results.append((src, _message(exc), 0))
    return results


def _read_whole(src: str, force: bool) -> Dataset:
    """Read a file into memory with one read(2): every byte of it is written out again, so this is cheaper
    than mapping it (no page faults), and the input can be replaced safely (in place) once read."""
    with open(src, "rb") as f:
        data = f.read()
    ds = read(data, force=force)
    ds.__dict__["filename"] = src
    return ds


_COMMITTER: dict[int, ThreadPoolExecutor] = {}


def _committer() -> ThreadPoolExecutor:
    """This process's committing threads (a forked worker process gets its own: threads do not fork)."""
    pid = os.getpid()
    executor = _COMMITTER.get(pid)
    if executor is None:
        _COMMITTER.clear()
        executor = _COMMITTER[pid] = ThreadPoolExecutor(max_workers=2, thread_name_prefix="dicomkit-commit")
    return executor


def _commit(tmp: Path, target: Path) -> int:
    """fsync ``tmp`` and rename it over ``target``; its size."""
    try:
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return size


def _message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, DicomError):
        return f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
    return str(exc)


_COUNTER = [0]


def _stage(target: Path, fill: Callable[[BinaryIO], object]) -> Path:
    """A new temporary file beside ``target`` holding what ``fill`` writes (the umask's permissions)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    _COUNTER[0] += 1
    tmp = target.with_name(f".dicomkit-{os.getpid()}-{_COUNTER[0]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            fill(f)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _is_dicomdir(ds: Dataset) -> bool:
    meta = ds.file_meta
    sop_class = meta.get("MediaStorageSOPClassUID") if meta is not None else None
    return str(sop_class or "").strip("\x00 ") == MEDIA_STORAGE_DIRECTORY or DIRECTORY_RECORD_SEQUENCE in ds


def deidentify_dicomdir(deid: Deidentifier, ds: Dataset) -> bytes:
    """The de-identified DICOMDIR file of ``ds`` (read from a file): records de-identified, offsets redone."""
    buf = ds._buf
    src = ds.source_encoding
    if buf is None or src is None:
        raise DeidentificationError("a DICOMDIR must be read from its file to be de-identified")
    layout = Layout(src.little_endian, src.implicit_vr)
    old_offsets, _, _ = record_offsets(buf, layout, ds.filename or "DICOMDIR")
    records = list(ds[DIRECTORY_RECORD_SEQUENCE].value)
    if len(records) != len(old_offsets):
        raise DeidentificationError("DICOMDIR: records and their offsets do not match")
    index = {offset: i for i, offset in enumerate(old_offsets)}

    def target(item: Dataset, tag: int) -> int | None:
        value = item.get(tag)
        if value is None or not value.value:
            return None
        found = index.get(int(value.value))
        if found is None:
            raise DeidentificationError(f"DICOMDIR: offset {int(value.value)} in ({tag >> 16:04X},{tag & 0xFFFF:04X}) "
                                        "points at no record")
        return found

    links = [(target(r, OFFSET_NEXT), target(r, OFFSET_LOWER)) for r in records]
    roots = (target(ds, OFFSET_FIRST_ROOT), target(ds, OFFSET_LAST_ROOT))
    out = deid.apply(ds, in_place=True, mark=False, dicomdir=True)
    out.file_meta = Dataset()
    out.file_meta.add(DataElement(0x00020002, VR.UI, MEDIA_STORAGE_DIRECTORY))
    sop_instance = str((ds.file_meta or Dataset()).get("MediaStorageSOPInstanceUID") or "")
    out.file_meta.add(DataElement(0x00020003, VR.UI, deid.pseudonyms.uid(sop_instance) if sop_instance
                                  else deid.pseudonyms.uid("DICOMDIR")))
    out.file_meta.add(DataElement(0x00020010, VR.UI, "1.2.840.10008.1.2.1"))
    options = {"transfer_syntax": "1.2.840.10008.1.2.1", "sequence_length": "defined"}
    records = list(out[DIRECTORY_RECORD_SEQUENCE].value)
    for record in records:  # zero offsets first, to learn where each record lands (UL values: fixed size)
        for tag in (OFFSET_NEXT, OFFSET_LOWER):
            record[tag] = DataElement(tag, VR.UL, 0)
    for tag in (OFFSET_FIRST_ROOT, OFFSET_LAST_ROOT):
        out[tag] = DataElement(tag, VR.UL, 0)
    first = to_bytes(out, **options)
    new_offsets, _, _ = record_offsets(memoryview(first), Layout(True, False), "DICOMDIR")

    def where(i: int | None) -> int:
        return 0 if i is None else new_offsets[i]

    for record, (next_i, lower_i) in zip(records, links):
        record[OFFSET_NEXT] = DataElement(OFFSET_NEXT, VR.UL, where(next_i))
        record[OFFSET_LOWER] = DataElement(OFFSET_LOWER, VR.UL, where(lower_i))
    out[OFFSET_FIRST_ROOT] = DataElement(OFFSET_FIRST_ROOT, VR.UL, where(roots[0]))
    out[OFFSET_LAST_ROOT] = DataElement(OFFSET_LAST_ROOT, VR.UL, where(roots[1]))
    second = to_bytes(out, **options)
    if len(second) != len(first):
        raise DeidentificationError("DICOMDIR: filling in the offsets changed its length")
    return second


