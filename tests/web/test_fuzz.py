"""Fuzzed query parameters, paths, headers and STOW-RS bodies: an answer that says why, never a 500."""

from __future__ import annotations

import json
import urllib.parse

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dicomkit.server import Server

from .http import get, request

KEYS = st.sampled_from(["PatientName", "PatientID", "StudyDate", "00100020", "ModalitiesInStudy", "limit", "offset",
                        "includefield", "fuzzymatching", "StudyInstanceUID", "00081030", "Foo", "0010", "x.y",
                        "RequestAttributesSequence.ScheduledProcedureStepID", "StudyTime", ""])
VALUES = st.one_of(st.text(max_size=20), st.sampled_from(["*", "?", "-", "20240101-", "-20240101", "1,2", "\\",
                                                          "true", "false", "all", "-1", "99999999999999999999"]))
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(st.lists(st.tuples(KEYS, VALUES), max_size=4), st.sampled_from(["studies", "series", "instances"]))
def test_query_parameters(base: str, params: list[tuple[str, str]], level: str) -> None:
    answer = get(f"{base}/{level}?{urllib.parse.urlencode(params)}")
    assert answer.status in (200, 400), (params, answer.status, answer.body[:200])
    body = json.loads(answer.body)
    if answer.status == 400:
        assert body["message"]
    else:
        assert isinstance(body, list)


@SETTINGS
@given(st.text(alphabet="0123456789.,abc/-%", max_size=30),
       st.sampled_from(["/metadata", "/frames/", "/rendered", "/thumbnail", "/bulk/", ""]))
def test_paths(base: str, pacs: Server, piece: str, tail: str) -> None:
    row = pacs.index.instances()[0]
    url = (f"{base}/studies/{row.study_instance_uid}/series/{row.series_instance_uid}/instances/"
           f"{row.sop_instance_uid}{tail}{urllib.parse.quote(piece)}")
    answer = get(url)
    assert answer.status < 500, (url, answer.body[:200])


@SETTINGS
@given(st.text(max_size=80), st.text(max_size=40))
def test_accept_and_range_headers(base: str, pacs: Server, accept: str, rng: str) -> None:
    row = pacs.index.instances()[0]
    url = f"{base}/studies/{row.study_instance_uid}/series/{row.series_instance_uid}/instances/{row.sop_instance_uid}"
    headers = {"Accept": accept.encode("latin-1", "replace").decode("latin-1").replace("\r", "").replace("\n", ""),
               "Range": "bytes=" + "".join(c for c in rng if c.isascii() and c.isprintable())}
    for tail in ("/bulk/7FE00010", "/frames/1", "/metadata", "/rendered"):
        answer = request("GET", url + tail, headers)
        assert answer.status < 500, (tail, headers, answer.body[:200])


@SETTINGS
@given(st.binary(max_size=600), st.sampled_from(["application/dicom", "application/dicom+json", "text/plain"]))
def test_stow_bodies(base: str, junk: bytes, part_type: str) -> None:
    body = b"--B\r\nContent-Type: " + part_type.encode() + b"\r\n\r\n" + junk + b"\r\n--B--\r\n"
    answer = request("POST", f"{base}/studies", {"Content-Type": 'multipart/related; type="application/dicom"; '
                                                 'boundary=B'}, body)
    assert answer.status in (200, 202, 400, 409, 415), (answer.status, answer.body[:200])
    raw = request("POST", f"{base}/studies", {"Content-Type": "multipart/related; boundary=B"}, junk)
    assert raw.status in (400, 409, 415), (raw.status, raw.body[:200])
