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


def _lazy(data: bytes) -> Dataset:
    """The data set as the ingest gets it: read by the check, its elements still indexed, not decoded."""
    probe = _uids_of_bytes(data)
    checked = check_received(memoryview(data), probe[0], probe[1])
    assert checked.dataset is not None
    return checked.dataset


def _uids_of_bytes(data: bytes) -> tuple[str, str]:
    from dicomkit.io.reader import read_file_meta

    meta = read_file_meta(data)
    return str(meta.value(0x00020002)).strip("\x00 "), str(meta.value(0x00020003)).strip("\x00 ")


def _reaches_the_header(path: Path) -> bool:
    """A Part 10 file with its UIDs that the check accepts (the others are refused before the header, with the
    same answers on both paths: test_stored_rows_and_header_are_the_reference)."""
    data = path.read_bytes()
    return (data[128:132] == b"DICM" and _uids_of(path) is not None
            and check_received(memoryview(data), *_uids_of_bytes(data)).dataset is not None)


@pytest.mark.parametrize("path", corpus_params(where=_reaches_the_header))
def test_header_and_values_in_one_pass_are_the_element_path(path: Path) -> None:
    """The header written from the reader's index (``to_json_with_values``) is ``to_json``'s text of the
    same data set read again, and the values it collects are those of the elements."""
    from dicomkit.io.reader import read_buffer
    from dicomkit.server.index.attributes import COLUMN_TAGS
    from dicomkit.server.index.header import FRAME_TAGS, build_header, build_header_with_values

    data = path.read_bytes()
    probe = _uids_of_bytes(data)
    checked = check_received(memoryview(data), probe[0], probe[1])
    assert checked.dataset is not None
    ds = checked.dataset
    ts = str(ds.read_transfer_syntax)
    wanted = COLUMN_TAGS | FRAME_TAGS
    reference_ds = read_buffer(memoryview(data))
    try:
        expected_header = build_header(reference_ds, memoryview(data), 0, ts)
    except Exception as exc:  # the element path refuses it: so must the one pass, with the same error
        with pytest.raises(type(exc)) as raised:
            build_header_with_values(ds, memoryview(data), 0, ts, wanted)
        assert str(raised.value) == str(exc)
        return
    header, values = build_header_with_values(ds, memoryview(data), 0, ts, wanted)
    assert header == expected_header
    again = read_buffer(memoryview(data))
    assert values == {t: again[t].value for t in again.tags() if t in wanted}
    assert reference_header(again) == zlib.decompress(header.header).decode()


def _part10(elements: list[tuple[int, str, bytes]]) -> bytes:
    """A Part 10 object (explicit VR little endian) of raw elements, as a modality might send them."""
    import struct

    from dicomkit.io.meta import part10_header

    body = b""
    for tag, vr, value in sorted(elements):
        head = struct.pack("<HH", tag >> 16, tag & 0xFFFF) + vr.encode()
        if vr in ("OB", "OW", "SQ", "UN", "UT", "UC", "UR"):
            body += head + b"\0\0" + struct.pack("<I", len(value)) + value
        else:
            body += head + struct.pack("<H", len(value)) + value
    return part10_header("1.2.840.10008.5.1.4.1.1.7", "1.2.3.4.5", "1.2.840.10008.1.2.1", "T") + body


BASE = [(0x00080016, "UI", b"1.2.840.10008.5.1.4.1.1.7\0"), (0x00080018, "UI", b"1.2.3.4.5\0"),
        (0x0020000D, "UI", b"1.2.3\0"), (0x0020000E, "UI", b"1.2.3.1\0")]


def test_a_value_that_does_not_decode_is_refused_as_before(tmp_path: Path) -> None:
    """A US value of 3 bytes: the one pass leaves it to the element, whose error names it; the object is
    refused with 0xC000 and the same Error Comment as the element path gives."""
    data = _part10([*BASE, (0x00280010, "US", b"\x01\x00\x02\x00\x03\x00"[:4]), (0x00280011, "UL", b"\x01\x00")])
    ds = read_buffer_lazy(data)
    with pytest.raises(Exception) as reference:
        to_json(ds)
    config = load_config(None, {"storage.data_dir": str(tmp_path / "data"), "storage.durability": "os"})
    with Archive(config) as archive:
        out = archive.prepare(data, "1.2.840.10008.5.1.4.1.1.7", "1.2.3.4.5", "1.2.840.10008.1.2.1",
                              dataset_offset=data.index(b"\x08\x00\x16\x00"), source_ae=None)
    assert not hasattr(out, "header")
    assert out.status == 0xC000  # type: ignore[union-attr]
    assert out.comment == f"cannot index the data set: {reference.value}"[:61] + "..."  # type: ignore[union-attr]
    assert "(0028,0011)" in str(reference.value)


def read_buffer_lazy(data: bytes) -> Dataset:
    from dicomkit.io.reader import read_buffer

    return read_buffer(memoryview(data))


def test_text_in_a_character_set_and_numbers_are_the_element_path() -> None:
    """Values the one pass decodes from the reader's index — Latin-1 names (ISO_IR 100), DS/IS texts that are
    and are not JSON numbers, multi-valued text, an empty value among several, small binary values inline —
    give the text and the values of the element path."""
    from dicomkit.server.index.attributes import COLUMN_TAGS
    from dicomkit.server.index.header import FRAME_TAGS, build_header, build_header_with_values

    data = _part10([*BASE, (0x00080005, "CS", b"ISO_IR 100"), (0x00100010, "PN", "Müller^Jürgen=".encode("latin-1")),
                    (0x00101030, "DS", b"0.50"), (0x00101020, "DS", b"+5\\1e400 "), (0x00200013, "IS", b" 007"),
                    (0x00080008, "CS", b"ORIGINAL\\\\AXIAL "), (0x00081030, "LO", "Étude".encode("latin-1") + b" "),
                    (0x00280010, "US", b"\x00\x02"), (0x00280011, "US", b"\x00\x01"), (0x00091010, "OB", b"\x01\x02"),
                    (0x00200032, "DS", b"-0\\1.0E2"), (0x00181050, "DS", b"")])
    expected = build_header(read_buffer_lazy(data), memoryview(data), 0, "1.2.840.10008.1.2.1")
    wanted = COLUMN_TAGS | FRAME_TAGS
    header, values = build_header_with_values(_lazy(data), memoryview(data), 0, "1.2.840.10008.1.2.1", wanted)
    assert header == expected
    text = zlib.decompress(header.header).decode()
    assert '"Alphabetic": "Müller^Jürgen"' in text and '"Value": [0.50]' in text and "[-0, 1.0E2]" in text
    again = read_buffer_lazy(data)
    assert values == {t: again[t].value for t in again.tags() if t in wanted}
    assert values[0x00100010] == "Müller^Jürgen="
