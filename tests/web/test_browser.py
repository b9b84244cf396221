"""The viewer and OHIF in headless Chromium against a running archive: search, open a study, see the image
(the screenshot at 1:1 is the server's own rendering), drag window/level, scroll; OHIF lists and renders."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import dicomkit
from dicomkit.io.writer import to_bytes
from dicomkit.server import Server

from ..server.data import image
from .browser import browser, ohif_dist, prepare_ohif, serve_folder
from .http import get

pytestmark = pytest.mark.interop

STUDY = "1.2.826.0.1.3680043.10.55"
SERIES = STUDY + ".1"
SLICES = 30
BIG = "1.2.826.0.1.3680043.10.57"
BIG_SLICES = 1000
MOVIE = "1.2.826.0.1.3680043.10.58"
MOVIE_FRAMES = 20


def _ct(n: int) -> dicomkit.Dataset:
    ds = image(study=STUDY, series=SERIES, sop=f"{SERIES}.{n + 1}", number=n + 1, patient_id="BROWSER1",
               patient_name="Viewer^Test", modality="CT", sop_class="1.2.840.10008.5.1.4.1.1.2", rows=64, cols=96)
    y, x = np.mgrid[0:64, 0:96]
    pixels = ((x * 40 + y * 10 + n * 30) % 4096).astype("<u2")
    ds.PixelData = pixels.tobytes()
    ds.WindowCenter, ds.WindowWidth = "2048", "4096"
    return ds


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("browser")
    with Server(data_dir=folder / "pacs", dicom_port=0, http_port=0, durability="os",
                overrides={"web.cors_origins": "*"}) as server:
        for n in range(SLICES):
            path = folder / f"{n}.dcm"
            dicomkit.write(_ct(n), path)
            assert server.archive.ingest_file(path).status == 0
        blob = to_bytes(image(study=BIG, series=BIG + ".1", sop=BIG + ".1.10000", patient_id="BIG1000", rows=8,
                              cols=8))
        for n in range(BIG_SLICES):  # one series of 1000 images (one object under 1000 UIDs of the same length)
            path = folder / "big.dcm"
            path.write_bytes(blob.replace(f"{BIG}.1.10000".encode(), f"{BIG}.1.1{n:04d}".encode()))
            assert server.archive.ingest_file(path).status == 0
        movie = image(study=MOVIE, series=MOVIE + ".1", sop=MOVIE + ".1.1", patient_id="MOVIE1", rows=16, cols=16,
                      frames=MOVIE_FRAMES)
        movie.PixelData = b"".join(bytes([k * 10, 0]) * 256 for k in range(MOVIE_FRAMES))
        path = folder / "movie.dcm"
        dicomkit.write(movie, path)
        assert server.archive.ingest_file(path).status == 0
        for n in range(3):  # other studies to search among
            path = folder / f"other{n}.dcm"
            dicomkit.write(image(study=f"1.2.826.0.1.3680043.10.56.{n}", series=f"1.2.826.0.1.3680043.10.56.{n}.1",
                                 patient_id=f"OTHER{n}", patient_name=f"Other^{n}"), path)
            server.archive.ingest_file(path)
        yield server


@pytest.fixture(scope="module")
def chrome() -> Iterator[Any]:
    with browser() as b:
        context = b.new_context(device_scale_factor=1)
        context.set_default_timeout(90_000)  # 2 shared cores: generous deadlines, still polled
        yield context
        context.close()


@pytest.fixture(scope="module")
def page(archive: Server, chrome: Any) -> Iterator[Any]:
    p = chrome.new_page()
    p.set_viewport_size({"width": 1100, "height": 800})
    p.goto(f"http://127.0.0.1:{archive.http_port}/")
    yield p
    p.close()


def _png(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)


def test_search_lists_the_matching_study(page: Any) -> None:
    page.wait_for_selector("tr.study")
    page.fill("[data-testid=search-id]", "BROWSER1")
    page.click("[data-testid=search]")
    page.wait_for_function("document.querySelectorAll('tr.study').length === 1")
    assert page.inner_text("[data-testid=status]") == "1–1 of 1 studies"
    assert page.get_attribute("tr.study", "data-uid") == STUDY


def test_open_study_shows_series_thumbnails(page: Any) -> None:
    page.click("tr.study")
    page.wait_for_function("(() => { const i = document.querySelector('.thumb img');"
                           " return i && i.complete && i.naturalWidth > 0; })()")
    assert page.get_attribute(".thumb", "data-uid") == SERIES


def test_image_is_the_servers_rendering(page: Any, archive: Server) -> None:
    page.click(".thumb")
    page.wait_for_function("document.querySelector('[data-testid=image]')?.naturalWidth > 0")
    page.click("[data-testid=actual-size]")
    page.wait_for_function("document.querySelector('[data-testid=image]').style.width === '96px'")
    shot = _png(page.locator("[data-testid=image]").screenshot())
    base = f"http://127.0.0.1:{archive.http_port}/dicom-web"
    server = _png(get(f"{base}/studies/{STUDY}/series/{SERIES}/instances/{SERIES}.1/rendered", Accept="image/png")
                  .body)
    assert shot.shape == server.shape
    assert np.abs(shot - server).max() <= 2  # the browser shows the server's pixels (colour management aside)
    assert "Im 1/30" in page.inner_text("[data-testid=slice]")


def test_window_level_drag(page: Any) -> None:
    before = page.inner_text("[data-testid=wl]")
    first = _png(page.locator("[data-testid=image]").screenshot())
    box = page.locator("[data-testid=viewport]").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 120, y + 40, steps=6)
    page.mouse.up()
    page.wait_for_function("document.querySelector('[data-testid=image]').dataset.src.includes('window=')")
    page.wait_for_function("document.querySelector('[data-testid=image]').complete")
    after = page.inner_text("[data-testid=wl]")
    assert after != before and after.startswith("W ")
    assert not np.array_equal(first, _png(page.locator("[data-testid=image]").screenshot()))


def test_scroll_through_the_series(page: Any) -> None:
    page.locator("[data-testid=viewport]").hover()
    for k in range(1, 4):  # one notch at a time: Chromium may merge wheel events sent together
        page.mouse.wheel(0, 100)
        page.wait_for_function(f"document.querySelector('[data-testid=image]').dataset.index === '{k}'")
    assert "Im 4/30" in page.inner_text("[data-testid=slice]")
    page.keyboard.press("End")
    page.wait_for_function("document.querySelector('[data-testid=image]').dataset.index === '29'")


def test_a_1000_image_series_opens_at_its_first_image(archive: Server, chrome: Any) -> None:
    p = chrome.new_page()
    p.set_viewport_size({"width": 900, "height": 700})
    requests: list[str] = []
    p.on("request", lambda r: requests.append(r.url))
    p.goto(f"http://127.0.0.1:{archive.http_port}/#/view/{BIG}/{BIG}.1")
    p.wait_for_function("document.querySelector('[data-testid=image]')?.naturalWidth > 0")
    assert "Im 1/1000" in p.inner_text("[data-testid=slice]")
    rendered = [u for u in requests if "/rendered" in u]
    assert sum("/metadata" in u for u in requests) == 1
    assert 1 <= len(rendered) <= 30, f"{len(rendered)} images asked for before the first was shown"
    p.keyboard.press("End")
    p.wait_for_function("document.querySelector('[data-testid=image]').dataset.index === '999'")
    assert "Im 1000/1000" in p.inner_text("[data-testid=slice]")
    p.close()


def test_multi_frame_playback(archive: Server, chrome: Any) -> None:
    p = chrome.new_page()
    p.set_viewport_size({"width": 900, "height": 700})
    p.goto(f"http://127.0.0.1:{archive.http_port}/#/view/{MOVIE}/{MOVIE}.1")
    p.wait_for_function("document.querySelector('[data-testid=image]')?.naturalWidth > 0")
    assert f"frame 1/{MOVIE_FRAMES}" in p.inner_text("[data-testid=slice]")
    p.click("[data-testid=cine]")
    p.wait_for_function("Number(document.querySelector('[data-testid=image]').dataset.index) >= 5", timeout=20000)
    p.click("[data-testid=cine]")
    shown = p.inner_text("[data-testid=slice]")
    assert "frame" in shown and f"/{MOVIE_FRAMES}" in shown
    p.close()


def test_ohif_lists_our_studies_and_renders_one(archive: Server, chrome: Any,
                                               tmp_path_factory: pytest.TempPathFactory) -> None:
    dist = ohif_dist(tmp_path_factory.mktemp("ohif"))
    root = f"http://127.0.0.1:{archive.http_port}"
    prepare_ohif(dist, f"{root}/dicom-web", f"{root}/wado")
    with serve_folder(dist) as port:
        p = chrome.new_page()
        p.set_viewport_size({"width": 1400, "height": 900})
        frames: list[int] = []
        p.on("response", lambda r: frames.append(r.status) if "/frames/" in r.url else None)
        p.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")
        p.wait_for_selector("text=BROWSER1", timeout=60000)
        for n in range(3):
            assert p.locator(f"text=OTHER{n}").count() >= 1
        p.goto(f"http://127.0.0.1:{port}/viewer?StudyInstanceUIDs={STUDY}", wait_until="domcontentloaded")
        p.wait_for_selector("canvas", timeout=60000)
        p.wait_for_function("() => true", timeout=1000)
        deadline_ok = False
        for _ in range(120):
            if frames and all(s == 200 for s in frames):
                shot = _png(p.screenshot())
                canvas = p.locator("canvas").first.bounding_box()
                if canvas and canvas["width"] > 50:
                    region = shot[int(canvas["y"]):int(canvas["y"] + canvas["height"]),
                                  int(canvas["x"]):int(canvas["x"] + canvas["width"])]
                    if len(np.unique(region.reshape(-1, 3), axis=0)) > 50:
                        deadline_ok = True
                        break
            p.wait_for_timeout(500)
        Path(str(tmp_path_factory.getbasetemp() / "ohif.png")).write_bytes(p.screenshot())
        assert frames and all(s == 200 for s in frames), f"OHIF's frame requests: {json.dumps(frames)}"
        assert deadline_ok, "OHIF did not draw the image (the canvas stayed uniform)"
