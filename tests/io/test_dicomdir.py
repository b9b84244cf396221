"""DICOMDIR and File-sets (PS3.10, PS3.3 F): DCMTK's DICOMDIRs read, ours accepted by dcmdump, dciodvfy
and dcmgpdir, updates keeping offsets right, and broken offsets and loops refused naming where."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

import dicomkit
from dicomkit import Dataset, InvalidFileError, uid
from dicomkit.io.dicomdir import FileSetError, add_to_fileset, create_fileset, read_dicomdir, remove_from_fileset
from tests.conftest import CORPUS, require_tool
from tests.io.model_helpers import differences

# Corpus instances with valid keys and distinct SOP Instance UIDs, in four transfer syntaxes.
SOURCES = ["MR2_UNCR.dcm", "liver.dcm", "SC_rgb.dcm", "MR-SIEMENS-DICOM-WithOverlays.dcm",
           "parametric_map_float.dcm", "eCT_Supplemental.dcm", "US1_UNCR.dcm", "gdcm-US-ALOKA-16.dcm",
           "OBXXXX1A_expb.dcm", "JPEG2000_UNC.dcm", "mlut_18.dcm", "MR2_J2KR.dcm"]
FILE_ID_PART = re.compile(r"[A-Z0-9_]{1,8}\Z")


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS} (CI provides ../shared/corpus)")
    return [CORPUS / name for name in SOURCES]


def _copy_as(sources: list[Path], directory: Path) -> list[Path]:
    """Copies named IM000001, ... (valid File IDs) in ``directory``."""
    directory.mkdir(parents=True)
    out = []
    for i, src in enumerate(sources, 1):
        out.append(directory / f"IM{i:06d}")
        shutil.copyfile(src, out[-1])
    return out


def _check_tree(fs: dicomkit.io.dicomdir.FileSet, expected_instances: int, invented: bool = False) -> None:
    """Every instance record references a file that holds that instance, under the right series.

    With ``invented``, keys the instance lacks may have been made up for the DICOMDIR alone.
    """
    instances = fs.instances()
    assert len(instances) == expected_instances
    for record in instances:
        assert record.path is not None and record.path.is_file(), record
        ds = dicomkit.read(record.path, stop_before_pixels=True)
        assert ds.SOPInstanceUID == record.sop_instance_uid
        assert ds.SOPClassUID == record.sop_class_uid
        assert str(ds.transfer_syntax) == str(record.transfer_syntax_uid)
        series = record.parent
        assert series is not None and series.record_type == "SERIES"
        assert series.SeriesInstanceUID == ds.get("SeriesInstanceUID") or (invented and not ds.get("SeriesInstanceUID"))
        study = series.parent
        assert study is not None and study.record_type == "STUDY"
        assert study.StudyInstanceUID == ds.get("StudyInstanceUID") or (invented and not ds.get("StudyInstanceUID"))
        patient = study.parent
        assert patient is not None and patient.record_type == "PATIENT"
        assert patient.PatientID == ds.get("PatientID") or (invented and not ds.get("PatientID"))
        assert patient.parent is None


def _dciodvfy_errors(path: Path) -> list[str]:
    exe = require_tool("dciodvfy")
    out = subprocess.run([exe, str(path)], capture_output=True, timeout=120)
    text = (out.stdout + out.stderr).decode(errors="replace")
    assert "BasicDirectory" in text, text[-2000:]
    return [line for line in text.splitlines() if line.startswith("Error")]


def _dcmdump_ok(path: Path) -> None:
    exe = require_tool("dcmdump")
    out = subprocess.run([exe, "-q", str(path)], capture_output=True, timeout=120)
    assert out.returncode == 0 and b"E:" not in out.stderr, out.stderr.decode(errors="replace")
    assert b"DirectoryRecordSequence" in out.stdout


# ---------------------------------------------------------------------------------------------------
# DICOMDIRs made by DCMTK


@pytest.mark.parametrize("lengths", ["explicit", "undefined"])
def test_reads_dcmtk_dicomdirs(sources: list[Path], tmp_path: Path, lengths: str):
    exe = require_tool("dcmmkdir")
    files = _copy_as(sources[:7], tmp_path / "DICOM")  # the 8th, Implicit VR, is not for its GP profile
    args = [exe, "-q", "+r", *(["-e"] if lengths == "undefined" else []), "DICOM"]
    subprocess.run(args, cwd=tmp_path, check=True, capture_output=True, timeout=120)
    fs = read_dicomdir(tmp_path / "DICOMDIR")
    _check_tree(fs, len(files))
    assert fs.records[0].offset == fs.dataset.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity
    assert not fs.corrections
    patient = fs.find("PATIENT", PatientID="5MR2")[0]
    assert [c.record_type for c in patient.children] == ["STUDY"]
    assert patient.children[0].children[0].children[0].read().PatientName == "CompressedSamples^MR2"


def test_referenced_files_are_found_whatever_their_case(sources: list[Path], tmp_path: Path):
    exe = require_tool("dcmgpdir")
    _copy_as(sources[:3], tmp_path / "DICOM")
    subprocess.run([exe, "-q", "+r", "DICOM"], cwd=tmp_path, check=True, capture_output=True, timeout=120)
    (tmp_path / "DICOM").rename(tmp_path / "dicom")  # as an ISO 9660 disc may be mounted
    for path in (tmp_path / "dicom").iterdir():
        path.rename(path.with_name(path.name.lower()))
    fs = read_dicomdir(tmp_path / "DICOMDIR")
    assert all(r.path is not None and r.path.is_file() for r in fs.instances())
    assert fs.instances()[0].path.parent.name == "dicom"


# ---------------------------------------------------------------------------------------------------
# Broken DICOMDIRs: refused, naming where


def _record_value_offsets(data: bytes, record_offset: int) -> dict[int, int]:
    """Where the UL values of (0004,1400) and (0004,1420) of the record at ``record_offset`` are."""
    out = {}
    pos = record_offset + 8
    for _ in range(6):
        group, elem = struct.unpack_from("<HH", data, pos)
        length = struct.unpack_from("<H", data, pos + 6)[0]
        if (group, elem) in ((0x0004, 0x1400), (0x0004, 0x1420)):
            out[(group << 16) | elem] = pos + 8
        pos += 8 + length
    return out


@pytest.fixture
def dcmtk_dicomdir(sources: list[Path], tmp_path: Path) -> Path:
    exe = require_tool("dcmgpdir")
    _copy_as(sources[:3], tmp_path / "DICOM")
    subprocess.run([exe, "-q", "+r", "DICOM"], cwd=tmp_path, check=True, capture_output=True, timeout=120)
    return tmp_path / "DICOMDIR"


def test_an_offset_to_no_record_is_refused(dcmtk_dicomdir: Path):
    fs = read_dicomdir(dcmtk_dicomdir)
    patient = fs.roots[0]
    data = bytearray(dcmtk_dicomdir.read_bytes())
    where = _record_value_offsets(bytes(data), patient.offset)[0x00041420]
    struct.pack_into("<I", data, where, patient.children[0].offset + 2)
    dcmtk_dicomdir.write_bytes(bytes(data))
    with pytest.raises(InvalidFileError) as info:
        read_dicomdir(dcmtk_dicomdir)
    assert (f"(0004,1420) of the PATIENT record at offset {patient.offset} points to offset "
            f"{patient.children[0].offset + 2}, where no Directory Record starts") in str(info.value)


def test_a_loop_in_the_record_links_is_refused(dcmtk_dicomdir: Path):
    fs = read_dicomdir(dcmtk_dicomdir)
    series = fs.roots[0].children[0].children[0]
    data = bytearray(dcmtk_dicomdir.read_bytes())
    # The series' image points "down" to the patient: a loop.
    image = series.children[0]
    struct.pack_into("<I", data, _record_value_offsets(bytes(data), image.offset)[0x00041420], fs.roots[0].offset)
    dcmtk_dicomdir.write_bytes(bytes(data))
    with pytest.raises(InvalidFileError) as info:
        read_dicomdir(dcmtk_dicomdir)
    assert (f"loop in the directory record links: (0004,1420) of the IMAGE record at offset {image.offset} points "
            f"back to the record at offset {fs.roots[0].offset}") in str(info.value)


def test_a_sibling_loop_is_refused(dcmtk_dicomdir: Path):
    fs = read_dicomdir(dcmtk_dicomdir)
    last = fs.roots[-1]
    data = bytearray(dcmtk_dicomdir.read_bytes())
    struct.pack_into("<I", data, _record_value_offsets(bytes(data), last.offset)[0x00041400], fs.roots[0].offset)
    dcmtk_dicomdir.write_bytes(bytes(data))
    with pytest.raises(InvalidFileError, match=r"loop .* \(0004,1400\) of the PATIENT record"):
        read_dicomdir(dcmtk_dicomdir)


def test_a_truncated_dicomdir_is_refused(dcmtk_dicomdir: Path):
    data = dcmtk_dicomdir.read_bytes()
    dcmtk_dicomdir.write_bytes(data[: len(data) - 100])
    with pytest.raises(InvalidFileError):
        read_dicomdir(dcmtk_dicomdir)


def test_a_file_id_leaving_the_file_set_is_refused(dcmtk_dicomdir: Path):
    data = dcmtk_dicomdir.read_bytes()
    assert data.count(b"DICOM\\IM000001") == 1
    dcmtk_dicomdir.write_bytes(data.replace(b"DICOM\\IM000001", b"..\\..\\..\\ETC12"))
    record = next(r for r in read_dicomdir(dcmtk_dicomdir).instances() if r.file_id[0] == "..")
    with pytest.raises(InvalidFileError, match=r"Referenced File ID '..\\\\..\\\\..\\\\ETC12' .* not a relative"):
        _ = record.path


def test_a_file_that_is_no_dicomdir_is_refused():
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    with pytest.raises(InvalidFileError, match="not a DICOMDIR: Media Storage SOP Class is MR Image Storage"):
        read_dicomdir(CORPUS / "MR2_UNCR.dcm")


# ---------------------------------------------------------------------------------------------------
# File-sets made by dicomkit


def test_create_makes_a_conformant_file_set(sources: list[Path], tmp_path: Path):
    root = tmp_path / "fs"
    report = create_fileset(root, sources, file_set_id="DICOMKIT_TEST")
    assert [src for src, _ in report.added] == [str(s) for s in sources]
    assert any("re-encoded from Implicit VR Little Endian" in n for n in report.notes)
    assert any("kept in JPEG 2000 Image Compression (Lossless Only)" in n for n in report.notes)
    fs = read_dicomdir(root / "DICOMDIR")
    assert fs.file_set_id == "DICOMKIT_TEST"
    _check_tree(fs, len(sources))
    for record in fs.instances():
        assert record.file_id is not None and len(record.file_id) <= 8
        assert all(FILE_ID_PART.match(part) for part in record.file_id), record.file_id
        if record.sop_instance_uid != dicomkit.read(CORPUS / "MR2_J2KR.dcm", stop_before_pixels=True).SOPInstanceUID:
            assert record.transfer_syntax_uid == uid.ExplicitVRLittleEndian  # STD-GEN-CD
    # The copies hold the same values as the sources.
    for src, file_id in report.added:
        original, copy = dicomkit.read(src), dicomkit.read(root.joinpath(*file_id.split("\\")))
        assert not differences(original, copy), src
    _dcmdump_ok(root / "DICOMDIR")
    assert _dciodvfy_errors(root / "DICOMDIR") == []


def test_dcmtk_updates_our_dicomdir(sources: list[Path], tmp_path: Path):
    exe = require_tool("dcmgpdir")
    root = tmp_path / "fs"
    create_fileset(root, sources[:4])
    shutil.copyfile(sources[4], root / "NEWFILE")
    out = subprocess.run([exe, "-q", "+A", "NEWFILE"], cwd=root, capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode(errors="replace")  # DCMTK read ours to append to it
    fs = read_dicomdir(root / "DICOMDIR")
    _check_tree(fs, 5)
    assert ("NEWFILE",) in [r.file_id for r in fs.instances()]


def test_non_image_instances_get_their_record_types(tmp_path: Path):
    source = tmp_path / "in"
    source.mkdir()
    for i, ds in enumerate(_non_image_instances()):
        ds.save(source / f"obj{i}.dcm")
    (source / "README.txt").write_text("Report exported from the RIS.\n")
    (source / "thumbs.db").write_bytes(bytes(range(256)) * 4)
    report = create_fileset(tmp_path / "fs", [source])
    assert f"{source / 'README.txt'}: skipped, not a DICOM instance" in report.notes or \
        f"{source / 'README.txt'}: skipped, not a DICOM file" in report.notes
    fs = read_dicomdir(tmp_path / "fs" / "DICOMDIR")
    assert sorted(r.record_type for r in fs.instances()) == sorted(
        ["SR DOCUMENT", "KEY OBJECT DOC", "PRESENTATION", "ENCAP DOC", "RT DOSE", "RAW DATA"])
    assert _dciodvfy_errors(tmp_path / "fs" / "DICOMDIR") == []  # dciodvfy checks each record type's keys


def _non_image_instances() -> list[Dataset]:
    def base(sop_class: str, n: int, modality: str) -> Dataset:
        ds = Dataset()
        ds.SOPClassUID, ds.SOPInstanceUID = sop_class, f"1.2.826.0.1.3680043.9.7777.{n}"
        ds.PatientName, ds.PatientID = "Test^NonImage", "NI1"
        ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20240101", "120000", "S1", ""
        ds.StudyInstanceUID = "1.2.826.0.1.3680043.9.7777.100"
        ds.SeriesInstanceUID, ds.SeriesNumber, ds.Modality = f"1.2.826.0.1.3680043.9.7777.{200 + n}", n, modality
        ds.InstanceNumber, ds.ContentDate, ds.ContentTime = 1, "20240101", "120000"
        return ds

    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "11528-7", "LN", "Radiology Report"
    sr = base(uid.BasicTextSRStorage, 1, "SR")
    sr.CompletionFlag, sr.VerificationFlag, sr.ConceptNameCodeSequence = "COMPLETE", "UNVERIFIED", [code]
    ko = base(uid.KeyObjectSelectionDocumentStorage, 2, "KO")
    ko.ConceptNameCodeSequence = [code]
    pr = base(uid.GrayscaleSoftcopyPresentationStateStorage, 3, "PR")
    pr.ContentLabel, pr.ContentDescription, pr.ContentCreatorName = "LABEL", "", ""
    pr.PresentationCreationDate, pr.PresentationCreationTime = "20240101", "120000"
    image = Dataset()
    image.ReferencedSOPClassUID, image.ReferencedSOPInstanceUID = uid.CTImageStorage, "1.2.3.4.5"
    series = Dataset()
    series.SeriesInstanceUID, series.ReferencedImageSequence = "1.2.3.4", [image]
    pr.ReferencedSeriesSequence = [series]
    pdf = base(uid.EncapsulatedPDFStorage, 4, "DOC")
    pdf.DocumentTitle, pdf.MIMETypeOfEncapsulatedDocument = "Report", "application/pdf"
    pdf.ConceptNameCodeSequence = [code]
    pdf.EncapsulatedDocument = b"%PDF-1.4\n%%EOF\n"
    dose = base(uid.RTDoseStorage, 5, "RTDOSE")
    dose.DoseSummationType = "PLAN"
    raw = base(uid.RawDataStorage, 6, "OT")
    return [sr, ko, pr, pdf, dose, raw]


def _verified_report(observers: list[str | None]) -> Dataset:
    """A Basic Text SR, VERIFIED by observers whose Verification DateTimes are given (None: none given)."""
    sr = _non_image_instances()[0]
    sr.VerificationFlag = "VERIFIED"
    sr.ValueType, sr.ContinuityOfContent = "CONTAINER", "SEPARATE"
    items = []
    for i, when in enumerate(observers):
        observer = Dataset()
        observer.VerifyingObserverName, observer.VerifyingOrganization = f"Reader^{i}", "Hospital"
        observer.VerifyingObserverIdentificationCodeSequence = []
        if when is not None:
            observer.VerificationDateTime = when
        items.append(observer)
    sr.VerifyingObserverSequence = items  # PS3.3 C.17.2: where the SR Document General Module keeps them
    return sr


def test_a_verified_sr_document_record_has_its_latest_verification_datetime(tmp_path: Path):
    source = tmp_path / "in"
    source.mkdir()
    # the latest on one clock: 08:00 at +01:00 (07:00 UTC) on the 3rd, after the 2nd
    _verified_report(["20240102093000", "20240103080000+0100", "20240102100000"]).save(source / "sr.dcm")
    unverified = _non_image_instances()[0]
    unverified.SOPInstanceUID, unverified.InstanceNumber = "1.2.826.0.1.3680043.9.7777.99", 2
    unverified.save(source / "draft.dcm")
    create_fileset(tmp_path / "fs", [source])
    records = {r.dataset.VerificationFlag: r for r in read_dicomdir(tmp_path / "fs" / "DICOMDIR").instances()}
    assert records["VERIFIED"].dataset.VerificationDateTime == "20240103080000+0100"  # PS3.3 F.5.25, 1C
    assert "VerificationDateTime" not in records["UNVERIFIED"].dataset
    # dciodvfy flags the record without it ("Missing attribute Type 1C ... VerificationDateTime")
    assert _dciodvfy_errors(tmp_path / "fs" / "DICOMDIR") == []


def test_a_verified_report_without_a_verification_datetime_is_refused_or_invented(tmp_path: Path):
    path = tmp_path / "sr.dcm"
    _verified_report([None]).save(path)
    with pytest.raises(FileSetError, match="Verification Flag is VERIFIED but no item of the Verifying Observer"):
        create_fileset(tmp_path / "fs", [path])
    assert not (tmp_path / "fs" / "DICOMDIR").exists()
    report = create_fileset(tmp_path / "fs", [path], invent=True)
    assert any("VerificationDateTime missing, invented 20240101120000" in n for n in report.notes)
    record = read_dicomdir(tmp_path / "fs" / "DICOMDIR").instances()[0]
    assert record.dataset.VerificationDateTime == "20240101120000"  # Content Date and Time, in the DICOMDIR only
    assert _dciodvfy_errors(tmp_path / "fs" / "DICOMDIR") == []


# ---------------------------------------------------------------------------------------------------
# Compressed instances: decompressed by a function of the caller's (the io layer knows no pixel data)


def test_compressed_instances_are_decompressed_by_the_function_given(sources: list[Path], tmp_path: Path):
    pixels = pytest.importorskip("dicomkit.pixels", reason="decompressing needs numpy (the pixels extra)")
    pytest.importorskip("imagecodecs", reason="JPEG 2000 needs imagecodecs (the codecs extra)")
    j2k = CORPUS / "MR2_J2KR.dcm"
    report = create_fileset(tmp_path / "fs", [j2k, CORPUS / "MR2_UNCR.dcm"], decompress=pixels.decompress)
    assert f"{j2k}: decompressed from JPEG 2000 Image Compression (Lossless Only) to Explicit VR Little Endian" \
        in report.notes
    assert not any("kept in" in n for n in report.notes)
    fs = read_dicomdir(tmp_path / "fs" / "DICOMDIR")
    _check_tree(fs, 2)
    assert {str(r.transfer_syntax_uid) for r in fs.instances()} == {str(uid.ExplicitVRLittleEndian)}
    record = next(r for r in fs.instances() if r.sop_instance_uid == dicomkit.read(j2k).SOPInstanceUID)
    copy = record.read()
    assert (copy.pixel_array == dicomkit.read(j2k).pixel_array).all()  # lossless: the same pixels
    assert _dciodvfy_errors(tmp_path / "fs" / "DICOMDIR") == []


def test_what_the_function_cannot_decompress_is_kept_with_its_reason(tmp_path: Path):
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")

    def no_codec(ds: Dataset) -> Dataset:
        raise dicomkit.MissingDependencyError("JPEG 2000 needs the codec library: pip install 'dicomkit[codecs]'")

    j2k = CORPUS / "MR2_J2KR.dcm"
    report = create_fileset(tmp_path / "fs", [j2k], decompress=no_codec)
    assert report.notes == [f"{j2k}: kept in JPEG 2000 Image Compression (Lossless Only), not decompressed: JPEG 2000 "
                            "needs the codec library: pip install 'dicomkit[codecs]'"]
    assert read_dicomdir(tmp_path / "fs" / "DICOMDIR").instances()[0].transfer_syntax_uid == uid.JPEG2000Lossless
    # without a function the note says what would decompress it
    plain = create_fileset(tmp_path / "fs2", [j2k])
    assert "no decompress function was given: dicomkit.pixels.decompress" in plain.notes[0]
    # a function that hands back compressed pixel data is a caller's error: nothing is kept
    with pytest.raises(dicomkit.InvalidValueError, match="returned encapsulated Pixel Data"):
        create_fileset(tmp_path / "fs3", [j2k], decompress=lambda ds: ds)
    assert not (tmp_path / "fs3" / "DICOMDIR").exists()
    assert not [p for p in (tmp_path / "fs3").rglob("*") if p.is_file()]


def test_create_refuses_what_it_cannot_describe_and_copies_nothing(sources: list[Path], tmp_path: Path):
    root = tmp_path / "fs"
    incomplete = [CORPUS / "emri_small.dcm", CORPUS / "HTJ2K_08_RGB.dcm"]  # no PatientID, StudyID, ...
    with pytest.raises(FileSetError) as info:
        create_fileset(root, [*sources[:2], *incomplete, sources[0]])
    problems = info.value.problems
    assert f"{incomplete[0]}: Type 1 key PatientID is missing or empty (use invent to make one up)" in problems
    assert any("HTJ2K_08_RGB.dcm: Type 1 key StudyDate is missing" in p for p in problems)
    assert f"{sources[0]}: SOP Instance UID {dicomkit.read(sources[0], stop_before_pixels=True).SOPInstanceUID} " \
           f"is already as {sources[0]}" in problems
    assert not (root / "DICOMDIR").exists() and not (root / "DICOM").exists()
    report = create_fileset(root, [*sources[:2], *incomplete], invent=True)
    assert f"{incomplete[0]}: PatientID missing, invented DKPAT00001" in report.notes
    _check_tree(read_dicomdir(root / "DICOMDIR"), 4, invented=True)
    assert _dciodvfy_errors(root / "DICOMDIR") == []
    with pytest.raises(FileSetError, match="a DICOMDIR already exists"):
        create_fileset(root, sources[:1])


def test_create_indexes_files_in_place(sources: list[Path], tmp_path: Path):
    _copy_as(sources[:3], tmp_path / "DICOM")
    report = create_fileset(tmp_path)
    assert sorted(fid for _, fid in report.added) == ["DICOM\\IM000001", "DICOM\\IM000002", "DICOM\\IM000003"]
    _check_tree(read_dicomdir(tmp_path / "DICOMDIR"), 3)
    (tmp_path / "DICOMDIR").unlink()
    shutil.copyfile(sources[3], tmp_path / "DICOM" / "image.dcm")
    with pytest.raises(FileSetError, match=r"image.dcm: the path is not a valid File ID"):
        create_fileset(tmp_path)


def test_add_and_remove_keep_the_offsets_right(sources: list[Path], tmp_path: Path):
    root = tmp_path / "fs"
    create_fileset(root, sources[:4], file_set_id="KEEP")
    first = read_dicomdir(root / "DICOMDIR")
    report = add_to_fileset(root, sources[4:8])
    assert len(report.added) == 4
    fs = read_dicomdir(root / "DICOMDIR")
    _check_tree(fs, 8)
    assert fs.file_set_id == "KEEP"
    assert fs.dataset.file_meta.MediaStorageSOPInstanceUID == first.dataset.file_meta.MediaStorageSOPInstanceUID
    assert _dciodvfy_errors(root / "DICOMDIR") == []

    before = (root / "DICOMDIR").read_bytes()
    with pytest.raises(FileSetError, match="is already in the File-set"):
        add_to_fileset(root, sources[:1])
    assert (root / "DICOMDIR").read_bytes() == before  # refused: nothing changed

    by_uid = fs.instances()[0]
    by_file_id = fs.instances()[1]
    by_path = fs.instances()[2]
    assert by_path.path is not None
    report = remove_from_fileset(root, [str(by_uid.sop_instance_uid), "\\".join(by_file_id.file_id or ()),
                                        str(by_path.path)])
    assert len(report.removed) == 3
    assert any("kept on disk but no longer referenced" in n for n in report.notes)
    fs = read_dicomdir(root / "DICOMDIR")
    _check_tree(fs, 5)
    removed = {str(by_uid.sop_instance_uid), str(by_file_id.sop_instance_uid), str(by_path.sop_instance_uid)}
    assert not removed & {str(r.sop_instance_uid) for r in fs.instances()}
    # Emptied series, studies and patients go too.
    assert all(r.children for r in fs if r.record_type in ("PATIENT", "STUDY", "SERIES"))
    _dcmdump_ok(root / "DICOMDIR")
    assert _dciodvfy_errors(root / "DICOMDIR") == []

    gone = fs.instances()[0]
    assert gone.path is not None
    remove_from_fileset(root, [str(gone.sop_instance_uid)], delete_files=True)
    assert not gone.path.exists()
    with pytest.raises(FileSetError, match="no record in the File-set references it"):
        remove_from_fileset(root, ["1.2.3.4.5.6"])
    _check_tree(read_dicomdir(root / "DICOMDIR"), 4)


def test_add_to_a_file_set_made_by_dcmtk(sources: list[Path], tmp_path: Path):
    exe = require_tool("dcmgpdir")
    _copy_as(sources[:3], tmp_path / "DICOM")
    subprocess.run([exe, "-q", "+r", "DICOM"], cwd=tmp_path, check=True, capture_output=True, timeout=120)
    add_to_fileset(tmp_path, sources[3:5])
    fs = read_dicomdir(tmp_path / "DICOMDIR")
    _check_tree(fs, 5)
    assert fs.file_set_id == "DCMTK_MEDIA_DEMO"  # kept from DCMTK's DICOMDIR
    assert _dciodvfy_errors(tmp_path / "DICOMDIR") == []


def test_an_update_keeps_what_it_does_not_manage(sources: list[Path], tmp_path: Path):
    from dicomkit import DataElement
    from dicomkit.io.dicomdir.write import _Tree, encode_dicomdir

    root = tmp_path / "fs"
    create_fileset(root, sources[:3], file_set_id="KEEP")
    tree = _Tree.from_fileset(read_dicomdir(root / "DICOMDIR"))
    leaf = next(n for r in tree.roots for n in r.walk() if n.file_id)
    leaf.extra.append(DataElement(0x0004151A, "UI", "1.2.840.10008.5.1.4.1.1.4"))  # Related General SOP Class
    data = bytearray(encode_dicomdir(tree.roots, "KEEP", extra=[DataElement(0x00041141, "CS", ["README"])]))
    (root / "DICOMDIR").write_bytes(bytes(data))
    last = read_dicomdir(root / "DICOMDIR").roots[-1]
    struct.pack_into("<H", data, last.offset + 8 + 12 + 8, 0)  # its Record In-use Flag (0004,1410): inactive
    (root / "DICOMDIR").write_bytes(bytes(data))
    assert len(read_dicomdir(root / "DICOMDIR").instances()) == 2

    report = add_to_fileset(root, sources[3:4])
    assert "1 inactive directory record(s) (Record In-use Flag 0000H) left out of the rewritten DICOMDIR" \
        in report.notes
    fs = read_dicomdir(root / "DICOMDIR")
    _check_tree(fs, 3)
    assert fs.dataset.FileSetDescriptorFileID == "README" and fs.file_set_id == "KEEP"
    kept = next(r for r in fs.instances() if r.sop_instance_uid == leaf.references[1])
    assert kept.dataset.ReferencedRelatedGeneralSOPClassUIDInFile == "1.2.840.10008.5.1.4.1.1.4"
    assert _dciodvfy_errors(root / "DICOMDIR") == []


# ---------------------------------------------------------------------------------------------------
# A DICOMDIR whose last record runs past its Directory Record Sequence (a real tool wrote one): DCMTK and
# pydicom read all its records, and so do we, with a correction


def _overrunning_dicomdir(root: Path, patients: int = 13, overrun: int = 24) -> Path:
    source = root / "in"
    source.mkdir(parents=True)
    for n in range(1, patients + 1):
        ds = Dataset()
        ds.SOPClassUID, ds.SOPInstanceUID = uid.SecondaryCaptureImageStorage, f"1.2.826.0.1.3680043.9.7778.{n}"
        ds.PatientName, ds.PatientID = f"Overrun^Patient{n}", f"P{n:03d}"
        ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20240101", "120000", f"S{n}", ""
        ds.StudyInstanceUID = f"1.2.826.0.1.3680043.9.7778.{100 + n}"
        ds.SeriesInstanceUID, ds.SeriesNumber, ds.Modality = f"1.2.826.0.1.3680043.9.7778.{200 + n}", 1, "OT"
        ds.InstanceNumber = 1
        ds.save(source / f"{n}.dcm")
    create_fileset(root / "fs", [source])
    path = root / "fs" / "DICOMDIR"
    data = bytearray(path.read_bytes())
    pos = data.index(b"\x04\x00\x20\x12SQ\x00\x00")  # (0004,1220): the last element of the file
    length = struct.unpack_from("<I", data, pos + 8)[0]
    assert pos + 12 + length == len(data)
    struct.pack_into("<I", data, pos + 8, length - overrun)  # the last record now runs 24 bytes past it
    path.write_bytes(bytes(data))
    return path


def test_a_last_record_running_past_its_sequence_is_read_with_a_correction(tmp_path: Path, capsys):
    path = _overrunning_dicomdir(tmp_path)
    ds = dicomkit.read(path)
    assert len(ds.DirectoryRecordSequence) == 52  # 13 x PATIENT, STUDY, SERIES, IMAGE
    assert [t for t in ds.tags() if t >> 16 != 0x0004] == []  # nothing of the last record at the top level
    fs = read_dicomdir(path)
    assert len(fs.records) == 52 and len(fs.instances()) == 13
    assert sorted(r.PatientID for r in fs.roots) == [f"P{n:03d}" for n in range(1, 14)]
    assert fs.instances()[-1].InstanceNumber == 1
    assert any("runs 24 bytes past the end of the sequence" in str(c) for c in fs.corrections)
    with pytest.raises(InvalidFileError, match="strict=True"):
        dicomkit.read(path, strict=True)

    from dicomkit.cli.main import main

    assert main(["dicomdir", "list", str(path.parent)]) == 0
    out = capsys.readouterr().out
    assert "records: PATIENT 13, STUDY 13, SERIES 13, IMAGE 13" in out
    assert out.count("IMAGE #1") == 13 and "# correction:" in out and "runs 24 bytes past" in out


@pytest.mark.interop
def test_dcmtk_and_pydicom_read_the_overrunning_dicomdir_too(tmp_path: Path):
    path = _overrunning_dicomdir(tmp_path)
    out = subprocess.run([require_tool("dcmdump"), str(path)], capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    assert out.stdout.count(b"(fffe,e000) na \"Directory Record\"") == 52
    pydicom = pytest.importorskip("pydicom")
    assert len(pydicom.dcmread(path).DirectoryRecordSequence) == 52
