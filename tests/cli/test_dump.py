"""``dicomkit dump`` as DCMTK users expect it: raw data sets by default, ``-`` for standard input, folders with
``-r``, ``+P`` searches, values cut only when long, CLI words in messages, invented delimiters as warnings."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

import dicomkit
from dicomkit import Dataset
from dicomkit.io.raw import meta_end
from tests.cli.runner import corpus_file, icc_profile, make_fifo, require, truncated_copy
from tests.cli.runner import dicomkit as run


@pytest.fixture
def mr2() -> Path:
    return corpus_file("MR2_UNCR.dcm")


def raw_data_set(source: Path, target: Path) -> Path:
    """The data set of a Part 10 file without its preamble and File Meta Information."""
    data = source.read_bytes()
    target.write_bytes(data[meta_end(data):])
    return target


def _explicit(tag: int, vr: bytes, value: bytes) -> bytes:
    return struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, vr, len(value)) + value


def sequence_without_its_delimiter(target: Path) -> Path:
    """A raw data set whose undefined-length sequence ends with the file: no Sequence Delimitation Item."""
    item = _explicit(0x00081150, b"UI", b"1.2.840.10008.5.1.4.1.1.2\x00") + _explicit(0x00081155, b"UI", b"1.2.3.4\x00")
    data = (_explicit(0x00080005, b"CS", b"ISO_IR 100")
            + _explicit(0x00080016, b"UI", b"1.2.840.10008.5.1.4.1.1.7\x00")
            + _explicit(0x00080018, b"UI", b"1.2.3.5\x00")
            + struct.pack("<HH2sHI", 0x0008, 0x1115, b"SQ", 0, 0xFFFFFFFF)
            + struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF) + item + struct.pack("<HHI", 0xFFFE, 0xE00D, 0))
    target.write_bytes(data)
    return target


def test_dump_lists_meta_and_data_set(mr2: Path):
    result = run("dump", mr2)
    assert result.code == 0, result.err
    assert "# Dicom-Meta-Information-Header" in result.out
    assert "(0002,0010) UI =ExplicitVRLittleEndian" in result.out
    assert "(0010,0010) PN [CompressedSamples^MR2]" in result.out and "#  22, 1 PatientName" in result.out
    assert "(7fe0,0010) OW" in result.out
    assert result.err == ""  # a Part 10 file: nothing to note


def test_dump_options(mr2: Path):
    out = run("dump", "--meta", mr2).out
    assert "(0002,0010)" in out and "(0010,0010)" not in out
    out = run("dump", "-s", "--no-meta", mr2).out
    assert "(0002,0010)" not in out and "(7fe0,0010)" not in out and "(0010,0010)" in out
    long_out = run("dump", "--all", mr2).out
    assert max(len(line) for line in long_out.splitlines()) > 1000  # Pixel Data shown whole


def test_raw_data_sets_are_read_by_default_with_a_note_naming_the_guessed_syntax(tmp_path: Path, mr2: Path):
    raw = raw_data_set(mr2, tmp_path / "raw.dcm")
    result = run("dump", raw)
    assert result.code == 0
    assert "(0010,0010) PN [CompressedSamples^MR2]" in result.out
    assert "# Dicom-Meta-Information-Header" not in result.out
    assert result.err == (f"dicomkit dump: {raw}: note: no File Meta Information; read as a raw data set in "
                          "Explicit VR Little Endian (guessed from the data)\n")
    implicit = corpus_file("OT-PAL-8-face.dcm")  # a raw data set in Implicit VR Little Endian
    result = run("dump", implicit)
    assert result.code == 0 and "(0028,0004) CS [PALETTE COLOR]" in result.out
    assert "read as a raw data set in Implicit VR Little Endian" in result.err
    result = run("dump", "--json", raw)  # the JSON and XML dumps read them too
    assert result.code == 0 and '"00100010"' in result.out
    assert run("dump", "--force", raw).code == 0  # the old option is still accepted


def test_standard_input(tmp_path: Path, mr2: Path):
    result = run("dump", "-", "-s", input=mr2.read_bytes())
    assert result.code == 0 and "(0010,0010) PN [CompressedSamples^MR2]" in result.out and result.err == ""
    result = run("dump", "-", input=raw_data_set(mr2, tmp_path / "raw.dcm").read_bytes())
    assert result.code == 0 and "(0010,0010)" in result.out
    assert "dicomkit dump: standard input: note: no File Meta Information" in result.err
    result = run("dump", "-", input=b"Patient report, not an image\n" * 10)
    assert result.code == 1 and result.err.count("\n") == 1 and "standard input: not a DICOM file" in result.err
    result = run("dump", "--xml", "-", input=mr2.read_bytes())
    assert result.code == 0 and "<NativeDicomModel" in result.out


def test_an_unreadable_file_is_one_line_and_the_rest_go_on(tmp_path: Path, mr2: Path):
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"not dicom at all" * 20)
    result = run("dump", bad, mr2)
    assert result.code == 1
    assert result.err == f"dicomkit dump: {bad}: not a DICOM file (no 'DICM' prefix and no data set at the start)\n"
    assert "(0010,0010)" in result.out  # the good file is still listed


def test_a_truncated_file_names_the_path_once_and_suggests_lenient(tmp_path: Path):
    cut = truncated_copy("MR2_UNCR.dcm", tmp_path / "cut.dcm")
    result = run("dump", cut)
    assert result.code == 1 and result.err.count("\n") == 1
    assert result.err.count(str(cut)) == 1
    assert result.err.startswith(f"dicomkit dump: {cut}: offset 1686 (0x696): (7FE0,0010) declares 2097152 bytes")
    assert result.err.rstrip().endswith("; --lenient reads what is there")
    assert "=True" not in result.err
    result = run("dump", "--lenient", cut)
    assert result.code == 0 and "# correction: offset 1686: (7FE0,0010) declares 2097152 bytes" in result.out


def test_library_option_names_become_command_line_options(tmp_path: Path):
    bad_vr = tmp_path / "bad_vr.dcm"
    bad_vr.write_bytes(_explicit(0x00080005, b"CS", b"ISO_IR 100") + _explicit(0x00100010, b"ZZ", b"Doe^John"))
    result = run("dump", bad_vr)
    assert result.code == 1
    assert "(0010,0010) has invalid VR b'ZZ'; --lenient reads it as implicit VR" in result.err
    assert "lenient=True" not in result.err and result.err.count(str(bad_vr)) == 1
    result = run("dump", "--lenient", bad_vr)
    assert result.code == 0 and "(0010,0010)" in result.out


def test_a_missing_final_delimiter_is_refused_and_read_with_a_warning_when_lenient(tmp_path: Path):
    # data ending inside a sequence looks like a file cut short: refused as dcmdump refuses it (its default
    # --stop-on-error prints nothing); --lenient lists it whole, saying which delimiter the reader supplied
    made = sequence_without_its_delimiter(tmp_path / "open_sequence.dcm")
    for path in (made, corpus_file("emri_small_jpeg_2k_lossless_too_short.dcm")):
        result = run("dump", path)
        assert result.code == 1 and result.out == "", result.err
        assert result.err.startswith(f"dicomkit dump: {path}: offset ") and "not terminated" in result.err
        assert "(--lenient reads" in result.err
        result = run("dump", "--lenient", path)
        assert result.code == 0, result.err
        assert "(fffe,e0dd) na (SequenceDelimitationItem)" in result.out  # listed whole
        warnings = [line for line in result.err.splitlines() if ": warning: " in line]
        assert len(warnings) == 1 and "Sequence Delimitation Item missing" in warnings[0]
        assert warnings[0].startswith(f"dicomkit dump: {path}: warning: offset ")


def test_folders_with_recursive_skip_what_is_not_dicom(tmp_path: Path, mr2: Path):
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    shutil.copy(mr2, tree / "a.dcm")
    shutil.copy(corpus_file("OT-PAL-8-face.dcm"), tree / "sub" / "raw")  # no extension, no meta: still DICOM
    shutil.copy(mr2, tree / ".hidden.dcm")
    (tree / "README.md").write_text("# Study export\n")
    (tree / "sub" / "series.json").write_text('{"SeriesInstanceUID": "1.2.3"}')
    icc_profile(tree / "sub" / "display.icc")
    make_fifo(tree / "sub" / "pipe")
    result = run("dump", "-r", "-s", tree, timeout=60)
    assert result.code == 0, result.err
    headers = [line for line in result.out.splitlines() if line.startswith("# ") and "/" in line]
    assert headers == [f"# {tree / 'a.dcm'}", f"# {tree / 'sub' / 'raw'}"]
    assert f"{tree / 'README.md'}: skipped, not a DICOM file" in result.err
    assert f"{tree / 'sub' / 'series.json'}: skipped, not a DICOM file" in result.err
    assert f"{tree / 'sub' / 'display.icc'}: skipped, not a DICOM file" in result.err
    assert f"{tree / 'sub' / 'pipe'}: skipped, not a regular file (a FIFO)" in result.err
    assert ".hidden" not in result.err + result.out
    result = run("dump", tree)
    assert result.code == 1 and "a folder (give -r to read the DICOM files under it)" in result.err


def test_search_by_keyword_or_tag(tmp_path: Path, mr2: Path):
    result = run("dump", "+P", "PatientName", "--search", "0008,0060", mr2)
    assert result.code == 0
    assert result.out.splitlines() == [
        "(0010,0010) PN [CompressedSamples^MR2]                  #  22, 1 PatientName",
        "(0008,0060) CS [MR]                                     #   2, 1 Modality",
    ]
    assert run("dump", "+P", "(0010,0010)", mr2).out == run("dump", "+P", "00100010", mr2).out
    result = run("dump", "+P", "PatientNmae", mr2)
    assert result.code == 2 and "unknown DICOM keyword 'PatientNmae'" in result.err
    shutil.copy(mr2, tmp_path / "one.dcm")
    shutil.copy(corpus_file("liver.dcm"), tmp_path / "two.dcm")
    out = run("dump", "-r", "+P", "PatientName", tmp_path).out
    assert out.splitlines() == [f"# {tmp_path / 'one.dcm'}",
                                "(0010,0010) PN [CompressedSamples^MR2]                  #  22, 1 PatientName", "",
                                f"# {tmp_path / 'two.dcm'}",
                                "(0010,0010) PN [JANCT000]                               #   8, 1 PatientName"]


SEARCHED = ("0010,0010", "0008,1155", "0008,0100", "0020,000e", "0008,1150")


@pytest.mark.interop
@pytest.mark.parametrize("name", ["liver.dcm", "MR2_UNCR.dcm", "US1_UNCR.dcm", "SC_rgb.dcm", "OT-PAL-8-face.dcm",
                                  "parametric_map_float.dcm"])
def test_search_agrees_with_dcmdump_nested_matches_with_their_path(name: str):
    path = corpus_file(name)
    dcmdump = require("dcmdump")
    options = [arg for tag in SEARCHED for arg in ("+P", tag)]
    theirs = subprocess.run([dcmdump, "+p", *options, str(path)], capture_output=True, timeout=60)
    ours = run("dump", *options, path)
    assert ours.code == 0
    assert ours.out.splitlines() == theirs.stdout.decode().splitlines()
    if name == "liver.dcm":  # nested matches, three and four sequences deep
        assert "(0008,1115).(0008,114a).(0008,1150) UI =CTImageStorage" in ours.out
        assert "(5200,9230).(0008,9124).(0008,2112).(0040,a170).(0008,0100) SH [121322]" in ours.out


def test_short_values_and_uids_are_never_cut_long_ones_say_how_much(tmp_path: Path):
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = "1.2.3." + "4" * 58  # 64 characters, the longest a UID may be
    ds.ImageComments = "x" * 300
    ds.StudyDescription = "y" * 64
    ds.add_new(0x00091010, "OB", bytes(range(250)) * 4)
    ds.add_new(0x00280010, "US", 512)
    path = tmp_path / "values.dcm"
    ds.save(path)
    out = run("dump", path).out
    assert f"(0008,0018) UI [{ds.SOPInstanceUID}] #  64, 1 SOPInstanceUID" in out
    assert f"[{'y' * 64}]" in out
    comments = next(line for line in out.splitlines() if "ImageComments" in line)
    assert re.search(r"\[x{64}\.\.\.\(\+236 characters\) +# 300, 1 ImageComments$", comments)
    private = next(line for line in out.splitlines() if line.startswith("(0009,1010)"))
    shown = private.split()[2].split("...")[0].split("\\")
    assert shown == [f"{b:02x}" for b in range(len(shown))]
    assert f"...(+{1000 - len(shown)} bytes)" in private
    assert "(0028,0010) US 512 " in out
    whole = run("dump", "--all", path).out
    assert "x" * 300 in whole and "bytes)" not in whole and "characters)" not in whole


def test_json_dump_of_one_file_only(mr2: Path, tmp_path: Path):
    shutil.copy(mr2, tmp_path / "a.dcm")
    shutil.copy(mr2, tmp_path / "b.dcm")
    result = run("dump", "--json", "-r", tmp_path)
    assert result.code == 2 and "--json/--xml take one file at a time (2 given)" in result.err
    assert dicomkit.read(mr2).PatientName == "CompressedSamples^MR2"
