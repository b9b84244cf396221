"""A running archive with DICOMweb for the web tests: corpus files of several transfer syntaxes stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dicomkit.server import Server

from ..conftest import CORPUS

# native, JPEG 2000, JPEG-LS, RLE, JPEG lossless, multi-frame RGB, big endian, deflated
FILES = ("liver.dcm", "emri_small_jpeg_2k_lossless.dcm", "emri_small_jpeg_ls_lossless.dcm", "emri_small_RLE.dcm",
         "JPGLosslessP14SV1_1s_1f_8b.dcm", "SC_rgb_2frame.dcm", "MR2_UNCI.dcm", "liver_deflate.dcm", "CT_small.dcm",
         "OBXXXX1A_2frame.dcm", "US1_J2KR.dcm")


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS} (CI provides ../shared/corpus)")
    return CORPUS


@pytest.fixture(scope="module")
def pacs(tmp_path_factory: pytest.TempPathFactory, corpus_dir: Path) -> Iterator[Server]:
    """An archive with the FILES that exist in the corpus (one per study UID that is not shared)."""
    data = tmp_path_factory.mktemp("web") / "pacs"
    with Server(data_dir=data, dicom_port=0, http_port=0, durability="os",
                overrides={"web.cors_origins": "http://viewer.example"}) as server:
        for name in FILES:
            path = corpus_dir / name
            if path.exists():
                server.archive.ingest_file(path)
        yield server


@pytest.fixture(scope="module")
def base(pacs: Server) -> str:
    return f"http://127.0.0.1:{pacs.http_port}/dicom-web"
