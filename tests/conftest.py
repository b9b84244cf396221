"""Shared fixtures: the real-file corpus and helpers to find DCMTK tools."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# ../shared beside the checkout (as in CI); DICOMKIT_SHARED overrides it.
SHARED = Path(os.environ.get("DICOMKIT_SHARED", ROOT.parent / "shared")).resolve()
CORPUS = SHARED / "corpus"

# Raw data sets in the corpus (no preamble/meta): they need force=True.
RAW_FILES = {"JLSL_RGB_ILV0.dcm", "JLSL_RGB_ILV1.dcm", "JLSL_RGB_ILV2.dcm", "JLSN_RGB_ILV0.dcm",
             "OT-PAL-8-face.dcm"}
# Files the default reader refuses and lenient=True reads (with a correction), and why. DCMTK refuses them
# too; pydicom reads an empty data set.
LENIENT_FILES = {
    "emri_small_jpeg_2k_lossless_too_short.dcm": "the file ends after a whole Pixel Data fragment, before the "
                                                 "Sequence Delimitation Item",
}


def read_options(path: Path | str) -> dict[str, bool]:
    """The options a corpus file needs to be read: force for raw data sets, lenient for LENIENT_FILES."""
    name = Path(path).name
    return {"force": name in RAW_FILES, "lenient": name in LENIENT_FILES}


def corpus_file(name: str) -> Path:
    """One corpus file by name; the test is skipped when the corpus is not there."""
    path = CORPUS / name
    if not path.exists():
        pytest.skip(f"corpus file {name} not found at {CORPUS}")
    return path


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(CORPUS.glob("*.dcm"))


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS} (CI provides ../shared/corpus)")
    return CORPUS


def corpus_params(where: Callable[[Path], bool] | None = None) -> list[object]:
    """The corpus files as test parameters; ``where``: only those a check applies to (decided at collection,
    so that the others are not collected rather than skipped)."""
    files = corpus_files()
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"corpus not found at {CORPUS}"))]
    return [pytest.param(f, id=f.name) for f in files if where is None or where(f)]


# The Debian package of each peer tool other than DCMTK's (.ci/run installs them).
TOOL_PACKAGES = {"dciodvfy": "dicom3tools", "xmllint": "libxml2-utils", "openssl": "openssl",
                 "rsyslogd": "rsyslog", "gdcmscu": "libgdcm-tools"}


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        package = TOOL_PACKAGES.get(name, "dcmtk")
        pytest.skip(f"{name} not installed (Debian package {package}; .ci/run installs it)")
    return path
