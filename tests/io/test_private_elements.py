"""Private elements of known creators (PS3.5 7.8): read with the vendor dictionary's VR in Implicit VR, Private
Creators as LO in every encoding, and their names in ``dicomkit dump`` — compared with the vendor's own
explicit VRs, with dcmdump (DCMTK ships the same private dictionary) and with pydicom."""

from __future__ import annotations

import io
import re
import subprocess
from contextlib import redirect_stdout
from pathlib import Path

import pytest

import dicomkit
from dicomkit import DataElement, Dataset
from dicomkit.cli.main import main
from dicomkit.core.dictionary import private_lookup
from dicomkit.core.uid import ImplicitVRLittleEndian
from dicomkit.core.vr import VR
from tests.conftest import corpus_file, require_tool
from tests.io.test_dcmdump_agreement import LINE, agreement_problems, dcmdump_rows

# Corpus files with private blocks of creators the dictionary knows (and one, OBXXXX1A, of creators it does
# not), and whether DCMTK must decompress them before dcmconv can write Implicit VR.
VENDOR_FILES = {
    "MR-SIEMENS-DICOM-WithOverlays.dcm": False,  # SIEMENS MEDCOM HEADER / OOG
    "JPEG2000_UNC.dcm": False,  # GEMS_GENIE_1 in three groups
    "OBXXXX1A.dcm": False,  # Philips US Imaging DD 109/113: unknown, with private sequences
    "JPEG-LL.dcm": True,  # GEMS_GENIE_1, JPEG Lossless
    "JPGLosslessP14SV1_1s_1f_8b.dcm": True,  # KINETDX, Philips Imaging DD 001, Philips US Imaging DD 0xx
}


def _private_data_elements(ds: Dataset, path: str = "") -> list[tuple[str, Dataset, DataElement]]:
    """(where, the data set holding it, element) of every private data element, recursively."""
    out = []
    for elem in ds:
        where = f"{path}{elem.tag}"
        if elem.vr is VR.SQ:
            for i, item in enumerate(elem.value):
                out += _private_data_elements(item, f"{where}[{i}].")
        elif elem.tag.is_private and not elem.tag.is_private_creator and elem.tag.element >= 0x1000:
            out.append((where, ds, elem))
    return out


def _entry(ds: Dataset, tag: int):
    creator = ds.get((tag & 0xFFFF0000) | ((tag >> 8) & 0xFF))
    return private_lookup(str(creator.value), tag >> 16, tag & 0xFFFF) if creator is not None else None


@pytest.fixture(scope="module")
def implicit_copies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Implicit VR Little Endian copies of the vendor files, written by DCMTK's dcmconv +ti."""
    dcmconv = require_tool("dcmconv")
    out = tmp_path_factory.mktemp("implicit")
    copies = {}
    for name, compressed in VENDOR_FILES.items():
        source = corpus_file(name)
        if compressed:
            plain = out / f"plain-{name}"
            subprocess.run([require_tool("dcmdjpeg"), str(source), str(plain)], check=True, capture_output=True,
                           timeout=120)
            source = plain
        target = out / name
        subprocess.run([dcmconv, "+ti", str(source), str(target)], check=True, capture_output=True, timeout=120)
        copies[name] = target
    return copies


# ---------------------------------------------------------------------------------------------------
# Reading, with the vendor's explicit VRs as the oracle (no peer needed)


def _implicit_bytes(ds: Dataset) -> bytes:
    buf = io.BytesIO()
    dicomkit.write(ds, buf, transfer_syntax=str(ImplicitVRLittleEndian), file_meta="SOPClassUID" in ds)
    return buf.getvalue()


@pytest.mark.parametrize("name", ["MR-SIEMENS-DICOM-WithOverlays.dcm", "JPEG2000_UNC.dcm", "OBXXXX1A.dcm"])
def test_implicit_vr_private_elements_get_the_vendors_vr_and_value(name: str):
    explicit = dicomkit.read(corpus_file(name))
    implicit = dicomkit.read(_implicit_bytes(explicit))
    theirs = {where: elem for where, _, elem in _private_data_elements(explicit)}
    known = 0
    for where, ds, elem in _private_data_elements(implicit):
        entry = _entry(ds, int(elem.tag))
        vendor = theirs[where]
        if entry is None or entry.vr == "SQ":
            assert elem.vr in (VR.UN, VR.SQ), where
            continue
        known += 1
        assert elem.vr is vendor.vr, f"{where}: {elem.vr} (dictionary) != {vendor.vr} (the vendor's explicit VR)"
        assert elem.value == vendor.value, where
    # every creator element is LO, in the data set and in the items of private sequences
    creators = [e for e in implicit.iterall() if e.tag.is_private_creator]
    assert creators and all(e.vr is VR.LO and isinstance(e.value, str) for e in creators)
    assert known == {"MR-SIEMENS-DICOM-WithOverlays.dcm": 7, "JPEG2000_UNC.dcm": 62, "OBXXXX1A.dcm": 0}[name]


def test_values_that_do_not_fit_the_dictionary_vr_stay_un():
    ds = Dataset()
    ds.add_new(0x00290010, "LO", "SIEMENS MEDCOM HEADER")
    ds.add_new(0x00291031, "UN", b"4.0.12412818")  # LO in the dictionary
    ds.add_new(0x00291032, "UN", b"\x01\x00\x00\x00\x00\x00")  # UL in the dictionary, but 6 bytes
    ds.add_new(0x00291033, "UN", b"\x05\x00\x00\x00")  # UL
    ds.add_new(0x00291099, "UN", b"\x01\x02")  # not in the dictionary
    ds.add_new(0x00311010, "UN", b"\x01\x02")  # no creator
    back = dicomkit.read(_implicit_bytes(ds), force=True)
    tags = (0x00291031, 0x00291032, 0x00291033, 0x00291099, 0x00311010)
    assert [(back[t].vr.value, back[t].value) for t in tags] == [
        ("LO", "4.0.12412818"), ("UN", b"\x01\x00\x00\x00\x00\x00"), ("UL", 5), ("UN", b"\x01\x02"),
        ("UN", b"\x01\x02")]


def test_private_creators_written_as_un_in_explicit_vr_are_lo():
    # Converters that did not know the creators' VR write them as UN (PS3.5 7.8.1 makes them LO): read them
    # as LO, and the elements of their blocks with the dictionary's VR, as for standard tags (PS3.5 6.2.2).
    ds = Dataset()
    ds.add_new(0x00290010, "UN", b"SIEMENS MEDCOM HEADER ")
    ds.add_new(0x00290011, "UN", b"SIEMENS MEDCOM OOG")
    ds.add_new(0x00291032, "UN", b"\x20\x26\x07\x00")
    ds.add_new(0x00291108, "UN", b"MEDCOM OOG 2")
    buf = io.BytesIO()
    dicomkit.write(ds, buf, transfer_syntax="1.2.840.10008.1.2.1", file_meta=False)
    back = dicomkit.read(buf.getvalue(), force=True)
    assert back[0x00290010].vr is VR.LO and back[0x00290010].value == "SIEMENS MEDCOM HEADER"
    assert back.private_creators(0x0029) == ["SIEMENS MEDCOM HEADER", "SIEMENS MEDCOM OOG"]
    assert (back[0x00291032].vr, back[0x00291032].value) == (VR.UL, 468512)
    assert (back[0x00291108].vr, back[0x00291108].value) == (VR.CS, "MEDCOM OOG 2")
    assert back.private_block(0x0029, "SIEMENS MEDCOM OOG")[0x08].value == "MEDCOM OOG 2"


# ---------------------------------------------------------------------------------------------------
# DCMTK: dcmdump reads both encodings with the same private dictionary


def _dump_rows(args: list[str]) -> dict[tuple[int, int], tuple[str, str]]:
    """(depth, tag) -> (VR, name) of the private data element rows of a dcmdump-style listing."""
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["dump", *args]) == 0
    return _rows(out.getvalue())


_ROW = re.compile(LINE.pattern.replace(r"(?P<len>u/l|\d+)", r"(?P<len>u/l|-|\d+)"))


def _rows(text: str) -> dict[tuple[int, int], tuple[str, str]]:
    rows = {}
    for line in text.splitlines():
        m = _ROW.match(line)
        if m and int(m["g"], 16) & 1 and int(m["e"], 16) >= 0x1000:
            rows[(len(m["indent"]) // 2, int(m["g"] + m["e"], 16))] = (m["vr"], m["name"])
    return rows


@pytest.mark.interop
@pytest.mark.parametrize("encoding", ["explicit", "implicit"])
@pytest.mark.parametrize("name", list(VENDOR_FILES))
def test_values_and_names_agree_with_dcmdump(name: str, encoding: str, implicit_copies: dict[str, Path]):
    path = implicit_copies[name] if encoding == "implicit" else corpus_file(name)
    theirs = dcmdump_rows(path, False)
    ds = dicomkit.read(path)
    problems = agreement_problems(path, ds, theirs)  # order, VR, length and value of every element
    assert not problems, "\n".join(problems[:10])
    # names: dcmdump's listing and ours, private data elements only (nested ones at their depth)
    dcmdump = subprocess.run([require_tool("dcmdump"), "-q", "-Un", str(path)], capture_output=True, timeout=120)
    reference = _rows(dcmdump.stdout.decode("utf-8", "replace"))
    ours = _dump_rows(["--all", str(path)])
    # items are indented by two spaces per level in both; we also list the items of private UN values that
    # are item sequences (which dcmdump shows as bytes)
    assert reference.keys() <= ours.keys()
    named = 0
    for key, (_, their_name) in reference.items():
        our_name = ours[key][1]
        if their_name == "Unknown Tag & Data":
            assert our_name == "PrivateTagData", f"{dicomkit.Tag(key[1])}: {our_name}"
        else:
            named += 1
            assert our_name == their_name, f"{dicomkit.Tag(key[1])}: {our_name} != dcmdump {their_name}"
    assert named == sum(1 for _, ds_, e in _private_data_elements(ds) if _entry(ds_, int(e.tag)))


# ---------------------------------------------------------------------------------------------------
# pydicom: its own private dictionary (a different collection); where both give a VR, the values agree


@pytest.mark.interop
@pytest.mark.parametrize("name", list(VENDOR_FILES))
def test_implicit_values_agree_with_pydicom_where_its_dictionary_agrees(name: str,
                                                                       implicit_copies: dict[str, Path]):
    pydicom = pytest.importorskip("pydicom", reason="pydicom (dev extra) is the oracle for this test")
    from tests.io.test_pydicom_oracle import _norm

    path = implicit_copies[name]
    ours = dicomkit.read(path)
    theirs = pydicom.dcmread(path)
    same_vr = 0
    for where, _, elem in _private_data_elements(ours):
        if "[" in where:
            continue  # nested: pydicom's own reading of private sequences differs (kept UN or parsed)
        pe = theirs[int(elem.tag)]
        if elem.vr is VR.UN or str(pe.VR) != elem.vr.value:
            continue
        same_vr += 1
        mine, reference = _norm(elem.vr.value, elem.value), _norm(str(pe.VR), pe.value)
        if elem.vr.value in ("FL", "FD", "DS"):
            assert mine == pytest.approx(reference), where
        else:
            assert mine == reference, where
    for elem in ours:  # pydicom too reads every creator as LO
        if elem.tag.is_private_creator:
            assert str(theirs[int(elem.tag)].VR) == "LO" and theirs[int(elem.tag)].value == elem.value
    # elements compared: where both dictionaries know the element and give it the same VR
    assert same_vr == {"MR-SIEMENS-DICOM-WithOverlays.dcm": 7, "JPEG2000_UNC.dcm": 58, "JPEG-LL.dcm": 58,
                       "OBXXXX1A.dcm": 0, "JPGLosslessP14SV1_1s_1f_8b.dcm": 1}[name]


def test_dump_shows_private_names_of_nested_items_from_their_own_creators():
    item = Dataset()
    item.add_new(0x00290010, "LO", "SIEMENS MEDCOM HEADER")
    item.add_new(0x00291031, "LO", "4.0")
    ds = Dataset()
    ds.add_new(0x00290010, "LO", "GEMS_GENIE_1")  # another creator holds block 10 at the top level
    ds.add_new(0x00291031, "LO", "x")
    ds.ReferencedImageSequence = [item]
    text = repr(ds)
    assert re.search(r"^\(0029,1031\) LO \[x\] .*# +2, 1 PrivateTagData$", text, re.M)
    assert re.search(r"^    \(0029,1031\) LO \[4.0\] .*# +4, 1 PMTFInformation1$", text, re.M)
