"""WADO-RS (PS3.18 10.4): instances, metadata, frames, bulk data and zip downloads of studies and series.

- **Instances** (study / series / instance): ``multipart/related; type="application/dicom"``, each part a
  Part 10 object. The ``transfer-syntax`` of the Accept header picks the encoding: ``*`` as stored, a UID
  that the object is stored in as stored, another one transcoded by :mod:`dicomkit.pixels` (406 when no
  codec can), none Explicit VR Little Endian (PS3.18 8.7.3.5.2). ``Accept: application/zip`` gives a zip
  of the stored files instead.
- **Metadata**: the DICOM JSON stored at ingest, never the files; an ETag, and 304 for ``If-None-Match``.
- **Frames** (``/frames/1,3,5``): by the stored frame offsets, as stored (``image/jp2``, ``image/jls``,
  ``image/jpeg``, ``image/jphc``, ... or ``application/octet-stream`` for native data) or decoded to
  native when the client asks for ``application/octet-stream`` in Explicit VR Little Endian.
- **Bulk data** (``/bulk/GGGGEEEE``, the BulkDataURIs of the metadata): by the stored byte ranges, with HTTP
  Range requests (206, ``Content-Range``; 416 when the range is outside the value).
"""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ..core.uid import TRANSFER_SYNTAXES
from ..server.index import InstanceRow
from .archive import Target, WebArchive, header_json, numbers_as_text
from .common import authorize, json_response, requester_of, service_root, web_of
from .errors import WebError, bad_request, not_found
from .media import (
    DICOM,
    EXPLICIT_LE,
    MEDIA_TYPE_OF_SYNTAX,
    OCTET_STREAM,
    ZIP,
    NotAcceptable,
    negotiate,
    parse_accept,
)
from .multipart import Part, content_type, new_boundary, one, write_parts

log = logging.getLogger("dicomkit.web")

CHUNK = 1 << 18
NATIVE = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"})
_TAG = re.compile(r"^[0-9A-Fa-f]{8}$")


def target_of(request: Request) -> Target:
    p = request.path_params
    return Target(p["study"], p.get("series"), p.get("instance"))


def instance_url(root: str, row: InstanceRow) -> str:
    return (f"{root}/studies/{row.study_instance_uid}/series/{row.series_instance_uid}/instances/"
            f"{row.sop_instance_uid}")


def transcodable(source: str, target: str) -> bool:
    """Whether :mod:`dicomkit.pixels` can turn pixel data in ``source`` into ``target``."""
    if source == target:
        return True
    try:
        from ..pixels.codecs import CODECS
    except Exception:  # numpy missing: only what needs no pixel work
        return source in NATIVE and target in NATIVE
    known = NATIVE | set(CODECS)
    return source in known and target in known


# -- instances --------------------------------------------------------------------------------------------
async def retrieve(request: Request) -> Response:
    """GET /studies/{study}[/series/{series}[/instances/{instance}]]"""
    web = web_of(request)
    target = target_of(request)
    requester = authorize(request, "retrieve")
    accept = request.headers.get("accept")
    if _wants_zip(accept):
        return await _zip(request, target)
    try:
        choice = negotiate(accept, [DICOM], multipart=None if target.instance else True)
    except NotAcceptable as exc:
        raise WebError(406, f"{exc}, or application/zip") from None
    wanted = choice.transfer_syntax or EXPLICIT_LE
    if wanted != "*" and wanted not in TRANSFER_SYNTAXES:
        raise WebError(406, f"transfer-syntax={wanted} is not a transfer syntax this server knows")
    rows = await web.archive.instances(target, requester)
    web.audit.instances(web, "instances-transferred", requester, rows, "WADO-RS retrieve")
    for row in rows:
        if wanted != "*" and not transcodable(row.transfer_syntax, wanted):
            raise WebError(406, f"instance {row.sop_instance_uid} is stored in {row.transfer_syntax} and cannot be "
                           f"transcoded to {wanted}; ask for transfer-syntax=* to get it as stored")
    if not choice.multipart:
        row = rows[0]
        ts = row.transfer_syntax if wanted == "*" else wanted
        return StreamingResponse(_object_body(web.archive, row, wanted), media_type=f"{DICOM}; transfer-syntax={ts}")
    root = service_root(request)
    boundary = new_boundary()

    async def parts() -> AsyncIterator[Part]:
        for row in rows:
            ts = row.transfer_syntax if wanted == "*" else wanted
            yield Part({"Content-Type": f"{DICOM}; transfer-syntax={ts}", "Content-Location": instance_url(root, row)},
                       _object_body(web.archive, row, wanted))

    return StreamingResponse(write_parts(parts(), boundary), media_type=content_type(DICOM, boundary))


def _wants_zip(accept: str | None) -> bool:
    for rng in parse_accept(accept):
        if rng.media_type == ZIP:
            return True
        if rng.main == "*" or rng.main == "multipart" or rng.media_type == DICOM:
            return False
    return False


async def _object_body(archive: WebArchive, row: InstanceRow, wanted: str) -> AsyncIterator[bytes]:
    if wanted == "*" or wanted == row.transfer_syntax:
        async for chunk in _blob_chunks(archive, row):
            yield chunk
        return
    try:
        yield await archive.run(_transcoded, archive, row, wanted)
    except Exception as exc:  # the response has started: end it short, say why in the log
        log.error("cannot transcode %s to %s: %s", row.sop_instance_uid, wanted, exc)
        raise


async def _blob_chunks(archive: WebArchive, row: InstanceRow) -> AsyncIterator[bytes]:
    f = await archive.run(archive.open_whole, row)  # verified while it streams when configured
    try:
        while chunk := await archive.run(f.read, CHUNK):
            yield chunk
    finally:
        f.close()


def _transcoded(archive: WebArchive, row: InstanceRow, wanted: str) -> bytes:
    ds = archive.dataset(row)
    if 0x7FE00010 in ds and (row.transfer_syntax not in NATIVE or wanted not in NATIVE):
        from ..pixels import transcode

        ds = transcode(ds, wanted)
    from ..io.writer import to_bytes

    return to_bytes(ds, transfer_syntax=wanted)


async def _zip(request: Request, target: Target) -> Response:
    """The stored files of a study or series as one zip (PS3.18 8.7.3.3: application/zip), streamed."""
    web = web_of(request)
    requester = requester_of(request)
    rows = await web.archive.instances(target, requester)
    web.audit.instances(web, "instances-transferred", requester, rows, "WADO-RS retrieve (zip)")

    class _Sink:
        def __init__(self) -> None:
            self.out: list[bytes] = []
            self.n = 0

        def write(self, b: Any) -> int:
            self.out.append(bytes(b))
            self.n += len(b)
            return len(b)

        def tell(self) -> int:
            return self.n

        def flush(self) -> None:
            pass

        def take(self) -> bytes:
            data = b"".join(self.out)
            self.out.clear()
            return data

    async def body() -> AsyncIterator[bytes]:
        sink = _Sink()
        zf = zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED, allowZip64=True)  # type: ignore[call-overload]
        for row in rows:
            name = f"{row.study_instance_uid}/{row.series_instance_uid}/{row.sop_instance_uid}.dcm"
            with zf.open(name, "w", force_zip64=True) as member:
                async for chunk in _blob_chunks(web.archive, row):
                    member.write(chunk)
                    if sink.n and len(sink.out) > 4:
                        yield sink.take()
            yield sink.take()
        zf.close()
        yield sink.take()

    name = target.series or target.study
    return StreamingResponse(body(), media_type=ZIP,
                             headers={"Content-Disposition": f'attachment; filename="{name}.zip"'})


# -- metadata ---------------------------------------------------------------------------------------------
async def metadata(request: Request) -> Response:
    """GET .../metadata at study, series and instance level: the stored headers as DICOM JSON."""
    web = web_of(request)
    target = target_of(request)
    requester = authorize(request, "retrieve")
    try:
        negotiate(request.headers.get("accept"), ["application/dicom+json", "application/json"], multipart=False)
    except NotAcceptable as exc:
        raise WebError(406, str(exc)) from None
    rows = await web.archive.instances(target, requester)
    web.audit.instances(web, "instances-accessed", requester, rows, "WADO-RS metadata")
    root = service_root(request)
    etag = web.archive.etag(rows, f"{root}|{web.json_numbers}")
    if etag in _etags(request.headers.get("if-none-match")):
        return Response(status_code=304, headers={"ETag": etag})
    headers = await web.archive.headers(rows)
    body = await web.archive.run(_metadata_body, rows, headers, root, web.json_numbers)
    return json_response(request, body, headers={"ETag": etag, "Cache-Control": "no-cache"})


def _etags(header: str | None) -> set[str]:
    if not header:
        return set()
    return {t.strip().removeprefix("W/") for t in header.split(",")} | ({"*"} if header.strip() == "*" else set())


def _metadata_body(rows: list[InstanceRow], headers: dict[int, tuple[bytes, str | None]], root: str,
                   numbers: str) -> bytes:
    pieces = []
    for row in rows:
        stored = headers.get(row.pk)
        if stored is None:
            continue
        text = header_json(stored[0], instance_url(root, row) + "/")
        pieces.append(numbers_as_text(text) if numbers == "text" else text)
    return b"[" + b",".join(pieces) + b"]"


# -- frames -----------------------------------------------------------------------------------------------
def parse_frame_list(text: str) -> list[int]:
    """``1,3,5`` -> [1, 3, 5] (PS3.18 8.3.3.1: frame numbers from 1)."""
    out = []
    for piece in text.split(","):
        piece = piece.strip()
        if not piece.isdigit() or int(piece) < 1:
            raise bad_request(f"{text!r} is not a list of frame numbers (1, 2, ... separated by commas)", "frames")
        out.append(int(piece))
    return out


async def frames(request: Request) -> Response:
    """GET .../instances/{instance}/frames/{frames}"""
    web = web_of(request)
    target = target_of(request)
    numbers = parse_frame_list(request.path_params["frames"])
    requester = authorize(request, "retrieve")
    row = (await web.archive.instances(target, requester))[0]
    web.audit.instances(web, "instances-accessed", requester, [row], "WADO-RS frames")
    stored = (await web.archive.headers([row])).get(row.pk)
    bulk = _bulk_map(stored)
    count = _frame_count(stored)
    for n in numbers:
        if n > count:
            raise not_found(f"frame {n} of {target.instance}: the instance has {count} frame(s)")
    stored_ts = row.transfer_syntax
    encapsulated = stored_ts not in NATIVE
    offers = [MEDIA_TYPE_OF_SYNTAX.get(stored_ts, OCTET_STREAM)] if encapsulated else []
    offers.append(OCTET_STREAM)
    try:
        choice = negotiate(request.headers.get("accept"), offers, multipart=True)
    except NotAcceptable as exc:
        raise WebError(406, str(exc)) from None
    ts = choice.transfer_syntax
    as_stored = ts == "*" or ts == stored_ts or (ts is None and choice.media_type != OCTET_STREAM)
    if choice.media_type == OCTET_STREAM and not encapsulated:
        # native frames go out as little endian bytes whatever the data set's encoding (decoded from big
        # endian or deflated data sets): Explicit VR Little Endian is what they are
        as_stored = ts in (None, "*", stored_ts, EXPLICIT_LE, "1.2.840.10008.1.2")
        label = EXPLICIT_LE
    elif as_stored:
        label = stored_ts
    elif choice.media_type == OCTET_STREAM and ts in (None, EXPLICIT_LE):
        label = EXPLICIT_LE
    else:
        raise WebError(406, f"frames of {target.instance} are stored in {stored_ts}; they can be had as stored "
                       f"(transfer-syntax=* or {stored_ts}) or as application/octet-stream in {EXPLICIT_LE}")
    media = choice.media_type
    frames_info = bulk.get("frames") if bulk else None

    def frame_bytes(n: int) -> bytes:
        if as_stored and frames_info is not None and "native" in frames_info and stored_ts != "1.2.840.10008.1.2.2":
            offset, length, _count = frames_info["native"]
            return web.archive.read_range(row, offset + (n - 1) * length, length)
        if as_stored and encapsulated and frames_info is not None and "fragments" in frames_info:
            return b"".join(web.archive.read_range(row, o, ln) for o, ln in frames_info["fragments"][n - 1])
        return _decoded_frame(web.archive, row, n, native=not as_stored or not encapsulated)

    root = service_root(request)
    boundary = new_boundary()

    async def parts() -> AsyncIterator[Part]:
        for n in numbers:
            data = await web.archive.run(frame_bytes, n)
            yield Part({"Content-Type": f"{media}; transfer-syntax={label}",
                        "Content-Location": f"{instance_url(root, row)}/frames/{n}"}, one(data))

    return StreamingResponse(write_parts(parts(), boundary), media_type=content_type(media, boundary))


def _bulk_map(stored: tuple[bytes, str | None] | None) -> dict[str, Any] | None:
    import json

    if stored is None or stored[1] is None:
        return None
    value: dict[str, Any] = json.loads(stored[1])
    return value


def _frame_count(stored: tuple[bytes, str | None] | None) -> int:
    import zlib

    if stored is None:
        return 0
    import json

    header = json.loads(zlib.decompress(stored[0]))
    if "7FE00010" not in header and "7FE00008" not in header and "7FE00009" not in header:
        return 0
    value = header.get("00280008", {}).get("Value")
    try:
        return int(value[0]) if value else 1
    except (TypeError, ValueError):
        return 1


def _decoded_frame(archive: WebArchive, row: InstanceRow, n: int, native: bool) -> bytes:
    """Frame ``n`` (from 1) read through the data set: decoded to native little endian bytes, or (for objects
    without stored offsets) its encoded bytes."""
    ds = archive.dataset(row)
    if not native:
        from ..io.encapsulation import encapsulated_frames

        return b"".join(bytes(p) for p in encapsulated_frames(ds)[n - 1])
    import numpy as np

    arr = ds.frame(n - 1)
    out = np.ascontiguousarray(arr)
    if out.dtype.byteorder == ">":
        out = out.astype(out.dtype.newbyteorder("<"))
    bits = ds.value(0x00280100)
    if bits == 1:
        return np.packbits(out.reshape(-1).astype(np.uint8), bitorder="little").tobytes()
    return out.tobytes()


# -- bulk data --------------------------------------------------------------------------------------------
_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(start, end exclusive) of a single ``bytes=`` range within ``size`` bytes; None: not a range we
    serve (RFC 9110 14.2: then the whole value is sent); WebError(416) when it lies outside."""
    m = _RANGE.match(header)
    if not m or (not m[1] and not m[2]):
        return None
    if not m[1]:
        n = int(m[2])
        if n == 0:
            raise WebError(416, f"the range {header!r} is empty", headers={"Content-Range": f"bytes */{size}"})
        return max(0, size - n), size
    start = int(m[1])
    end = min(size, int(m[2]) + 1) if m[2] else size
    if start >= size or end <= start:
        raise WebError(416, f"the range {header!r} lies outside the {size} bytes of the value",
                       headers={"Content-Range": f"bytes */{size}"})
    return start, end


async def bulkdata(request: Request) -> Response:
    """GET .../instances/{instance}/bulk/{tag}: one bulk data value (the BulkDataURIs of the metadata)."""
    web = web_of(request)
    target = target_of(request)
    tag = request.path_params["tag"]
    if not _TAG.match(tag):
        raise bad_request(f"{tag!r} is not a tag (8 hexadecimal digits)", "tag")
    tag = tag.upper()
    requester = authorize(request, "retrieve")
    row = (await web.archive.instances(target, requester))[0]
    web.audit.instances(web, "instances-accessed", requester, [row], "WADO-RS bulk data")
    stored = (await web.archive.headers([row])).get(row.pk)
    bulk = _bulk_map(stored) or {}
    span = bulk.get("elements", {}).get(tag)
    reader: Callable[[int, int], bytes]
    if span is not None:
        base, size = int(span[0]), int(span[1])

        def reader(start: int, end: int) -> bytes:
            return web.archive.read_range(row, base + start, end - start)
    else:
        value = await web.archive.run(_element_value, web.archive, row, int(tag, 16))
        if value is None:
            raise not_found(f"instance {target.instance} has no bulk data at {tag}")
        size = len(value)

        def reader(start: int, end: int) -> bytes:
            return value[start:end]
    try:
        choice = negotiate(request.headers.get("accept"), [OCTET_STREAM], multipart=None)
    except NotAcceptable as exc:
        raise WebError(406, str(exc)) from None
    rng = parse_range(request.headers["range"], size) if "range" in request.headers else None
    start, end = rng if rng else (0, size)
    data = await web.archive.run(reader, start, end)
    headers = {"Accept-Ranges": "bytes"}
    status = 200
    if rng is not None:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    if not choice.multipart:
        return Response(data, status_code=status, media_type=OCTET_STREAM, headers=headers)
    boundary = new_boundary()
    part_headers = {"Content-Type": OCTET_STREAM, "Content-Location": str(request.url)}
    if rng is not None:
        part_headers["Content-Range"] = headers.pop("Content-Range")
    body = write_parts(_single(Part(part_headers, one(data))), boundary)
    return StreamingResponse(body, status_code=status, media_type=content_type(OCTET_STREAM, boundary),
                             headers=headers)


async def _single(part: Part) -> AsyncIterator[Part]:
    yield part


def _element_value(archive: WebArchive, row: InstanceRow, tag: int) -> bytes | None:
    ds = archive.dataset(row)
    elem = ds.get(tag)
    if elem is None:
        return None
    value = elem.value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if tag == 0x7FE00010:  # encapsulated: the frames' bytes one after the other
        from ..io.encapsulation import encapsulated_frames

        return b"".join(bytes(p) for frame in encapsulated_frames(ds) for p in frame)
    return None


__all__ = ["bulkdata", "frames", "metadata", "parse_frame_list", "parse_range", "retrieve"]
