"""``dicomkit convert`` over real trees: what is not DICOM is skipped, a broken file fails, a DICOMDIR is never
re-encoded as an image (skipped in a walk, rewritten with fresh offsets when named)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import dicomkit
from dicomkit.core.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from dicomkit.io.dicomdir import create_fileset, read_dicomdir
from tests.cli.runner import corpus_file, icc_profile, make_fifo, require, truncated_copy
from tests.cli.runner import dicomkit as run


def file_set(root: Path) -> Path:
    create_fileset(root, [corpus_file("MR2_UNCR.dcm"), corpus_file("liver.dcm")], file_set_id="CONVERT")
    return root


def test_a_tree_with_a_dicomdir_and_other_files(tmp_path: Path):
    fs = file_set(tmp_path / "cd")
    before = (fs / "DICOMDIR").read_bytes()
    (fs / "README.TXT").write_text("Burned by the modality; see DICOMDIR.\n")
    (fs / "DICOM" / "index.json").write_text("[]")
    icc_profile(fs / "DICOM" / "monitor.icc")
    make_fifo(fs / "DICOM" / "pipe")
    truncated_copy("US1_UNCR.dcm", fs / "DICOM" / "cut.dcm")
    out = tmp_path / "out"
    result = run("convert", fs, out, "--ts", "implicit", timeout=120)
    assert result.code == 1, result.err  # the truncated file failed
    assert result.err.splitlines()[-1] == "converted 2 of 8 file(s) to Implicit VR Little Endian; 5 skipped; 1 failed"
    assert f"{fs / 'DICOMDIR'}: skipped, a DICOMDIR" in result.err
    assert f"{fs / 'README.TXT'}: skipped, not a DICOM file" in result.err
    assert f"{fs / 'DICOM' / 'pipe'}: skipped, not a regular file (a FIFO)" in result.err
    assert f"{fs / 'DICOM' / 'cut.dcm'}: offset " in result.err and "--lenient reads what is there" in result.err
    assert not (out / "DICOMDIR").exists() and not (out / "README.TXT").exists()
    assert not (out / "DICOM" / "cut.dcm").exists()
    assert (fs / "DICOMDIR").read_bytes() == before  # the input is never touched
    for record in read_dicomdir(fs / "DICOMDIR").instances():
        assert record.file_id is not None
        converted = dicomkit.read(out.joinpath(*record.file_id))
        assert converted.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
        assert converted.SOPInstanceUID == record.sop_instance_uid
    # what the note suggests: the converted files indexed where they are, with their new transfer syntax
    result = run("dicomdir", "create", out)
    assert result.code == 0, result.err
    assert {str(r.transfer_syntax_uid) for r in read_dicomdir(out / "DICOMDIR").instances()} == {
        str(ImplicitVRLittleEndian)}


def test_a_dicomdir_named_is_rewritten_with_fresh_offsets(tmp_path: Path):
    fs = file_set(tmp_path / "cd")
    target = tmp_path / "copy" / "DICOMDIR"
    result = run("convert", fs / "DICOMDIR", target, "--ts", "explicit")
    assert result.code == 0, result.err
    assert result.err.splitlines()[-1] == "converted 1 of 1 file(s) to Explicit VR Little Endian"
    original, rewritten = read_dicomdir(fs / "DICOMDIR"), read_dicomdir(target)  # offsets checked on reading
    assert [(r.record_type, r.file_id, r.sop_instance_uid) for r in rewritten] == \
        [(r.record_type, r.file_id, r.sop_instance_uid) for r in original]
    assert rewritten.file_set_id == "CONVERT"
    assert dicomkit.read(target).file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    result = run("convert", fs / "DICOMDIR", tmp_path / "implicit", "--ts", "implicit")
    assert result.code == 0
    assert "a DICOMDIR stays in Explicit VR Little Endian (PS3.11); its offsets were rewritten" in result.err
    assert len(read_dicomdir(tmp_path / "implicit").instances()) == 2


@pytest.mark.interop
def test_dcmdump_reads_a_rewritten_dicomdir(tmp_path: Path):
    dcmdump = require("dcmdump")
    fs = file_set(tmp_path / "cd")
    assert run("convert", fs / "DICOMDIR", tmp_path / "DICOMDIR", "--ts", "explicit").code == 0
    done = subprocess.run([dcmdump, "-q", str(tmp_path / "DICOMDIR")], capture_output=True, timeout=60)
    assert done.returncode == 0 and b"DirectoryRecordSequence" in done.stdout


def test_a_truncated_file_fails(tmp_path: Path):
    cut = truncated_copy("MR2_UNCR.dcm", tmp_path / "cut.dcm")
    result = run("convert", cut, tmp_path / "out.dcm", "--ts", "implicit")
    assert result.code == 1
    assert result.err.splitlines()[-1] == "converted 0 of 1 file(s) to Implicit VR Little Endian; 1 failed"
    assert not (tmp_path / "out.dcm").exists()
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.move(cut, folder / "cut.dcm")
    result = run("convert", folder, tmp_path / "out", "--ts", "implicit")
    assert result.code == 1 and "skipped" not in result.err and "1 failed" in result.err


def test_a_missing_final_delimiter_fails_unless_lenient(tmp_path: Path):
    short = corpus_file("emri_small_jpeg_2k_lossless_too_short.dcm")
    result = run("convert", short, tmp_path / "out.dcm", "--ts", "explicit")
    assert result.code == 1 and "encapsulated Pixel Data not terminated" in result.err
    assert "--lenient" in result.err
    assert not (tmp_path / "out.dcm").exists()
    result = run("convert", "--lenient", short, tmp_path / "out.dcm", "--ts", "explicit")
    assert result.code == 0, result.err
    assert dicomkit.read(tmp_path / "out.dcm").file_meta.TransferSyntaxUID == ExplicitVRLittleEndian


def test_raw_data_sets_are_converted_with_a_note(tmp_path: Path):
    raw = corpus_file("OT-PAL-8-face.dcm")
    result = run("convert", raw, tmp_path / "out.dcm", "--ts", "explicit")
    assert result.code == 0, result.err
    assert "read as a raw data set in Implicit VR Little Endian" in result.err
    assert dicomkit.read(tmp_path / "out.dcm").PhotometricInterpretation == "PALETTE COLOR"
