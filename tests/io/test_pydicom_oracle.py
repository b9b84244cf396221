"""pydicom as a test oracle: the same values element by element, and conversions both ways."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import pytest

import dicomkit
from dicomkit.core.vr import VR
from tests.conftest import RAW_FILES, corpus_params, read_options

pydicom = pytest.importorskip("pydicom", reason="pydicom (dev extra) is the oracle for these tests")

ORACLE_TWIN = {"emri_small_jpeg_2k_lossless_too_short.dcm": "emri_small_jpeg_2k_lossless.dcm"}

_NUMERIC = {"US", "SS", "UL", "SL", "FL", "FD", "SV", "UV"}


def _norm(vr: str, value):
    if value is None or value == "" or value == b"":
        return None
    if vr in _NUMERIC or vr in ("DS", "IS"):
        items = list(value) if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue" else [value]
        try:
            return [float(v) for v in items]
        except (TypeError, ValueError):
            return [str(v) for v in items]
    if vr in ("OB", "OW", "OF", "OD", "OL", "OV", "UN"):
        return bytes(value)
    if vr == "AT":
        items = list(value) if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue" else [value]
        return [int(v) for v in items]
    items = list(value) if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue" else [value]
    return [str(v).strip(" \x00") for v in items]


def compare(ours: dicomkit.Dataset, theirs, path: str, little: bool) -> list[str]:
    problems = []
    their_tags = {int(e.tag) for e in theirs}
    for elem in ours:
        tag = int(elem.tag)
        where = f"{path}{elem.tag}"
        if tag not in their_tags:
            problems.append(f"{where} missing in pydicom")
            continue
        pe = theirs[tag]
        if elem.vr is VR.SQ:
            if str(pe.VR) not in ("SQ", "UN"):
                problems.append(f"{where}: SQ vs {pe.VR}")
                continue
            if str(pe.VR) == "SQ":
                for i, (a, b) in enumerate(zip(elem.value, pe.value)):
                    problems += compare(a, b, f"{where}[{i}].", little)
            continue
        if str(pe.VR) == "UN" and elem.vr is not VR.UN:
            continue  # pydicom kept UN where we used the dictionary
        vr = elem.vr.value
        ours_v = _norm(vr, elem.value)
        theirs_v = _norm(vr, pe.value)
        if vr in ("OW", "OF", "OD", "OL", "OV") and not little and theirs_v is not None:
            from dicomkit.core.values import swap_words
            from dicomkit.core.vr import WORD_SIZES

            theirs_v = swap_words(theirs_v, WORD_SIZES[vr])
        if elem.is_undefined_length:
            continue  # encapsulated pixel data: pydicom may include or not the delimiter
        if ours_v != theirs_v and not (isinstance(ours_v, list) and isinstance(theirs_v, list)
                                       and ours_v == pytest.approx(theirs_v)):
            problems.append(f"{where} {vr}: {str(ours_v)[:80]} != {str(theirs_v)[:80]}")
    return problems


@pytest.mark.parametrize("path", corpus_params())
def test_values_agree_with_pydicom(path: Path):
    raw = path.name in RAW_FILES
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # pydicom reads nothing of a file whose only defect is the missing final Sequence Delimitation
        # Item; its intact twin (the same bytes plus that item) is the reference then
        theirs = pydicom.dcmread(path.parent / ORACLE_TWIN.get(path.name, path.name), force=raw)
        assert len(theirs) > 0
        ours = dicomkit.read(path, **read_options(path))
        little = ours.source_encoding.little_endian
        problems = compare(ours, theirs, "", little)
    assert not problems, "\n".join(problems[:20])


@pytest.mark.parametrize("path", corpus_params())
def test_convert_to_pydicom_and_back(path: Path):
    ours = dicomkit.read(path, **read_options(path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pds = ours.to_pydicom()
        back = dicomkit.Dataset.from_pydicom(pds)
    assert back.tags() == ours.tags()
    for elem in ours:
        if elem.vr is VR.SQ:
            assert len(back[elem.tag].value) == len(elem.value)
            continue
        assert back[elem.tag].value == elem.value, elem.tag


def test_pydicom_reads_what_we_write(tmp_path):
    ds = dicomkit.Dataset()
    ds.SOPClassUID = dicomkit.uid.CTImageStorage
    ds.SOPInstanceUID = dicomkit.generate_uid()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = "Müller^Jürgen=山田^太郎"
    ds.PixelSpacing = [0.5, 0.25]
    ds.Rows = 4
    out = tmp_path / "x.dcm"
    for ts in (dicomkit.uid.ImplicitVRLittleEndian, dicomkit.uid.ExplicitVRBigEndian,
               dicomkit.uid.DeflatedExplicitVRLittleEndian):
        ds.save(out, transfer_syntax=ts)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pds = pydicom.dcmread(out)
        assert str(pds.PatientName) == "Müller^Jürgen=山田^太郎"
        assert [float(x) for x in pds.PixelSpacing] == [0.5, 0.25]
        assert pds.Rows == 4
        assert pds.file_meta.TransferSyntaxUID == ts
        assert pds.file_meta.ImplementationClassUID == dicomkit.uid.IMPLEMENTATION_CLASS_UID


def test_from_bytes_equals_from_file(tmp_path):
    ds = dicomkit.Dataset()
    ds.SOPClassUID = dicomkit.uid.CTImageStorage
    ds.SOPInstanceUID = "1.2.3"
    data = dicomkit.io.writer.to_bytes(ds)
    assert dicomkit.read(io.BytesIO(data)) == dicomkit.read(data)
