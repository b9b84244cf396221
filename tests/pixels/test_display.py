"""Photometric conversions, palettes (incl. segmented), Modality/VOI/Presentation LUTs, overlays, rendering."""

from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path

import pytest

import dicomkit
from dicomkit.pixels import (
    Window,
    apply_modality_lut,
    apply_palette,
    apply_presentation_lut,
    apply_voi_lut,
    apply_window,
    overlay_array,
    overlay_groups,
    overlay_on_frame,
    pixel_array,
    render,
    render_png,
    voi_count,
)
from dicomkit.pixels.photometric import expand_segmented, rgb_to_ybr_full, ybr_full_to_rgb

from .conftest import dataset, np, read_corpus

pydicom = pytest.importorskip("pydicom")


def _pydicom(name: str) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(Path(read_corpus(name).filename or ""), force=True)


# -- colour ----------------------------------------------------------------------------------------


def test_ybr_full_equations_of_ps3_3() -> None:
    # PS3.3 C.7.6.3.1.2 for 8 bits: pure red is Y=76, Cb=85, Cr=255
    red = np.array([[[255, 0, 0]]], dtype=np.uint8)
    assert rgb_to_ybr_full(red).ravel().tolist() == [76, 85, 255]
    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    assert np.abs(ybr_full_to_rgb(rgb_to_ybr_full(rgb)).astype(int) - rgb).max() <= 2
    rgb16 = rng.integers(0, 4096, size=(8, 8, 3), dtype=np.uint16)
    assert np.abs(ybr_full_to_rgb(rgb_to_ybr_full(rgb16, 12), 12).astype(int) - rgb16).max() <= 2


@pytest.mark.parametrize("name", ["OBXXXX1A.dcm", "gdcm-US-ALOKA-16.dcm", "OT-PAL-8-face.dcm"])
def test_palette_agrees_with_pydicom(name: str) -> None:
    from pydicom.pixels import apply_color_lut

    ds = read_corpus(name)
    pds = _pydicom(name)
    if name == "OT-PAL-8-face.dcm":
        expected = apply_color_lut(pds.PixelData and np.frombuffer(pds.PixelData, np.uint8).reshape(480, 640), pds)
    else:
        expected = apply_color_lut(pds.pixel_array, pds)
    ours = apply_palette(ds.pixel_array, ds)  # the array holds the indices, as pydicom's does
    assert np.array_equal(ours, expected)
    assert np.array_equal(apply_palette(ds.frame(0), ds), ours)


def test_segmented_palette_discrete_linear_and_indirect() -> None:
    # PS3.3 C.7.9.2: discrete [0, 3, 10, 20, 30], linear to 60 in 3 steps, indirect copy of the first segment
    words = [0, 3, 10, 20, 30, 1, 3, 60, 2, 1, 0, 0]
    table = expand_segmented(np.array(words, dtype=np.uint16), 9)
    assert table.tolist() == [10, 20, 30, 40, 50, 60, 10, 20, 30]
    with pytest.raises(dicomkit.PixelDataError, match="opcode 7"):
        expand_segmented(np.array([7, 1, 0], dtype=np.uint16), 1)
    with pytest.raises(dicomkit.PixelDataError):
        expand_segmented(np.array([0, 50, 1], dtype=np.uint16), 50)


def test_conversion_is_never_silent() -> None:
    ybr = read_corpus("SC_ybr_full_uncompressed.dcm")
    raw = pixel_array(ybr, as_rgb=False)
    assert not np.array_equal(raw, ybr.pixel_array)  # converted, as pydicom converts by default
    assert np.array_equal(raw, pixel_array(ybr, as_rgb=False))  # asking once changes nothing for later calls
    palette = read_corpus("OBXXXX1A.dcm")
    assert palette.pixel_array.shape == (600, 800)  # indices: the palette is applied only when asked


# -- LUTs ------------------------------------------------------------------------------------------


def test_modality_lut_sequence_agrees_with_pydicom() -> None:
    from pydicom.pixels import apply_modality_lut as pd_modality

    ds = read_corpus("mlut_18.dcm")
    pds = _pydicom("mlut_18.dcm")
    assert np.array_equal(apply_modality_lut(ds.frame(0), ds), pd_modality(pds.pixel_array, pds))


def test_rescale_slope_intercept() -> None:
    ds = read_corpus("693_UNCR.dcm")
    hu = apply_modality_lut(ds.frame(0), ds)
    assert hu.dtype.kind == "i" and hu.min() == ds.frame(0).min() - 1024
    ds.RescaleSlope = "0.5"
    assert apply_modality_lut(np.array([10]), ds).tolist() == [5 - 1024]


def test_voi_lut_sequence_agrees_with_pydicom() -> None:
    from pydicom.pixels import apply_voi_lut as pd_voi

    ds = read_corpus("vlut_04.dcm")
    pds = _pydicom("vlut_04.dcm")
    expected = pd_voi(pds.pixel_array, pds).astype(np.float64) / 65535
    assert np.allclose(apply_voi_lut(ds.frame(0), ds), expected)


def test_window_functions_of_ps3_3_c_11_2_1_2() -> None:
    x = np.array([0.0, 49.5, 50.0, 100.0, 150.0, 200.0])
    # LINEAR, c=100 w=100: 0 below c-0.5-(w-1)/2 = 50, 1 above 149; linear between
    linear = apply_window(x, Window(100, 100))
    assert linear[0] == 0 and linear[1] == 0 and linear[-1] == 1
    assert linear[3] == pytest.approx((100 - 99.5) / 99 + 0.5)
    # LINEAR_EXACT: 0 at or below c - w/2, 1 above c + w/2
    exact = apply_window(x, Window(100, 100, "LINEAR_EXACT"))
    assert exact.tolist() == pytest.approx([0, 0, 0, 0.5, 1, 1])
    # SIGMOID: 1 / (1 + exp(-4 (x - c) / w))
    sigmoid = apply_window(x, Window(100, 100, "SIGMOID"))
    assert sigmoid[3] == pytest.approx(0.5) and sigmoid[-1] == pytest.approx(1 / (1 + np.exp(-4)))
    with pytest.raises(dicomkit.PixelDataError):
        Window(100, 0.5)
    with pytest.raises(dicomkit.PixelDataError):
        Window(100, 10, "CUBIC")


def test_voi_from_dataset_index_and_function() -> None:
    ds = read_corpus("MR-SIEMENS-DICOM-WithOverlays.dcm")
    values = ds.frame(0)
    first = apply_voi_lut(values, ds)
    second = apply_voi_lut(values, ds, index=1)
    assert np.allclose(first, apply_window(values, Window(450, 790)))
    assert np.allclose(second, apply_window(values, Window(200, 443)))
    assert voi_count(ds) == 2
    with pytest.raises(dicomkit.PixelDataError, match="VOI 2 requested; the data set has 2 window"):
        apply_voi_lut(values, ds, index=2)
    lut = read_corpus("vlut_04.dcm")
    assert voi_count(lut) == 1
    with pytest.raises(dicomkit.PixelDataError, match="VOI 1 requested; the data set has 1 VOI LUT"):
        apply_voi_lut(lut.frame(0), lut, index=1)
    plain = read_corpus("emri_small.dcm")
    assert voi_count(plain) == 0
    assert apply_voi_lut(plain.frame(0), plain).max() == 1.0  # the data's own range
    with pytest.raises(dicomkit.PixelDataError, match="no window and no VOI LUT"):
        apply_voi_lut(plain.frame(0), plain, index=1)
    ds.VOILUTFunction = "SIGMOID"
    assert np.allclose(apply_voi_lut(values, ds), apply_window(values, Window(450, 790, "SIGMOID")))
    with pytest.raises(dicomkit.PixelDataError):
        apply_voi_lut(values, ds, index=5)


def test_presentation_lut_and_monochrome1() -> None:
    values = np.array([0.0, 0.25, 1.0])
    mono1 = read_corpus("RG3_J2KR.dcm")
    assert apply_presentation_lut(values, mono1).tolist() == [1.0, 0.75, 0.0]
    mono1.PresentationLUTShape = "IDENTITY"
    assert apply_presentation_lut(values, mono1).tolist() == [0.0, 0.25, 1.0]
    mono2 = read_corpus("MR2_UNCR.dcm")
    mono2.PresentationLUTShape = "INVERSE"
    assert apply_presentation_lut(values, mono2).tolist() == [1.0, 0.75, 0.0]


# -- overlays -------------------------------------------------------------------------------------


def test_overlay_agrees_with_pydicom() -> None:
    from pydicom.overlays import get_overlay_array

    ds = read_corpus("MR-SIEMENS-DICOM-WithOverlays.dcm")
    pds = _pydicom("MR-SIEMENS-DICOM-WithOverlays.dcm")
    assert overlay_groups(ds) == [0x6000]
    mask = overlay_array(ds, 0x6000)
    assert mask.dtype == bool and mask.shape == (1, 484, 484)
    assert np.array_equal(mask[0], get_overlay_array(pds, 0x6000).astype(bool))
    assert mask.any()


def test_embedded_overlay_in_unused_high_bits() -> None:
    words = [0x1005, 0x0006, 0x1007, 0x0008]  # bit 12 is the overlay, 12 bits stored
    ds = dataset(2, 2, bits_allocated=16, bits_stored=12, pixel_data=struct.pack("<4H", *words))
    ds.add_new(0x60000010, "US", 2)
    ds.add_new(0x60000011, "US", 2)
    ds.add_new(0x60000100, "US", 16)
    ds.add_new(0x60000102, "US", 12)
    assert overlay_array(ds).ravel().tolist() == [True, False, True, False]
    assert ds.pixel_array.ravel().tolist() == [5, 6, 7, 8]


# -- rendering ------------------------------------------------------------------------------------


def _png_pixels(data: bytes) -> tuple[int, int, int, bytes]:
    """Parse our PNG back with zlib alone (IHDR and IDAT), checking every CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        assert struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0] == zlib.crc32(kind + body)
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8
    return width, height, colour, zlib.decompress(idat)


def test_render_monochrome_pipeline_and_png() -> None:
    ds = read_corpus("693_UNCR.dcm")
    image = render(ds)
    hu = apply_modality_lut(ds.frame(0), ds)
    expected = np.rint(apply_window(hu, Window(40, 100)) * 255).astype(np.uint8)
    assert np.array_equal(image, expected)
    width, height, colour, raw = _png_pixels(render_png(ds))
    assert (width, height, colour) == (512, 512, 0)
    lines = np.frombuffer(raw, np.uint8).reshape(512, 513)
    assert (lines[:, 0] == 0).all() and np.array_equal(lines[:, 1:], image)


def test_render_window_override_size_and_colour() -> None:
    ds = read_corpus("MR2_UNCR.dcm")
    wide = render(ds, window=(300, 600))
    assert wide.shape == (1024, 1024)
    assert not np.array_equal(wide, render(ds, window=(100, 50)))
    thumb = render(ds, size=(128, 96))
    assert thumb.shape == (96, 96)
    ct = read_corpus("RG1_J2KI.dcm")
    assert render(ct, size=(200, 200)).shape == (200, 188)
    us = render(read_corpus("US1_J2KR.dcm"))
    assert us.shape == (480, 640, 3) and us.dtype == np.uint8
    assert np.array_equal(us, read_corpus("US1_UNCR.dcm").frame(0))
    palette = render(read_corpus("OBXXXX1A.dcm"))
    assert palette.shape == (600, 800, 3)
    enlarged = render(read_corpus("emri_small.dcm"), 3, size=(256, 256))
    assert enlarged.shape == (256, 256)


def test_render_frame_and_monochrome1() -> None:
    ds = read_corpus("emri_small.dcm")
    assert not np.array_equal(render(ds, 0), render(ds, 9))
    mono1 = read_corpus("RG3_J2KR.dcm")
    image = render(mono1)
    # MONOCHROME1: the smallest values are shown white
    values = mono1.frame(0)
    assert image[values == values.min()].min() > image[values == values.max()].max()


def _overlay(ds: dicomkit.Dataset, rows: int, columns: int, origin: tuple[int, int], bits: list[int],
             frames: int | None = None, first_frame: int | None = None) -> None:
    ds.add_new(0x60000010, "US", rows)
    ds.add_new(0x60000011, "US", columns)
    ds.add_new(0x60000040, "CS", "G")
    ds.add_new(0x60000050, "SS", list(origin))
    ds.add_new(0x60000100, "US", 1)
    ds.add_new(0x60000102, "US", 0)
    if frames is not None:
        ds.add_new(0x60000015, "IS", frames)
    if first_frame is not None:
        ds.add_new(0x60000051, "US", first_frame)
    ds.add_new(0x60003000, "OW", np.packbits(np.array(bits, dtype=np.uint8), bitorder="little").tobytes())


def test_overlay_on_frame_is_placed_at_its_origin_and_cut_to_the_image() -> None:
    ds = dataset(3, 4, frames=2, pixel_data=bytes(24))
    # a 2x2 overlay whose origin 0\0 is one row above and one column left of the image (C.9.2.1.2)
    _overlay(ds, 2, 2, (0, 0), [1, 1, 1, 1])
    mask = overlay_on_frame(ds, 0x6000, 0)
    assert mask is not None and mask.shape == (3, 4)
    assert mask.astype(int).tolist() == [[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    # one overlay frame without Image Frame Origin: shown on every frame
    assert np.array_equal(overlay_on_frame(ds, 0x6000, 1), mask)
    moved = dataset(3, 4, pixel_data=bytes(12))
    _overlay(moved, 2, 2, (3, 4), [1, 0, 0, 1])  # bottom right corner: only its first pixel is in the image
    assert np.argwhere(overlay_on_frame(moved, 0x6000, 0)).tolist() == [[2, 3]]


def test_multi_frame_overlay_applies_from_image_frame_origin() -> None:
    ds = dataset(1, 2, frames=4, pixel_data=bytes(8))
    # two overlay frames [1 0] and [0 1] for image frames 2 and 3 (Image Frame Origin 2, C.9.3.1.1)
    _overlay(ds, 1, 2, (1, 1), [1, 0, 0, 1], frames=2, first_frame=2)
    assert overlay_on_frame(ds, 0x6000, 0) is None
    assert overlay_on_frame(ds, 0x6000, 1).tolist() == [[True, False]]  # type: ignore[union-attr]
    assert overlay_on_frame(ds, 0x6000, 2).tolist() == [[False, True]]  # type: ignore[union-attr]
    assert overlay_on_frame(ds, 0x6000, 3) is None
    image = render(ds, 2, overlays=True)
    assert image[0, 1] == 255
    assert np.array_equal(render(ds, 0, overlays=True), render(ds, 0))


def test_embedded_overlay_is_drawn_from_the_frame_words() -> None:
    words = [0x1005, 0x0006, 0x1007, 0x0008]  # bit 12 is the overlay, 12 bits stored
    ds = dataset(2, 2, bits_allocated=16, bits_stored=12, pixel_data=struct.pack("<4H", *words))
    ds.add_new(0x60000010, "US", 2)
    ds.add_new(0x60000011, "US", 2)
    ds.add_new(0x60000100, "US", 16)
    ds.add_new(0x60000102, "US", 12)
    assert overlay_on_frame(ds, 0x6000, 0).tolist() == [[True, False], [True, False]]  # type: ignore[union-attr]
    image = render(ds, overlays=[0x6000])
    assert image[0, 0] == 255 and image[1, 0] == 255 and image[0, 1] < 255
