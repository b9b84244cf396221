"""dicomweb-client (the DICOMweb client of the Python imaging world) against a running dicomkit.server.Server:
QIDO, WADO (instances, metadata, frames, rendered) and STOW, checked against the stored files (pydicom as
the oracle)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicomweb_client.api import DICOMwebClient

import dicomkit
from dicomkit.server import Server
from dicomkit.web.media import EXPLICIT_LE

from ..server.data import image


@pytest.fixture(scope="module")
def client(base: str) -> DICOMwebClient:
    return DICOMwebClient(url=base)


def _stored(pacs: Server, name_fragment: str, corpus_dir: Path) -> tuple[Path, pydicom.Dataset]:
    path = corpus_dir / name_fragment
    if not path.exists():
        pytest.skip(f"{name_fragment} not in the corpus")
    return path, pydicom.dcmread(path)


def test_search_studies_series_instances(client: DICOMwebClient, pacs: Server) -> None:
    studies = client.search_for_studies()
    assert len(studies) == pacs.index.count("study")
    uids = {s["0020000D"]["Value"][0] for s in studies}
    assert uids == {row["study_instance_uid"] for row in pacs.index.studies()}
    some = client.search_for_studies(limit=2, offset=1)
    assert len(some) == 2 and some == studies[1:3]
    study = studies[0]["0020000D"]["Value"][0]
    series = client.search_for_series(study_instance_uid=study)
    assert {s["0020000E"]["Value"][0] for s in series} == {r["series_instance_uid"] for r in pacs.index.series(study)}
    instances = client.search_for_instances(study_instance_uid=study)
    assert {i["00080018"]["Value"][0] for i in instances} == {
        r.sop_instance_uid for r in pacs.index.instances(study_instance_uid=study)}
    mr = client.search_for_series(search_filters={"Modality": "MR"})
    assert mr and all(s["00080060"]["Value"] == ["MR"] for s in mr)


def test_search_with_fields_and_fuzzy(client: DICOMwebClient) -> None:
    found = client.search_for_studies(fields=["StudyDescription", "00080060"], fuzzymatching=False)
    assert found and all("00081190" in s for s in found)


def test_retrieve_instance_as_stored_and_as_explicit_le(client: DICOMwebClient, pacs: Server,
                                                        corpus_dir: Path) -> None:
    _path, original = _stored(pacs, "emri_small_jpeg_2k_lossless.dcm", corpus_dir)
    ids = (original.StudyInstanceUID, original.SeriesInstanceUID, original.SOPInstanceUID)
    as_stored = client.retrieve_instance(*ids, media_types=(("application/dicom", "*"),))
    assert as_stored.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
    assert as_stored.PixelData == original.PixelData
    native = client.retrieve_instance(*ids, media_types=(("application/dicom", EXPLICIT_LE),))  # transcoded
    assert native.file_meta.TransferSyntaxUID == EXPLICIT_LE
    assert np.array_equal(native.pixel_array, original.pixel_array)


def test_retrieve_series_all_instances(client: DICOMwebClient, pacs: Server) -> None:
    row = pacs.index.instances()[0]
    got = client.retrieve_series(row.study_instance_uid, row.series_instance_uid, media_types=(("application/dicom",
                                                                                                  "*"),))
    assert {ds.SOPInstanceUID for ds in got} == {
        r.sop_instance_uid for r in pacs.index.instances(series_instance_uid=row.series_instance_uid)}


def test_metadata_is_the_stored_header(client: DICOMwebClient, pacs: Server) -> None:
    for row in pacs.index.instances():
        meta = client.retrieve_instance_metadata(row.study_instance_uid, row.series_instance_uid,
                                                 row.sop_instance_uid)
        stored = pacs.index.header(row.sop_instance_uid)
        assert stored is not None and set(meta) == set(stored)
        if "7FE00010" in meta and "BulkDataURI" in meta["7FE00010"]:
            uri = meta["7FE00010"]["BulkDataURI"]  # absolute, on the host the client named (its Host header)
            assert uri.startswith("http://127.0.0.1")
            assert uri.endswith(f"/instances/{row.sop_instance_uid}/bulk/7FE00010")
    study = pacs.index.instances()[0].study_instance_uid
    assert len(client.retrieve_study_metadata(study)) == len(pacs.index.instances(study_instance_uid=study))


def test_frames_native_and_encapsulated(client: DICOMwebClient, pacs: Server, corpus_dir: Path) -> None:
    _path, rgb = _stored(pacs, "SC_rgb_2frame.dcm", corpus_dir)
    ids = (rgb.StudyInstanceUID, rgb.SeriesInstanceUID, rgb.SOPInstanceUID)
    frames = client.retrieve_instance_frames(*ids, frame_numbers=[2, 1])
    size = rgb.Rows * rgb.Columns * 3
    assert frames == [rgb.PixelData[size:2 * size], rgb.PixelData[:size]]
    _path, j2k = _stored(pacs, "emri_small_jpeg_2k_lossless.dcm", corpus_dir)
    ids = (j2k.StudyInstanceUID, j2k.SeriesInstanceUID, j2k.SOPInstanceUID)
    encoded = client.retrieve_instance_frames(*ids, frame_numbers=[1], media_types=(("image/jp2",
                                                                                       "1.2.840.10008.1.2.4.90"),))
    assert encoded == [next(pydicom.encaps.generate_frames(j2k.PixelData, number_of_frames=j2k.get(
        "NumberOfFrames", 1)))]
    decoded = client.retrieve_instance_frames(*ids, frame_numbers=[1], media_types=(("application/octet-stream",
                                                                                       EXPLICIT_LE),))
    expected = j2k.pixel_array[0] if j2k.get("NumberOfFrames", 1) > 1 else j2k.pixel_array
    assert decoded == [np.ascontiguousarray(expected).astype(expected.dtype.newbyteorder("<")).tobytes()]


def test_rendered_is_the_servers_own_rendering(client: DICOMwebClient, pacs: Server) -> None:
    from dicomkit.pixels import render

    row = pacs.index.instances()[0]
    png = client.retrieve_instance_rendered(row.study_instance_uid, row.series_instance_uid, row.sop_instance_uid,
                                            media_types=("image/png",))
    from PIL import Image  # pillow comes with dicomweb-client

    got = np.asarray(Image.open(io.BytesIO(png)))
    ds = dicomkit.read(pacs.archive.store.path_of(row.blob_key))
    assert np.array_equal(got, render(ds, 0))


def test_store_instances_and_duplicates(client: DICOMwebClient, pacs: Server, tmp_path: Path) -> None:
    study = dicomkit.generate_uid()
    datasets = []
    for n in range(3):
        ds = image(study=study, series=study + ".1", number=n + 1, patient_id="STOW1")
        path = tmp_path / f"{n}.dcm"
        dicomkit.write(ds, path)
        datasets.append(pydicom.dcmread(path))
    answer = client.store_instances(datasets)
    assert len(answer.ReferencedSOPSequence) == 3 and "FailedSOPSequence" not in answer
    assert pacs.index.count("instance") >= 3
    assert {r.sop_instance_uid for r in pacs.index.instances(study_instance_uid=study)} == {
        d.SOPInstanceUID for d in datasets}
    assert client.store_instances(datasets[:1]).ReferencedSOPSequence  # identical again: success, as for C-STORE
    changed = datasets[0].copy()
    changed.PatientName = "Other^Name"
    from requests import HTTPError

    with pytest.raises(HTTPError) as err:
        client.store_instances([changed])  # same UID, other content, keep-first: refused (409)
    assert err.value.response.status_code == 409
    body = err.value.response.json()
    (failed,) = body["00081198"]["Value"]
    assert failed["00081197"]["Value"] == [0xC111] and failed["00081155"]["Value"] == [changed.SOPInstanceUID]
