"""``dicomkit convert`` and ``dicomkit render``."""

from __future__ import annotations

import shutil
import subprocess
import sys
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
    assert np.array_equal(ds.pixel_array, read_corpus("MR2_UNCR.dcm").pixel_array)
    assert "converted 1 of 1" in capsys.readouterr().err
    back = tmp_path / "back.dcm"
    assert main(["convert", str(out), str(back), "--ts", "1.2.840.10008.1.2.1"]) == 0
    assert np.array_equal(dicomkit.read(back).pixel_array, read_corpus("MR2_UNCR.dcm").pixel_array)


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
    assert np.array_equal(dicomkit.read(tmp_path / "out" / "emri_small.dcm").pixel_array,
                          read_corpus("emri_small.dcm").pixel_array)
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
    assert np.array_equal(exact.pixel_array, original.pixel_array)


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


def _render(*args: str) -> subprocess.CompletedProcess[str]:
    """``dicomkit render`` as a user runs it: its own process, so that the whole of stderr is seen."""
    return subprocess.run([sys.executable, "-m", "dicomkit.cli.main", "render", *args], capture_output=True,
                          text=True, timeout=120, check=False)


def test_render_draws_overlays_on_request(tmp_path: Path) -> None:
    import imagecodecs

    from dicomkit.pixels.overlays import overlay_on_frame

    name = "MR-SIEMENS-DICOM-WithOverlays.dcm"  # Overlay Data in group 6000 (a ROI outline and a mark)
    plain, drawn = tmp_path / "plain.png", tmp_path / "drawn.png"
    first = _render(str(CORPUS / name), str(plain))
    assert first.returncode == 0, first.stderr
    second = _render(str(CORPUS / name), str(drawn), "--overlays")
    assert second.returncode == 0, second.stderr
    assert "overlays 6000" in second.stderr
    without, with_ = imagecodecs.png_decode(plain.read_bytes()), imagecodecs.png_decode(drawn.read_bytes())
    mask = overlay_on_frame(read_corpus(name), 0x6000, 0)
    assert mask is not None and 100 < mask.sum() < mask.size // 10
    assert (with_[mask] == 255).all()  # overlay pixels drawn white
    assert np.array_equal(with_[~mask], without[~mask])  # nothing else changed
    assert not (without[mask] == 255).all()


def test_render_overlays_on_a_file_without_any(tmp_path: Path) -> None:
    result = _render(str(CORPUS / "MR2_UNCR.dcm"), str(tmp_path / "mr.png"), "--overlays")
    assert result.returncode == 0 and "the file has no overlays" in result.stderr


def _refused(result: subprocess.CompletedProcess[str], code: int, text: str) -> None:
    assert result.returncode == code
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and text in lines[0] and lines[0].startswith("dicomkit render: "), result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(("name", "voi", "text"), [
    ("MR2_UNCR.dcm", "1", "VOI 1 requested; the data set has 1 window(s)"),
    ("MR-SIEMENS-DICOM-WithOverlays.dcm", "2", "VOI 2 requested; the data set has 2 window(s)"),
    ("vlut_04.dcm", "1", "VOI 1 requested; the data set has 1 VOI LUT(s)"),
    ("emri_small.dcm", "1", "no window and no VOI LUT"),
    ("MR2_UNCR.dcm", "-1", "VOI -1 requested"),
    ("US1_UNCR.dcm", "1", "VOI transformations apply to grayscale images, not RGB"),
])
def test_render_refuses_voi_out_of_range(name: str, voi: str, text: str, tmp_path: Path) -> None:
    out = tmp_path / "x.png"
    _refused(_render(str(CORPUS / name), str(out), "--voi", voi), 1, text)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_render_chooses_among_windows(tmp_path: Path) -> None:
    import imagecodecs

    name = "MR-SIEMENS-DICOM-WithOverlays.dcm"
    images = []
    for voi in ("0", "1"):
        out = tmp_path / f"w{voi}.png"
        assert _render(str(CORPUS / name), str(out), "--voi", voi).returncode == 0
        images.append(imagecodecs.png_decode(out.read_bytes()))
    from dicomkit.pixels import render

    assert np.array_equal(images[1], render(read_corpus(name), voi_index=1))
    assert not np.array_equal(images[0], images[1])


@pytest.mark.parametrize("quality", ["0", "101", "-5"])
def test_render_refuses_quality_outside_1_to_100(quality: str, tmp_path: Path) -> None:
    out = tmp_path / "x.jpg"
    _refused(_render(str(CORPUS / "US1_UNCR.dcm"), str(out), "--quality", quality), 2,
             f"--quality must be 1-100, not {quality}")
    assert not out.exists()


@pytest.mark.parametrize(("out", "text"), [
    ("x.gif", "cannot write GIF; use .png or .jpg"),
    ("x.tiff", "cannot write TIFF; use .png or .jpg"),
    ("x", "(no extension); use .png or .jpg"),
])
def test_render_refuses_formats_it_cannot_write(out: str, text: str, tmp_path: Path) -> None:
    _refused(_render(str(CORPUS / "MR2_UNCR.dcm"), str(tmp_path / out)), 2, text)
    assert not list(tmp_path.iterdir())


def test_render_format_from_the_file_name(tmp_path: Path) -> None:
    import imagecodecs

    for name, magic, kind in (("a.png", b"\x89PNG", "PNG"), ("b.JPG", b"\xff\xd8", "JPEG"),
                              ("c.jpeg", b"\xff\xd8", "JPEG")):
        result = _render(str(CORPUS / "US1_UNCR.dcm"), str(tmp_path / name), "--quality", "100")
        assert result.returncode == 0 and f"RGB {kind}" in result.stderr
        assert (tmp_path / name).read_bytes()[:4].startswith(magic)
    forced = _render(str(CORPUS / "US1_UNCR.dcm"), str(tmp_path / "d.img"), "--format", "png")
    assert forced.returncode == 0 and (tmp_path / "d.img").read_bytes()[:4] == b"\x89PNG"
    best = imagecodecs.jpeg8_decode((tmp_path / "b.JPG").read_bytes()).astype(int)
    assert np.abs(best - read_corpus("US1_UNCR.dcm").pixel_array.astype(int)).mean() < 1.5
    assert not list(tmp_path.glob(".dicomkit-*"))  # written aside and renamed: no temporary file left


def test_render_refuses_voi_with_window_and_an_unwritable_output(tmp_path: Path) -> None:
    _refused(_render(str(CORPUS / "MR2_UNCR.dcm"), str(tmp_path / "x.png"), "--voi", "0", "--window", "1,2"), 2,
             "--voi and --window exclude each other")
    _refused(_render(str(CORPUS / "MR2_UNCR.dcm"), str(tmp_path / "missing" / "x.png")), 1,
             f"cannot write {tmp_path / 'missing' / 'x.png'}: No such file or directory")
