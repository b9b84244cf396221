"""STOW-RS bodies of many parts: small parts are stored in batches (one hop and shared commits per batch),
large ones streamed; each part still gets its own answer, in the body's order, with the C-STORE rules."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import dicomkit
from dicomkit.io.writer import to_bytes
from dicomkit.server import Server
from dicomkit.web import stow

from ..web.http import request
from .data import image

BOUNDARY = "batchboundary42"
CONTENT_TYPE = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
SUCCESS_ITEMS, FAILED_ITEMS = "00081199", "00081198"
SOP_INSTANCE, FAILURE_REASON, WARNING_REASON = "00081155", "00081197", "00081196"


def body(parts: list[bytes]) -> bytes:
    out = b"".join(b"--" + BOUNDARY.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n" + p + b"\r\n"
                   for p in parts)
    return out + b"--" + BOUNDARY.encode() + b"--\r\n"


def part10(ds: dicomkit.Dataset) -> bytes:
    return to_bytes(ds, transfer_syntax="1.2.840.10008.1.2.1")


@pytest.fixture(params=["os", "full"])
def server(request: pytest.FixtureRequest, tmp_path: Path, database: str) -> Iterator[Server]:
    """durability os and full, on SQLite and PostgreSQL (the ``database`` fixture)."""
    with Server(data_dir=tmp_path / "pacs", dicom_port=0, http_port=0, durability=request.param,
                overrides={"database.url": database}) as pacs:
        yield pacs


def post(server: Server, parts: list[bytes], study: str | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
    path = f"/dicom-web/studies/{study}" if study else "/dicom-web/studies"
    answer = request("POST", f"http://127.0.0.1:{server.http_port}{path}", {"Content-Type": CONTENT_TYPE},
                     body(parts))
    return answer.status, json.loads(answer.body)


def uids(items: list[dict]) -> list[str]:  # type: ignore[type-arg]
    return [i[SOP_INSTANCE]["Value"][0] if SOP_INSTANCE in i else "" for i in items]


def test_a_body_of_many_parts_mixed(server: Server) -> None:
    study = dicomkit.generate_uid()
    kept = image(study=study, series=study + ".1", patient_id="B1")
    assert post(server, [part10(kept)])[0] == 200
    changed = kept.copy()
    changed.PatientName = "Other^Name"
    many = [image(study=study, series=study + ".2", number=n, patient_id="B1") for n in range(2 * stow.BATCH_PARTS + 5)]
    large = image(study=study, series=study + ".3", patient_id="B1", rows=1024, cols=1024)  # 2 MiB: streamed
    cut = image(study=study, series=study + ".4", patient_id="B1", rows=64, cols=64)
    truncated = part10(cut)[:-1000]
    order = [part10(many[0]), b"not DICOM at all", part10(large), part10(kept), part10(changed), truncated,
             *[part10(ds) for ds in many[1:]]]
    assert len(order[2]) > stow.SMALL
    status, answer = post(server, order)

    assert status == 202  # some stored, some failed (PS3.18 10.5.3)
    stored = answer[SUCCESS_ITEMS]["Value"]
    failed = answer[FAILED_ITEMS]["Value"]
    # in the body's order, each part once
    assert uids(stored) == [many[0].SOPInstanceUID, large.SOPInstanceUID, kept.SOPInstanceUID,
                            *[ds.SOPInstanceUID for ds in many[1:]]]
    assert not any(WARNING_REASON in i for i in stored)
    assert uids(failed) == ["", changed.SOPInstanceUID, cut.SOPInstanceUID]  # a part without a meta has no UIDs
    junk, duplicate, short = (i[FAILURE_REASON]["Value"][0] for i in failed)
    assert junk == 0xC000 and duplicate == 0xC111 and 0xC000 <= short <= 0xCFFF

    index = server.index
    assert {r.sop_instance_uid for r in index.instances(study_instance_uid=study)} == {
        kept.SOPInstanceUID, large.SOPInstanceUID, *(ds.SOPInstanceUID for ds in many)}
    assert index.count("instance") == len(many) + 2
    stored_kept = dicomkit.read(server.archive.store.path_of(
        next(r.blob_key for r in index.instances(study_instance_uid=study) if r.sop_instance_uid
             == kept.SOPInstanceUID)))
    assert str(stored_kept.PatientName) == "Doe^Jane"  # keep-first: the stored object is kept
    quarantined = index.read().rows("SELECT sop_instance_uid FROM quarantine")
    assert [r[0] for r in quarantined] == [changed.SOPInstanceUID]  # and the refused copy kept aside
    for r in index.instances(study_instance_uid=study):
        assert dicomkit.read(server.archive.store.path_of(r.blob_key)).SOPInstanceUID == r.sop_instance_uid


def test_instances_of_another_study_are_refused_one_by_one(server: Server) -> None:
    study, other = dicomkit.generate_uid(), dicomkit.generate_uid()
    mine = [image(study=study, series=study + ".1", number=n) for n in range(3)]
    stray = image(study=other, series=other + ".1")
    status, answer = post(server, [part10(mine[0]), part10(stray), part10(mine[1]), part10(mine[2])], study=study)
    assert status == 202
    assert uids(answer[SUCCESS_ITEMS]["Value"]) == [ds.SOPInstanceUID for ds in mine]
    (refused,) = answer[FAILED_ITEMS]["Value"]
    assert refused[SOP_INSTANCE]["Value"] == [stray.SOPInstanceUID] and refused[FAILURE_REASON]["Value"] == [0xA900]
    assert {r.sop_instance_uid for r in server.index.instances()} == {ds.SOPInstanceUID for ds in mine}


def test_the_same_instance_twice_in_one_batch(server: Server) -> None:
    """Two parts of one batch with one SOP Instance UID: the first is stored; an identical second is a
    success, a different second a refused duplicate — decided again by the index transaction."""
    study = dicomkit.generate_uid()
    ds = image(study=study, series=study + ".1")
    other = ds.copy()
    other.PatientName = "Someone^Else"
    status, answer = post(server, [part10(ds), part10(ds), part10(other)])
    assert status == 202
    assert uids(answer[SUCCESS_ITEMS]["Value"]) == [ds.SOPInstanceUID] * 2
    (refused,) = answer[FAILED_ITEMS]["Value"]
    assert refused[FAILURE_REASON]["Value"] == [0xC111]
    (row,) = server.index.instances()
    assert str(dicomkit.read(server.archive.store.path_of(row.blob_key)).PatientName) == "Doe^Jane"


def test_an_unexpected_error_fails_its_part_alone(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    study = dicomkit.generate_uid()
    parts = [image(study=study, series=study + ".1", number=n) for n in range(3)]
    archive = server.archive
    prepare = archive.prepare

    def failing(source, sop_class_uid, sop_instance_uid, *args, **kwargs):  # type: ignore[no-untyped-def]
        if sop_instance_uid == parts[1].SOPInstanceUID:
            raise RuntimeError("a bug")
        return prepare(source, sop_class_uid, sop_instance_uid, *args, **kwargs)

    monkeypatch.setattr(archive, "prepare", failing)
    status, answer = post(server, [part10(ds) for ds in parts])
    assert status == 202
    assert uids(answer[SUCCESS_ITEMS]["Value"]) == [parts[0].SOPInstanceUID, parts[2].SOPInstanceUID]
    (failed,) = answer[FAILED_ITEMS]["Value"]
    assert failed[FAILURE_REASON]["Value"] == [0x0110]
    assert {r.sop_instance_uid for r in server.index.instances()} == {parts[0].SOPInstanceUID,
                                                                      parts[2].SOPInstanceUID}


def test_a_refused_large_part_is_answered_in_its_place(server: Server) -> None:
    study, other = dicomkit.generate_uid(), dicomkit.generate_uid()
    stray = [image(study=other, series=other + ".1", number=n) for n in (1, 2)]  # refused: another study
    junk = b"x" * (stow.SMALL + 10)  # streamed, and refused at its head: no DICM prefix, no UIDs
    status, answer = post(server, [part10(stray[0]), junk, part10(stray[1])], study=study)
    assert status == 409
    failed = answer[FAILED_ITEMS]["Value"]
    assert uids(failed) == [stray[0].SOPInstanceUID, "", stray[1].SOPInstanceUID]
    assert [i[FAILURE_REASON]["Value"][0] for i in failed] == [0xA900, 0xC000, 0xA900]
