"""Encapsulated frames (PS3.5 A.4): located by BOT, EOT or a fragment scan, decoded one at a time;
corrupt pixel data raises a DicomError and never crashes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dicomkit
from dicomkit.core.element import DataElement
from dicomkit.io.encapsulation import encapsulate
from dicomkit.pixels import pixel_source, transcode

from .conftest import CORPUS, np, read_corpus, roundtrip

pytest.importorskip("imagecodecs", reason="the codecs extra is needed: pip install 'dicomkit[codecs]'")


def _with_fragments(ds: dicomkit.Dataset, frames: list[bytes], *, bot: bool = True,
                    split: int | None = None) -> dicomkit.Dataset:
    """A copy whose Pixel Data holds ``frames``; ``split`` cuts every frame into fragments of that size."""
    out = ds.copy()
    if split is None:
        stream = encapsulate(frames, basic_offset_table=bot)
    else:
        pieces: list[bytes] = []
        for f in frames:
            pieces += [f[i:i + split] for i in range(0, len(f), split)]
        stream = encapsulate(pieces, basic_offset_table=False)
    out[0x7FE00010] = DataElement(0x7FE00010, "OB", stream, undefined_length=True)
    out.__dict__.pop("_pixel_source", None)
    return out


def _frames_of(ds: dicomkit.Dataset) -> list[bytes]:
    source = pixel_source(ds)
    return [source.encoded_frame(i) for i in range(source.number_of_frames)]


def test_one_frame_is_decoded_without_touching_the_others() -> None:
    ds = read_corpus("emri_small_jpeg_ls_lossless.dcm")
    frames = _frames_of(ds)
    frames[3] = b"\xff\xd8 this frame is garbage \xff\xd9"
    broken = _with_fragments(ds, frames)
    expected = read_corpus("emri_small.dcm").pixel_array
    assert np.array_equal(broken.frame(2), expected[2])
    assert np.array_equal(broken.frame(4), expected[4])
    with pytest.raises(dicomkit.PixelDataError):
        broken.frame(3)
    with pytest.raises(dicomkit.PixelDataError):
        _ = broken.pixel_array


def test_frames_split_over_fragments_without_offset_table() -> None:
    ds = read_corpus("emri_small_jpeg_2k_lossless.dcm")
    split = _with_fragments(ds, _frames_of(ds), split=1000)
    assert np.array_equal(split.pixel_array, ds.pixel_array)


def test_wrong_basic_offset_table_falls_back_to_the_fragments() -> None:
    ds = read_corpus("emri_small_jpeg_ls_lossless.dcm")
    good = _with_fragments(ds, _frames_of(ds))
    raw = bytearray(good["PixelData"].value)
    raw[12:16] = (12345).to_bytes(4, "little")  # second offset points nowhere
    good[0x7FE00010] = DataElement(0x7FE00010, "OB", bytes(raw), undefined_length=True)
    good.__dict__.pop("_pixel_source", None)
    assert np.array_equal(good.pixel_array, ds.pixel_array)


def test_one_frame_in_many_fragments() -> None:
    ds = read_corpus("MR2_J2KR.dcm")
    split = _with_fragments(ds, _frames_of(ds), split=4096)
    assert len(pixel_source(split).frame_fragments()[0]) > 100
    assert np.array_equal(split.pixel_array, read_corpus("MR2_UNCR.dcm").pixel_array)


@pytest.mark.parametrize("name", ["MR2_J2KR.dcm", "JPEG-LL.dcm", "JLSL_16_15_1_1F.dcm", "emri_small_RLE.dcm",
                                  "HTJ2KLossless_08_RGB.dcm", "liver_deflate.dcm"])
@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_codestreams_raise(name: str, cut: float) -> None:
    ds = read_corpus(name)
    frames = _frames_of(ds)
    frames[0] = frames[0][:int(len(frames[0]) * cut)]
    with pytest.raises(dicomkit.DicomError):
        _with_fragments(ds, frames).frame(0)


def test_truncated_file_raises_and_lenient_read_still_refuses_the_frame(tmp_path: object) -> None:
    data = (CORPUS / "MR2_J2KR.dcm").read_bytes()
    cut = data[:len(data) - 5000]
    with pytest.raises(dicomkit.TruncatedError):
        dicomkit.read(cut)
    ds = dicomkit.read(cut, lenient=True)
    assert any("truncated" in str(c) for c in ds.read_corrections)
    with pytest.raises(dicomkit.DicomError):
        _ = ds.pixel_array


def test_wrong_number_of_frames_and_encapsulation_mismatch() -> None:
    ds = read_corpus("emri_small_RLE.dcm").copy()
    ds.NumberOfFrames = 12
    ds.__dict__.pop("_pixel_source", None)
    with pytest.raises(dicomkit.PixelDataError):
        _ = ds.pixel_array
    native = read_corpus("emri_small.dcm").copy()
    native.file_meta.add_new(0x00020010, "UI", "1.2.840.10008.1.2.4.80")
    with pytest.raises(dicomkit.PixelDataError, match="defined length"):
        _ = native.pixel_array


def test_rle_header_errors() -> None:
    ds = read_corpus("emri_small_RLE.dcm")
    frames = _frames_of(ds)
    bad_count = b"\x05" + frames[0][1:]
    bad_offset = frames[0][:4] + (999999).to_bytes(4, "little") + frames[0][8:]
    for frame, message in ((bad_count, "lists 5 segments"), (bad_offset, "outside the frame")):
        with pytest.raises(dicomkit.PixelDataError, match=message):
            _with_fragments(ds, [frame, *frames[1:]]).frame(0)


CODEC_FILES = ["MR2_J2KR.dcm", "JPGLosslessP14SV1_1s_1f_8b.dcm", "JLSL_08_07_0_1F.dcm", "HTJ2K_08_RGB.dcm",
               "OBXXXX1A_rle.dcm", "liver_nonbyte_aligned_deflate.dcm"]


@pytest.mark.parametrize("name", CODEC_FILES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_codestreams_never_crash(name: str, data: st.DataObject) -> None:
    ds = read_corpus(name)
    frame = bytearray(_frames_of(ds)[0])
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(frame) - 1))
        frame[pos] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        frame = frame[:data.draw(st.integers(0, len(frame)))]
    mutated = _with_fragments(ds, [bytes(frame)])
    try:
        arr = mutated.frame(0)
    except dicomkit.DicomError:
        return
    desc = pixel_source(ds).desc
    assert arr.shape == (desc.frame_shape if desc.samples_per_pixel > 1 else desc.frame_shape[:2])


def test_memory_of_one_frame_stays_one_frame(tmp_path: object) -> None:
    import tracemalloc
    from pathlib import Path

    frames = np.random.default_rng(0).integers(0, 4096, size=(40, 256, 256), dtype=np.uint16)
    ds = read_corpus("emri_small.dcm").copy()
    dicomkit.pixels.set_pixel_data(ds, frames, bits_stored=12)
    path = Path(str(tmp_path)) / "big.dcm"
    transcode(ds, "explicit").save(path)
    big = dicomkit.read(path)
    tracemalloc.start()
    frame = big.frame(20)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert np.array_equal(frame, frames[20])
    assert peak < 4 * frames[0].nbytes  # one 128 KiB frame, not the 5 MiB of all frames
    lossless = roundtrip(transcode(ds, "jpeg-ls"))
    tracemalloc.start()
    frame = lossless.frame(39)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert np.array_equal(frame, frames[39])
    assert peak < 6 * frames[0].nbytes
