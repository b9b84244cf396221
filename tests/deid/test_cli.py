"""``dicomkit anonymize``: folders, failures and exit codes, atomic output, mapping tables, DICOMDIRs, and
dciodvfy on what it writes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import dicomkit
from dicomkit.cli.main import main
from dicomkit.deid import MappingTable
from dicomkit.io.dicomdir import create_fileset, read_dicomdir

from ..conftest import CORPUS, require_tool

MR = "MR2_UNCR.dcm"


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    for name in (MR, "liver.dcm", "emri_small.dcm"):
        shutil.copy(CORPUS / name, folder / name)
    shutil.copy(CORPUS / "693_UNCR.dcm", folder / "sub" / "693_UNCR.dcm")
    (folder / "README.txt").write_text("not DICOM")
    (folder / "broken.dcm").write_bytes((CORPUS / MR).read_bytes()[:4000])
    return folder


def test_folder_recursive_with_failures(inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main(["anonymize", str(inputs), str(out), "-r", "--key", "k", "-q", "--jobs", "2"])
    err = capsys.readouterr().err
    assert code == 1  # broken.dcm failed
    assert "broken.dcm" in err and err.count("\n") >= 3
    assert "README.txt: skipped: not a DICOM file" in err
    assert "de-identified 4 of 6 file(s); 1 skipped (not DICOM); 1 failed" in err
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == \
        sorted(["emri_small.dcm", "liver.dcm", "MR2_UNCR.dcm", "sub/693_UNCR.dcm"])
    assert not (out / "broken.dcm").exists()  # nothing half-written
    assert not [p for p in out.rglob(".dicomkit-*")]
    ds = dicomkit.read(out / MR)
    assert ds.PatientIdentityRemoved == "YES"
    assert bytes(ds["PixelData"].raw or b"") == bytes(dicomkit.read(inputs / MR)["PixelData"].raw or b"")


def test_without_r_only_the_folder_itself(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    main(["anonymize", str(inputs), str(out), "--key", "k", "-q", "-j", "1"])
    assert not (out / "sub").exists() and (out / MR).exists()


def test_never_over_the_input_unless_asked(inputs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = (inputs / MR).read_bytes()
    assert main(["anonymize", str(inputs / MR), str(inputs / MR), "--key", "k", "-q"]) == 2
    assert "refusing to write over it" in capsys.readouterr().err
    assert main(["anonymize", str(inputs), str(inputs), "--key", "k", "-q"]) == 2
    assert main(["anonymize", str(inputs / MR), "--key", "k", "-q"]) == 2  # no OUT
    assert (inputs / MR).read_bytes() == before
    assert main(["anonymize", str(inputs / MR), "--in-place", "--key", "k", "-q"]) == 0
    assert dicomkit.read(inputs / MR).PatientIdentityRemoved == "YES"


def test_bad_arguments_give_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["anonymize", str(tmp_path / "missing"), str(tmp_path / "o")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    (tmp_path / "a.dcm").write_bytes(b"")
    assert main(["anonymize", str(tmp_path / "a.dcm"), str(tmp_path / "o"), "--keep", "NoSuchKeyword"]) == 2
    assert main(["anonymize", str(tmp_path / "a.dcm"), str(tmp_path / "o"), "--key-file", str(tmp_path / "nokey")]) == 2
    assert main(["anonymize", str(tmp_path / "a.dcm"), str(tmp_path / "o"), "--mask", "1,2,3"]) == 2
    (tmp_path / "bad.json").write_text("{")
    assert main(["anonymize", str(tmp_path / "a.dcm"), str(tmp_path / "o"), "--map", str(tmp_path / "bad.json")]) == 2
    assert "not JSON" in capsys.readouterr().err


def test_burned_in_refused_then_allowed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not CORPUS.is_dir():
        pytest.skip("no corpus")
    src = CORPUS / "US1_UNCR.dcm"
    assert main(["anonymize", str(src), str(tmp_path / "us.dcm"), "-q"]) == 1
    assert "burned-in" in capsys.readouterr().err and not (tmp_path / "us.dcm").exists()
    assert main(["anonymize", str(src), str(tmp_path / "us.dcm"), "-q", "--allow-burned-in"]) == 0
    assert main(["anonymize", str(src), str(tmp_path / "m.dcm"), "-q", "--mask", "0,0,640,40"]) == 0
    masked = dicomkit.read(tmp_path / "m.dcm")
    assert masked.BurnedInAnnotation == "NO"
    pytest.importorskip("numpy")
    assert not masked.pixel_array[:40].any() and masked.pixel_array[40:].any()  # (rows, columns, 3): one frame


def test_same_key_same_output_and_mapping_tables(inputs: Path, tmp_path: Path) -> None:
    for run in ("a", "b"):
        main(["anonymize", str(inputs / MR), str(tmp_path / run / MR), "--key", "same", "-q"])
    main(["anonymize", str(inputs / MR), str(tmp_path / "c" / MR), "--key", "other", "-q"])
    a, b, c = (dicomkit.read(tmp_path / r / MR) for r in "abc")
    assert a.SOPInstanceUID == b.SOPInstanceUID != c.SOPInstanceUID
    assert a.StudyInstanceUID == b.StudyInstanceUID
    # a random key (none given) is consistent within the run; the map then re-identifies and is reused
    mapping = tmp_path / "map.json"
    main(["anonymize", str(inputs / MR), str(tmp_path / "d" / MR), "--map", str(mapping), "-q"])
    table = MappingTable.load(mapping)
    d = dicomkit.read(tmp_path / "d" / MR)
    original = dicomkit.read(inputs / MR)
    assert table.uids[str(original.SOPInstanceUID)] == str(d.SOPInstanceUID)
    assert table.original_uid(str(d.StudyInstanceUID)) == str(original.StudyInstanceUID)
    assert json.loads(mapping.read_text())["format"] == "dicomkit-deid-map"
    assert mapping.stat().st_mode & 0o077 == 0
    main(["anonymize", str(inputs / MR), str(tmp_path / "e" / MR), "--map", str(mapping), "-q"])
    assert dicomkit.read(tmp_path / "e" / MR).SOPInstanceUID == d.SOPInstanceUID  # another random key, same map
    csv_map = tmp_path / "map.csv"
    table.save(csv_map)
    assert MappingTable.load(csv_map).uids == table.uids
    key_file = tmp_path / "key"
    key_file.write_text("same\n")
    main(["anonymize", str(inputs / MR), str(tmp_path / "f" / MR), "--key-file", str(key_file), "-q"])
    assert dicomkit.read(tmp_path / "f" / MR).SOPInstanceUID == a.SOPInstanceUID


def test_options_reach_the_engine(inputs: Path, tmp_path: Path) -> None:
    main(["anonymize", str(inputs / MR), str(tmp_path / "o.dcm"), "--key", "k", "-q", "--retain-uids",
          "--shift-dates", "--keep", "InstitutionName"])
    original, out = dicomkit.read(inputs / MR), dicomkit.read(tmp_path / "o.dcm")
    assert out.SOPInstanceUID == original.SOPInstanceUID
    assert out.StudyDate != original.StudyDate and out.LongitudinalTemporalInformationModified == "MODIFIED"
    assert out.get("InstitutionName") == original.get("InstitutionName")
    assert [c.CodeValue for c in out.DeidentificationMethodCodeSequence] == ["113100", "113107", "113110"]


def test_dicomdir_records_follow_their_instances(tmp_path: Path) -> None:
    if not CORPUS.is_dir():
        pytest.skip("no corpus")
    cd = tmp_path / "cd"
    create_fileset(cd, [CORPUS / MR, CORPUS / "693_UNCR.dcm", CORPUS / "liver.dcm"], file_set_id="TEST", invent=True)
    out = tmp_path / "out"
    assert main(["anonymize", str(cd), str(out), "-r", "--key", "k", "-q"]) == 0
    fs = read_dicomdir(out / "DICOMDIR")
    records = fs.instances()
    assert len(records) == 3
    for record in records:
        assert record.path is not None
        instance = dicomkit.read(record.path, stop_before_pixels=True)
        assert str(record.sop_instance_uid) == str(instance.SOPInstanceUID)
        assert str(instance.SOPInstanceUID).startswith("2.25.")
    for patient in fs.find("PATIENT"):
        assert str(patient.dataset.get("PatientName")).startswith("DK")
    original_names = {str(r.dataset.get("PatientName")) for r in read_dicomdir(cd / "DICOMDIR").find("PATIENT")}
    assert not original_names & {str(r.dataset.get("PatientName")) for r in fs.find("PATIENT")}
    assert b"CompressedSamples" not in (out / "DICOMDIR").read_bytes()


@pytest.mark.interop
def test_dciodvfy_finds_no_new_errors(tmp_path: Path) -> None:
    tool = require_tool("dciodvfy")
    if not CORPUS.is_dir():
        pytest.skip("no corpus")
    out = tmp_path / "out"
    main(["anonymize", str(CORPUS), str(out), "--key", "k", "-q", "--allow-burned-in"])
    written = sorted(out.glob("*.dcm"))
    assert len(written) > 60

    def errors(path: Path) -> list[str]:
        run = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=60)
        return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]

    worse = {}
    for path in written:
        before, after = errors(CORPUS / path.name), errors(path)
        new = [e for e in after if e not in before]
        if len(after) > len(before) or new:
            worse[path.name] = new
    assert worse == {}


def test_library_api_on_files_and_dicomdirs(tmp_path: Path) -> None:
    if not CORPUS.is_dir():
        pytest.skip("no corpus")
    from dicomkit.deid import DeidentificationError, Deidentifier, Options

    cd = tmp_path / "cd"
    create_fileset(cd, [CORPUS / MR], file_set_id="ONE")
    deid = Deidentifier(Options(), key="k")
    deid.apply_file(cd / "DICOMDIR", tmp_path / "out" / "DICOMDIR")
    record = read_dicomdir(tmp_path / "out" / "DICOMDIR").instances()[0]
    original = dicomkit.read(CORPUS / MR, stop_before_pixels=True)
    assert str(record.sop_instance_uid) == deid.pseudonyms.uid(str(original.SOPInstanceUID))
    deid.apply_file(CORPUS / MR, tmp_path / "mr.dcm")
    assert str(dicomkit.read(tmp_path / "mr.dcm").SOPInstanceUID) == str(record.sop_instance_uid)
    with pytest.raises(DeidentificationError):
        deid.apply_file(tmp_path / "mr.dcm", tmp_path / "mr.dcm")
    odd = dicomkit.read(CORPUS / MR)
    odd.add_new(0x00100020, "SH", "A-PATIENT-ID-OF-20")  # an ID sent with a shorter VR still fits
    out = deid.apply(odd)
    assert len(out.PatientID) == 16
