"""The HTTP side of DICOMweb on the wire: what OHIF sends, Range, ETag, gzip, CORS, zip, WADO-URI, errors."""

from __future__ import annotations

import gzip
import io
import json
import urllib.parse
import zipfile

import pytest

import dicomkit
from dicomkit.server import Server

from .http import get, parts, request

OHIF_FRAMES = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'


@pytest.fixture(scope="module")
def row(pacs: Server):  # type: ignore[no-untyped-def]
    rows = [r for r in pacs.index.instances() if r.transfer_syntax == "1.2.840.10008.1.2.1"]
    return rows[0]


def url(base: str, row, tail: str = "") -> str:  # type: ignore[no-untyped-def]
    return (f"{base}/studies/{row.study_instance_uid}/series/{row.series_instance_uid}/instances/"
            f"{row.sop_instance_uid}{tail}")


def test_ohif_study_list(base: str, pacs: Server) -> None:
    answer = get(f"{base}/studies?limit=101&offset=0&fuzzymatching=false&includefield=00081030%2C00080060",
                 Accept="application/dicom+json", Accept_Encoding="gzip, deflate, br, zstd")
    assert answer.status == 200 and answer.header("X-Total-Count") == str(pacs.index.count("study"))
    body = gzip.decompress(answer.body) if answer.header("content-encoding") == "gzip" else answer.body
    studies = json.loads(body)
    assert len(studies) == pacs.index.count("study")
    assert all("00081030" in s or s.get("00080061") for s in studies)
    pid = next(s["00100020"]["Value"][0] for s in studies if s["00100020"].get("Value"))
    by_hex = json.loads(get(f"{base}/studies?00100020={urllib.parse.quote(pid)}").body)
    # the matching rules of the query layer: the value, or an entity without one
    assert any(s["00100020"].get("Value") == [pid] for s in by_hex)
    assert all(s["00100020"].get("Value", [pid]) == [pid] for s in by_hex)


def test_limit_warning_and_total(base: str, pacs: Server) -> None:
    answer = get(f"{base}/studies?limit=1")
    total = pacs.index.count("study")
    assert answer.header("X-Total-Count") == str(total) and len(json.loads(answer.body)) == 1
    assert answer.header("Warning").startswith("299 ") and f"{total - 1} additional" in answer.header("Warning")


def test_bad_query_names_the_parameter(base: str) -> None:
    for query, parameter in (("limit=-1", "limit"), ("NoSuchKeyword=1", "NoSuchKeyword"),
                             ("fuzzymatching=maybe", "fuzzymatching"), ("StudyDate=2024-01", "StudyDate")):
        answer = get(f"{base}/studies?{query}")
        assert answer.status == 400, query
        assert json.loads(answer.body)["parameter"] == parameter


def test_qido_xml(base: str, pacs: Server) -> None:
    answer = get(f"{base}/studies", Accept='multipart/related; type="application/dicom+xml"')
    got = parts(answer)
    assert len(got) == pacs.index.count("study")
    assert all(h["content-type"].startswith("application/dicom+xml") and b"<NativeDicomModel" in b for h, b in got)


def test_frames_as_ohif_asks(base: str, row) -> None:  # type: ignore[no-untyped-def]
    answer = get(url(base, row, "/frames/1"), Accept=OHIF_FRAMES)
    assert answer.status == 200
    (headers, body), = parts(answer)
    assert headers["content-type"] == "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1"
    ds = dicomkit.read(get(url(base, row), Accept='multipart/related; type="application/dicom"; transfer-syntax=*').body
                       .split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n--", 1)[0])
    assert body == bytes(ds.PixelData)[:len(body)]


def test_frame_errors(base: str, row) -> None:  # type: ignore[no-untyped-def]
    assert get(url(base, row, "/frames/999")).status == 404
    assert get(url(base, row, "/frames/0")).status == 400
    assert get(url(base, row, "/frames/1"), Accept='multipart/related; type="image/jp2"').status == 406
    assert get(url(base, row), Accept='multipart/related; type="application/dicom"; transfer-syntax=1.2.3').status \
        == 406


def test_bulkdata_range(base: str, pacs: Server, row) -> None:  # type: ignore[no-untyped-def]
    meta = json.loads(get(url(base, row, "/metadata")).body)[0]
    whole = get(url(base, row, "/bulk/7FE00010"), Accept="application/octet-stream")
    assert whole.status == 200 and whole.header("accept-ranges") == "bytes"
    assert "BulkDataURI" in meta["7FE00010"]
    part = get(url(base, row, "/bulk/7FE00010"), Accept="application/octet-stream", Range="bytes=10-19")
    assert part.status == 206 and part.body == whole.body[10:20]
    assert part.header("content-range") == f"bytes 10-19/{len(whole.body)}"
    tail = get(url(base, row, "/bulk/7FE00010"), Range="bytes=-5")
    assert tail.status == 206 and tail.body == whole.body[-5:]
    outside = get(url(base, row, "/bulk/7FE00010"), Range=f"bytes={len(whole.body)}-")
    assert outside.status == 416 and outside.header("content-range") == f"bytes */{len(whole.body)}"
    assert get(url(base, row, "/bulk/00100010")).status == 404
    assert get(url(base, row, "/bulk/xyz")).status == 400


def test_metadata_etag_and_gzip(base: str, row) -> None:  # type: ignore[no-untyped-def]
    series = f"{base}/studies/{row.study_instance_uid}/series/{row.series_instance_uid}/metadata"
    first = get(series, Accept_Encoding="gzip")
    etag = first.header("etag")
    assert first.status == 200 and etag and first.header("content-encoding") == "gzip"
    assert json.loads(gzip.decompress(first.body))
    again = get(series, If_None_Match=etag)
    assert again.status == 304 and not again.body
    assert get(series, If_None_Match='"other"').status == 200


def test_cors_preflight_and_headers(base: str) -> None:
    pre = request("OPTIONS", f"{base}/studies", {"Origin": "http://viewer.example",
                                                 "Access-Control-Request-Method": "GET",
                                                 "Access-Control-Request-Headers": "accept"})
    assert pre.status == 200 and pre.header("access-control-allow-origin") == "http://viewer.example"
    answer = get(f"{base}/studies", Origin="http://viewer.example")
    assert answer.header("access-control-allow-origin") == "http://viewer.example"
    assert "X-Total-Count" in answer.header("access-control-expose-headers")
    other = request("OPTIONS", f"{base}/studies", {"Origin": "http://evil.example",
                                                   "Access-Control-Request-Method": "GET"})
    assert other.header("access-control-allow-origin") == ""


def test_zip_of_a_series(base: str, pacs: Server, row) -> None:  # type: ignore[no-untyped-def]
    answer = get(f"{base}/studies/{row.study_instance_uid}", Accept="application/zip")
    assert answer.status == 200 and answer.header("content-type") == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(answer.body)).namelist()
    assert len(names) == len(pacs.index.instances(study_instance_uid=row.study_instance_uid))
    data = zipfile.ZipFile(io.BytesIO(answer.body)).read(names[0])
    assert dicomkit.read(data).StudyInstanceUID == row.study_instance_uid


def test_rendered_and_thumbnail_parameters(base: str, pacs: Server, row) -> None:  # type: ignore[no-untyped-def]
    png = get(url(base, row, "/rendered?viewport=64,64&window=100,400"), Accept="image/png")
    assert png.status == 200 and png.body[:8] == b"\x89PNG\r\n\x1a\n"
    jpeg = get(url(base, row, "/rendered?quality=50"))
    assert jpeg.header("content-type") == "image/jpeg" and jpeg.body[:2] == b"\xff\xd8"
    hits = pacs.pacs.http_extensions  # the web extension is loaded
    assert "web" in hits
    thumb = get(f"{base}/studies/{row.study_instance_uid}/thumbnail", Accept="image/png")
    assert thumb.status == 200 and thumb.body[:4] == b"\x89PNG"
    for bad in ("viewport=0,10", "window=1", "quality=101", "window=1,0"):
        answer = get(url(base, row, f"/rendered?{bad}"))
        assert answer.status == 400, bad
        assert json.loads(answer.body)["parameter"] == bad.split("=")[0]
    assert get(url(base, row, "/rendered"), Accept="image/webp").status == 406


def test_wado_uri(base: str, row) -> None:  # type: ignore[no-untyped-def]
    root = base.rsplit("/dicom-web", 1)[0]
    q = f"requestType=WADO&studyUID={row.study_instance_uid}&seriesUID={row.series_instance_uid}" \
        f"&objectUID={row.sop_instance_uid}"
    jpeg = get(f"{root}/wado?{q}")
    assert jpeg.status == 200 and jpeg.header("content-type") == "image/jpeg"
    png = get(f"{root}/wado?{q}&contentType=image/png&rows=32&columns=32&windowCenter=40&windowWidth=400")
    assert png.status == 200 and png.body[:4] == b"\x89PNG"
    dcm = get(f"{root}/wado?{q}&contentType=application/dicom")
    assert dicomkit.read(dcm.body).SOPInstanceUID == row.sop_instance_uid
    assert get(f"{root}/wado?{q}&contentType=text/html").status == 406
    assert get(f"{root}/wado?requestType=WADO&studyUID=1").status == 400
    assert get(f"{root}/wado?{q.replace(row.sop_instance_uid, '1.2.3')}").status == 404


def test_errors_say_why(base: str) -> None:
    missing = get(f"{base}/studies/1.2.3/metadata")
    assert missing.status == 404 and "1.2.3" in json.loads(missing.body)["message"]
    assert get(f"{base}/nowhere").status == 404
    wrong = request("POST", f"{base}/studies", {"Content-Type": "application/json"}, b"{}")
    assert wrong.status == 415 and "multipart/related" in json.loads(wrong.body)["message"]
    no_boundary = request("POST", f"{base}/studies", {"Content-Type": 'multipart/related; type="application/dicom"'},
                          b"")
    assert no_boundary.status == 400
    truncated = request("POST", f"{base}/studies", {"Content-Type": "multipart/related; boundary=B"},
                        b"--B\r\nContent-Type: application/dicom\r\n\r\nabc")
    assert truncated.status == 400 and "closing delimiter" in json.loads(truncated.body)["message"]


def test_delete_is_off_by_default(base: str, pacs: Server, row) -> None:  # type: ignore[no-untyped-def]
    answer = request("DELETE", f"{base}/studies/{row.study_instance_uid}")
    assert answer.status == 405 and "allow_delete" in json.loads(answer.body)["message"]
    assert pacs.index.study(row.study_instance_uid) is not None


def test_capabilities(base: str) -> None:
    wadl = request("OPTIONS", f"{base}/")
    assert wadl.status == 200 and b"<application" in wadl.body and b"/frames/{frames}" in wadl.body
    desc = json.loads(get(f"{base}/", Accept="application/json").body)
    services = {r["service"] for r in desc["resources"]}
    assert {"QIDO-RS", "WADO-RS", "STOW-RS", "WADO-URI"} <= services and "DELETE" not in services
    assert "1.2.840.10008.1.2.4.90" in desc["wado"]["transcode-to"]


def test_index_unavailable_is_503(base: str, pacs: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    from dicomkit.web.archive import WebArchive

    def broken(self: WebArchive, target: object, requester: object) -> list[object]:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(WebArchive, "_rows", broken)
    row = pacs.index.instances()[0]
    answer = get(f"{base}/studies/{row.study_instance_uid}/metadata")
    assert answer.status == 503 and answer.header("retry-after") == "30"
    assert "unavailable" in json.loads(answer.body)["message"]
