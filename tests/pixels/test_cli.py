"""``dicomkit convert`` and ``dicomkit render``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import dicomkit
from dicomkit.cli.main import main

from .conftest import CORPUS, np, read_corpus

pytest.importorskip("imagecodecs", reason="the codecs extra is needed: pip install 'dicomkit[codecs]'")


def test_convert_file_lossless_is_bit_exact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mr2.dcm"
    assert main(["convert", str(CORPUS / "MR2_UNCR.dcm"), str(out), "--ts", "JPEG2000Lossless"]) == 0
    ds = dicomkit.read(out)
    assert str(ds.transfer_syntax) == "1.2.840.10008.1.2.4.90"
    assert np.array_equal(ds.pixel_array(), read_corpus("MR2_UNCR.dcm").pixel_array())
    assert "converted 1 of 1" in capsys.readouterr().err
    back = tmp_path / "back.dcm"
    assert main(["convert", str(out), str(back), "--ts", "1.2.840.10008.1.2.1"]) == 0
    assert np.array_equal(dicomkit.read(back).pixel_array(), read_corpus("MR2_UNCR.dcm").pixel_array())


def test_convert_folder_reports_what_it_cannot_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    for name in ("emri_small.dcm", "SC_rgb.dcm"):
        shutil.copy(CORPUS / name, src / name)
    shutil.copy(CORPUS / "liver.dcm", src / "sub" / "liver.dcm")  # 1-bit: JPEG-LS cannot hold it
    (src / "notes.txt").write_text("not dicom")
    code = main(["convert", str(src), str(tmp_path / "out"), "--ts", "jpeg-ls"])
    err = capsys.readouterr().err
    assert code == 1
    assert "converted 2 of 4" in err and "1 skipped" in err and "1 failed" in err
    assert "liver.dcm" in err and "1-bit" in err
    assert np.array_equal(dicomkit.read(tmp_path / "out" / "emri_small.dcm").pixel_array(),
                          read_corpus("emri_small.dcm").pixel_array())
    assert not (tmp_path / "out" / "sub" / "liver.dcm").exists()
    assert not list((tmp_path / "out").rglob(".dicomkit-*"))  # no temporary file left behind


def test_convert_lossy_options_and_in_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "us.dcm"
    shutil.copy(CORPUS / "US1_UNCR.dcm", path)
    original = dicomkit.read(CORPUS / "US1_UNCR.dcm")
    # converting a file onto itself is safe: the output is written aside and renamed
    assert main(["convert", str(path), str(path), "--ts", "jpeg-baseline", "--quality", "80"]) == 0
    assert "1 lossy" in capsys.readouterr().err
    ds = dicomkit.read(path)
    assert ds.LossyImageCompression == "01" and ds.SOPInstanceUID != original.SOPInstanceUID
    assert main(["convert", str(CORPUS / "US1_UNCR.dcm"), str(tmp_path / "j.dcm"), "--ts", "j2k",
                 "--lossless"]) == 0
    exact = dicomkit.read(tmp_path / "j.dcm")
    assert "LossyImageCompression" not in exact
    assert np.array_equal(exact.pixel_array(), original.pixel_array())


def test_convert_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", str(CORPUS / "SC_rgb.dcm"), str(tmp_path / "x.dcm"), "--ts", "nope"]) == 2
    assert "unknown transfer syntax" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "missing.dcm"), str(tmp_path / "x.dcm"), "--ts", "rle"]) == 2


def test_render_png_and_jpeg(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "mr.png"
    assert main(["render", str(CORPUS / "emri_small.dcm"), str(png), "--frame", "4", "--window", "200,400",
                 "--size", "32x32"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "32x32 grayscale PNG, frame 4" in capsys.readouterr().err
    jpg = tmp_path / "us.jpg"
    assert main(["render", str(CORPUS / "US1_J2KR.dcm"), str(jpg)]) == 0
    import imagecodecs

    image = imagecodecs.jpeg8_decode(jpg.read_bytes())
    assert image.shape == (480, 640, 3)
    assert np.abs(image.astype(int) - read_corpus("US1_UNCR.dcm").frame(0).astype(int)).mean() < 3


def test_render_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(CORPUS / "emri_small.dcm"), str(tmp_path / "x.png"), "--frame", "10"]) == 1
    assert "frame 10 requested" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["render", str(CORPUS / "emri_small.dcm"), str(tmp_path / "x.png"), "--window", "abc"])
