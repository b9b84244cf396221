"""The index's matches as rows, on SQLite and PostgreSQL: for the same matches, the C-FIND Identifier written
from the row (IdentifierEncoder) is the data set path's, byte for byte, and the QIDO-RS JSON written from the row
(JsonEncoder) is the data set path's, character for character — at every level, with every index column and
attributes of the stored headers as return keys, in each request character set and transfer syntax, with
limit and offset; and ``dicomkit serve`` answers QIDO-RS and findscu with them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from dicomkit import Dataset
from dicomkit.core.dictionary import lookup, tag_for_keyword
from dicomkit.core.element import DataElement
from dicomkit.io.json_model import datasets_to_json
from dicomkit.io.writer import encode_dataset
from dicomkit.server.config import load_config
from dicomkit.server.ingest import Archive
from dicomkit.server.sources import IndexQuerySource
from dicomkit.server.sources.sql import SPECS
from dicomkit.services.query_retrieve import PATIENT_ROOT, STUDY_ROOT, Operation, PlanOptions, plan_from_identifier
from dicomkit.services.query_retrieve.matching import response_identifier
from dicomkit.services.query_retrieve.plan import QueryPlan, vr_of
from dicomkit.services.query_retrieve.qido import plan_from_query_params
from dicomkit.services.query_retrieve.rows import IdentifierEncoder, JsonEncoder, RowMatch
from dicomkit.services.sources import LOCAL
from dicomkit.web.qido import _answer, _retrieve_url

from ..services.query_retrieve.matching_cases import record_datasets
from .conftest import drop_database, new_database

SYNTAXES = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99")
CHARSETS = ((), ("ISO_IR 100",), ("ISO_IR 192",), ("ISO 2022 IR 6", "ISO 2022 IR 87"))
DEPTH = {"PATIENT": 0, "STUDY": 1, "SERIES": 2, "IMAGE": 3}
HEADER_KEYS = ("StudyComments", "InstitutionName", "SeriesDescription", "OtherPatientIDs", "ImageComments",
               "BurnedInAnnotation", "PixelData")
AE = "ARCHIVE"


def _records() -> Iterator[Dataset]:
    for set_name in ("people", "images"):
        yield from record_datasets(set_name).values()
    # values the generated sets lack: padding, empty items, all three name groups, text with a backslash
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = "Ünal^Ayşe==ünal^ayşe"
    ds.PatientID = "P 20"
    ds.OtherPatientNames = ["", "Ünal^A", ""]
    ds.PatientComments = "line one\\still one "
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.10.555.1"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.10.555.1.1"
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.10.555.1.1.1"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.StudyDate = "20240505"
    ds.PatientWeight = "72.50"
    ds.PatientAge = "042Y"
    ds.ImageType = ["DERIVED", "", "MPR"]
    ds.StudyComments = "für später"
    ds.InstitutionName = "Klinik Süd"
    ds.Modality = "MR"
    ds.InstanceNumber = "7"
    ds.Rows, ds.Columns = 4, 4
    yield ds


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def source(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexQuerySource]:
    server = request.getfixturevalue("postgres_server") if request.param == "postgresql" else None
    folder = tmp_path_factory.mktemp(f"rows-{request.param}")
    url = new_database(server) if server is not None else ""
    archive = Archive(load_config(None, {"storage.data_dir": str(folder / "data"), "database.url": url}))
    try:
        for n, ds in enumerate(_records()):
            path = folder / f"{n}.dcm"
            ds.save(path, transfer_syntax="1.2.840.10008.1.2.1")
            assert archive.ingest_file(path).status == 0
        yield IndexQuerySource(archive.index, retrieve_ae_title=AE)
    finally:
        archive.close()
        if server is not None:
            drop_database(server, url)


def _keywords(level: str, model: Any) -> list[str]:
    """Every index column of the level and above (the model's levels), the headers' keys, the SCP's keys."""
    out = []
    for tag, spec in SPECS.items():
        entry = lookup(tag)
        if entry is not None and spec.depth <= DEPTH[level] and (model is STUDY_ROOT or spec.depth != 1 or
                                                                 level != "PATIENT"):
            out.append(entry.keyword)
    return [*out, *HEADER_KEYS, "RetrieveAETitle", "InstanceAvailability"]


def _plan(level: str, charset: tuple[str, ...], model: Any = STUDY_ROOT, **matching: str) -> QueryPlan:
    q = Dataset()
    q.QueryRetrieveLevel = level
    if charset:
        q.SpecificCharacterSet = list(charset) if len(charset) > 1 else charset[0]
    for keyword in _keywords(level, model):
        tag = tag_for_keyword(keyword)
        assert tag is not None
        q.add(DataElement(int(tag), vr_of(int(tag)), None))
    for keyword, value in matching.items():
        setattr(q, keyword, value)
    return plan_from_identifier(q, model=model, operation=Operation.FIND,
                                options=PlanOptions(relational=True, strict_hierarchy=False, pn_case_insensitive=False))


def _rows(source: IndexQuerySource, plan: QueryPlan, **kw: Any) -> list[RowMatch]:
    async def run() -> list[RowMatch]:
        return [m async for m in source.find_rows(plan, LOCAL, **kw)]
    return asyncio.run(run())


def _datasets(source: IndexQuerySource, plan: QueryPlan, **kw: Any) -> list[Dataset]:
    async def run() -> list[Dataset]:
        return [m async for m in source.find(plan, LOCAL, **kw)]
    return asyncio.run(run())


PLANS = [("PATIENT", PATIENT_ROOT, {}), ("STUDY", STUDY_ROOT, {}), ("SERIES", STUDY_ROOT, {}),
         ("IMAGE", STUDY_ROOT, {}), ("STUDY", STUDY_ROOT, {"PatientName": "D*"}),  # matched in Python too
         ("STUDY", STUDY_ROOT, {"StudyDate": "20240101-20240301"})]


@pytest.mark.parametrize(("level", "model", "matching"), PLANS, ids=[f"{p[0]}-{i}" for i, p in enumerate(PLANS)])
def test_identifiers_from_rows_are_the_data_set_paths(source: IndexQuerySource, level: str, model: Any,
                                                      matching: dict[str, str]) -> None:
    for charset in CHARSETS:
        plan = _plan(level, charset, model, **matching)
        rows = _rows(source, plan)
        assert rows and [r.dataset() for r in rows] == _datasets(source, plan)  # find is find_rows as data sets
        for ts in SYNTAXES:
            encoder = IdentifierEncoder(plan, ts, retrieve_ae_title=AE)
            assert not encoder.general
            for row in rows:
                expected = encode_dataset(response_identifier(plan, row.dataset(), retrieve_ae_title=AE), ts,
                                          validate=False)
                assert encoder.encode(row) == expected, (level, charset, ts, row)
                assert encoder._encode_row(row) == expected  # written from the row, not by the general path


def test_a_sequence_key_takes_the_general_path_with_the_same_bytes(source: IndexQuerySource) -> None:
    q = Dataset()
    q.QueryRetrieveLevel = "STUDY"
    q.StudyInstanceUID = ""
    q.PatientName = ""
    item = Dataset()
    item.CodeValue = ""
    q.ProcedureCodeSequence = [item]
    plan = plan_from_identifier(q, model=STUDY_ROOT, operation=Operation.FIND)
    encoder = IdentifierEncoder(plan, SYNTAXES[1], retrieve_ae_title=AE)
    assert encoder.general
    for row in _rows(source, plan):
        assert encoder.encode(row) == encode_dataset(response_identifier(plan, row.dataset(), retrieve_ae_title=AE),
                                                     SYNTAXES[1], validate=False)


IMAGES = next(iter(record_datasets("images").values()))
IN_SERIES = {"study": str(IMAGES.StudyInstanceUID), "series": str(IMAGES.SeriesInstanceUID)}
QIDO = [("studies", [], {}), ("instances", [], IN_SERIES),
        ("studies", [("PatientName", "d*"), ("fuzzymatching", "true")], {}),
        ("studies", [("limit", "3"), ("offset", "2")], {}), ("studies", [("limit", "2"), ("offset", "11")], {}),
        ("instances", [("limit", "2"), ("offset", "1")], IN_SERIES)]


@pytest.mark.parametrize(("resource", "params", "path"), QIDO, ids=[f"{q[0]}-{i}" for i, q in enumerate(QIDO)])
def test_qido_json_from_rows_is_the_data_set_paths(source: IndexQuerySource, resource: str,
                                                   params: list[tuple[str, str]], path: dict[str, str]) -> None:
    level = {"studies": "STUDY", "series": "SERIES", "instances": "IMAGE"}[resource]
    fields = [("includefield", k) for k in _keywords(level, STUDY_ROOT) if k != "PixelData"]
    query = plan_from_query_params(resource, [*fields, *params], study_uid=path.get("study"),
                                   series_uid=path.get("series"))
    plan = query.plan
    assert plan.level is not None
    rows = _rows(source, plan, limit=query.limit, offset=query.offset)
    assert [r.dataset() for r in rows] == _datasets(source, plan, limit=query.limit, offset=query.offset)
    assert rows
    root = "http://127.0.0.1/dicom-web"
    urls = [_retrieve_url(root, plan.level, row, path.get("study"), path.get("series")) for row in rows]
    assert all(urls)
    for numbers in ("number", "text"):
        encoder = JsonEncoder(plan, numbers_as=numbers)  # type: ignore[arg-type]
        fast = encoder.array([encoder.text(row, url) for row, url in zip(rows, urls, strict=True)])
        general = datasets_to_json([_answer(plan, row.dataset(), url) for row, url in zip(rows, urls, strict=True)],
                                   numbers_as=numbers)  # type: ignore[arg-type]
        assert fast == general
        assert json.loads(fast)  # and it is JSON


def test_qido_plans_with_sequence_keys_are_not_written_from_rows() -> None:
    plan = plan_from_query_params("series", []).plan  # the series defaults hold RequestAttributesSequence
    with pytest.raises(ValueError, match="sequence"):
        JsonEncoder(plan)


def test_streams_past_the_first_page_reuse_their_connection(source: IndexQuerySource) -> None:
    """Past its first page a query streams on a connection of its own; one that read to its end is kept for
    the next (PostgreSQL: planned for all its rows), one left early is closed."""
    index = source.index
    paged = IndexQuerySource(index, retrieve_ae_title=AE, page=2)
    plan = _plan("IMAGE", ())
    expected = [r.dataset() for r in _rows(source, plan)]
    assert len(expected) > 4
    for _ in range(3):
        assert [r.dataset() for r in _rows(paged, plan)] == expected
    assert len(index._streams) == 1

    async def first_three() -> list[RowMatch]:
        rows = paged.find_rows(plan, LOCAL)
        try:
            return [await rows.__anext__() for _ in range(3)]
        finally:
            await rows.aclose()

    assert [r.dataset() for r in asyncio.run(first_three())] == expected[:3]
    assert [r.dataset() for r in _rows(paged, plan)] == expected
