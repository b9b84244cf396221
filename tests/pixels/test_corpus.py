"""Every image of the corpus decodes; lossless pairs are equal; pydicom (with pylibjpeg) agrees."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import dicomkit
from dicomkit.pixels import describe, photometric, pixel_array

from .conftest import image_params, np, read_corpus

pytest.importorskip("imagecodecs", reason="the codecs extra is needed: pip install 'dicomkit[codecs]'")


def _frame_shape(ds: dicomkit.Dataset) -> tuple[int, ...]:
    desc = describe(ds)
    return (desc.rows, desc.columns) + ((desc.samples_per_pixel,) if desc.samples_per_pixel > 1 else ())


@pytest.mark.parametrize("path", image_params())
def test_every_image_decodes(path: Path) -> None:
    ds = read_corpus(path.name)
    arr = ds.pixel_array
    desc = describe(ds)
    shape = _frame_shape(ds)
    assert arr.shape == ((desc.number_of_frames, *shape) if desc.number_of_frames > 1 else shape)
    assert arr.dtype == desc.dtype
    assert arr.flags.writeable and arr.flags.c_contiguous
    # frame-by-frame access gives the same as the whole array
    frames = arr if desc.number_of_frames > 1 else arr[None]
    for i, frame in enumerate(ds.iter_frames()):
        assert frame.shape == shape
        assert np.array_equal(frame, frames[i])
    assert np.array_equal(ds.frame(-1), frames[-1])
    assert np.array_equal(pixel_array(ds, frames=[0]), frames[:1])  # a list of frames keeps the frame axis


SHAPES = [  # pydicom 3's shapes: (frames, ...) only for several frames, (..., samples) only for several samples
    ("MR2_UNCR.dcm", (1024, 1024), (1024, 1024)),  # grayscale, one frame
    ("JPEG-LL.dcm", (1024, 256), (1024, 256)),  # Number of Frames 1 is one frame
    ("emri_small_jpeg_2k_lossless.dcm", (10, 64, 64), (64, 64)),  # grayscale, multi-frame
    ("US1_J2KR.dcm", (480, 640, 3), (480, 640, 3)),  # colour, one frame
    ("SC_rgb_2frame.dcm", (2, 100, 100, 3), (100, 100, 3)),  # colour, multi-frame
    ("OBXXXX1A_rle_2frame.dcm", (2, 600, 800), (600, 800)),  # PALETTE COLOR indices stay indices
]


@pytest.mark.parametrize(("name", "shape", "frame_shape"), SHAPES, ids=[n for n, _, _ in SHAPES])
def test_shapes_follow_pydicom(name: str, shape: tuple[int, ...], frame_shape: tuple[int, ...],
                               corpus: Path) -> None:
    ds = read_corpus(name)
    assert ds.pixel_array.shape == shape
    assert pixel_array(ds).shape == shape
    assert ds.frame(0).shape == frame_shape
    assert next(ds.iter_frames()).shape == frame_shape


def test_ybr_is_rgb_by_default_and_as_stored_when_asked(corpus: Path) -> None:
    ds = read_corpus("SC_ybr_full_uncompressed.dcm")
    assert photometric(ds) == "RGB" and photometric(ds, as_rgb=False) == "YBR_FULL"
    assert ds.pixel_array[0, 0].tolist() == [254, 0, 0]
    assert ds.frame(0)[0, 0].tolist() == [254, 0, 0]
    assert pixel_array(ds, as_rgb=False)[0, 0].tolist() == [76, 85, 255]
    assert ds.frame(0, as_rgb=False)[0, 0].tolist() == [76, 85, 255]


def test_property_is_kept_until_pixel_data_changes(corpus: Path) -> None:
    ds = read_corpus("emri_small.dcm")
    arr = ds.pixel_array
    assert ds.pixel_array is arr  # decoded once, as pydicom keeps it
    arr[0, 0, 0] = 4095
    assert ds.pixel_array[0, 0, 0] == 4095
    assert pixel_array(ds)[0, 0, 0] != 4095  # the function decodes anew
    copy = ds.copy()
    assert copy.pixel_array is not arr and copy.pixel_array[0, 0, 0] != 4095
    from dicomkit.pixels import set_pixel_data

    set_pixel_data(ds, np.zeros((2, 8, 8), dtype=np.uint16))
    assert ds.pixel_array.shape == (2, 8, 8) and not ds.pixel_array.any()
    ds.NumberOfFrames = 1
    ds.Rows = 16
    assert ds.pixel_array.shape == (16, 8)  # the description changed: decoded again


# pydicom 3 cannot decode these (no meta / no Transfer Syntax, Deflated Image Frame Compression, 1-bit RLE,
# or it stops at the missing delimiter); they are checked against their lossless pairs below instead.
PYDICOM_CANNOT = {"OT-PAL-8-face.dcm", "emri_small_jpeg_2k_lossless_too_short.dcm", "liver_deflate.dcm",
                  "liver_nonbyte_aligned_deflate.dcm", "liver_rle.dcm", "liver_nonbyte_aligned_rle.dcm"}


def _pydicom_array(path: Path) -> object:
    import pydicom

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pds = pydicom.dcmread(path, force=True)
        if path.name in PYDICOM_CANNOT:
            with pytest.raises(Exception):  # noqa: B017 - pydicom's error types vary by plugin
                _ = pds.pixel_array
            return None
        return pds.pixel_array


@pytest.mark.parametrize("path", image_params())
def test_agrees_with_pydicom(path: Path) -> None:
    pytest.importorskip("pydicom", reason="pydicom is the oracle here (dev extra)")
    ds = read_corpus(path.name)
    oracle = _pydicom_array(path)
    if oracle is None:
        assert ds.pixel_array.size  # we decode what pydicom cannot; equality is checked by the pairs
        return
    expected = np.asarray(oracle)
    # the same shape, the same colour space (YBR converted to RGB by both by default), the same values
    ours = ds.pixel_array
    assert ours.shape == expected.shape
    assert np.array_equal(ours, expected)


LOSSLESS_PAIRS = [
    ("MR2_UNCR.dcm", "MR2_J2KR.dcm"),
    ("693_UNCR.dcm", "693_J2KR.dcm"),
    ("SC_rgb.dcm", "SC_rgb_expb.dcm"),
    ("SC_rgb_2frame.dcm", "SC_rgb_expb_2frame.dcm"),
    ("SC_rgb_16bit.dcm", "SC_rgb_expb_16bit.dcm"),
    ("SC_rgb_16bit_2frame.dcm", "SC_rgb_expb_16bit_2frame.dcm"),
    ("SC_rgb_32bit.dcm", "SC_rgb_expb_32bit.dcm"),
    ("SC_rgb_32bit_2frame.dcm", "SC_rgb_expb_32bit_2frame.dcm"),
    ("SC_rgb.dcm", "SC_rgb_gdcm2k_uncompressed.dcm"),
    ("US1_UNCR.dcm", "US1_J2KR.dcm"),
    ("RG3_J2KR.dcm", "RG3_J2KR.dcm"),
    ("emri_small.dcm", "emri_small_RLE.dcm"),
    ("emri_small.dcm", "emri_small_big_endian.dcm"),
    ("emri_small.dcm", "emri_small_jpeg_2k_lossless.dcm"),
    ("emri_small.dcm", "emri_small_jpeg_ls_lossless.dcm"),
    ("emri_small.dcm", "emri_small_jpeg_2k_lossless_too_short.dcm"),
    ("liver.dcm", "liver_rle.dcm"),
    ("liver.dcm", "liver_expb.dcm"),
    ("liver.dcm", "liver_deflate.dcm"),
    ("liver.dcm", "liver_j2k.dcm"),
    ("liver_nonbyte_aligned.dcm", "liver_nonbyte_aligned_rle.dcm"),
    ("liver_nonbyte_aligned.dcm", "liver_nonbyte_aligned_deflate.dcm"),
    ("liver_nonbyte_aligned.dcm", "liver_nonbyte_aligned_j2k.dcm"),
    ("OBXXXX1A.dcm", "OBXXXX1A_rle.dcm"),
    ("OBXXXX1A.dcm", "OBXXXX1A_expb.dcm"),
    ("OBXXXX1A_2frame.dcm", "OBXXXX1A_rle_2frame.dcm"),
    ("OBXXXX1A_2frame.dcm", "OBXXXX1A_expb_2frame.dcm"),
    ("gdcm-US-ALOKA-16.dcm", "gdcm-US-ALOKA-16_big.dcm"),
    ("color-px.dcm", "color-pl.dcm"),
    ("JLSL_RGB_ILV0.dcm", "JLSL_RGB_ILV1.dcm"),
    ("JLSL_RGB_ILV0.dcm", "JLSL_RGB_ILV2.dcm"),
    ("parametric_map_float.dcm", "parametric_map_double_float.dcm"),
]


@pytest.mark.parametrize(("a", "b"), LOSSLESS_PAIRS, ids=[f"{a}={b}" for a, b in LOSSLESS_PAIRS])
def test_lossless_pairs_are_equal(a: str, b: str, corpus: Path) -> None:
    left = read_corpus(a).pixel_array
    right = read_corpus(b).pixel_array
    if left.dtype.kind == "f":
        assert np.allclose(left, right, rtol=1e-6, atol=1e-7)
    else:
        assert np.array_equal(left, right)


# Lossy pairs: maximum absolute error and RMS error allowed against the lossless original.
LOSSY_PAIRS = [
    ("MR2_UNCI.dcm", "MR2_J2KI.dcm", 0, 0.0),  # *_UNCI of these pairs is the lossy file decompressed
    ("US1_UNCI.dcm", "US1_J2KI.dcm", 0, 0.0),
    ("US1_UNCR.dcm", "US1_J2KI.dcm", 130, 4.0),  # against the lossless original: the real loss
    ("HTJ2KLossless_08_RGB.dcm", "HTJ2K_08_RGB.dcm", 4, 0.8),
    ("RG3_J2KR.dcm", "RG3_J2KI.dcm", 70, 8.0),
    ("JLSL_RGB_ILV0.dcm", "JLSN_RGB_ILV0.dcm", 3, 2.0),
]


@pytest.mark.parametrize(("lossless", "lossy", "max_error", "rms"), LOSSY_PAIRS,
                         ids=[f"{a}~{b}" for a, b, _, _ in LOSSY_PAIRS])
def test_lossy_pairs_within_tolerance(lossless: str, lossy: str, max_error: int, rms: float, corpus: Path) -> None:
    ref = read_corpus(lossless).pixel_array.astype(np.float64)
    got = read_corpus(lossy).pixel_array.astype(np.float64)
    diff = np.abs(ref - got)
    assert diff.max() <= max_error
    assert np.sqrt((diff ** 2).mean()) <= rms


def test_truncated_file_with_complete_fragments_decodes_and_says_so(corpus: Path) -> None:
    # emri_small_jpeg_2k_lossless_too_short lacks only the Sequence Delimitation Item: every fragment is
    # whole, so the frames decode exactly and the missing delimiter is reported, not hidden.
    ds = read_corpus("emri_small_jpeg_2k_lossless_too_short.dcm")
    assert any("Sequence Delimitation" in str(c) for c in ds.read_corrections)
    assert np.array_equal(ds.pixel_array, read_corpus("emri_small.dcm").pixel_array)


def test_chosen_frames_only(corpus: Path) -> None:
    ds = read_corpus("emri_small.dcm")
    arr = pixel_array(ds, frames=[3, 7])
    assert arr.shape == (2, 64, 64)
    assert np.array_equal(arr[1], ds.frame(7))
    assert np.array_equal(pixel_array(ds, frames=7), ds.frame(7))  # one index: that frame alone
    assert np.array_equal(ds.pixel_array[[3, 7]], arr)


def test_a_dropped_data_set_is_freed_at_once(corpus: Path) -> None:
    # What is kept on the data set (the located frames, the decoded array) refers to nothing that refers
    # back to it: dropping it frees the mapped file and the array without waiting for the cycle collector.
    import gc
    import weakref

    ds = read_corpus("emri_small_jpeg_2k_lossless.dcm")
    arr = ds.pixel_array
    assert pixel_array(ds, frames=[1]).shape == (1, 64, 64)
    ref = weakref.ref(ds)
    gc.disable()
    try:
        del ds
        assert ref() is None
    finally:
        gc.enable()
    assert arr.shape == (10, 64, 64)  # the caller's array stays valid
