"""Without the codec library: one clear MissingDependencyError naming the extra; RLE and deflated frames
still decode (pure-Python PackBits, zlib)."""

from __future__ import annotations

import sys

import pytest

import dicomkit

from .conftest import np, read_corpus


@pytest.fixture
def no_imagecodecs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "imagecodecs", None)  # import raises ImportError


def test_compressed_frames_name_the_extra(no_imagecodecs: None) -> None:
    ds = read_corpus("MR2_J2KR.dcm")
    with pytest.raises(dicomkit.MissingDependencyError, match=r"pip install 'dicomkit\[codecs\]'"):
        _ = ds.pixel_array
    with pytest.raises(ImportError):  # it is an ImportError too
        read_corpus("JPEG-LL.dcm").frame(0)


def test_rle_and_deflate_work_without_the_library(no_imagecodecs: None) -> None:
    assert np.array_equal(read_corpus("emri_small_RLE.dcm").pixel_array, read_corpus("emri_small.dcm").pixel_array)
    assert np.array_equal(read_corpus("liver_deflate.dcm").pixel_array, read_corpus("liver.dcm").pixel_array)
    from dicomkit.pixels import transcode

    encoded = transcode(read_corpus("OBXXXX1A.dcm"), "rle")  # pure-Python PackBits encoder
    assert np.array_equal(encoded.pixel_array, read_corpus("OBXXXX1A.dcm").pixel_array)
