"""The folder blob store: UIDs checked before they become paths, names of their own, never replacing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dicomkit.server.blobs import BlobStoreError, FolderBlobStore, uid_component


@pytest.fixture
def store(tmp_path: Path) -> FolderBlobStore:
    s = FolderBlobStore(tmp_path / "store", "node1", spare_temps=0)
    yield s
    s.close()


def put(store: FolderBlobStore, data: bytes, study: str = "1.2.3", series: str = "1.2.3.4", sop: str = "1.2.3.4.5",
        durable: bool = True) -> str:
    temp = store.create_temp()
    temp.write([data])
    temp.sync()
    return store.place(temp, study, series, sop, durable=durable)


def test_place_open_range_delete_iterate(store: FolderBlobStore) -> None:
    key = put(store, b"hello world")
    assert key.count("/") == 3 and key.split("/")[1:3] == ["1.2.3", "1.2.3.4"]
    assert key.endswith(".dcm") and ".node1." in key
    with store.open(key) as f:
        assert f.read() == b"hello world"
    assert store.read_range(key, 6, 5) == b"world" and store.size(key) == 11
    [info] = list(store.iterate())
    assert (info.key, info.size, info.sop_instance_uid, info.node) == (key, 11, "1.2.3.4.5", "node1")
    assert not list(store.temp_files())
    assert store.delete(key) and not store.delete(key) and store.size(key) is None


def test_two_writes_of_one_uid_keep_their_own_bytes(store: FolderBlobStore) -> None:
    a, b = put(store, b"first"), put(store, b"second")
    assert a != b
    assert store.read_range(a, 0, 10) == b"first" and store.read_range(b, 0, 10) == b"second"


@pytest.mark.parametrize("uid", ["../../etc", "/etc/passwd", "..", ".", "a/../../b", "1.2\\..\\x", "\x00..",
                                 "C:\\Windows", "1.2.3/4"])
def test_hostile_uids_stay_inside(store: FolderBlobStore, uid: str) -> None:
    key = put(store, b"x", study=uid, series=uid, sop=uid)
    path = store.path_of(key).resolve()
    assert path.is_relative_to(store.root.resolve())
    assert all(part not in ("", ".", "..") for part in key.split("/"))
    assert len(key.split("/")) == 4


@pytest.mark.parametrize("uid", ["", "   ", "1" * 65])
def test_unusable_uids_are_refused(uid: str) -> None:
    with pytest.raises(BlobStoreError):
        uid_component(uid)


@pytest.mark.parametrize("key", ["../x", "/etc/passwd", "a/../../b", "a//b", "a\\b", ""])
def test_keys_from_outside_are_refused(store: FolderBlobStore, key: str) -> None:
    with pytest.raises(BlobStoreError):
        store.path_of(key)


def test_quarantine_and_temp_files(store: FolderBlobStore) -> None:
    temp = store.create_temp()
    temp.write([b"dup"])
    [t] = list(store.temp_files())
    assert t.node == "node1" and t.path == temp.path
    key = store.quarantine(temp, "1.2.3")
    assert key.startswith("quarantine/") and store.read_range(key, 0, 3) == b"dup"
    assert not list(store.temp_files()) and not list(store.iterate())


def test_spares_are_made_ahead_and_removed_at_close(tmp_path: Path) -> None:
    from tests.helpers import wait_until

    s = FolderBlobStore(tmp_path / "s", "n2", spare_temps=3)
    wait_until(lambda: len(list(s.temp_files())) == 3, what="three spare temporary files")
    s.create_temp().discard()
    s.close()
    assert not list(s.temp_files())


def test_unwritable_root(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        root = tmp_path / "file"
        root.write_text("not a folder")
        with pytest.raises(BlobStoreError):
            FolderBlobStore(root / "store", "n")
    else:  # pragma: no cover - as a normal user
        tmp_path.chmod(0o500)
        with pytest.raises(BlobStoreError):
            FolderBlobStore(tmp_path / "store", "n")
