"""Rendered and thumbnail resources (PS3.18 8.3.5, 10.4.1.1.3 and 10.4.1.1.4) and the cache of their images.

``/rendered`` at study and series level answers ``multipart/related`` with one image per instance; at
instance level one image (the first frame; each frame of a multi-frame instance under ``/frames/{n}/rendered``).
``/thumbnail`` answers one small image at every level (a representative instance: the middle one of the
first series). Parameters (PS3.18 Table 8.3.5-1): ``window=center,width[,function]``,
``viewport=vw,vh[,sx,sy,sw,sh]`` (a box to fit the image in; the source rectangle is taken too),
``quality`` (1-100, JPEG), ``annotation`` (none is drawn; a request for one is answered without it and a
Warning header). Images come from :func:`dicomkit.pixels.render`, the same pipeline as ``dicomkit render``.

:class:`RenderCache` keeps the encoded images, bounded in bytes (least recently used out first); the keys
hold each instance's content hash, so a changed or replaced instance never shows an old image, and the
series versions of study/series thumbnails change whenever an instance of the series does.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ..server.index import InstanceRow
from .archive import Target, WebArchive
from .common import authorize, web_of
from .errors import WebError, bad_request, not_found
from .media import JPEG, PNG, NotAcceptable, negotiate
from .multipart import Part, content_type, new_boundary, one, write_parts
from .wado_rs import target_of

THUMBNAIL = 128
WARNING_ANNOTATION = '299 dicomkit "annotation is not supported: the image is rendered without annotation"'


class RenderCache:
    """Encoded images by key, at most ``limit`` bytes (LRU); thread-safe."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[tuple[object, ...], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...]) -> bytes | None:
        with self._lock:
            data = self._items.get(key)
            if data is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return data

    def put(self, key: tuple[object, ...], data: bytes) -> None:
        if len(data) > self.limit:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.size -= len(old)
            self._items[key] = data
            self.size += len(data)
            while self.size > self.limit and self._items:
                _k, v = self._items.popitem(last=False)
                self.size -= len(v)

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class RenderOptions:
    media_type: str = JPEG
    window: tuple[float, float] | None = None
    window_function: str = "LINEAR"
    viewport: tuple[int, int] | None = None
    region: tuple[int, int, int, int] | None = None  # sx, sy, sw, sh
    quality: int = 90

    def key(self) -> tuple[object, ...]:
        return (self.media_type, self.window, self.window_function, self.viewport, self.region, self.quality)


def _numbers(text: str, name: str) -> list[float]:
    try:
        return [float(p) for p in text.split(",")]
    except ValueError:
        raise bad_request(f"{name}={text!r}: expected numbers separated by commas", name) from None


def parse_options(request: Request, *, thumbnail: bool = False) -> tuple[RenderOptions, list[str]]:
    """The rendering parameters of a request (PS3.18 8.3.5.1); 400 naming the bad one."""
    q = request.query_params
    warnings = []
    window = None
    function = "LINEAR"
    if "window" in q:
        parts = q["window"].split(",")
        values = _numbers(",".join(parts[:2]), "window")
        if len(values) != 2 or values[1] <= 0:
            raise bad_request(f"window={q['window']!r}: expected center,width[,function] with a positive width",
                              "window")
        window = (values[0], values[1])
        if len(parts) <= 2 and values[1] < 1:
            raise bad_request(f"window={q['window']!r}: a linear window is at least 1 wide (PS3.3 C.11.2.1.2.1)",
                              "window")
        if len(parts) > 2:
            function = parts[2].strip().upper()
            if function not in ("LINEAR", "LINEAR_EXACT", "SIGMOID"):
                raise bad_request(f"window function {parts[2]!r}: expected linear, linear-exact or sigmoid",
                                  "window")
    viewport = None
    region = None
    if "viewport" in q:
        values = _numbers(q["viewport"], "viewport")
        if len(values) not in (2, 6) or values[0] < 1 or values[1] < 1 or values[0] > 8192 or values[1] > 8192:
            raise bad_request(f"viewport={q['viewport']!r}: expected vw,vh[,sx,sy,sw,sh] (1 to 8192 pixels)",
                              "viewport")
        viewport = (int(values[0]), int(values[1]))
        if len(values) == 6:
            region = (int(values[2]), int(values[3]), int(values[4]), int(values[5]))
    elif thumbnail:
        viewport = (THUMBNAIL, THUMBNAIL)
    quality = 90
    if "quality" in q:
        try:
            quality = int(q["quality"])
        except ValueError:
            quality = -1
        if not 1 <= quality <= 100:
            raise bad_request(f"quality={q['quality']!r}: expected an integer from 1 to 100", "quality")
    if q.get("annotation"):
        warnings.append(WARNING_ANNOTATION)
    try:
        # the accept query parameter stands for the Accept header (PS3.18 8.3.3.1): what an <img> can ask
        choice = negotiate(q.get("accept") or request.headers.get("accept"), [JPEG, PNG], multipart=None)
    except NotAcceptable as exc:
        raise WebError(406, str(exc)) from None
    return RenderOptions(choice.media_type, window, function, viewport, region, quality), warnings


def render_image(archive: WebArchive, row: InstanceRow, frame: int, options: RenderOptions) -> bytes:
    """The encoded image of frame ``frame`` (from 0) of an instance (runs in a worker thread)."""
    from ..core.errors import DicomError
    from ..pixels import Window, render
    from ..pixels.render import encode_image, fit

    ds = archive.dataset(row)
    if 0x7FE00010 not in ds:
        raise WebError(406, f"instance {row.sop_instance_uid} has no pixel data to render")
    try:
        window = Window(options.window[0], options.window[1], options.window_function) if options.window else None
        image = render(ds, frame, window=window)
        if options.region is not None:
            sx, sy, sw, sh = options.region
            rows, cols = image.shape[:2]
            x0, x1 = sorted((max(0, min(cols, sx)), max(0, min(cols, sx + sw if sw else cols))))
            y0, y1 = sorted((max(0, min(rows, sy)), max(0, min(rows, sy + sh if sh else rows))))
            if x1 > x0 and y1 > y0:
                image = image[y0:y1, x0:x1]
        if options.viewport is not None:
            image = fit(image, options.viewport)
        return encode_image(image, "png" if options.media_type == PNG else "jpeg", quality=options.quality)
    except WebError:
        raise
    except (DicomError, ValueError, TypeError) as exc:
        raise WebError(406, f"instance {row.sop_instance_uid} cannot be rendered: {exc}") from None


async def cached_image(request: Request, row: InstanceRow, frame: int, options: RenderOptions) -> bytes:
    web = web_of(request)
    key = (row.sop_instance_uid, row.content_sha256, frame, *options.key())
    data = web.render_cache.get(key)
    if data is None:
        data = await web.archive.run(render_image, web.archive, row, frame, options)
        web.render_cache.put(key, data)
    return data


def _headers(warnings: list[str]) -> dict[str, str]:
    return {"Warning": ", ".join(warnings)} if warnings else {}


async def rendered(request: Request) -> Response:
    """GET .../rendered at study, series, instance and frame level."""
    web = web_of(request)
    target = target_of(request)
    requester = authorize(request, "retrieve")
    options, warnings = parse_options(request)
    rows = await web.archive.instances(target, requester)
    web.audit.instances(web, "instances-accessed", requester, rows, "WADO-RS rendered")
    if "frames" in request.path_params:
        from .wado_rs import parse_frame_list

        numbers = parse_frame_list(request.path_params["frames"])
        if len(numbers) == 1:
            data = await _frame_image(request, rows[0], numbers[0], options)
            return Response(data, media_type=options.media_type, headers=_headers(warnings))
        images = [(rows[0], n - 1) for n in numbers]
    elif target.instance:
        data = await cached_image(request, rows[0], 0, options)
        return Response(data, media_type=options.media_type, headers=_headers(warnings))
    else:
        images = [(row, 0) for row in rows]
    boundary = new_boundary()

    async def parts() -> AsyncIterator[Part]:
        for row, frame in images:
            try:
                data = await cached_image(request, row, frame, options)
            except WebError:
                continue  # instances without pixel data (SR, PR) have no rendering in a study's images
            yield Part({"Content-Type": options.media_type}, one(data))

    return StreamingResponse(write_parts(parts(), boundary), media_type=content_type(options.media_type, boundary),
                             headers=_headers(warnings))


async def _frame_image(request: Request, row: InstanceRow, n: int, options: RenderOptions) -> bytes:
    web = web_of(request)
    count = await web.archive.run(_frames_of, web.archive, row)
    if n > count:
        raise not_found(f"frame {n} of {row.sop_instance_uid}: the instance has {count} frame(s)")
    return await cached_image(request, row, n - 1, options)


def _frames_of(archive: WebArchive, row: InstanceRow) -> int:
    ds = archive.dataset(row, stop_before_pixels=True)
    try:
        return int(ds.value(0x00280008) or 1)
    except (TypeError, ValueError):
        return 1


async def thumbnail(request: Request) -> Response:
    """GET .../thumbnail at study, series, instance and frame level: one small image."""
    web = web_of(request)
    target = target_of(request)
    requester = authorize(request, "retrieve")
    options, warnings = parse_options(request, thumbnail=True)
    rows = await web.archive.instances(target, requester)
    web.audit.instances(web, "instances-accessed", requester, rows, "WADO-RS thumbnail")
    if "frames" in request.path_params:
        from .wado_rs import parse_frame_list

        numbers = parse_frame_list(request.path_params["frames"])
        data = await _frame_image(request, rows[0], numbers[0], options)
        return Response(data, media_type=options.media_type, headers=_headers(warnings))
    for row in _representatives(rows, target):
        try:
            data = await cached_image(request, row, 0, options)
        except WebError:
            continue
        return Response(data, media_type=options.media_type,
                        headers={**_headers(warnings), "Cache-Control": "max-age=60"})
    raise not_found(f"{target.describe()} has no instance with pixel data")


def _representatives(rows: list[InstanceRow], target: Target) -> list[InstanceRow]:
    """The middle instance of the first series first, then the others."""
    first_series = rows[0].series_instance_uid
    series = [r for r in rows if r.series_instance_uid == first_series]
    middle = series[len(series) // 2]
    return [middle] + [r for r in rows if r is not middle]


__all__ = ["RenderCache", "RenderOptions", "parse_options", "render_image", "rendered", "thumbnail"]
