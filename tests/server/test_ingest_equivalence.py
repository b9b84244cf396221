"""The fast ingest path stores what the plain rules give, for every file of the corpus.

The reference here is the straightforward reading of the rules, kept apart from the package's optimised
code: each typed column is ``column_values`` of its attribute looked up one by one (attributes.py's
table), and the header is :func:`dicomkit.io.json_model.to_json` of the data set as read, with the top-level
binary values of 1 KiB or more and Pixel Data as BulkDataURIs (header.py's module documentation). Each corpus
file goes through a real archive (``Archive.ingest_file``, the path of ``archive import``, STOW-RS and — after
the network — C-STORE); the rows and the header it stored are compared with the reference.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import pytest

from dicomkit.core.dataset import Dataset
from dicomkit.core.element import DataElement
from dicomkit.io.json_model import to_json
from dicomkit.server.config import load_config
from dicomkit.server.index.attributes import _BY_LEVEL_TAGS, LEVELS, column_values, study_datetime
from dicomkit.server.index.header import BINARY_VRS, BULK_THRESHOLD, PIXEL_DATA
from dicomkit.server.ingest import Archive, _uids_of
from dicomkit.services.storage.scp import check_received

from ..conftest import corpus_params

VOLATILE = {"pk", "patient_pk", "study_pk", "series_pk", "blob_key", "node", "stored_at", "created_at",
            "updated_at", "num_instances", "num_series", "num_studies", "modalities_in_study",
            "sop_classes_in_study"}


def reference_columns(ds: Dataset) -> dict[str, dict[str, Any]]:
    """Every column of every level, each attribute looked up on its own."""
    rows: dict[str, dict[str, Any]] = {}
    for level in LEVELS:
        out: dict[str, Any] = {}
        for column, tag in _BY_LEVEL_TAGS[level]:
            elem = ds.get(tag)
            out.update(column_values(column, elem.value if elem is not None else None))
        rows[level] = out
    rows["patient"]["patient_id"] = rows["patient"]["patient_id"] or ""
    rows["patient"]["issuer_of_patient_id"] = rows["patient"]["issuer_of_patient_id"] or ""
    rows["study"]["study_datetime"] = study_datetime(rows["study"]["study_date_norm"],
                                                     rows["study"]["study_time_norm"])
    return rows


def reference_header(ds: Dataset) -> str:
    def handler(elem: DataElement) -> str | None:
        tag = int(elem.tag)
        if ds.get(tag) is not elem or (tag != PIXEL_DATA and str(elem.vr) not in BINARY_VRS):
            return None
        return f"bulk/{tag:08X}"

    return to_json(ds, bulk_data_handler=handler, bulk_data_threshold=BULK_THRESHOLD)


@pytest.mark.parametrize("path", corpus_params())
def test_stored_rows_and_header_are_the_reference(path: Path, tmp_path: Path) -> None:
    config = load_config(None, {"storage.data_dir": str(tmp_path / "data"), "storage.durability": "os"})
    with Archive(config) as archive:
        stored = archive.ingest_file(path)
        data = path.read_bytes()
        if stored.status != 0:
            # refused as the check itself refuses it, or (the check passing) as not indexable; nothing kept
            probe = _uids_of(path) if data[128:132] == b"DICM" else None
            if probe is not None:
                checked = check_received(memoryview(data), probe[0], probe[1])
                if checked.refusal is not None:
                    assert (stored.status, stored.comment) == tuple(checked.refusal)
                else:
                    assert stored.status == 0xC000 and "Instance UID" in str(stored.comment)
            assert archive.index.count() == 0
            assert list(archive.store.iterate()) == []
            return
        row = archive.index.instance(stored.sop_instance_uid)
        assert row is not None
        checked = check_received(memoryview(data), row.sop_class_uid, row.sop_instance_uid)
        assert checked.dataset is not None
        ds = checked.dataset
        expected = reference_columns(ds)
        for level, table in (("patient", "patients"), ("study", "studies"), ("series", "series"),
                             ("instance", "instances")):
            rows = archive.index.query(f"SELECT * FROM {table}")
            assert len(rows) == 1
            got = {k: v for k, v in rows[0].items() if k in expected[level] and k not in VOLATILE}
            want = {k: v for k, v in expected[level].items() if k not in VOLATILE}
            assert got == want, level
        header = archive.index.query("SELECT header FROM instance_headers")[0]["header"]
        assert zlib.decompress(bytes(header)).decode() == reference_header(ds)
