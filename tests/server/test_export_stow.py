"""STOW-RS forwarding (``dicomkit archive export --study UID --to NAME``, issue 14) to real STOW-RS servers:
Orthanc with its DICOMweb plugin (Debian orthanc + orthanc-dicomweb, HTTP Basic) and another ``dicomkit
serve`` (HTTP Basic against its [users]). What arrives at a destination of ``deid.destinations`` is checked
attribute by attribute against PS3.15 Table E.1-1 (the checker of every de-identifying path); other
destinations get the study as stored; each export is audited (Export, PS3.15 A.5.3.7); an unknown
destination or study, a destination that refuses (wrong password) or cannot be reached are clear errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import dicomkit
from dicomkit.cli.main import main
from dicomkit.server import Server
from dicomkit.server.audit.read import entries
from dicomkit.server.auth.passwords import hash_password
from dicomkit.server.config import ConfigError, load_config

from ..conftest import require_tool
from ..deid.conftest import TABLE_PATH
from ..peers import free_port, orthanc
from .data import image, write
from .deidcheck import STUDY, check_file, original

pytestmark = pytest.mark.skipif(not TABLE_PATH.exists(), reason=f"{TABLE_PATH} not found")

PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
BURNED = "1.2.826.0.1.3680043.10.5.9"
SCHEMA_RNG = Path(__file__).parents[2] / "dicomkit" / "server" / "audit" / "schema" / "audit_message.rng"


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Another dicomkit serve, receiving STOW-RS as its user feeder (uploader)."""
    folder = tmp_path_factory.mktemp("stow-target")
    config = folder / "target.toml"
    config.write_text(f"""
[storage]
data_dir = "{folder / 'data'}"
durability = "os"

[dicom]
ae_title = "TARGET"

[users.feeder]
password = "{hash_password('feeder-pw', n=2**10)}"
roles = ["uploader"]
""")
    with Server(config, dicom_port=0, http_port=0, host="127.0.0.1") as server:
        yield server


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory, target: Server) -> Iterator[tuple[Path, Path]]:
    """The exporting archive: its configuration file and data folder, with the Table E.1-1 study in it and
    a study of one image that may carry burned-in text."""
    folder = tmp_path_factory.mktemp("stow-source")
    url = f"http://127.0.0.1:{target.http_port}/dicom-web"
    config = folder / "source.toml"
    config.write_text(f"""
[storage]
data_dir = "{folder / 'data'}"
durability = "os"

[http]
enabled = false

[destinations.RESEARCH]
url = "{url}"
username = "feeder"
password = "env:DICOMKIT_TEST_FEEDER"

[destinations.PLAIN]
url = "{url}/"
username = "feeder"
password = "feeder-pw"

[destinations.WRONG]
url = "{url}"
username = "feeder"
password = "not-the-password"

[destinations.DOWN]
url = "http://127.0.0.1:{free_port()}/dicom-web"
timeout = 5

[deid]
destinations = ["RESEARCH"]
key = "a secret"
""")
    with Server(config, dicom_port=0, host="127.0.0.1") as server:
        server.archive.ingest_file(write(original(), folder / "in"))
        burned = image(study=BURNED, series=f"{BURNED}.1", sop=f"{BURNED}.1.1")
        burned.BurnedInAnnotation = "YES"
        server.archive.ingest_file(write(burned, folder / "in"))
    yield config, folder / "data"


def _export(config: Path, study: str, to: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["archive", "export", "--config", str(config), "--study", study, "--to", to])
    out = capsys.readouterr()
    return code, out.out, out.err


def _exports(data: Path) -> list[dict[str, Any]]:
    path = data / "audit" / "audit.log"
    return [e for e in entries(path) if e["event"] == "export"] if path.exists() else []


def test_de_identified_export_to_another_dicomkit_serve(source: tuple[Path, Path], target: Server,
                                                         capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    config, data = source
    monkeypatch.setenv("DICOMKIT_TEST_FEEDER", "feeder-pw")
    code, out, err = _export(config, STUDY, "RESEARCH", capsys)
    assert code == 0, err
    sent_study = out.split(":", 1)[0]
    assert sent_study != STUDY and "1 of 1 instance(s) stored at RESEARCH (de-identified)" in out
    rows = target.index.instances(study_instance_uid=sent_study)
    assert len(rows) == 1 and not target.index.instances(study_instance_uid=STUDY)
    check_file(str(target.archive.store.path_of(rows[0].blob_key)))
    audit = [e for e in _exports(data) if "RESEARCH" in e["message"]]
    assert audit and audit[-1]["outcome"] == 0 and "(de-identified)" in audit[-1]["message"]
    assert STUDY in json.dumps(audit[-1])  # the trail names the original study that left
    _valid(audit[-1]["message"], data)
    # an object that may carry burned-in text does not leave for a de-identified destination
    code, out, err = _export(config, BURNED, "RESEARCH", capsys)
    assert code == 1 and "burned-in" in err and "0 of 1" in out


def test_export_to_a_destination_not_designated_sends_the_study_as_stored(
        source: tuple[Path, Path], target: Server, capsys: pytest.CaptureFixture[str]) -> None:
    config, _data = source
    code, out, err = _export(config, STUDY, "PLAIN", capsys)
    assert code == 0, err
    assert out.startswith(f"{STUDY}: 1 of 1") and "de-identified" not in out
    (row,) = target.index.instances(study_instance_uid=STUDY)
    assert str(dicomkit.read(target.archive.store.path_of(row.blob_key)).PatientName) == "Doe^John"


@pytest.mark.interop
def test_de_identified_export_to_orthanc(source: tuple[Path, Path], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    if shutil.which("Orthanc") is None or not PLUGIN.exists():
        pytest.skip("Orthanc or its DICOMweb plugin is not installed (Debian orthanc, orthanc-dicomweb)")
    config, data = source
    with orthanc(tmp_path / "orthanc", Plugins=[str(PLUGIN)], AuthenticationEnabled=True,
                 RegisteredUsers={"exporter": "orthanc-pw"},
                 DicomWeb={"Enable": True, "Root": "/dicom-web/", "Ssl": False}) as peer:
        url = f"http://127.0.0.1:{peer.http_port}/dicom-web"
        text = config.read_text() + f"""
[destinations.ORTHANC]
url = "{url}"
username = "exporter"
password = "orthanc-pw"

[destinations.ORTHANC_WRONG]
url = "{url}"
username = "exporter"
password = "wrong"
"""
        configured = tmp_path / "with-orthanc.toml"
        configured.write_text(text.replace('destinations = ["RESEARCH"]', 'destinations = ["RESEARCH", "ORTHANC"]'))
        code, out, err = _export(configured, STUDY, "ORTHANC", capsys)
        assert code == 0, err
        assert "1 of 1 instance(s) stored at ORTHANC (de-identified)" in out
        opener = urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(_passwords(peer.http_port)))
        with opener.open(f"http://127.0.0.1:{peer.http_port}/instances", timeout=30) as response:
            (instance,) = json.loads(response.read())
        with opener.open(f"http://127.0.0.1:{peer.http_port}/instances/{instance}/file", timeout=30) as response:
            received = response.read()
        out_ds = check_file(received)
        assert str(out_ds.StudyInstanceUID) == out.split(":", 1)[0]
        code, out, err = _export(configured, STUDY, "ORTHANC_WRONG", capsys)
        assert code == 1 and "refused the STOW-RS request: HTTP 401" in err
    refused = [e for e in _exports(data) if "ORTHANC" in e["message"] and e["outcome"] == 8]
    assert refused  # the refusal audited
    _valid(refused[-1]["message"], data)


def _valid(message: str, folder: Path) -> None:
    """The audit message validates against the DICOM Audit Message Schema (PS3.15 A.5.1, xmllint)."""
    path = folder / "export-message.xml"
    path.write_text(message)
    result = subprocess.run([require_tool("xmllint"), "--noout", "--relaxng", str(SCHEMA_RNG), str(path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "110106" in message  # Export


def _passwords(port: int) -> urllib.request.HTTPPasswordMgrWithDefaultRealm:
    manager = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    manager.add_password(None, f"http://127.0.0.1:{port}/", "exporter", "orthanc-pw")
    return manager


def test_bad_exports_say_why(source: tuple[Path, Path], capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    config, _data = source
    code, _out, err = _export(config, STUDY, "NOPE", capsys)
    assert code == 1 and "no destination 'NOPE' in [destinations] (DOWN, PLAIN, RESEARCH, WRONG)" in err
    code, _out, err = _export(config, "1.2.3.4.5", "PLAIN", capsys)
    assert code == 1 and "no study 1.2.3.4.5 in the archive" in err
    code, _out, err = _export(config, STUDY, "WRONG", capsys)
    assert code == 1 and "destination WRONG" in err and "HTTP 401" in err and "credentials not accepted" in err
    assert "not-the-password" not in err
    code, _out, err = _export(config, STUDY, "DOWN", capsys)
    assert code == 1 and "destination DOWN" in err and "cannot be reached" in err
    monkeypatch.delenv("DICOMKIT_TEST_FEEDER", raising=False)
    code, _out, err = _export(config, STUDY, "RESEARCH", capsys)
    assert code == 1 and "the environment variable DICOMKIT_TEST_FEEDER is not set" in err
    for bad, why in (('[destinations.X]\nurl = "ftp://x"', "destinations.X.url"),
                     ('[destinations.X]\nurl = "http://x"\nport = 1', "destinations.X.port: unknown key"),
                     ('[deid]\ndestinations = ["Y"]', "deid.destinations: 'Y' is not a [destinations.Y] table"),
                     ('[deid]\nroles = ["boss"]', "deid.roles: unknown role 'boss'")):
        path = Path(str(config) + ".bad.toml")
        path.write_text(bad)
        with pytest.raises(ConfigError, match=why.replace("[", r"\[").replace("]", r"\]")):
            load_config(path)
