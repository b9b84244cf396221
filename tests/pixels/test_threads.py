"""Decoding on several cores: frames on a pool of threads, one large JPEG 2000 frame on OpenJPEG's threads;
the same arrays as on one thread, small work left on the calling thread, errors reported as on one.

Whether a pool pays is decided from the time the first frame took (frames.use_pool); the tests that need the
pool set its threshold to 0, so that they do not depend on the machine's speed."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import dicomkit
from dicomkit.pixels import default_threads, pixel_array, pixel_source, render, set_pixel_data, transcode
from dicomkit.pixels import frames as frames_module
from dicomkit.pixels.codecs import codec_for
from dicomkit.pixels.codecs.jpeg2000 import THREADED_CODESTREAM_BYTES
from dicomkit.pixels.frames import use_pool

from .conftest import np, read_corpus, roundtrip

imagecodecs = pytest.importorskip("imagecodecs", reason="the codecs extra is needed: pip install 'dicomkit[codecs]'")


@pytest.fixture
def always_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frames_module, "CONCURRENT_WORK_SECONDS", 0.0)


def _series(alias: str, frames: int = 6, size: int = 256) -> tuple[dicomkit.Dataset, Any]:
    """A multi-frame series of real MR content (shifted crops of MR2), encoded in ``alias``."""
    image = read_corpus("MR2_UNCR.dcm").pixel_array
    stack = np.stack([np.roll(image, 37 * i, axis=1)[:size, :size] for i in range(frames)])
    ds = read_corpus("MR2_UNCR.dcm").copy()
    set_pixel_data(ds, stack, bits_stored=12)
    return roundtrip(transcode(ds, alias)), stack


class _Recorder:
    """Wraps a codec's decode and records the thread and the ``threads`` of each call."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, uid: str) -> None:
        self.calls: list[tuple[str, int]] = []
        codec = codec_for(uid)
        original = codec.decode
        lock = threading.Lock()

        def decode(data: bytes, desc: Any, *, threads: int = 1, rgb: bool = False) -> Any:
            with lock:
                self.calls.append((threading.current_thread().name, threads))
            return original(data, desc, threads=threads, rgb=rgb)

        monkeypatch.setattr(codec, "decode", decode)

    @property
    def pooled(self) -> bool:
        return any(name.startswith("dicomkit-decode") for name, _ in self.calls)


@pytest.mark.parametrize("alias", ["j2k-lossless", "j2k", "htj2k-lossless", "jpeg-ls", "jpeg-sv1"])
def test_concurrent_frames_equal_one_thread(alias: str, monkeypatch: pytest.MonkeyPatch, always_pool: None) -> None:
    ds, stack = _series(alias)
    recorder = _Recorder(monkeypatch, str(ds.transfer_syntax))
    one = pixel_array(ds, threads=1)
    assert not recorder.pooled
    recorder.calls.clear()
    two = pixel_array(ds, threads=2)
    assert len(recorder.calls) == 6  # every frame once: the first on the calling thread, the others on the pool
    assert recorder.calls[0][0] == threading.current_thread().name
    assert all(name.startswith("dicomkit-decode") for name, _ in recorder.calls[1:])
    assert np.array_equal(one, two)
    if alias != "j2k":
        assert np.array_equal(two, stack)
    assert np.array_equal(pixel_array(ds, frames=[5, 0, 3], threads=3), one[[5, 0, 3]])


def test_the_pool_is_used_when_the_frames_left_hold_enough_work() -> None:
    assert use_pool(0.005, 31, 2)  # 31 frames of 5 ms: 155 ms of work
    assert use_pool(0.080, 2, 2)
    assert not use_pool(0.0005, 9, 2)  # 9 small frames of 0.5 ms: a pool costs about what it would save
    assert not use_pool(0.080, 1, 1)  # one frame left: nothing to share
    assert not use_pool(1.0, 10, 1)  # threads=1


def test_default_is_every_core_and_threads_must_be_positive(monkeypatch: pytest.MonkeyPatch,
                                                              always_pool: None) -> None:
    ds, _ = _series("j2k-lossless", frames=3)
    recorder = _Recorder(monkeypatch, str(ds.transfer_syntax))
    _ = ds.pixel_array
    assert recorder.pooled == (default_threads() > 1)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="threads must be"):
            pixel_array(ds, threads=bad)  # type: ignore[arg-type]


def test_small_work_stays_on_the_calling_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frames_module, "CONCURRENT_WORK_SECONDS", 3600.0)  # as for frames that decode quickly
    ds, stack = _series("j2k-lossless", frames=4)
    recorder = _Recorder(monkeypatch, str(ds.transfer_syntax))
    assert np.array_equal(pixel_array(ds, threads=4), stack)
    assert not recorder.pooled and len(recorder.calls) == 4


def test_native_and_rle_frames_are_not_handed_to_threads(monkeypatch: pytest.MonkeyPatch, always_pool: None) -> None:
    ds, stack = _series("rle", frames=3)
    recorder = _Recorder(monkeypatch, str(ds.transfer_syntax))
    assert np.array_equal(pixel_array(ds, threads=2), stack)
    assert not recorder.pooled  # the RLE framing holds the GIL: threads would only add overhead


class _Numthreads:
    """Records the ``numthreads`` that OpenJPEG is given."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seen: list[int | None] = []
        original = imagecodecs.jpeg2k_decode

        def jpeg2k_decode(data: bytes, **kwargs: Any) -> Any:
            self.seen.append(kwargs.get("numthreads"))
            return original(data, **kwargs)

        monkeypatch.setattr(imagecodecs, "jpeg2k_decode", jpeg2k_decode)


def test_one_large_jpeg2000_frame_uses_the_codec_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    numthreads = _Numthreads(monkeypatch)
    mr2 = read_corpus("MR2_J2KR.dcm")  # 1024 x 1024, 587 KB: worth OpenJPEG's threads
    assert len(pixel_source(mr2).encoded_frame(0)) >= THREADED_CODESTREAM_BYTES
    threaded = pixel_array(mr2, threads=2)
    single = mr2.frame(0, threads=1)
    assert numthreads.seen == [2, 1]
    assert np.array_equal(threaded, single)
    assert np.array_equal(threaded, read_corpus("MR2_UNCR.dcm").pixel_array)
    numthreads.seen.clear()
    render(mr2, threads=2)
    assert numthreads.seen == [2]
    numthreads.seen.clear()
    small = read_corpus("emri_small_jpeg_2k_lossless.dcm")
    small.frame(0, threads=2)  # 64 x 64, 4 KB: OpenJPEG's threads would cost more than they give
    assert numthreads.seen == [1]


def test_few_frames_share_the_threads(monkeypatch: pytest.MonkeyPatch, always_pool: None) -> None:
    ds, _ = _series("j2k-lossless", frames=3)
    recorder = _Recorder(monkeypatch, str(ds.transfer_syntax))
    pixel_array(ds, threads=4)
    # the first frame with every thread; the two left on two workers with two codec threads each
    assert [t for _, t in recorder.calls] == [4, 2, 2]


def test_an_error_in_one_frame_is_raised_as_on_one_thread(always_pool: None) -> None:
    ds, _ = _series("j2k-lossless", frames=6)
    source = pixel_source(ds)
    fragments = source.frame_fragments()
    broken = bytearray(fragments[3][0])
    broken[:4] = b"\x00\x00\x00\x00"  # no SOC marker
    source.frame_fragments()[3] = [memoryview(bytes(broken))]
    for threads in (1, 2):
        with pytest.raises(dicomkit.PixelDataError, match="JPEG 2000 codestream"):
            pixel_array(ds, threads=threads)
    assert pixel_array(ds, frames=[0, 1, 2, 4, 5], threads=2).shape == (5, 256, 256)
