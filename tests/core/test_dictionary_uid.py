import pytest

from dicomkit import uid
from dicomkit.core.dictionary import lookup, tag_for_keyword, vr_for_tag
from dicomkit.core.errors import InvalidValueError, UnsupportedTransferSyntaxError
from dicomkit.core.uid import UID, generate_uid, storage_sop_classes


def test_dictionary_entries():
    entry = lookup(0x00100010)
    assert entry is not None
    assert (entry.vr, entry.vm, entry.keyword, entry.retired) == ("PN", "1", "PatientName", False)
    assert vr_for_tag(0x7FE00010) == "OB or OW"
    assert vr_for_tag(0x00280106) == "US or SS"
    assert tag_for_keyword("StudyInstanceUID") == 0x0020000D
    assert lookup(0x00291010) is None


def test_repeating_groups_resolve():
    assert lookup(0x60003000).keyword == "OverlayData"
    assert lookup(0x601E3000).keyword == "OverlayData"
    assert lookup(0x50000005).keyword == "CurveDimensions"
    assert lookup(0x7F020010).keyword == "VariablePixelData"
    assert lookup(0x00081000 | 0).keyword  # an ordinary tag still works
    # group length of any standard group
    assert lookup(0x00080000).vr == "UL"


def test_uid_keywords_and_properties():
    assert uid.CTImageStorage == "1.2.840.10008.5.1.4.1.1.2"
    assert uid.CTImageStorage.name == "CT Image Storage"
    ts = uid.ExplicitVRBigEndian
    assert not ts.is_little_endian and not ts.is_implicit_VR and not ts.is_encapsulated
    assert uid.ImplicitVRLittleEndian.is_implicit_VR
    assert uid.DeflatedExplicitVRLittleEndian.is_deflated
    assert uid.JPEGBaseline8Bit.is_encapsulated and not uid.JPEGBaseline8Bit.is_lossless
    assert uid.JPEG2000Lossless.is_lossless and uid.JPEG2000Lossless.is_compressed
    assert uid.RLELossless.is_lossless
    assert uid.HTJ2K.is_encapsulated
    assert UID("1.2.840.10008.1.2.8.1").is_encapsulated  # Deflated Image Frame Compression
    with pytest.raises(AttributeError):
        _ = uid.NoSuchKeyword
    with pytest.raises(UnsupportedTransferSyntaxError):
        _ = UID("1.2.3").is_little_endian


def test_every_registered_transfer_syntax_has_properties():
    from dicomkit.core._uid_data import UIDS

    for value, entry in UIDS.items():
        if entry[1] == "Transfer Syntax" and value not in ("1.2.840.10008.1.2.6.1", "1.2.840.10008.1.2.6.2"):
            assert UID(value).is_transfer_syntax, value


def test_uid_validity():
    assert UID("1.2.840.10008.1.2").is_valid
    assert not UID("1.02.3").is_valid
    assert not UID("1.2." + "1" * 70).is_valid
    assert not UID("1..2").is_valid


def test_generate_uid():
    a, b = generate_uid(), generate_uid()
    assert a != b and a.startswith("2.25.") and a.is_valid and len(a) <= 64
    p = generate_uid("1.2.3.")
    assert p.startswith("1.2.3.") and p.is_valid and len(p) == 64
    assert generate_uid("1.2.3.", entropy="x") == generate_uid("1.2.3.", entropy="x")
    assert generate_uid(entropy="abc") == generate_uid(entropy="abc")
    with pytest.raises(InvalidValueError):
        generate_uid("1.2.3")


def test_storage_sop_classes_derived_from_registry():
    classes = storage_sop_classes()
    assert uid.CTImageStorage in classes
    assert uid.MRImageStorage in classes
    assert len(classes) > 100
    assert all(c.is_storage_sop_class for c in classes)


def test_storage_sop_classes_include_suffixed_and_retired_names():
    classes = set(storage_sop_classes())
    # "... Storage - For Presentation/Processing" (keywords ending ForPresentation/ForProcessing)
    assert "1.2.840.10008.5.1.4.1.1.1.1" in classes  # Digital X-Ray Image Storage - For Presentation
    assert "1.2.840.10008.5.1.4.1.1.1.2.1" in classes  # Digital Mammography X-Ray ... - For Processing
    # retired classes that old modalities still send (keyword ...StorageRetired)
    assert "1.2.840.10008.5.1.4.1.1.6" in classes  # Ultrasound Image Storage (Retired)
    assert "1.2.840.10008.5.1.4.1.1.88.1" in classes  # Text SR Storage - Trial (Retired)
    assert "1.2.840.10008.5.1.4.1.1.6" not in set(storage_sop_classes(include_retired=False))
    # not storage classes of PS3.4 Annex B
    assert "1.2.840.10008.1.20.1" not in classes  # Storage Commitment Push Model
    assert "1.2.840.10008.1.3.10" not in classes  # Media Storage Directory Storage (DICOMDIR)
    assert not uid.StorageCommitmentPushModel.is_storage_sop_class
    assert uid.DigitalXRayImageStorageForProcessing.is_storage_sop_class
