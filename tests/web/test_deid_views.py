"""De-identified DICOMweb for the users and roles of ``[deid]`` (issue 14): WADO-RS instances, zips and
metadata, WADO-URI checked attribute by attribute against PS3.15 Table E.1-1 (the checker of the move/get
export tests); QIDO answers without identities and with the UIDs WADO then takes; matching on identifying
attributes refused; burned-in pixels refused; a restricted de-identified user never receives an original
identifier in any body; other users see the originals; the audit trail names the original studies."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import dicomkit
from dicomkit.io.json_model import from_json
from dicomkit.server import Server
from dicomkit.server.audit.read import entries
from dicomkit.server.auth.labels import add_labels
from dicomkit.server.auth.passwords import hash_password

from ..deid.conftest import TABLE_PATH
from ..helpers import wait_until
from ..server.data import image, write
from ..server.deidcheck import PATIENT_ID, PATIENT_NAME, STUDY, check_against_table, check_file, original
from .http import Answer, parts, request

pytestmark = pytest.mark.skipif(not TABLE_PATH.exists(), reason=f"{TABLE_PATH} not found")

IMAGES = "1.2.826.0.1.3680043.10.5.2"  # two MR images: Burned In Annotation NO and YES
HIDDEN = "1.2.826.0.1.3680043.10.5.3"  # no label: the restricted user does not see it
FAST = {"n": 2**10}


@pytest.fixture(scope="module")
def pacs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("deidweb")
    config = folder / "pacs.toml"
    config.write_text(f"""
[storage]
data_dir = "{folder / 'data'}"
durability = "os"

[dicom]
ae_title = "PACS"

[users.student]
password = "{hash_password('student-pw', **FAST)}"
roles = ["viewer"]

[users.trainee]
password = "{hash_password('trainee-pw', **FAST)}"
roles = ["uploader"]
labels = ["teach"]

[users.doctor]
password = "{hash_password('doctor-pw', **FAST)}"
roles = ["admin"]

[deid]
users = ["student"]
roles = ["uploader"]
key = "a secret"
mapping = "deid/mapping.json"
""")
    with Server(config, dicom_port=0, http_port=0, host="127.0.0.1") as server:
        server.archive.ingest_file(write(original(), folder / "in"))
        for n, burned in ((1, "NO"), (2, "YES")):
            ds = image(study=IMAGES, series=f"{IMAGES}.1", sop=f"{IMAGES}.1.{n}", number=n,
                       patient_name=PATIENT_NAME, patient_id=PATIENT_ID, fill=40 * n)
            ds.BurnedInAnnotation = burned
            server.archive.ingest_file(write(ds, folder / "in"))
        hidden = image(study=HIDDEN, series=f"{HIDDEN}.1", sop=f"{HIDDEN}.1.1", patient_name="Roe^Richard",
                       patient_id="PID-HIDDEN")
        hidden.BurnedInAnnotation = "NO"
        server.archive.ingest_file(write(hidden, folder / "in"))
        server.index.write(lambda db: (add_labels(db, STUDY, ["teach"]), add_labels(db, IMAGES, ["teach"])))
        yield server


@pytest.fixture(autouse=True)
def unlocked(pacs: Server) -> None:
    pacs.pacs.policy.authenticator.limiter.reset()  # type: ignore[union-attr]


def _auth(user: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{user}-pw".encode()).decode()}


class Client:
    """GETs as one user; every body received is kept for the scan of :func:`_never_identifies`."""

    def __init__(self, pacs: Server, user: str) -> None:
        self.base = f"http://127.0.0.1:{pacs.http_port}"
        self.user = user
        self.bodies: list[tuple[str, bytes]] = []

    def get(self, path: str, status: int = 200, *, keep: bool = True, **headers: str) -> Answer:
        answer = request("GET", self.base + path, {**_auth(self.user), **headers})
        assert answer.status == status, (path, answer.status, answer.body[:300])
        if keep:  # not the 404s that repeat a UID the test itself sent
            self.bodies.append((path, answer.body + str(answer.headers).encode()))
        return answer

    def json(self, path: str, status: int = 200) -> Any:
        return json.loads(self.get(path, status).body)


def _uid(obj: dict[str, Any], tag: str) -> str:
    return str(obj[tag]["Value"][0])


def _navigate(client: Client, patient_query: str = "") -> tuple[str, str, str]:
    """QIDO down to the table object, as a viewer does: its (study, series, instance) replacement UIDs."""
    studies = client.json(f"/dicom-web/studies?ModalitiesInStudy=&includefield=00081030{patient_query}")
    mapped = {_uid(s, "0020000D") for s in studies}
    assert STUDY not in mapped and IMAGES not in mapped
    table = [s for s in studies if "MR" not in s.get("00080061", {}).get("Value", [])]
    assert len(table) == 1
    study = _uid(table[0], "0020000D")
    (series_obj,) = client.json(f"/dicom-web/studies/{study}/series")
    series = _uid(series_obj, "0020000E")
    (instance_obj,) = client.json(f"/dicom-web/studies/{study}/series/{series}/instances")
    sop = _uid(instance_obj, "00080018")
    assert instance_obj["00081190"]["Value"][0].endswith(f"/studies/{study}/series/{series}/instances/{sop}")
    return study, series, sop


def test_wado_rs_and_wado_uri_are_de_identified_with_the_uids_qido_gave(pacs: Server) -> None:
    client = Client(pacs, "student")
    study, series, sop = _navigate(client)
    export = pacs.pacs.deid
    assert export is not None
    assert (study, series, sop) == (export.uid(STUDY), export.uid(f"{STUDY}.1"), export.uid(f"{STUDY}.1.1"))
    # WADO-RS: study, series and instance level (multipart of application/dicom)
    for path in (f"/studies/{study}", f"/studies/{study}/series/{series}",
                 f"/studies/{study}/series/{series}/instances/{sop}"):
        answer = client.get(f"/dicom-web{path}", accept='multipart/related; type="application/dicom"')
        ((headers, body),) = parts(answer)
        assert headers["content-location"].endswith(f"/studies/{study}/series/{series}/instances/{sop}")
        out = check_file(body)
        assert (str(out.StudyInstanceUID), str(out.SeriesInstanceUID), str(out.SOPInstanceUID)) == (study, series, sop)
    # transcoded on the way out: still de-identified
    answer = client.get(f"/dicom-web/studies/{study}", accept='multipart/related; type="application/dicom"; '
                        'transfer-syntax=1.2.840.10008.1.2')
    check_file(parts(answer)[0][1])
    # a zip of the study
    answer = client.get(f"/dicom-web/studies/{study}", accept="application/zip")
    with zipfile.ZipFile(io.BytesIO(answer.body)) as zf:
        (name,) = zf.namelist()
        assert name == f"{study}/{series}/{sop}.dcm"
        check_file(zf.read(name))
    # WADO-URI
    answer = client.get(f"/wado?requestType=WADO&studyUID={study}&seriesUID={series}&objectUID={sop}"
                        "&contentType=application/dicom")
    check_file(answer.body)
    # metadata (DICOM JSON), at every level
    for path in (f"/studies/{study}", f"/studies/{study}/series/{series}/instances/{sop}"):
        answer = client.get(f"/dicom-web{path}/metadata")
        (obj,) = json.loads(answer.body)
        check_against_table(from_json(obj), answer.body)


def test_qido_answers_without_identities_and_uids_match_by_their_replacement(pacs: Server) -> None:
    client = Client(pacs, "student")
    studies = client.json("/dicom-web/studies?includefield=all")
    assert len(studies) == 3
    for s in studies:
        assert str(s.get("00100010", {}).get("Value", [{}])[0]) != PATIENT_NAME
        assert "00100030" not in s or not s["00100030"].get("Value")  # Patient's Birth Date: removed or empty
    body = json.dumps(studies).encode()
    for value in (PATIENT_NAME.encode(), PATIENT_ID.encode(), b"Roe^Richard", b"PID-HIDDEN", STUDY.encode(),
                  IMAGES.encode(), HIDDEN.encode(), b"IDENT"):
        assert value not in body, value
    study, _series, sop = _navigate(client)
    assert [_uid(s, "0020000D") for s in client.json(f"/dicom-web/studies?StudyInstanceUID={study}")] == [study]
    assert client.get(f"/dicom-web/studies?StudyInstanceUID={STUDY}", 200).body in (b"[]", b"")  # originals: none
    found = client.json(f"/dicom-web/instances?SOPInstanceUID={sop}")
    assert [_uid(i, "00080018") for i in found] == [sop]
    # matching on what the profile changes would tell which originals match: refused, saying why
    for query in ("PatientName=Doe*", f"PatientID={PATIENT_ID}", "StudyDate=20000101-20300101",
                  "AccessionNumber=IDENT*", "StudyDescription=IDENT*"):
        message = client.json(f"/dicom-web/studies?{query}", 400)["message"]
        assert "de-identified" in message, query
    client.json("/dicom-web/studies?ModalitiesInStudy=MR")  # a kept attribute matches


def test_unknown_and_original_uids_are_not_found(pacs: Server) -> None:
    client = Client(pacs, "student")
    for path in ("/studies/2.25.12345/metadata", f"/studies/{STUDY}/metadata", f"/studies/{STUDY}",
                 f"/studies/{IMAGES}/series/{IMAGES}.1/instances/{IMAGES}.1.1/frames/1"):
        answer = client.get(f"/dicom-web{path}", 404)
        assert "in this archive" in json.loads(answer.body)["message"]
    client.get(f"/wado?requestType=WADO&studyUID={STUDY}&seriesUID={STUDY}.1&objectUID={STUDY}.1.1", 404)


def _image_uids(client: Client) -> tuple[str, str, list[str]]:
    studies = client.json("/dicom-web/studies?ModalitiesInStudy=MR&includefield=00201208")
    (obj,) = [s for s in studies if int(s["00201208"]["Value"][0]) == 2]
    study = _uid(obj, "0020000D")
    (series,) = [_uid(s, "0020000E") for s in client.json(f"/dicom-web/studies/{study}/series")]
    instances = client.json(f"/dicom-web/studies/{study}/series/{series}/instances?includefield=00200013")
    instances.sort(key=lambda i: int(i["00200013"]["Value"][0]))
    return study, series, [_uid(i, "00080018") for i in instances]


def test_pixels_that_may_carry_burned_in_text_are_refused(pacs: Server) -> None:
    client = Client(pacs, "student")
    study, series, (clean, burned) = _image_uids(client)
    export = pacs.pacs.deid
    assert export is not None and burned == export.uid(f"{IMAGES}.1.2")
    for sop, status in ((clean, 200), (burned, 403)):
        base = f"/dicom-web/studies/{study}/series/{series}/instances/{sop}"
        for path in (f"{base}/frames/1", f"{base}/rendered", f"{base}/thumbnail", f"{base}/frames/1/rendered",
                     base, f"{base}/bulk/7FE00010"):
            answer = client.get(path, status)
            if status == 403:
                assert "burned-in" in json.loads(answer.body)["message"], path
        client.get(f"/wado?requestType=WADO&studyUID={study}&seriesUID={series}&objectUID={sop}&contentType=image/jpeg",
                   status)
    # a study answer leaves the refused instance out; its metadata (no pixels) is still there
    answer = client.get(f"/dicom-web/studies/{study}", accept='multipart/related; type="application/dicom"')
    (only,) = parts(answer)
    assert str(dicomkit.read(only[1]).SOPInstanceUID) == clean
    assert len(parts(client.get(f"/dicom-web/studies/{study}/rendered"))) == 1
    metadata = client.json(f"/dicom-web/studies/{study}/metadata")
    assert sorted(_uid(m, "00080018") for m in metadata) == sorted([clean, burned])
    assert next(m for m in metadata if _uid(m, "00080018") == burned).get("7FE00010") is None
    # the frames a viewer gets are the stored pixels
    frame = parts(client.get(f"/dicom-web/studies/{study}/series/{series}/instances/{clean}/frames/1"))[0][1]
    stored = dicomkit.read(pacs.archive.store.path_of(pacs.index.instances(study_instance_uid=IMAGES)[0].blob_key))
    assert frame == bytes(stored.PixelData)


def test_a_restricted_de_identified_user_never_receives_an_original_identifier(pacs: Server) -> None:
    client = Client(pacs, "trainee")  # de-identified by its role (uploader) and restricted to "teach"
    study, series, sop = _navigate(client)
    img_study, img_series, (clean, _burned) = _image_uids(client)
    assert len(client.json("/dicom-web/studies")) == 2  # the unlabelled study is not there
    paths = [
        "/dicom-web/studies?includefield=all", "/dicom-web/series?includefield=all",
        "/dicom-web/instances?includefield=all", f"/dicom-web/studies/{study}/series?includefield=all",
        f"/dicom-web/studies/{study}", f"/dicom-web/studies/{study}/metadata",
        f"/dicom-web/studies/{study}/series/{series}/metadata",
        f"/dicom-web/studies/{study}/series/{series}/instances/{sop}",
        f"/wado?requestType=WADO&studyUID={study}&seriesUID={series}&objectUID={sop}",
        f"/dicom-web/studies/{img_study}", f"/dicom-web/studies/{img_study}/metadata",
        f"/dicom-web/studies/{img_study}/thumbnail", f"/dicom-web/studies/{img_study}/rendered",
        f"/dicom-web/studies/{img_study}/series/{img_series}/instances/{clean}/frames/1",
        f"/wado?requestType=WADO&studyUID={img_study}&seriesUID={img_series}&objectUID={clean}"
        "&contentType=application/dicom",
    ]
    for path in paths:
        client.get(path)
    client.get(f"/dicom-web/studies/{study}", accept="application/zip")
    client.get("/dicom-web/studies?includefield=all", accept='multipart/related; type="application/dicom+xml"')
    client.get(f"/dicom-web/studies/{HIDDEN}", 404, keep=False)
    client.get(f"/dicom-web/studies/{pacs.pacs.deid.uid(HIDDEN)}", 404)  # type: ignore[union-attr]
    forbidden = [PATIENT_NAME, PATIENT_ID, "Doe^Jane", "Roe^Richard", "PID-HIDDEN", "IDENT"]
    forbidden += [uid for row in pacs.index.instances() for uid in
                  (row.study_instance_uid, row.series_instance_uid, row.sop_instance_uid)]
    assert len(client.bodies) > 20
    for path, body in client.bodies:
        for value in forbidden:
            assert value.encode() not in body, (path, value)


def test_a_de_identified_user_may_not_delete(pacs: Server) -> None:
    export = pacs.pacs.deid
    assert export is not None
    client = Client(pacs, "trainee")
    answer = request("DELETE", f"{client.base}/dicom-web/studies/{export.uid(STUDY)}", _auth("trainee"))
    assert answer.status == 403 and "de-identified" in json.loads(answer.body)["message"]
    assert pacs.index.instances(study_instance_uid=STUDY)


def test_users_not_designated_see_the_originals(pacs: Server) -> None:
    client = Client(pacs, "doctor")
    studies = client.json("/dicom-web/studies?PatientName=Doe*")
    assert STUDY in {_uid(s, "0020000D") for s in studies}
    (obj,) = client.json(f"/dicom-web/studies/{STUDY}/metadata")
    assert obj["00100010"]["Value"][0]["Alphabetic"] == PATIENT_NAME


def test_what_de_identified_users_receive_is_audited_with_the_original_study(pacs: Server) -> None:
    client = Client(pacs, "student")
    study, series, sop = _navigate(client)
    client.get(f"/dicom-web/studies/{study}/series/{series}/instances/{sop}")
    path = pacs.config.audit.file_path(pacs.config.storage.data_dir)
    assert path is not None

    def transferred() -> list[dict[str, Any]]:
        return [e for e in entries(path) if e["event"] == "instances-transferred" and e.get("user") == "student"
                and "(de-identified)" in e["message"]]

    wait_until(lambda: bool(transferred()), what="the de-identified retrieve audited")
    assert STUDY in json.dumps(transferred())  # the auditor learns which original study left


def test_the_mapping_is_kept_in_the_index(pacs: Server, tmp_path: Path) -> None:
    export = pacs.pacs.deid
    assert export is not None
    Client(pacs, "student").json("/dicom-web/studies")
    rows = pacs.index.query("SELECT replacement, original, level FROM deid_uids WHERE original = ?", [STUDY])
    assert rows == [{"replacement": export.uid(STUDY), "original": STUDY, "level": "study"}]
    view = pacs.pacs.deid_view
    assert view is not None
    assert view.uids.original(export.uid(STUDY), "study") == STUDY
    assert view.uids.original(export.uid(STUDY), "series") is None  # another level
    assert view.uids.original("2.25.1", "study") is None
