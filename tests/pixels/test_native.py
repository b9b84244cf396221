"""Native pixel data (PS3.5 8.1): bit depths, masking and sign extension, byte order, planar, 1-bit, 4:2:2."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dicomkit
from dicomkit.core.element import DataElement, SourceEncoding
from dicomkit.pixels import describe, pixel_array, set_pixel_data

from .conftest import dataset, np, roundtrip


def test_unsigned_masking_drops_bits_above_high_bit() -> None:
    words = [0xF123, 0x0FFF, 0x8001, 0x0000]  # 12 bits stored: high nibble is other data (e.g. overlays)
    ds = dataset(2, 2, bits_allocated=16, bits_stored=12, pixel_data=struct.pack("<4H", *words))
    assert ds.pixel_array.ravel().tolist() == [0x123, 0xFFF, 0x001, 0]


def test_signed_values_are_sign_extended_from_bits_stored() -> None:
    words = [0x0800, 0x07FF, 0xFFFF, 0xF801]  # 12-bit two's complement in 16-bit words, garbage above
    ds = dataset(2, 2, bits_allocated=16, bits_stored=12, signed=True, pixel_data=struct.pack("<4H", *words))
    arr = ds.pixel_array
    assert arr.dtype == np.int16
    assert arr.ravel().tolist() == [-2048, 2047, -1, -2047]


def test_high_bit_not_at_bits_stored_minus_one() -> None:
    # Bits Stored 8 at bits 4..11 (High Bit 11): the value is shifted down.
    ds = dataset(1, 2, bits_allocated=16, bits_stored=8, high_bit=11, pixel_data=struct.pack("<2H", 0xFAB5, 0x0FF0))
    assert ds.pixel_array.ravel().tolist() == [0xAB, 0xFF]
    signed = dataset(1, 2, bits_allocated=16, bits_stored=8, high_bit=11, signed=True,
                     pixel_data=struct.pack("<2H", 0x0800, 0x07F0))
    assert signed.pixel_array.ravel().tolist() == [-128, 127]


@pytest.mark.parametrize("bits", [8, 16, 32, 64])
@pytest.mark.parametrize("signed", [False, True])
def test_every_bits_allocated_round_trips(bits: int, signed: bool) -> None:
    rng = np.random.default_rng(bits)
    dtype = np.dtype(f"{'i' if signed else 'u'}{bits // 8}")
    info = np.iinfo(dtype)
    arr = rng.integers(info.min, info.max, size=(3, 5, 7), dtype=dtype, endpoint=True)  # (frames, rows, columns)
    ds = dataset(5, 7, bits_allocated=bits, signed=signed, frames=3)
    set_pixel_data(ds, arr)
    back = roundtrip(ds).pixel_array
    assert back.dtype == dtype
    assert np.array_equal(back, arr)


def test_big_endian_words_and_swapped_8_bit_ow() -> None:
    values = [1, 0x0102, 0xFFFE, 300]
    src = SourceEncoding(little_endian=False, implicit_vr=False)
    ds = dataset(2, 2, bits_allocated=16)
    ds.add(DataElement.from_raw(0x7FE00010, dicomkit.VR.OW, struct.pack(">4H", *values), src))
    ds.file_meta.add_new(0x00020010, "UI", "1.2.840.10008.1.2.2")
    assert ds.pixel_array.ravel().tolist() == values
    # 8-bit samples in OW in big endian: the bytes are swapped in pairs with the words (PS3.5 A.3)
    eight = dataset(1, 4, transfer_syntax="1.2.840.10008.1.2.2")
    eight.add(DataElement.from_raw(0x7FE00010, dicomkit.VR.OW, bytes([2, 1, 4, 3]), src))
    assert eight.pixel_array.ravel().tolist() == [1, 2, 3, 4]


def test_planar_configuration_one_is_returned_interleaved() -> None:
    r, g, b = bytes([1, 2, 3, 4]), bytes([5, 6, 7, 8]), bytes([9, 10, 11, 12])
    ds = dataset(2, 2, samples=3, planar=1, pixel_data=r + g + b)
    arr = ds.pixel_array
    assert arr.shape == (2, 2, 3)
    assert arr[0, 0].tolist() == [1, 5, 9] and arr[1, 1].tolist() == [4, 8, 12]
    set_pixel_data(ds, arr, planar_configuration=1)
    assert ds.PixelData == r + g + b


def test_one_bit_frames_are_not_byte_aligned() -> None:
    # 3 frames of 3x3 = 27 bits: frame 1 starts at bit 9 of the data (PS3.5 8.1.1, LSB first).
    rng = np.random.default_rng(1)
    bits = rng.integers(0, 2, size=27, dtype=np.uint8)
    packed = np.packbits(bits, bitorder="little").tobytes()
    ds = dataset(3, 3, bits_allocated=1, frames=3, pixel_data=packed + b"\x00")
    arr = ds.pixel_array
    assert arr.shape == (3, 3, 3)
    assert np.array_equal(arr.ravel(), bits)
    assert np.array_equal(ds.frame(1).ravel(), bits[9:18])
    set_pixel_data(ds, arr, bits_allocated=1)  # three frames, as the data set's one sample per pixel says
    assert ds.NumberOfFrames == 3
    assert ds.PixelData[:4] == packed


def test_odd_length_data_and_short_data() -> None:
    ds = dataset(1, 3, pixel_data=bytes([7, 8, 9]))  # odd: the writer pads, the reader keeps 3 or 4 bytes
    again = roundtrip(ds)
    assert again.pixel_array.ravel().tolist() == [7, 8, 9]
    short = dataset(2, 2, bits_allocated=16, pixel_data=b"\x00" * 6)
    with pytest.raises(dicomkit.PixelDataError, match="holds 6 bytes"):
        _ = short.pixel_array


def test_ybr_full_422_native_is_upsampled() -> None:
    # PS3.3 C.7.6.3.1.2: Y1 Y2 Cb Cr for each pair of pixels.
    data = bytes([10, 20, 100, 200, 30, 40, 110, 210])
    ds = dataset(1, 4, samples=3, photometric="YBR_FULL_422", pixel_data=data)
    arr = pixel_array(ds, as_rgb=False)[0]
    assert arr.tolist() == [[10, 100, 200], [20, 100, 200], [30, 110, 210], [40, 110, 210]]
    assert dicomkit.pixels.photometric(ds, as_rgb=False) == "YBR_FULL"
    assert dicomkit.pixels.photometric(ds) == "RGB" and ds.pixel_array.shape == (1, 4, 3)


def test_float_and_double_float_pixel_data() -> None:
    arr = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    ds = dataset(3, 4)
    del ds[0x7FE00010]
    set_pixel_data(ds, arr)
    assert 0x7FE00008 in ds and "BitsStored" not in ds
    assert np.array_equal(roundtrip(ds).pixel_array, arr)
    set_pixel_data(ds, arr.astype(np.float64))
    assert 0x7FE00009 in ds and 0x7FE00008 not in ds
    assert np.array_equal(roundtrip(ds).pixel_array, arr.astype(np.float64))


@pytest.mark.parametrize(("keyword", "value", "message"), [
    ("BitsAllocated", 12, "Bits Allocated 12"),
    ("BitsStored", 17, "Bits Stored 17"),
    ("HighBit", 3, "High Bit 3"),
    ("Rows", 0, "Rows 0"),
    ("SamplesPerPixel", 2, "Samples per Pixel 2"),
    ("PixelRepresentation", 2, "Pixel Representation 2"),
])
def test_inconsistent_attributes_are_refused(keyword: str, value: int, message: str) -> None:
    ds = dataset(2, 2, bits_allocated=16, pixel_data=b"\x00" * 8)
    setattr(ds, keyword, value)
    with pytest.raises(dicomkit.PixelDataError, match=message):
        _ = ds.pixel_array


def test_missing_attributes_and_missing_pixel_data() -> None:
    ds = dataset(2, 2, pixel_data=b"\x00" * 4)
    del ds.Columns
    with pytest.raises(dicomkit.PixelDataError, match="Columns is missing"):
        _ = ds.pixel_array
    ds = dataset(2, 2, pixel_data=b"\x00" * 4)
    del ds[0x7FE00010]
    with pytest.raises(dicomkit.PixelDataError, match="no Pixel Data"):
        pixel_array(ds)


def test_frame_index_out_of_range() -> None:
    ds = dataset(2, 2, frames=2, pixel_data=b"\x00" * 8)
    assert ds.frame(-2).shape == (2, 2)
    with pytest.raises(dicomkit.PixelDataError, match="frame 2 requested"):
        ds.frame(2)


def test_cache_follows_changed_attributes() -> None:
    ds = dataset(2, 2, bits_allocated=16, pixel_data=struct.pack("<4H", 1, 2, 3, 0x8000))
    assert ds.pixel_array.ravel().tolist()[-1] == 0x8000
    ds.PixelRepresentation = 1
    assert ds.pixel_array.ravel().tolist()[-1] == -0x8000
    assert describe(ds).is_signed


@settings(max_examples=300, deadline=None)
@given(rows=st.integers(0, 65535), columns=st.integers(0, 40), samples=st.sampled_from([0, 1, 2, 3, 4]),
       allocated=st.sampled_from([0, 1, 8, 12, 16, 24, 32, 64]), stored=st.integers(0, 70),
       high=st.integers(-1, 70), representation=st.integers(0, 2), planar=st.integers(0, 2),
       frames=st.integers(-1, 5), photometric=st.sampled_from(["MONOCHROME2", "RGB", "YBR_FULL_422", "PALETTE COLOR",
                                                               "", "FOO"]),
       data=st.binary(max_size=300))
def test_any_attribute_values_give_an_array_or_a_dicom_error(rows: int, columns: int, samples: int, allocated: int,
                                                              stored: int, high: int, representation: int,
                                                              planar: int, frames: int, photometric: str,
                                                              data: bytes) -> None:
    ds = dataset(1, 1, pixel_data=data + (b"\x00" if len(data) & 1 else b""))
    values = {"Rows": rows, "Columns": columns, "SamplesPerPixel": samples, "BitsAllocated": allocated,
              "BitsStored": stored, "HighBit": max(high, 0), "PixelRepresentation": representation,
              "PlanarConfiguration": planar, "NumberOfFrames": max(frames, 0)}
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    ds.PhotometricInterpretation = photometric
    try:
        arr = pixel_array(ds)
    except dicomkit.DicomError:
        return
    assert arr.shape[:3] == (frames, rows, columns) if frames > 1 else arr.shape[:2] == (rows, columns)
