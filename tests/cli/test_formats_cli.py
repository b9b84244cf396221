"""The command line of the formats: dump --json/--xml, json2dcm, xml2dcm and dicomdir create|list|add|remove."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import dicomkit
from dicomkit.cli.main import main
from dicomkit.io.dicomdir import read_dicomdir
from tests.conftest import CORPUS
from tests.io.model_helpers import differences


def corpus(name: str) -> Path:
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"corpus not found at {CORPUS} (CI provides ../shared/corpus)")
    return path


def test_dump_json_then_json2dcm_gives_the_file_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    src = corpus("MR2_UNCR.dcm")
    assert main(["dump", "--json", "--file-meta", str(src)]) == 0
    text = capsys.readouterr().out
    obj = json.loads(text)
    assert obj["00100010"] == {"vr": "PN", "Value": [{"Alphabetic": "CompressedSamples^MR2"}]}
    assert "00020010" in obj
    (tmp_path / "in.json").write_text(text, encoding="utf-8")
    assert main(["json2dcm", str(tmp_path / "in.json"), str(tmp_path / "out.dcm")]) == 0
    assert not differences(dicomkit.read(src), dicomkit.read(tmp_path / "out.dcm"))


def test_bulk_data_files_both_ways(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    src = corpus("MR2_UNCR.dcm")
    monkeypatch.chdir(tmp_path)
    assert main(["dump", "--json", "--bulk-data-dir", "bulk", "--bulk-data-threshold", "4096", str(src)]) == 0
    text = capsys.readouterr().out
    assert json.loads(text)["7FE00010"] == {"vr": "OW", "BulkDataURI": "bulk/7FE00010-1.bin"}
    (tmp_path / "in.json").write_text(text, encoding="utf-8")
    assert main(["json2dcm", "in.json", "out.dcm"]) == 0
    assert dicomkit.read("out.dcm").PixelData == dicomkit.read(src).PixelData
    (tmp_path / "bulk" / "7FE00010-1.bin").unlink()
    assert main(["json2dcm", "in.json", "out2.dcm"]) == 1
    assert "7FE00010-1.bin" in capsys.readouterr().err


def test_json2dcm_refuses_compressed_pixels_without_a_transfer_syntax(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]):
    src = corpus("MR2_J2KR.dcm")
    assert main(["dump", "--json", str(src)]) == 0
    (tmp_path / "in.json").write_text(capsys.readouterr().out, encoding="utf-8")
    assert main(["json2dcm", str(tmp_path / "in.json"), str(tmp_path / "out.dcm")]) == 1
    assert "give it with -t" in capsys.readouterr().err
    assert not (tmp_path / "out.dcm").exists()
    assert main(["json2dcm", "-t", "JPEG2000Lossless", str(tmp_path / "in.json"), str(tmp_path / "out.dcm")]) == 0
    assert dicomkit.read(tmp_path / "out.dcm").PixelData == dicomkit.read(src).PixelData


def test_dump_xml_then_xml2dcm(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    src = corpus("OBXXXX1A.dcm")
    assert main(["dump", "--xml", "--file-meta", str(src)]) == 0
    text = capsys.readouterr().out
    assert "<NativeDicomModel" in text and 'privateCreator="Philips US Imaging DD 109"' in text
    (tmp_path / "in.xml").write_text(text, encoding="utf-8")
    assert main(["xml2dcm", str(tmp_path / "in.xml"), str(tmp_path / "out.dcm")]) == 0
    assert not differences(dicomkit.read(src), dicomkit.read(tmp_path / "out.dcm"), pn_components=True)
    assert main(["dump", "--dcmtk-xml", str(src)]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("<data-set xfer=")


def test_malformed_input_gives_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    (tmp_path / "bad.json").write_text('{"00100010": {"vr": "PN", "Value": ["Doe"]}}')
    assert main(["json2dcm", str(tmp_path / "bad.json"), str(tmp_path / "out.dcm")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "/00100010/Value/0: a PN value must be an object" in err
    (tmp_path / "bad.xml").write_text("<NativeDicomModel><DicomAttribute/></NativeDicomModel>")
    assert main(["xml2dcm", str(tmp_path / "bad.xml"), str(tmp_path / "out.dcm")]) == 1
    assert "tag must be eight hexadecimal digits" in capsys.readouterr().err
    assert main(["dump", "--file-meta", str(tmp_path / "bad.json")]) == 2


def test_dicomdir_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    first, second, third = corpus("MR2_UNCR.dcm"), corpus("liver.dcm"), corpus("SC_rgb.dcm")
    root = tmp_path / "fs"
    assert main(["dicomdir", "create", str(root), str(first), str(second), "--file-set-id", "CLI"]) == 0
    out = capsys.readouterr().out
    assert "added    DICOM\\PAT00001\\STU00001\\SER00001\\IMG00001  <- " in out
    assert main(["dicomdir", "add", str(root), str(third)]) == 0
    capsys.readouterr()
    assert main(["dicomdir", "list", str(root), "--check"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].endswith("File-set ID 'CLI'; records: PATIENT 3, STUDY 3, SERIES 3, IMAGE 3")
    assert listing[1] == "PATIENT CompressedSamples^MR2  [ID 5MR2]"
    assert listing[4].startswith("      IMAGE #1  DICOM\\PAT00001\\STU00001\\SER00001\\IMG00001  MR Image Storage")
    uid = str(dicomkit.read(second, stop_before_pixels=True).SOPInstanceUID)
    assert main(["dicomdir", "remove", str(root), uid, "--delete-files"]) == 0
    assert "removed  DICOM\\PAT00002" in capsys.readouterr().out
    assert len(read_dicomdir(root / "DICOMDIR").instances()) == 2
    assert main(["dicomdir", "remove", str(root), uid]) == 1
    assert "no record in the File-set references it" in capsys.readouterr().err
    assert main(["dicomdir", "create", str(root), str(first)]) == 1
    assert "a DICOMDIR already exists" in capsys.readouterr().err


def test_dicomdir_create_decompresses_when_the_codecs_are_installed(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]):
    pytest.importorskip("numpy", reason="decompressing needs numpy (the pixels extra)")
    pytest.importorskip("imagecodecs", reason="JPEG 2000 needs imagecodecs (the codecs extra)")
    j2k, rle = corpus("MR2_J2KR.dcm"), corpus("emri_small_RLE.dcm")
    assert main(["dicomdir", "create", str(tmp_path / "fs"), str(j2k), str(rle), "--invent"]) == 0
    out = capsys.readouterr().out
    assert f"note: {j2k}: decompressed from JPEG 2000 Image Compression (Lossless Only) to Explicit VR Little " \
           "Endian" in out
    assert f"note: {rle}: decompressed from RLE Lossless" in out
    assert "kept in" not in out and "decompress function" not in out
    records = read_dicomdir(tmp_path / "fs" / "DICOMDIR").instances()
    assert {str(r.transfer_syntax_uid) for r in records} == {str(dicomkit.uid.ExplicitVRLittleEndian)}
    # --keep-transfer-syntax copies them as they are
    assert main(["dicomdir", "create", str(tmp_path / "kept"), str(j2k), "--keep-transfer-syntax"]) == 0
    assert "kept in JPEG 2000 Image Compression (Lossless Only) as asked" in capsys.readouterr().out
