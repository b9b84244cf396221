"""Interoperability with DCMTK: files we encode decode with dcmdjpeg / dcmdrle / dcmdjpls (and pass
dciodvfy without new errors); files DCMTK encodes decode here to the same pixels."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import dicomkit
from dicomkit.pixels import compress, pixel_array, transcode
from tests.conftest import require_tool

from .conftest import CORPUS, np, read_corpus

pytestmark = pytest.mark.interop  # runs DCMTK / dicom3tools peers

pytest.importorskip("imagecodecs", reason="the codecs extra is needed: pip install 'dicomkit[codecs]'")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"{' '.join(args)} failed: {result.stderr or result.stdout}"
    return result


# (source file, our transfer syntax alias, DCMTK decoder, lossless?)
OURS = [
    ("MR2_UNCR.dcm", "rle", "dcmdrle", True),
    ("US1_UNCR.dcm", "rle", "dcmdrle", True),
    ("693_UNCR.dcm", "rle", "dcmdrle", True),  # dcmdrle does not support 1-bit data
    ("emri_small.dcm", "jpeg-lossless", "dcmdjpeg", True),
    ("693_UNCR.dcm", "jpeg-sv1", "dcmdjpeg", True),
    ("US1_UNCR.dcm", "jpeg-sv1", "dcmdjpeg", True),
    ("MR2_UNCR.dcm", "jpeg-extended", "dcmdjpeg", False),
    ("US1_UNCR.dcm", "jpeg-baseline", "dcmdjpeg", False),
    ("693_UNCR.dcm", "jpeg-ls", "dcmdjpls", True),
    ("US1_UNCR.dcm", "jpeg-ls", "dcmdjpls", True),
    ("emri_small.dcm", "jpeg-ls-near", "dcmdjpls", False),
]


@pytest.mark.parametrize(("name", "alias", "tool", "lossless"), OURS, ids=[f"{n}->{a}" for n, a, _, _ in OURS])
def test_dcmtk_decodes_what_we_encode(name: str, alias: str, tool: str, lossless: bool, tmp_path: Path) -> None:
    exe = require_tool(tool)
    source = read_corpus(name)
    encoded = tmp_path / "ours.dcm"
    transcode(source, alias).save(encoded)
    decoded = tmp_path / "dcmtk.dcm"
    _run(exe, str(encoded), str(decoded))
    theirs = dicomkit.read(decoded)
    ours = dicomkit.read(encoded)
    if lossless:
        assert np.array_equal(theirs.pixel_array, source.pixel_array)
        assert np.array_equal(ours.pixel_array, source.pixel_array)
    else:
        # The same codestream decoded by both: equal up to IDCT / colour conversion rounding.
        diff = np.abs(theirs.pixel_array.astype(int) - ours.pixel_array.astype(int))
        assert diff.max() <= 2


def _dciodvfy_errors(path: Path) -> set[str]:
    exe = require_tool("dciodvfy")
    result = subprocess.run([exe, str(path)], capture_output=True, text=True, timeout=120, check=False)
    return {line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")}


# (dciodvfy of dicom3tools does not know the HTJ2K and Deflated Image Frame Compression transfer syntaxes,
# so those cannot be checked with it.)
@pytest.mark.parametrize("alias", ["rle", "jpeg-lossless", "jpeg-ls", "j2k-lossless", "j2k", "jpeg-baseline",
                                   "jpeg-ls-near", "explicit"])
def test_dciodvfy_finds_no_new_errors(alias: str, tmp_path: Path) -> None:
    source = CORPUS / "US1_UNCR.dcm"
    ours = tmp_path / f"{alias}.dcm"
    transcode(read_corpus("US1_UNCR.dcm"), alias).save(ours)
    assert _dciodvfy_errors(ours) <= _dciodvfy_errors(source)


# (dcmcjpeg/dcmcjpls/dcmcrle options, source file, lossless?)
THEIRS = [
    ("dcmcjpeg", ["+eb"], "US1_UNCR.dcm", False),
    ("dcmcjpeg", ["+eb", "+cr"], "SC_rgb.dcm", False),  # RGB without colour transform
    ("dcmcjpeg", ["+ee"], "emri_small.dcm", False),  # (DCMTK rescales images with a modality LUT)
    ("dcmcjpeg", ["+el"], "693_UNCR.dcm", True),
    ("dcmcjpeg", ["+e1"], "MR2_UNCR.dcm", True),
    ("dcmcjpeg", ["+e1"], "US1_UNCR.dcm", True),
    ("dcmcjpls", [], "693_UNCR.dcm", True),
    ("dcmcjpls", [], "US1_UNCR.dcm", True),
    ("dcmcjpls", ["+en", "+md", "3"], "US1_UNCR.dcm", False),
    ("dcmcrle", [], "emri_small.dcm", True),
    ("dcmcrle", [], "SC_rgb_16bit_2frame.dcm", True),
]


@pytest.mark.parametrize(("tool", "options", "name", "lossless"), THEIRS,
                         ids=[f"{t}{''.join(o)}-{n}" for t, o, n, _ in THEIRS])
def test_we_decode_what_dcmtk_encodes(tool: str, options: list[str], name: str, lossless: bool,
                                      tmp_path: Path) -> None:
    exe = require_tool(tool)
    encoded = tmp_path / "dcmtk.dcm"
    _run(exe, *options, str(CORPUS / name), str(encoded))
    ours = dicomkit.read(encoded)
    source = read_corpus(name)
    if lossless:
        assert np.array_equal(ours.pixel_array, source.pixel_array)
        return
    decoder = {"dcmcjpeg": "dcmdjpeg", "dcmcjpls": "dcmdjpls"}[tool]
    decoded = tmp_path / "decoded.dcm"
    _run(require_tool(decoder), "+cn", str(encoded), str(decoded)) if decoder == "dcmdjpeg" else \
        _run(require_tool(decoder), str(encoded), str(decoded))
    theirs = dicomkit.read(decoded)
    # same colour space on both sides (dcmdjpeg +cn keeps YCbCr as YBR_FULL), same samples
    assert theirs.PhotometricInterpretation == dicomkit.pixels.photometric(ours, as_rgb=False) or \
        theirs.PhotometricInterpretation == ours.PhotometricInterpretation
    raw_ours, raw_theirs = pixel_array(ours, as_rgb=False), pixel_array(theirs, as_rgb=False)
    diff = np.abs(raw_ours.astype(int) - raw_theirs.astype(int))
    assert diff.max() <= 1  # IDCT rounding may differ by one between libjpeg builds
    error = ours.pixel_array.astype(float) - source.pixel_array.astype(float)  # both RGB
    assert np.sqrt((error ** 2).mean()) < 0.05 * (2 ** int(source.BitsStored))


def test_lossy_output_passes_dcmtk_with_derived_instance(tmp_path: Path) -> None:
    exe = require_tool("dcmdump")
    path = tmp_path / "lossy.dcm"
    compress(read_corpus("US1_UNCR.dcm"), "jpeg-baseline").save(path)
    text = _run(exe, str(path)).stdout
    assert "YBR_FULL_422" in text and "ISO_10918_1" in text and "[01]" in text


def test_lossy_jpeg_colour_is_the_rgb_dcmtk_gives(tmp_path: Path) -> None:
    # pixel_array converts YBR_FULL_422 to RGB by default, with libjpeg's converter: what dcmdjpeg writes
    encoded, decoded = tmp_path / "jpeg.dcm", tmp_path / "rgb.dcm"
    _run(require_tool("dcmcjpeg"), "+eb", str(CORPUS / "US1_UNCR.dcm"), str(encoded))
    _run(require_tool("dcmdjpeg"), str(encoded), str(decoded))  # its default: YCbCr converted to RGB
    theirs = dicomkit.read(decoded)
    assert theirs.PhotometricInterpretation == "RGB"
    ours = dicomkit.read(encoded)
    assert ours.PhotometricInterpretation == "YBR_FULL_422"
    assert np.abs(ours.pixel_array.astype(int) - theirs.pixel_array.astype(int)).max() <= 1
