"""Structured Reports: the content tree read as DCMTK's dsrdump shows it, built documents accepted by dsrdump and
dciodvfy, the templates, and ``dicomkit sr show``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import dicomkit
from dicomkit.cli.main import main
from dicomkit.io.writer import to_bytes
from dicomkit.sr import (
    COMPREHENSIVE_3D_SR,
    KEY_OBJECT_SELECTION,
    Code,
    MeasurementGroup,
    MeasurementSpec,
    Reference,
    SRDocument,
    SRError,
    build_sr,
    by_reference,
    composite,
    container,
    date_item,
    datetime_item,
    dcm,
    image,
    key_object_selection,
    measurement_report,
    num,
    pname,
    scoord3d,
    sct,
    tcoord,
    text,
    time_item,
    to_text,
    ucum,
    uidref,
    waveform,
)

from ..conftest import CORPUS, require_tool

CT = CORPUS / "693_UNCR.dcm"
# An SR written by DCMTK (its mkreport sample), shipped in pydicom's test data.
DCMTK_SAMPLE = Path(__import__("pydicom").__file__).parent / "data" / "test_files" / "test-SR.dcm"
FULL = ["+Pl", "+Pu", "+Psu", "+Pc", "+U8"]  # every code, UID and long value; UTF-8
DATA = Path(__file__).parent / "data"


def dsrdump_text(path: Path) -> str:
    """What dsrdump shows: the header and the content tree."""
    out = subprocess.run([require_tool("dsrdump"), *FULL, str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def ours_text(path: Path) -> str:
    return to_text(SRDocument.read(path))


def xml2dsr(xml: Path, out: Path) -> Path:
    done = subprocess.run([require_tool("xml2dsr"), str(xml), str(out)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return out


def dciodvfy_errors(path: Path) -> list[str]:
    """dciodvfy's errors, after checking that our validator finds none either."""
    from dicomkit.validate import validate_file

    assert [str(f) for f in validate_file(path).errors] == []
    out = subprocess.run([require_tool("dciodvfy"), str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in (out.stdout + out.stderr).splitlines() if line.startswith("Error")]


@pytest.fixture(scope="module")
def ct() -> dicomkit.Dataset:
    if not CT.exists():
        pytest.skip(f"corpus not found at {CORPUS}")
    return dicomkit.read(CT, stop_before_pixels=True)


def every_value_type(ct: dicomkit.Dataset) -> dicomkit.Dataset:
    """A Comprehensive 3D SR with one item of every value type, a qualifier and by-reference relationships."""
    ref = Reference.to(ct)
    root = container(dcm("126000", "Imaging Measurement Report"))
    root.contains(text(dcm("121071", "Finding"), "a nodule\nof 3 mm, ünïcode"))
    root.contains(scoord3d(dcm("111030", "Image Region"), "POLYGON",
                           [(1.5, -2.25, 30.0), (4.0, 5.0, 30.0), (1.5, -2.25, 30.0)], "1.2.3.4.77"))
    length = root.contains(num(sct("410668003", "Length"), 3.25, ucum("mm", "millimeter")))
    length.add("INFERRED FROM", by_reference((1, 2)))
    root.contains(num(sct("410668003", "Length"), None, None, qualifier=dcm("114006", "Measurement failure")))
    root.contains(datetime_item(dcm("111526", "DateTime Started"), "20240102030405"))
    root.contains(date_item(dcm("111536", "Date"), "20240102"))
    root.contains(time_item(dcm("111537", "Time"), "030405"))
    root.contains(pname(dcm("121008", "Person Observer Name"), "Doe^Jane"))
    root.contains(uidref(dcm("112040", "Tracking Unique Identifier"), "1.2.3.4.5.6"))
    root.contains(composite(dcm("121112", "Source of Measurement"), ref))
    root.contains(waveform(None, Reference("1.2.840.10008.5.1.4.1.1.9.1.1", "1.2.3.4.9", channels=((1, 2), (1, 3)),
                                           study_uid=str(ct.StudyInstanceUID), series_uid="1.2.3.4.8")))
    t = root.contains(tcoord(dcm("111030", "Image Region"), "SEGMENT", time_offsets=(0.5, 1.25)))
    t.add("SELECTED FROM", by_reference((1, 12)))
    shown = root.contains(image(None, ref))
    shown.add("HAS CONCEPT MOD", text(dcm("111060", "Comment"), "key image"))
    return build_sr(root, source=ct, verifying_observer=("Doe^John", "Hospital"))


@pytest.mark.interop
def test_dcmtk_sample_reads_as_dsrdump_shows_it():
    if not DCMTK_SAMPLE.exists():
        pytest.skip(f"DCMTK's sample SR not found at {DCMTK_SAMPLE}")
    assert ours_text(DCMTK_SAMPLE) == dsrdump_text(DCMTK_SAMPLE)
    doc = SRDocument.read(DCMTK_SAMPLE)
    assert doc.verification_flag == "VERIFIED" and len(doc.verifying_observers) == 2
    (diameter, _) = doc.find("Diameter")
    assert diameter.value.number == 3.0 and diameter.value.unit == Code("cm", "99_OFFIS_DCMTK", "")
    (ref,) = [i for i in doc.content.walk() if i.is_reference and i.relationship == "SELECTED FROM"]
    assert ref.target().value_type == "SCOORD" and ref.target().value.graphic_type == "CIRCLE"
    image_item = next(i for i in doc.content.walk() if i.value_type == "IMAGE")
    assert image_item.value.frames == (5, 2) and image_item.value.presentation_state is not None


@pytest.mark.interop
def test_every_value_type_is_accepted_by_dsrdump_and_dciodvfy(ct, tmp_path):
    ds = every_value_type(ct)
    assert ds.SOPClassUID == COMPREHENSIVE_3D_SR
    path = tmp_path / "all.dcm"
    ds.save(path)
    assert ours_text(path) == dsrdump_text(path)
    assert dciodvfy_errors(path) == []
    doc = SRDocument.read(path)
    types = {i.value_type for i in doc.content.walk()}
    assert types >= {"CONTAINER", "TEXT", "NUM", "SCOORD3D", "DATETIME", "DATE", "TIME", "PNAME", "UIDREF",
                     "COMPOSITE", "WAVEFORM", "TCOORD", "IMAGE"}
    (failed,) = [i for i in doc.find("Length") if i.value.value is None]
    assert failed.value.qualifier == dcm("114006", "Measurement failure")
    assert doc.find("Length")[0].children[0].target().value.frame_of_reference_uid == "1.2.3.4.77"
    assert doc.find(sct("410668003", "anything"))[0].value.number == 3.25  # codes compare without meaning


@pytest.mark.interop
def test_dcmtk_encoded_copy_reads_the_same(ct, tmp_path):
    """dsr2xml then xml2dsr: DCMTK writes the document anew; we read its file as dsrdump does."""
    ours = tmp_path / "ours.dcm"
    every_value_type(ct).save(ours)
    xml = tmp_path / "report.xml"
    done = subprocess.run([require_tool("dsr2xml"), str(ours), str(xml)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    theirs = xml2dsr(xml, tmp_path / "dcmtk.dcm")
    assert "OFFIS" in str(dicomkit.read(theirs).file_meta.ImplementationVersionName)
    assert ours_text(theirs) == dsrdump_text(theirs)
    assert to_text(SRDocument.read(theirs), header=False) == to_text(SRDocument.read(ours), header=False)


@pytest.mark.interop
def test_report_written_by_xml2dsr(tmp_path):
    """An Enhanced SR that DCMTK's xml2dsr makes from a document of ours in its XML format."""
    path = xml2dsr(DATA / "chest_report.xml", tmp_path / "chest.dcm")
    assert ours_text(path) == dsrdump_text(path)
    doc = SRDocument.read(path)
    assert doc.completion_flag == "PARTIAL" and doc.sop_class_uid == "1.2.840.10008.5.1.4.1.1.88.22"
    assert doc.find("Person Observer Name")[0].value == "Reader^Ann"
    assert [i.value_type for i in doc.find("Finding")] == ["TEXT", "CODE"]
    assert doc.find("Length")[0].value.unit == ucum("mm")


@pytest.mark.interop
def test_measurement_report_tid1500(ct, tmp_path):
    ref = Reference.to(ct)
    group = MeasurementGroup("lesion 1", [
        MeasurementSpec(sct("410668003", "Length"), 12.5, ucum("mm", "millimeter"),
                        region=("POLYLINE", [(10.0, 10.0), (20.5, 30.25)], ref)),
        MeasurementSpec(sct("42798000", "Area"), 91.0, ucum("mm2", "square millimeter"))],
        finding=sct("52988006", "Lesion"), finding_site=sct("10200004", "Liver"))
    root = measurement_report(sct("77477000", "Computerized tomography"), [group], observer_name="Doe^Jane")
    path = tmp_path / "tid1500.dcm"
    build_sr(root, source=ct).save(path)
    assert dciodvfy_errors(path) == []
    assert ours_text(path) == dsrdump_text(path)
    doc = SRDocument.read(path)
    assert doc.content.value.template == "1500"
    assert [m.value.value for m in doc.find("Measurement Group")[0].find(value_type="NUM", concept="Length")] \
        == ["12.5"]
    assert doc.find("Tracking Identifier")[0].value == "lesion 1"
    ds = dicomkit.read(path)
    evidence = ds.CurrentRequestedProcedureEvidenceSequence[0]
    assert evidence.ReferencedSeriesSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID \
        == ct.SOPInstanceUID
    assert ds.PatientID == ct.PatientID and ds.StudyInstanceUID == ct.StudyInstanceUID


@pytest.mark.interop
def test_key_object_selection_tid2010(ct, tmp_path):
    root = key_object_selection([Reference.to(ct)], description="for the tumour board", observer_name="Doe^J")
    path = tmp_path / "kos.dcm"
    build_sr(root, source=ct, sop_class_uid=KEY_OBJECT_SELECTION).save(path)
    assert dciodvfy_errors(path) == []
    assert ours_text(path) == dsrdump_text(path)
    ds = dicomkit.read(path)
    assert ds.Modality == "KO" and "CompletionFlag" not in ds
    assert SRDocument.read(path).references()[0].sop_instance_uid == ct.SOPInstanceUID


def test_round_trip_keeps_the_tree(ct):
    ds = every_value_type(ct)
    first = SRDocument.from_dataset(ds)
    again = SRDocument.from_dataset(dicomkit.read(to_bytes(ds)))
    assert to_text(first, header=False) == to_text(again, header=False)
    assert [i.position for i in again.content.walk()][:3] == [(1,), (1, 1), (1, 2)]


def test_errors_name_the_item(ct):
    with pytest.raises(SRError, match="not an SR document"):
        SRDocument.from_dataset(ct)
    root = container(dcm("126000", "Report"))
    root.contains(num(sct("410668003", "Length"), 1, None))
    with pytest.raises(SRError, match=r"1\.1 \(NUM\).*unit"):
        build_sr(root)
    with pytest.raises(SRError, match="series UID"):
        build_sr(key_object_selection([Reference("1.2.840.10008.5.1.4.1.1.2", "1.2.3")]),
                 sop_class_uid=KEY_OBJECT_SELECTION)
    with pytest.raises(ValueError, match="relationship"):
        root.add("HAS PARENT", text(dcm("1", "x"), "y"))


def test_cli_text_and_html(ct, tmp_path, capsys):
    path = tmp_path / "sr.dcm"
    every_value_type(ct).save(path)
    assert main(["sr", "show", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Comprehensive 3D SR Document\n") and "Verification Flag   : VERIFIED" in out
    assert '<contains NUM:(410668003,SCT,"Length")="3.25" (mm,UCUM,"millimeter")>' in out
    page = tmp_path / "sr.html"
    assert main(["sr", "show", str(path), "--html", "-o", str(page)]) == 0
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "Imaging Measurement Report" in html and "3.25 mm" in html
    assert main(["sr", "show", str(CT)]) == 1
    assert "not an SR document" in capsys.readouterr().err
