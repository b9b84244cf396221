"""The folder walker and the look at a file's first bytes (dicomkit.io.files)."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from dicomkit.io.dicomdir import create_fileset
from dicomkit.io.files import Kind, classify, looks_like_dataset, sniff, walk
from dicomkit.io.raw import meta_end
from tests.conftest import corpus_files


def test_every_corpus_file_is_dicom():
    files = corpus_files()
    if not files:
        pytest.skip("corpus not found")
    assert {path.name: classify(path).kind for path in files} == {path.name: Kind.DICOM for path in files}


@pytest.mark.parametrize("head", [
    b"# README\n\nExported from the PACS.\n",
    b'{"00100010": {"vr": "PN"}}',
    b"<?xml version='1.0'?><NativeDicomModel/>",
    b"\x89PNG\r\n\x1a\n" + bytes(32),
    b"\xff\xd8\xff\xe0" + bytes(32),
    struct.pack(">I4sI4s4s4s", 3144, b"lcms", 0x02100000, b"mntr", b"RGB ", b"XYZ ") + bytes(12) + b"acsp" + bytes(90),
    "Ceci n'est pas une image".encode("utf-16-le"),
    b"",
    b"\x08\x00",
])
def test_what_is_not_dicom(head: bytes):
    assert sniff(head) is Kind.NOT_DICOM


def test_raw_data_sets_in_each_encoding():
    explicit_le = struct.pack("<HH2sH", 0x0008, 0x0005, b"CS", 10) + b"ISO_IR 100"
    explicit_be = struct.pack(">HH2sH", 0x0008, 0x0005, b"CS", 10) + b"ISO_IR 100"
    implicit = struct.pack("<HHI", 0x0008, 0x0016, 26) + b"1.2.840.10008.5.1.4.1.1.7\x00"
    group_length = struct.pack("<HHII", 0x0008, 0x0000, 4, 100)
    for head in (explicit_le, explicit_be, implicit, group_length):
        assert looks_like_dataset(head) and sniff(head) is Kind.DICOM
    too_long = struct.pack("<HHI", 0x0008, 0x0016, 1 << 20) + bytes(20)
    assert not looks_like_dataset(too_long, size=len(too_long))
    assert sniff(struct.pack("<HH2sH", 0x0004, 0x1130, b"CS", 0)) is Kind.DICOMDIR  # group 0004: a DICOMDIR


def test_dicomdirs_part10_and_without_preamble(tmp_path: Path):
    files = corpus_files()
    if not files:
        pytest.skip("corpus not found")
    create_fileset(tmp_path / "cd", [files[0]], invent=True)
    data = (tmp_path / "cd" / "DICOMDIR").read_bytes()
    assert classify(tmp_path / "cd" / "DICOMDIR").kind is Kind.DICOMDIR
    assert sniff(data[128 + 4:]) is Kind.DICOMDIR  # meta without preamble
    assert sniff(data[meta_end(data):]) is Kind.DICOMDIR  # raw: starts with group 0004


def test_walk_order_hidden_links_and_special_files(tmp_path: Path):
    files = corpus_files()
    if not files:
        pytest.skip("corpus not found")
    root = tmp_path / "root"
    (root / "b").mkdir(parents=True)
    shutil.copy(files[0], root / "b" / "one.dcm")
    shutil.copy(files[0], root / "a.dcm")
    shutil.copy(files[0], root / ".hidden.dcm")
    (root / ".work").mkdir()
    shutil.copy(files[0], root / ".work" / "x.dcm")
    (root / "empty").write_bytes(b"")
    os.mkfifo(root / "b" / "fifo")
    os.symlink(root, root / "b" / "loop")  # a link back up: walked once only
    found = list(walk([root, tmp_path / "missing", root / "a.dcm"]))
    assert [(f.path.relative_to(tmp_path), f.kind, f.explicit) for f in found] == [
        (Path("root/a.dcm"), Kind.DICOM, False),
        (Path("root/b/fifo"), Kind.SPECIAL, False),
        (Path("root/b/one.dcm"), Kind.DICOM, False),
        (Path("root/empty"), Kind.NOT_DICOM, False),
        (Path("missing"), Kind.MISSING, True),
        (Path("root/a.dcm"), Kind.DICOM, True),
    ]
    assert found[1].note.endswith("skipped, not a regular file (a FIFO)")
    assert found[3].reason == "not a DICOM file (empty)"
    assert [f.path.name for f in walk([root], recursive=False)] == ["a.dcm", "empty"]


def test_an_unreadable_folder_is_reported():
    """A folder the walk cannot list is reported, not fatal. Root lists any folder, so as root the walk runs as
    user nobody (setpriv, util-linux) over a folder made for it."""
    base = Path(tempfile.mkdtemp(prefix="dicomkit-walk-", dir="/tmp"))
    os.chmod(base, 0o755)
    locked = base / "locked"
    locked.mkdir()
    os.chmod(locked, 0)
    code = "import sys; from dicomkit.io.files import walk; print([f.kind.name for f in walk([sys.argv[1]])])"
    try:
        if os.geteuid() != 0:
            assert [f.kind for f in walk([base])] == [Kind.UNREADABLE]
            return
        if shutil.which("setpriv") is None:
            pytest.skip("running as root and setpriv (util-linux) is missing: cannot make a folder unreadable")
        done = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", sys.executable,
                               "-c", code, str(base)], capture_output=True, text=True, timeout=60,
                              env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
        if done.returncode != 0 and "Permission denied" in done.stderr and "dicomkit" in done.stderr:
            pytest.skip(f"user nobody cannot import dicomkit here: {done.stderr.strip()[-200:]}")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "['UNREADABLE']"
    finally:
        os.chmod(locked, 0o755)
        shutil.rmtree(base)
