"""The Native DICOM Model (PS3.19 A.1): structure, the PS3.19 schema, the corpus through XML and back,
DCMTK's dcm2xml output read back, DCMTK's xml2dcm on our DCMTK-format output, and safe parsing."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest

import dicomkit
from dicomkit import Dataset, InvalidFileError
from dicomkit.core.vr import VR
from dicomkit.io.xml_model import NAMESPACE, from_xml, to_xml
from tests.conftest import RAW_FILES, corpus_params, require_tool
from tests.io.model_helpers import corpus_by_transfer_syntax, differences, read_corpus

DATA = Path(__file__).parent / "data"
SCHEMA = DATA / "native_dicom_model.rng"  # PS3.19 A.1.6 in RELAX NG XML syntax


def _sample() -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.ImageType = ["ORIGINAL", "", "AXIAL"]
    ds.PatientName = ("Yamada^Tarou=山田^太郎=やまだ^たろう", "^Bob^^Dr.")
    ds.PixelSpacing = ["0.50", "0.25"]
    ds.FrameIncrementPointer = (0x00181063, 0x00540010)
    ds.add_new(0x00204000, "LT", "line 1\r\nline 2 & <3> \\ kept")
    ds.add_new(0x00281201, "OW", b"\x01\x00\x02\x00")
    ds.add_new(0x00090010, "LO", "ACME 1.0")
    ds.add_new(0x00090012, "LO", "ACME 2.0")
    ds.add_new(0x00091001, "US", 7)
    ds.add_new(0x00091201, "SH", "second block")
    item = Dataset()
    item.CodeValue = "T-A0100"
    ds.ReferencedImageSequence = [item, Dataset()]
    ds.StudyDescription = ""
    return ds


def test_native_model_structure():
    xml = to_xml(_sample())
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>\n'
                          f'<NativeDicomModel xmlns="{NAMESPACE}" xml:space="preserve">')
    assert '<DicomAttribute tag="00080008" vr="CS" keyword="ImageType">' in xml
    assert '<Value number="2"/>' in xml  # the empty second value
    assert ('<PersonName number="1"><Alphabetic><FamilyName>Yamada</FamilyName><GivenName>Tarou</GivenName>'
            '</Alphabetic><Ideographic><FamilyName>山田</FamilyName><GivenName>太郎</GivenName></Ideographic>'
            '<Phonetic><FamilyName>やまだ</FamilyName><GivenName>たろう</GivenName></Phonetic></PersonName>') in xml
    assert '<PersonName number="2"><Alphabetic><GivenName>Bob</GivenName><NamePrefix>Dr.</NamePrefix>' in xml
    assert '<Value number="1">00181063</Value>' in xml  # AT as eight hexadecimal digits
    assert "line 1&#13;\nline 2 &amp; &lt;3&gt; \\ kept" in xml  # CR as a reference survives parsing
    assert "<InlineBinary>AQACAA==</InlineBinary>" in xml
    # PS3.19 A.1.5: private data elements go as gggg00ee with their creator, the creators themselves as is.
    assert '<DicomAttribute tag="00090010" vr="LO">' in xml
    assert '<DicomAttribute tag="00090001" vr="US" privateCreator="ACME 1.0">' in xml
    assert '<DicomAttribute tag="00090001" vr="SH" privateCreator="ACME 2.0">' in xml
    assert '<Item number="2"/>' in xml
    assert '<DicomAttribute tag="00081030" vr="LO" keyword="StudyDescription"/>' in xml
    back = from_xml(xml)
    assert not differences(_sample(), back, pn_components=True)
    assert back[0x00204000].value == "line 1\r\nline 2 & <3> \\ kept"


def test_ps3_18_native_model_example_reads():
    # PS3.18 F.2.1.1.1: one result of the Native DICOM Model (its xml:space sits in the XML declaration).
    ds = from_xml('<?xml version="1.0" encoding="UTF-8" xml:space="preserve" ?>\n<NativeDicomModel>\n'
                  '  <DicomAttribute tag="0020000D" vr="UI" keyword="StudyInstanceUID">\n'
                  '    <Value number="1">1.2.392.200036.9116.2.2.2.1762893313.1029997326.945873</Value>\n'
                  "  </DicomAttribute>\n</NativeDicomModel>")
    assert ds.StudyInstanceUID == "1.2.392.200036.9116.2.2.2.1762893313.1029997326.945873"


def test_private_elements_find_or_get_their_block():
    xml = (f'<NativeDicomModel xmlns="{NAMESPACE}"><DicomAttribute tag="00290010" vr="LO"><Value number="1">B'
           '</Value></DicomAttribute><DicomAttribute tag="00290010" vr="LO"/>'  # an empty creator: no block
           '<DicomAttribute tag="00290011" vr="LO"><Value number="1">A</Value></DicomAttribute>'
           '<DicomAttribute tag="00290002" vr="US" privateCreator="A"><Value number="1">5</Value></DicomAttribute>'
           '<DicomAttribute tag="00290003" vr="US" privateCreator="C"><Value number="1">6</Value></DicomAttribute>'
           "</NativeDicomModel>")
    with pytest.raises(InvalidFileError, match=r"\(0029,0010\) occurs twice"):
        from_xml(xml)
    ds = from_xml(xml.replace('<DicomAttribute tag="00290010" vr="LO"/>', ""))
    assert ds.private_block(0x0029, "A")[0x02].value == 5  # (0029,1102)
    assert ds.private_block(0x0029, "C")[0x03].value == 6  # a new block (0029,0012) for creator C
    assert ds[0x00290012].value == "C"
    assert "private creator 'C'" in str(ds.read_corrections[0])


def test_text_xml_cannot_hold_is_kept_as_inline_binary():
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.add_new(0x00204000, "LT", "page 1\x0cpage 2 é")
    xml = to_xml(ds)
    assert "<InlineBinary>" in xml
    assert from_xml(xml)[0x00204000].value == "page 1\x0cpage 2 é"


# ---------------------------------------------------------------------------------------------------
# The schema of PS3.19 A.1.6


def test_a_missing_xmllint_is_skipped_naming_its_package(monkeypatch: pytest.MonkeyPatch):
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(pytest.skip.Exception, match=r"xmllint not installed \(Debian package libxml2-utils;"):
        require_tool("xmllint")
    with pytest.raises(pytest.skip.Exception, match=r"dciodvfy not installed \(Debian package dicom3tools;"):
        require_tool("dciodvfy")


@pytest.mark.parametrize("name", ["MR-SIEMENS-DICOM-WithOverlays.dcm", "OBXXXX1A.dcm", "eCT_Supplemental.dcm",
                                  "MR2_J2KR.dcm"])
def test_our_xml_validates_against_the_ps3_19_schema(name: str, tmp_path: Path):
    exe = require_tool("xmllint")
    from tests.conftest import CORPUS

    if not (CORPUS / name).exists():
        pytest.skip(f"corpus not found at {CORPUS}")
    path = tmp_path / "out.xml"
    path.write_text(to_xml(read_corpus(CORPUS / name), include_file_meta=True), encoding="utf-8")
    out = subprocess.run([exe, "--noout", "--relaxng", str(SCHEMA), str(path)], capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode(errors="replace")[-2000:]
    (tmp_path / "bad.xml").write_text(path.read_text().replace('tag="00080016"', 'tag="0008001b"'))
    bad = subprocess.run([exe, "--noout", "--relaxng", str(SCHEMA), str(tmp_path / "bad.xml")], capture_output=True)
    assert bad.returncode != 0  # the schema does check (lower-case hex is invalid)


# ---------------------------------------------------------------------------------------------------
# The corpus through the Native DICOM Model


@pytest.mark.parametrize("path", corpus_params())
def test_corpus_through_native_xml_keeps_every_value(path: Path):
    ds = read_corpus(path)
    back = from_xml(ds.to_xml(include_file_meta=True))
    # The model keeps name components, so trailing empty ones (not significant, PS3.5 6.2.1) are not kept.
    assert not differences(ds, back, pn_components=True)
    if ds.file_meta is not None:
        assert not differences(ds.file_meta, back.file_meta)


_NATIVE, _ENCAPSULATED = corpus_by_transfer_syntax()
# DCMTK (3.6.7) converts doubles to and from text with small errors (see model_helpers.differences).
DCMTK_FLOAT_TOLERANCE = 1e-14
# Transfer syntaxes newer than DCMTK 3.6.7: HTJ2K and Deflated Image Frame Compression.
_UNKNOWN_TO_DCMTK = {"1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203",
                     "1.2.840.10008.1.2.8.1"}
DATA_SET_TRAILING_PADDING = 0xFFFCFFFC  # PS3.10 7.2: no meaning; DCMTK's xml2dcm does not write it back
_DCMTK_READS_DIFFERENTLY = {"bad_sequence.dcm": "a broken sequence DCMTK parses another way"}
_DCM2XML_FAILS = {"emri_small_jpeg_2k_lossless_too_short.dcm": "DCMTK refuses the missing delimiter"}


@pytest.mark.parametrize("path", [p for p in _NATIVE + _ENCAPSULATED
                                  if p.name not in _DCMTK_READS_DIFFERENTLY and p.name not in _DCM2XML_FAILS],
                         ids=lambda p: p.name)
def test_dcmtk_dcm2xml_native_output_reads_back_equal_to_the_file(path: Path):
    exe = require_tool("dcm2xml")
    raw = path.name in RAW_FILES
    out = subprocess.run([exe, "--native-format", "+M", "+Eb", *(["-f"] if raw else []), str(path)],
                         capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    # DCMTK 3.6.7 writes InlineBinary words big endian, and compressed Pixel Data as an empty InlineBinary.
    theirs = from_xml(out.stdout, binary_byte_order="big")
    ours = read_corpus(path)
    skip = frozenset()
    if path in _ENCAPSULATED:
        assert theirs["PixelData"].value == b""
        skip = frozenset({0x7FE00010})
    if path.name == "explicit_VR-UN.dcm":
        # DCMTK keeps explicit VR UN elements as UN; dicomkit gives known tags their dictionary VR (PS3.5
        # 6.2.2). The bytes must agree.
        for elem in ours:
            other = theirs[elem.tag]
            if other.vr is VR.UN and elem.vr is not VR.UN and elem.vr is not VR.SQ:
                assert other.value == elem.encoded(True, ours.source_encoding.charset), elem.tag
                skip |= {int(elem.tag)}
    problems = differences(ours, theirs, skip=skip, pn_components=True, float_tolerance=DCMTK_FLOAT_TOLERANCE)
    assert not problems, problems[:5]


# ---------------------------------------------------------------------------------------------------
# DCMTK's xml2dcm reads our DCMTK-format output (it reads no Native DICOM Model, see docs/formats.md)


def _xml2dcm_params() -> list[Path]:
    paths = [p for p in _NATIVE + _ENCAPSULATED if p.name not in RAW_FILES
             and p.name not in _DCMTK_READS_DIFFERENTLY and p.name not in _DCM2XML_FAILS]
    return [p for p in paths if str(read_corpus(p).transfer_syntax) not in _UNKNOWN_TO_DCMTK]


@pytest.mark.parametrize("path", _xml2dcm_params(), ids=lambda p: p.name)
def test_dcmtk_xml2dcm_reads_our_dcmtk_format(path: Path, tmp_path: Path):
    exe = require_tool("xml2dcm")
    ours = read_corpus(path)
    (tmp_path / "in.xml").write_text(to_xml(ours, dialect="dcmtk", include_file_meta=True), encoding="utf-8")
    out = subprocess.run([exe, str(tmp_path / "in.xml"), str(tmp_path / "out.dcm")], capture_output=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    theirs = dicomkit.read(tmp_path / "out.dcm")
    assert theirs.transfer_syntax == ours.transfer_syntax
    problems = differences(ours, theirs, pn_components=True, float_tolerance=DCMTK_FLOAT_TOLERANCE,
                           skip=frozenset({DATA_SET_TRAILING_PADDING}))
    assert not problems, problems[:5]


# ---------------------------------------------------------------------------------------------------
# Safe parsing and malformed documents

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<NativeDicomModel><DicomAttribute tag="00100010" vr="PN"><PersonName number="1"><Alphabetic>
<FamilyName>&lol3;</FamilyName></Alphabetic></PersonName></DicomAttribute></NativeDicomModel>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<NativeDicomModel><DicomAttribute tag="00100020" vr="LO"><Value number="1">&secret;</Value></DicomAttribute>
</NativeDicomModel>"""


@pytest.mark.parametrize("text", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion-laughs", "external-entity"])
def test_entities_are_refused(text: str):
    with pytest.raises(InvalidFileError, match="DOCTYPE are not accepted"):
        from_xml(text)


def _doc(body: str) -> str:
    return f'<NativeDicomModel xmlns="{NAMESPACE}">{body}</NativeDicomModel>'


MALFORMED_XML = [
    ("<NativeDicomModel><DicomAttribute>", "not well-formed XML: no element found at line 1"),
    ("<file-format><data-set/></file-format>", "DCMTK's own XML format"),
    ("<html/>", "root element is <html>"),
    ('<NativeDicomModel xmlns="urn:other"/>', "in the namespace 'urn:other'"),
    (_doc('<DicomAttribute tag="0010010" vr="LO"/>'), "tag must be eight hexadecimal digits"),
    (_doc('<DicomAttribute tag="00100020" vr="XX"/>'), "vr must be one of"),
    (_doc('<Attribute tag="00100020"/>'), "/NativeDicomModel/Attribute (line 1): unexpected element <Attribute>"),
    (_doc('<DicomAttribute tag="00280010" vr="US"><Value number="1">big</Value></DicomAttribute>'),
     '/NativeDicomModel/DicomAttribute[@tag="00280010"]/Value[@number="1"] (line 1): not a US number'),
    (_doc('<DicomAttribute tag="00280010" vr="US"><Value number="2">1</Value></DicomAttribute>'),
     "Value numbers must run 1..1"),
    (_doc('<DicomAttribute tag="00280010" vr="US"><Value>1</Value></DicomAttribute>'),
     "Value needs a number attribute"),
    (_doc('<DicomAttribute tag="00100010" vr="PN"><Value number="1">x</Value></DicomAttribute>'),
     "Value elements in a PN attribute"),
    (_doc('<DicomAttribute tag="00100010" vr="PN"><PersonName number="1"><Latin/></PersonName></DicomAttribute>'),
     'PersonName[@number="1"] (line 1): unexpected element <Latin> in PersonName'),
    (_doc('<DicomAttribute tag="7FE00010" vr="OB"><InlineBinary>***</InlineBinary></DicomAttribute>'),
     "InlineBinary is not valid base64"),
    (_doc('<DicomAttribute tag="7FE00010" vr="OB"><InlineBinary>AA==</InlineBinary><Value number="1"/>'
          "</DicomAttribute>"), "one kind of content"),
    (_doc('<DicomAttribute tag="00081140" vr="SQ"><Item number="1"/><Item number="2">\n<DicomAttribute '
          'tag="00280010" vr="US"><Value number="1">-1</Value></DicomAttribute></Item></DicomAttribute>'),
     '/NativeDicomModel/DicomAttribute[@tag="00081140"]/Item[@number="2"]/DicomAttribute[@tag="00280010"] '
     "(line 2): (0028,0010) Rows: -1 is out of range for US"),
    (_doc('<DicomAttribute tag="00280009" vr="AT"><Value number="1">(0018,1063)</Value></DicomAttribute>'),
     "an AT value is eight hexadecimal digits"),
    (_doc('<DicomAttribute tag="00100020" vr="LO">text<Value number="1">x</Value></DicomAttribute>'),
     "text directly inside DicomAttribute"),
    (_doc('<DicomAttribute tag="7FE00010" vr="OB"><BulkData/></DicomAttribute>'), "BulkData needs a uri or uuid"),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED_XML, ids=[m for _, m in MALFORMED_XML])
def test_malformed_xml_is_refused_naming_where(text: str, message: str):
    with pytest.raises(InvalidFileError) as info:
        from_xml(text)
    assert message in str(info.value)


def test_nesting_is_bounded():
    deep = ('<DicomAttribute tag="00081140" vr="SQ"><Item number="1">' * 70
            + "</Item></DicomAttribute>" * 70)
    with pytest.raises(InvalidFileError, match="nested deeper than"):
        from_xml(_doc(deep))


def test_bulk_data_references_need_a_reader():
    xml = _doc('<DicomAttribute tag="7FE00010" vr="OW"><BulkData uri="http://server/bulk/7"/></DicomAttribute>')
    ds = from_xml(xml)
    assert ds.is_partial and "http://server/bulk/7" in str(ds.read_corrections[0])
    seen = []

    def reader(tag: object, vr: object, uri: str) -> bytes:
        seen.append((tag, vr, uri))
        return b"\x01\x00\x02\x00"

    assert from_xml(xml, bulk_data_reader=reader).PixelData == b"\x01\x00\x02\x00"
    assert seen == [(0x7FE00010, VR.OW, "http://server/bulk/7")]


def test_xml_from_a_byte_stream_with_another_encoding():
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = "Müller^Jürgen"
    latin = to_xml(ds).replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').encode("latin_1")
    assert from_xml(latin).PatientName == "Müller^Jürgen"
    buf = io.BytesIO(latin)
    assert from_xml(buf.getvalue()).SpecificCharacterSet == "ISO_IR 100"
