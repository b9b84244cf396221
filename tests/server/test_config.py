"""The configuration: defaults, TOML, overrides, and errors that name the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dicomkit.server.config import ConfigError, load_config, parse_size
from dicomkit.services.aetable import AETableError, RemoteAE


def test_defaults() -> None:
    c = load_config()
    assert c.storage.data_dir == Path("./dicomkit-data")
    assert c.database_url == "sqlite:///dicomkit-data/index.sqlite"
    assert (c.dicom.port, c.dicom.ae_title, c.http.port) == (11112, "DICOMKIT", 8042)
    assert (c.storage.durability, c.storage.duplicates, c.dicom.access) == ("full", "keep-first", "open")
    assert not c.http.allow_remote and len(c.remotes) == 0


def test_toml_and_overrides(tmp_path: Path) -> None:
    f = tmp_path / "pacs.toml"
    f.write_text("""
[storage]
data_dir = "/srv/pacs"
durability = "os"
min_free_space = "2 GiB"
max_archive_size = 1000000

[dicom]
ae_title = "ARCHIVE"
port = 104
access = "known"

[index]
extra_keys = { InstitutionName = "series", StationName = "series" }

[remotes.CT1]
host = "10.0.0.5"
port = 104
services = ["echo", "store"]

[remotes.VIEWER]
host = "viewer.local"
port = 11113
tls = true
""")
    c = load_config(f, {"dicom.port": 11112})
    assert c.storage.data_dir == Path("/srv/pacs") and c.storage.durability == "os"
    assert c.storage.min_free_space == 2 * 2**30 and c.storage.max_archive_size == 10**6
    assert (c.dicom.ae_title, c.dicom.port, c.dicom.access) == ("ARCHIVE", 11112, "known")
    assert c.index.extra_keys == {"InstitutionName": "series", "StationName": "series"}
    assert c.remotes.permits("CT1", "store") and not c.remotes.permits("CT1", "move")
    assert c.remotes.get("VIEWER") == RemoteAE("VIEWER", "viewer.local", 11113, True)


@pytest.mark.parametrize(("text", "key"), [
    ("[dicom]\nprot = 104\n", "dicom.prot: unknown key"),
    ("[dicom]\nport = 'abc'\n", "dicom.port: expected an integer"),
    ("[dicom]\nport = 70000\n", "dicom.port: expected a port"),
    ("[storage]\ndurability = 'sometimes'\n", "storage.durability: expected one of"),
    ("[storage]\nmin_free_space = 'lots'\n", "storage.min_free_space: expected a size"),
    ("[nonsense]\nx = 1\n", "nonsense: unknown section"),
    ("[http]\nallow_remote = 'yes'\n", "http.allow_remote: expected true or false"),
    ("[index]\nextra_keys = { NotAKeyword = 'series' }\n", "index.extra_keys.NotAKeyword"),
    ("[index]\nextra_keys = { InstitutionName = 'ward' }\n", "index.extra_keys.InstitutionName: level"),
    ("[database]\nurl = 'mysql://x'\n", "database.url"),
    ("[remotes.CT1]\nhost = 'a'\n", "remotes.CT1.port: missing"),
    ("[remotes.CT1]\nhost = 'a'\nport = 104\nservices = ['print']\n", "remotes.CT1: remote AE 'CT1': unknown"),
    ("[remotes.CT1]\nhost = 'a'\nport = 104\ncolour = 1\n", "remotes.CT1.colour: unknown key"),
    ("[dicom]\nae_title = 'A_TITLE_LONGER_THAN_16'\n", "dicom.ae_title"),
    ("[dicom\n", "not valid TOML"),
])
def test_errors_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("(", r"\(")):
        load_config(f)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "none.toml")


def test_sizes() -> None:
    assert parse_size("500 MB", "k") == 500 * 10**6 and parse_size("1.5GiB", "k") == int(1.5 * 2**30)
    assert parse_size(42, "k") == 42
    with pytest.raises(ConfigError):
        parse_size(-1, "k")


def test_remote_option() -> None:
    assert RemoteAE.parse("PACS2=10.1.2.3:104") == RemoteAE("PACS2", "10.1.2.3", 104)
    assert RemoteAE.parse("V6=[::1]:11112").host == "::1"
    for bad in ("PACS2", "PACS2=host", "=h:1", "X=h:0", "X=h:port"):
        with pytest.raises(AETableError):
            RemoteAE.parse(bad)


def test_serve_refuses_a_bad_config_at_start_up(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text("[dicom]\nport = 'abc'\n")
    run = subprocess.run([sys.executable, "-m", "dicomkit.cli.main", "serve", "--config", str(f)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "dicom.port: expected an integer" in run.stderr and "Traceback" not in run.stderr
    run = subprocess.run([sys.executable, "-m", "dicomkit.cli.main", "serve", "--remote", "nonsense",
                          "--data-dir", str(tmp_path / "d")], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "expected AE=HOST:PORT" in run.stderr
