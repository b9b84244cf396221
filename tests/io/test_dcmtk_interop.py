"""What we write, DCMTK reads; what DCMTK writes (dcmconv in every uncompressed syntax), we read equal."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import dicomkit
from tests.conftest import CORPUS, require_tool
from tests.io.test_corpus import assert_same_values
from tests.io.test_dcmdump_agreement import compare_value, dcmdump_rows, our_rows

pytestmark = pytest.mark.interop  # runs DCMTK / dicom3tools peers

SAMPLES = ["MR2_UNCR.dcm", "gdcm-US-ALOKA-16.dcm", "eCT_Supplemental.dcm", "SC_rgb_expb_16bit.dcm",
           "MR-SIEMENS-DICOM-WithOverlays.dcm", "liver.dcm"]
SYNTAXES = {
    "+ti": dicomkit.uid.ImplicitVRLittleEndian,
    "+te": dicomkit.uid.ExplicitVRLittleEndian,
    "+tb": dicomkit.uid.ExplicitVRBigEndian,
    "+td": dicomkit.uid.DeflatedExplicitVRLittleEndian,
}


def _samples() -> list[Path]:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    return [CORPUS / name for name in SAMPLES]


@pytest.mark.parametrize("option", list(SYNTAXES))
def test_dcmtk_reads_what_we_write(tmp_path: Path, option: str):
    require_tool("dcmdump")
    for src in _samples():
        ds = dicomkit.read(src)
        out = tmp_path / f"{src.stem}.dcm"
        ds.save(out, transfer_syntax=SYNTAXES[option])
        result = subprocess.run(["dcmdump", "-q", str(out)], capture_output=True, timeout=60)
        assert result.returncode == 0, result.stderr.decode()
        theirs = [r for r in dcmdump_rows(out, raw=False)]
        ours = [r for r, _ in our_rows(dicomkit.read(out))]
        assert [(r.depth, r.tag) for r in ours] == [(r.depth, r.tag) for r in theirs if r.tag != 0x00080005
                                                    or any(o.tag == 0x00080005 for o in ours)]
        back = dicomkit.read(out)
        for (row, elem), ref in zip(our_rows(back), [r for r in theirs]):
            # (DCMTK knows some private tags that implicit VR leaves UN for us)
            if row.vr not in ("SQ", "UN") and row.tag == ref.tag and not elem.is_undefined_length:
                assert compare_value(ref, elem) is None, f"{src.name} {dicomkit.Tag(row.tag)}"


@pytest.mark.parametrize("option", list(SYNTAXES))
def test_we_read_what_dcmconv_writes(tmp_path: Path, option: str):
    require_tool("dcmconv")
    for src in _samples():
        out = tmp_path / f"{src.stem}{option}.dcm"
        subprocess.run(["dcmconv", option, str(src), str(out)], check=True, capture_output=True, timeout=60)
        theirs = dicomkit.read(out)
        assert str(theirs.transfer_syntax) == str(SYNTAXES[option])
        assert_same_values(_comparable(dicomkit.read(src)), _comparable(theirs), str(SYNTAXES[option]))


def _comparable(ds: dicomkit.Dataset) -> dicomkit.Dataset:
    """Without group lengths, which dcmconv drops or recomputes."""
    out = dicomkit.Dataset()
    for elem in ds:
        if elem.tag & 0xFFFF:
            out.add(elem)
    return out
