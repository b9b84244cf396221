"""Compression on store (``storage.compression``) and transcoding on retrieve: objects sent uncompressed are kept
losslessly compressed, pixel for pixel the same; C-GET to a peer that accepts only uncompressed syntaxes gets
them decompressed, C-FIND still answers from the index, and what the codec cannot take is kept as received."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import dicomkit
from dicomkit.core.errors import DicomError
from dicomkit.server import Server
from dicomkit.server.config import load_config
from dicomkit.server.ingest import Archive

from ..conftest import corpus_file, require_tool
from ..helpers import wait_until
from ..peers import dcmtk

np = pytest.importorskip("numpy")
pytest.importorskip("imagecodecs")

JPEG_LS = "1.2.840.10008.1.2.4.80"
NATIVE = ("MR2_UNCR.dcm", "US1_UNCR.dcm", "emri_small.dcm")  # 16-bit MONOCHROME2, 8-bit RGB, 10 frames
UNCOMPRESSED = {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"}


def _pixels(path: Path) -> object:
    from dicomkit.pixels import pixel_array

    return pixel_array(dicomkit.read(path))


@pytest.mark.parametrize("path", ["file", "batch"])
def test_import_compresses_native_pixel_data_losslessly(tmp_path: Path, path: str) -> None:
    """Through ingest_file (import) and ingest_batch (STOW-RS's small parts) alike."""
    config = load_config(None, {"storage.data_dir": str(tmp_path / "data"), "storage.compression": "lossless"})
    with Archive(config, workers=2) as archive:
        names = (*NATIVE, "liver.dcm", "MR2_J2KR.dcm")
        if path == "file":
            results = [archive.ingest_file(corpus_file(name)) for name in names]
        else:
            results = archive.ingest_batch([corpus_file(name).read_bytes() for name in names])
        for name, stored in zip(names, results, strict=True):
            assert stored.status == 0, (name, stored)
        for name in NATIVE:
            original = dicomkit.read(corpus_file(name))
            row = archive.index.instance(str(original.SOPInstanceUID))
            assert row is not None and row.transfer_syntax == JPEG_LS
            blob = archive.store.path_of(row.blob_key)
            assert str(dicomkit.read(blob).transfer_syntax) == JPEG_LS
            assert np.array_equal(_pixels(blob), _pixels(corpus_file(name)))
            assert row.size == blob.stat().st_size
        # a 1-bit segmentation (JPEG-LS takes 2 to 16 bits) and an object compressed already: kept as received
        for name, syntax in (("liver.dcm", "1.2.840.10008.1.2.1"), ("MR2_J2KR.dcm", "1.2.840.10008.1.2.4.90")):
            row = archive.index.instance(str(dicomkit.read(corpus_file(name)).SOPInstanceUID))
            assert row is not None and row.transfer_syntax == syntax
        # the same object sent again is identical (the received data set's SHA-256 is what duplicates compare)
        again = archive.ingest_file(corpus_file(NATIVE[0]))
        assert again.status == 0 and again.outcome == "identical"
        assert archive.index.count("instance") == 5


def test_compression_names_only_lossless_encapsulated_syntaxes(tmp_path: Path) -> None:
    for bad, why in (("JPEGBaseline8Bit", "lossy"), ("1.2.840.10008.1.2.4.91", "lossy"), ("explicit", "unknown"),
                     ("1.2.840.10008.1.2.1", "does not compress"), ("JPEGLSNearLossless", "lossy")):
        with pytest.raises(DicomError, match=f"storage.compression: .*{why}"):
            load_config(None, {"storage.data_dir": str(tmp_path), "storage.compression": bad})


def test_getscu_accepting_only_uncompressed_gets_the_pixels_back(tmp_path: Path) -> None:
    require_tool("getscu")
    sent = tmp_path / "in"
    sent.mkdir()
    for name in NATIVE:
        shutil.copy(corpus_file(name), sent / name)
    with Server(data_dir=tmp_path / "data", dicom_port=0, http=False,
                overrides={"storage.compression": "lossless"}) as server:
        out = dcmtk("storescu", "-aec", server.ae_title, "127.0.0.1", str(server.port), *map(str, sent.iterdir()))
        assert out.returncode == 0, out.stderr
        wait_until(lambda: server.index.count("instance") == 3, what="3 instances indexed")
        assert {row["transfer_syntax"] for row in server.index.query("SELECT transfer_syntax FROM instances")} \
            == {JPEG_LS}
        for name in NATIVE:
            ds = dicomkit.read(corpus_file(name))
            got = tmp_path / f"got-{name}"
            got.mkdir()
            # getscu proposes the uncompressed syntaxes only (its default): the archive decompresses
            out = dcmtk("getscu", "-S", "-aec", server.ae_title, "-od", str(got), "127.0.0.1", str(server.port),
                        "-k", "QueryRetrieveLevel=IMAGE", "-k", f"StudyInstanceUID={ds.StudyInstanceUID}",
                        "-k", f"SeriesInstanceUID={ds.SeriesInstanceUID}", "-k", f"SOPInstanceUID={ds.SOPInstanceUID}")
            assert out.returncode == 0, out.stderr
            (received,) = list(got.iterdir())
            assert str(dicomkit.read(received).transfer_syntax) in UNCOMPRESSED
            assert np.array_equal(_pixels(received), _pixels(corpus_file(name)))
        out = dcmtk("findscu", "-v", "-S", "-aec", server.ae_title, "127.0.0.1", str(server.port),
                    "-k", "QueryRetrieveLevel=IMAGE", "-k", f"StudyInstanceUID={ds.StudyInstanceUID}",
                    "-k", f"SeriesInstanceUID={ds.SeriesInstanceUID}", "-k", "SOPInstanceUID")
        assert str(ds.SOPInstanceUID) in out.stdout + out.stderr
