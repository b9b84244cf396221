"""De-identification of data sets in memory, attribute by attribute against PS3.15 Table E.1-1."""

from __future__ import annotations

import re

import pytest

import dicomkit
from dicomkit.core.dataset import Dataset
from dicomkit.core.element import DataElement
from dicomkit.core.sequence import Sequence
from dicomkit.core.uid import UIDS
from dicomkit.deid import BurnedInAnnotationError, Deidentifier, MappingTable, Options, Region
from dicomkit.deid.profile import Profile, conformance_action, iod_table
from dicomkit.io.writer import to_bytes

from ..conftest import corpus_files, read_options
from .conftest import (
    CARRIER,
    CT_IMAGE,
    IDENT,
    TABLE_PATH,
    every_attribute,
    identifying_value,
    plain_rows,
    validate_value,
    vr_of,
)

pytestmark = pytest.mark.skipif(not TABLE_PATH.exists(), reason=f"{TABLE_PATH} not found")

_UID = re.compile(r"^2\.25\.[1-9][0-9]*$")


def _roundtrip(ds: Dataset) -> Dataset:
    return dicomkit.read(to_bytes(ds, transfer_syntax="1.2.840.10008.1.2.1"))


def _expected(profile: Profile, tag: int, parent: int, sop_class: str) -> str:
    action = profile.action(tag)
    assert action is not None
    if "/" in action:
        action = conformance_action(action, iod_table(sop_class).get((parent << 32) | tag))
    return action


def _check_level(original: Dataset, out: Dataset, profile: Profile, parent: int) -> int:
    """Check every Table E.1-1 attribute of one level; the number checked."""
    checked = 0
    for tag in plain_rows():
        if tag not in original or tag in (0x00100010, 0x00100020, 0x00080018, 0x00080016):
            continue
        vr = vr_of(tag)
        action = _expected(profile, tag, parent, CT_IMAGE)
        before = original[tag].value
        checked += 1
        if action == "X":
            assert tag not in out, f"{tag:08X} should be removed"
            continue
        assert tag in out, f"{tag:08X} ({action}) should be present"
        after = out[tag].value
        if action == "Z":
            assert (len(after) == 0) if vr == "SQ" else out[tag].length == 0, f"{tag:08X} should be empty"
        elif action == "D":
            assert out[tag].length or vr == "SQ", f"{tag:08X} needs a dummy value"
            if vr != "SQ":
                validate_value(vr, after)  # a dummy valid for its VR
                if vr not in ("US", "SS", "UL", "SL", "FL", "FD", "SV", "UV", "AT", "DS", "IS"):
                    assert str(after) != str(before), f"{tag:08X} kept its value"
            else:
                for item in after:
                    assert IDENT not in str(item.get(0x00100010, "")), f"{tag:08X} dummy item kept a name"
        elif action == "U":
            assert _UID.match(str(after)) and str(after) != str(before), f"{tag:08X} UID not replaced"
        elif action == "U*":
            for item in after:
                assert str(item.ReferencedSOPInstanceUID) != f"1.2.999.1.{tag:d}"
                assert str(item.ReferencedSOPClassUID) == CT_IMAGE
    return checked


def test_every_attribute_of_table_e1_1_top_level_and_nested() -> None:
    original = every_attribute()
    deid = Deidentifier(Options(), key="k")
    out = _roundtrip(deid.apply(original))
    profile = Profile(Options())
    assert _check_level(original, out, profile, 0) > 550
    nested_in, nested_out = original[CARRIER].value[0], out[CARRIER].value[0]
    assert _check_level(nested_in, nested_out, profile, CARRIER) > 550


def test_no_identifying_value_survives() -> None:
    original = every_attribute()
    data = to_bytes(Deidentifier(Options(), key="k").apply(original))
    assert IDENT.encode() not in data
    assert b"Doe" not in data and b"PID-12345" not in data and b"1.2.999." not in data


def test_the_original_is_left_alone_and_marks_are_set() -> None:
    original = every_attribute()
    before = to_bytes(original)
    out = Deidentifier(Options(), key="k").apply(original)
    assert to_bytes(original) == before
    assert out.PatientIdentityRemoved == "YES"
    assert out.DeidentificationMethod.startswith("dicomkit")
    assert [i.CodeValue for i in out.DeidentificationMethodCodeSequence] == ["113100"]
    assert out.DeidentificationMethodCodeSequence[0].CodingSchemeDesignator == "DCM"
    assert out.LongitudinalTemporalInformationModified == "REMOVED"
    assert out.file_meta is not None and 0x00020016 not in out.file_meta  # meta replaced (E.1.1 item 7)


@pytest.mark.parametrize("option", ["retain_uids", "retain_device_identity", "retain_institution_identity",
                                    "retain_patient_characteristics", "keep_dates"])
def test_retain_options_keep_their_column(option: str) -> None:
    options = Options(dates="keep") if option == "keep_dates" else Options(**{option: True})
    column = {"retain_uids": "rtnUIDsOpt", "retain_device_identity": "rtnDevIdOpt",
              "retain_institution_identity": "rtnInstIdOpt", "retain_patient_characteristics": "rtnPatCharsOpt",
              "keep_dates": "rtnLongFullDatesOpt"}[option]
    original = every_attribute()
    out = Deidentifier(options, key="k").apply(original)
    profile = Profile(options)
    kept = 0
    for tag, row in plain_rows().items():
        if row.get(column) == "K" and tag in original and profile.action(tag) == "K":
            assert tag in out
            if vr_of(tag) != "SQ":
                assert out[tag].value == original[tag].value, f"{tag:08X}"
            kept += 1
    assert kept >= 9


def test_shifted_dates_keep_intervals_and_times() -> None:
    deid = Deidentifier(Options(dates="shift"), key="k")
    a, b = Dataset(), Dataset()
    for ds, date in ((a, "20200131"), (b, "20200305")):
        ds.PatientID = "P1"
        ds.StudyDate = date
        ds.AcquisitionDateTime = date + "101530.5+0100"
        ds.StudyTime = "101530"
        ds.add_new(0x00189516, "DT", date + "0800")  # Start Acquisition DateTime
    oa, ob = deid.apply(a), deid.apply(b)
    assert oa.StudyDate != "20200131"
    assert (ob.StudyDate.date - oa.StudyDate.date).days == 34
    assert oa.AcquisitionDateTime.endswith("101530.5+0100") and oa.AcquisitionDateTime[:8] == oa.StudyDate
    assert oa.StudyTime == "101530"
    assert oa.LongitudinalTemporalInformationModified == "MODIFIED"
    assert [c.CodeValue for c in oa.DeidentificationMethodCodeSequence] == ["113100", "113107"]
    other = Dataset()
    other.PatientID = "P2"
    other.StudyDate = "20200131"
    days_p2 = deid.pseudonyms.date_offset("P2")
    assert deid.apply(other).StudyDate.date == (a.StudyDate.date - __import__("datetime").timedelta(days=days_p2))
    assert Deidentifier(Options(dates="keep"), key="k").apply(a).LongitudinalTemporalInformationModified == \
        "UNMODIFIED"


def _study(n: int) -> list[Dataset]:
    out = []
    for i in range(n):
        ds = Dataset()
        ds.SOPClassUID = CT_IMAGE
        ds.SOPInstanceUID = f"1.2.999.5.{i}"
        ds.StudyInstanceUID = "1.2.999.5"
        ds.SeriesInstanceUID = "1.2.999.5.100"
        ds.FrameOfReferenceUID = "1.2.999.5.200"
        ds.PatientID = "P1"
        ds.PatientName = "Doe^John"
        ref = Dataset()
        ref.ReferencedSOPClassUID = CT_IMAGE
        ref.ReferencedSOPInstanceUID = f"1.2.999.5.{(i + 1) % n}"
        series = Dataset()
        series.SeriesInstanceUID = "1.2.999.5.100"
        series.ReferencedInstanceSequence = [ref]
        ds.ReferencedSeriesSequence = [series]  # Common Instance Reference (not listed: kept, remapped)
        out.append(ds)
    return out


def test_uids_consistent_across_a_study_and_runs_and_references_resolve() -> None:
    study = _study(4)
    first = [Deidentifier(Options(), key="k1").apply(ds) for ds in study]
    again = Deidentifier(Options(), key="k1")
    second = [again.apply(ds) for ds in study]
    other = [Deidentifier(Options(), key="k2").apply(ds) for ds in study]
    assert len({str(o.StudyInstanceUID) for o in first}) == 1
    assert len({str(o.FrameOfReferenceUID) for o in first}) == 1
    assert [str(o.SOPInstanceUID) for o in first] == [str(o.SOPInstanceUID) for o in second]
    assert not {str(o.SOPInstanceUID) for o in first} & {str(o.SOPInstanceUID) for o in other}
    new_instances = {str(o.SOPInstanceUID) for o in first}
    for o in first:
        series = o.ReferencedSeriesSequence[0]
        assert str(series.SeriesInstanceUID) == str(o.SeriesInstanceUID)
        assert str(series.ReferencedInstanceSequence[0].ReferencedSOPInstanceUID) in new_instances
        assert str(series.ReferencedInstanceSequence[0].ReferencedSOPClassUID) == CT_IMAGE  # registry UID
    assert first[0].PatientID == first[1].PatientID != "P1"
    assert str(first[0].PatientName) == first[0].PatientID  # name follows the ID's pseudonym
    assert first[0].SOPClassUID == CT_IMAGE
    table = MappingTable()
    traced = Deidentifier(Options(), key="k1", table=table).apply(study[0])
    assert table.original_uid(str(traced.SOPInstanceUID)) == "1.2.999.5.0"
    assert table.patients["P1"] == traced.PatientID


def test_well_known_uids_are_never_replaced() -> None:
    ds = Dataset()
    ds.SOPClassUID = CT_IMAGE
    ds.SOPInstanceUID = "1.2.999.9"
    code = Dataset()
    code.CodeValue = "113100"
    code.CodingSchemeDesignator = "DCM"
    code.CodingSchemeUID = "1.2.840.10008.2.16.4"  # DICOM Controlled Terminology (registry)
    ds.add(DataElement(CARRIER, "SQ", Sequence([code])))
    ds.add_new(0x00181002, "UI", "1.2.840.10008.1.2.1")  # a registry UID where an instance UID may stand
    out = Deidentifier(Options(), key="k").apply(ds)
    assert out[CARRIER].value[0].CodingSchemeUID == "1.2.840.10008.2.16.4"
    assert "1.2.840.10008.2.16.4" in UIDS
    assert out[0x00181002].value == "1.2.840.10008.1.2.1"
    assert out.SOPInstanceUID != "1.2.999.9"


def test_retain_safe_private_keeps_table_e3_10_1_and_declared_blocks() -> None:
    ds = Dataset()
    ds.PatientID = "P"
    ge = ds.private_block(0x0019, "GEMS_ACQU_01", create=True)
    ge.add_new(0x23, "DS", "12.5")  # Table Speed: safe
    ge.add_new(0x10, "LO", "secret")  # not in the table
    acme = ds.private_block(0x0011, "ACME", create=True)
    acme.add_new(0x01, "LO", "Doe John")
    mine = ds.private_block(0x0013, "MINE", create=True)
    mine.add_new(0x05, "US", 7)
    mine.add_new(0x06, "LO", "Doe")
    declared = Dataset()
    declared.add_new(0x00080301, "US", 0x0013)
    declared.add_new(0x00080302, "LO", "MINE")
    declared.add_new(0x00080303, "CS", "MIXED")
    declared.add_new(0x00080304, "US", [0x05])
    ds.add(DataElement(0x00080300, "SQ", Sequence([declared])))
    plain = Deidentifier(Options(), key="k").apply(ds)
    assert not [t for t in plain.tags() if t >> 16 & 1]
    out = Deidentifier(Options(retain_safe_private=True), key="k").apply(ds)
    private = {t: out[t].value for t in out.tags() if t >> 16 & 1}
    assert private == {0x00190010: "GEMS_ACQU_01", 0x00191023: 12.5, 0x00130010: "MINE", 0x00131005: 7}
    assert [c.CodeValue for c in out.DeidentificationMethodCodeSequence] == ["113100", "113111"]


def test_clean_descriptors_remove_identifiers_from_text() -> None:
    ds = Dataset()
    ds.PatientName = "Vantreese^Quillon"
    ds.PatientID = "QV-7654321"
    ds.PatientBirthDate = "19530412"
    ds.StudyDescription = "CT chest abdomen pelvis - 55F Dr. Smith"
    ds.SeriesDescription = "Quillon VANTREESE follow-up QV-7654321 1953-04-12"
    ds.ImageComments = "call +44 113 496 0000"
    out = Deidentifier(Options(clean_descriptors=True), key="k").apply(ds)
    assert out.StudyDescription == "CT chest abdomen pelvis - 55F"
    assert out.SeriesDescription == "follow-up"
    assert out.ImageComments == "call"
    assert "StudyDescription" not in Deidentifier(Options(), key="k").apply(ds)


def test_clean_structured_content_keeps_the_tree_cleaned() -> None:
    ds = Dataset()
    ds.PatientName = "Vantreese^Quillon"
    item = Dataset()
    item.ValueType = "TEXT"
    item.RelationshipType = "CONTAINS"
    item.TextValue = "Seen by Vantreese today"
    person = Dataset()
    person.ValueType = "PNAME"
    person.PersonName = "Smith^Adam"
    uid = Dataset()
    uid.ValueType = "UIDREF"
    uid.UID = "1.2.999.3"
    ds.ContentSequence = [item, person, uid]
    basic = Deidentifier(Options(), key="k").apply(ds)
    assert basic.ContentSequence[0].TextValue == "ANONYMOUS"  # D: dummy values throughout
    assert basic.ContentSequence[0].ValueType == "TEXT"  # code strings stay
    out = Deidentifier(Options(clean_structured_content=True), key="k").apply(ds)
    assert out.ContentSequence[0].TextValue == "Seen by today"
    assert out.ContentSequence[1].PersonName == "ANONYMOUS"
    assert _UID.match(str(out.ContentSequence[2].UID))


def test_clean_graphics_and_overlays() -> None:
    ds = Dataset()
    ds.PatientName = "Doe^John"
    ds.add_new(0x60000010, "US", 2)
    ds.add_new(0x60000011, "US", 2)
    ds.add_new(0x60003000, "OW", b"\x01\x00")
    ds.add_new(0x60004000, "LT", "Doe John's overlay")
    out = Deidentifier(Options(), key="k").apply(ds)
    assert not [t for t in out.tags() if t >> 16 == 0x6000]  # overlay plane goes whole with its data
    kept = Deidentifier(Options(clean_graphics=True), key="k").apply(ds)
    assert kept[0x60003000].value == b"\x01\x00"
    assert kept[0x60004000].value == "'s overlay"


def test_keep_overrides_the_profile() -> None:
    ds = Dataset()
    ds.StudyDescription = "Knee"
    ds.PatientName = "Doe^John"
    out = Deidentifier(Options(keep=Options.parse_tags(["StudyDescription", "(0010,0010)"])), key="k").apply(ds)
    assert out.StudyDescription == "Knee" and out.PatientName == "Doe^John"


def test_burned_in_annotation_is_refused_unless_allowed_or_masked() -> None:
    pytest.importorskip("numpy")
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = "1.2.999.4"
    ds.Modality = "OT"
    ds.Rows, ds.Columns, ds.SamplesPerPixel = 4, 4, 1
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.add_new(0x7FE00010, "OB", bytes(range(1, 17)))
    with pytest.raises(BurnedInAnnotationError):
        Deidentifier(Options(), key="k").apply(ds)
    allowed = Deidentifier(Options(allow_burned_in=True), key="k").apply(ds)
    assert allowed.PixelData == bytes(range(1, 17))
    masked = Deidentifier(Options(mask=(Region(0, 0, 2, 1),)), key="k").apply(ds)
    assert bytes(masked.PixelData) == b"\x00\x00" + bytes(range(3, 17))
    assert masked.BurnedInAnnotation == "NO"
    assert "113101" in [c.CodeValue for c in masked.DeidentificationMethodCodeSequence]
    ds.BurnedInAnnotation = "NO"
    assert Deidentifier(Options(), key="k").apply(ds).PixelData == bytes(range(1, 17))


CORPUS = corpus_files()


def _ui_values(ds: Dataset) -> set[str]:
    found = set()
    for elem in ds.iterall():
        if elem.vr == "UI" and elem.length:
            value = elem.value
            found.update(str(v) for v in (value if isinstance(value, tuple) else (value,)))
    return found


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_corpus_file(path: object) -> None:
    ds = dicomkit.read(path, **read_options(path))  # type: ignore[arg-type]
    out = Deidentifier(Options(allow_burned_in=True), key="k").apply(ds)
    profile = Profile(Options())
    for elem in out.iterall():
        action = profile.action(int(elem.tag))
        assert action != "X", f"{elem.tag} should be removed"
        assert not elem.tag.is_private
    sop_class = str(ds.get("SOPClassUID") or "")
    references = "ReferencedSeriesSequence" in ds
    for tag in ds.tags():  # the top level, attribute by attribute against Table E.1-1
        action = profile.action(tag)
        if action is None or tag >> 16 == 0x6000:
            continue
        if action == "X/Z/U*" and references:
            action = "U*"
        elif "/" in action:
            action = conformance_action(action, iod_table(sop_class).get(tag))
        if action == "X":
            assert tag not in out, f"{tag:08X}"
            continue
        assert tag in out, f"{tag:08X} ({action}) missing"
        before, after = ds[tag], out[tag]
        if action == "Z" and tag not in (0x00100010, 0x00100020):
            assert after.length == 0 or (after.vr == "SQ" and not after.value), f"{tag:08X} not emptied"
        elif action == "D" and before.length and before.vr not in ("SQ", "US", "SS", "UL", "SL", "FL", "FD"):
            assert after.length and str(after.value) != str(before.value), f"{tag:08X} not replaced"
        elif action == "U" and before.length and str(before.value) not in UIDS:
            assert str(after.value) != str(before.value), f"{tag:08X} UID not replaced"
    original_uids = {u for u in _ui_values(ds) if u not in UIDS}
    structural = {str(ds.get("SOPClassUID") or "")}
    assert not (_ui_values(out) & original_uids) - structural
    if "PixelData" in ds:
        assert bytes(out["PixelData"].raw or b"") == bytes(ds["PixelData"].raw or b"")  # pixels untouched
    if "SOPInstanceUID" in ds:
        back = dicomkit.read(to_bytes(out))
        assert back.PatientIdentityRemoved == "YES"


def test_dummy_values_are_valid_for_every_vr() -> None:
    from dicomkit.deid.clean import DUMMY

    for vr, value in DUMMY.items():
        validate_value(vr, value)
        ds = Dataset()
        ds.add_new(0x00189999, vr, value)
        dicomkit.read(to_bytes(ds, file_meta=False), force=True)
    assert identifying_value(0x00100010, "PN")
