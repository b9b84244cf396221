"""STOW-RS with DICOM JSON and bulk data parts, study mismatches, upload limits, IS/DS as text, and the render
cache following a replaced instance."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import dicomkit
from dicomkit.io.json_model import datasets_to_json
from dicomkit.io.writer import to_bytes
from dicomkit.server import Server

from ..server.data import image
from .http import get, parts, request

STUDY = "1.2.826.0.1.3680043.10.66"


def body(parts_: list[tuple[str, bytes, str | None]], boundary: str = "BB") -> bytes:
    out = b""
    for media, data, location in parts_:
        out += f"--{boundary}\r\nContent-Type: {media}\r\n".encode()
        if location:
            out += f"Content-Location: {location}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def post(base: str, data: bytes, path: str = "/studies", part_type: str = "application/dicom") -> tuple[int, dict]:
    answer = request("POST", base + path, {"Content-Type": f'multipart/related; type="{part_type}"; boundary=BB'}, data)
    return answer.status, json.loads(answer.body)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with Server(data_dir=tmp_path_factory.mktemp("settings") / "pacs", dicom_port=0, http_port=0, durability="os",
                duplicates="overwrite", overrides={"web.json_numbers": "text", "web.max_upload": 2_000_000,
                           "web.allow_delete": True}) as s:
        yield s


@pytest.fixture(scope="module")
def root(server: Server) -> str:
    return f"http://127.0.0.1:{server.http_port}/dicom-web"


def test_stow_dicom_json_with_bulk_data(root: str, server: Server) -> None:
    ds = image(study=STUDY, series=STUDY + ".1", sop=STUDY + ".1.1", rows=8, cols=8, fill=7)
    ds.SliceThickness = "2.50"
    pixels = bytes(ds.PixelData)
    text = datasets_to_json([ds], bulk_data_handler=lambda e: "pixels-1" if int(e.tag) == 0x7FE00010 else None,
                            bulk_data_threshold=1)
    assert '"Value": [2.50]' in text
    status, answer = post(root, body([("application/dicom+json", text.encode(), None),
                                      ("application/octet-stream", pixels, "pixels-1")]),
                          part_type="application/dicom+json")
    assert status == 200, answer
    assert answer["00081199"]["Value"][0]["00081155"]["Value"] == [STUDY + ".1.1"]
    stored = dicomkit.read(server.archive.store.path_of(server.index.instance(STUDY + ".1.1").blob_key))
    assert bytes(stored.PixelData) == pixels and stored.PatientID == "P1"


def test_numbers_as_text(root: str) -> None:
    meta = json.loads(get(f"{root}/studies/{STUDY}/series/{STUDY}.1/metadata").body)[0]
    assert meta["00180050"]["Value"] == ["2.50"]  # DS as its text, as stored
    assert meta["00200013"]["Value"] == ["1"]  # IS too
    assert meta["00280010"]["Value"] == [8]  # US stays a number
    found = json.loads(get(f"{root}/studies/{STUDY}/series").body)[0]
    assert found["00200011"]["Value"] == ["1"]


def test_study_mismatch_and_limits(root: str) -> None:
    other = to_bytes(image(study=STUDY + ".9", series=STUDY + ".9.1", sop=STUDY + ".9.1.1", rows=4, cols=4))
    status, answer = post(root, body([("application/dicom", other, None)]), path=f"/studies/{STUDY}")
    assert status == 409
    (failed,) = answer["00081198"]["Value"]
    assert failed["00081197"]["Value"] == [0xA900] and STUDY in failed["00000902"]["Value"][0]
    mixed = body([("application/dicom", other, None), ("application/dicom", b"not dicom at all", None)])
    status, answer = post(root, mixed)
    assert status == 202 and len(answer["00081198"]["Value"]) == 1 and len(answer["00081199"]["Value"]) == 1
    big = to_bytes(image(study=STUDY + ".8", series=STUDY + ".8.1", rows=1024, cols=1024))  # 2 MiB of pixels
    status, answer = post(root, body([("application/dicom", big, None)]))
    assert status == 413 and "max_upload" in answer["message"]


def test_study_rendered_is_one_image_per_instance(root: str, server: Server) -> None:
    answer = get(f"{root}/studies/{STUDY}/rendered", Accept='multipart/related; type="image/png"')
    got = parts(answer)
    assert len(got) == len(server.index.instances(study_instance_uid=STUDY))
    assert all(h["content-type"] == "image/png" and b[:4] == b"\x89PNG" for h, b in got)


def test_render_cache_follows_a_replaced_instance(root: str, server: Server, tmp_path: Path) -> None:
    import io

    from PIL import Image

    url = f"{root}/studies/{STUDY}/series/{STUDY}.1/instances/{STUDY}.1.1/rendered?accept=image/png&window=100,200"
    before = np.asarray(Image.open(io.BytesIO(get(url).body)))
    assert get(url).body == get(url).body  # served again (from the cache)
    changed = image(study=STUDY, series=STUDY + ".1", sop=STUDY + ".1.1", rows=8, cols=8, fill=150)
    status, _ = post(root, body([("application/dicom", to_bytes(changed), None)]))
    assert status == 200  # duplicates = overwrite: the new content replaces the stored one
    after = np.asarray(Image.open(io.BytesIO(get(url).body)))
    assert not np.array_equal(before, after)


@pytest.mark.parametrize("name", ["liver_expb.dcm", "SC_rgb_expb_16bit_2frame.dcm"])
def test_frames_of_a_big_endian_object(root: str, server: Server, corpus_dir: Path, name: str) -> None:
    import pydicom

    path = corpus_dir / name
    if not path.exists():
        pytest.skip(f"{name} not in the corpus")
    assert server.archive.ingest_file(path).status == 0
    ds = pydicom.dcmread(path)
    url = (f"{root}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}"
           "/frames/1")
    (headers, data), = parts(get(url, Accept='multipart/related; type="application/octet-stream"; '
                                             "transfer-syntax=*"))
    assert headers["content-type"] == "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1"
    first = ds.pixel_array[0] if ds.get("NumberOfFrames", 1) > 1 else ds.pixel_array
    if ds.BitsAllocated == 1:  # a segmentation: the frame's bits packed as Explicit VR Little Endian packs them
        assert data == np.packbits(first.astype(np.uint8).ravel(), bitorder="little").tobytes()
    else:
        assert data == np.ascontiguousarray(first).astype(first.dtype.newbyteorder("<")).tobytes()


def test_delete_instance_series_study(root: str, server: Server) -> None:
    study = STUDY + ".5"
    blobs = [to_bytes(image(study=study, series=f"{study}.{s}", sop=f"{study}.{s}.{n}", rows=4, cols=4))
             for s in (1, 2) for n in (1, 2)]
    assert post(root, body([("application/dicom", b, None) for b in blobs]))[0] == 200
    instance = f"{root}/studies/{study}/series/{study}.1/instances/{study}.1.1"
    assert request("DELETE", instance).status == 204
    assert server.index.instance(f"{study}.1.1") is None and get(instance + "/metadata").status == 404
    assert request("DELETE", instance).status == 404
    assert request("DELETE", f"{root}/studies/{study}/series/{study}.9").status == 404
    assert request("DELETE", f"{root}/studies/{study}/series/{study}.2").status == 204
    assert len(server.index.instances(study_instance_uid=study)) == 1
    assert request("DELETE", f"{root}/studies/{study}").status == 204
    assert server.index.study(study) is None
    services = {r["service"] for r in json.loads(get(f"{root}/", Accept="application/json").body)["resources"]}
    assert "DELETE" in services
