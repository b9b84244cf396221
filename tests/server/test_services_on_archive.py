"""``dicomkit serve`` answers the network services on its index, as DCMTK's tools and dicomkit's SCUs use
them: C-FIND (study root, patient root, with relational keys), C-GET, C-MOVE to a ``[remotes]`` AE, Modality
Worklist on the items of ``dicomkit worklist``, MPPS linked to stored instances, Storage Commitment with the
report; and the access policy in front of each service (0x0124 with an Error Comment)."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dicomkit.server import Server

from ..conftest import require_tool
from ..helpers import wait_until
from ..peers import DCMTK_ENV, dcmtk, free_port, running
from .data import image, write

STUDY_A = "1.2.826.0.1.3680043.10.9.1"
STUDY_B = "1.2.826.0.1.3680043.10.9.2"


def _config(tmp_path: Path, *, access: str = "open", remotes: dict[str, tuple[int, str]] | None = None) -> Path:
    lines = ["[dicom]", 'ae_title = "ARCHIVE"', f'access = "{access}"', ""]
    for title, (port, services) in (remotes or {}).items():
        lines += [f"[remotes.{title}]", 'host = "127.0.0.1"', f"port = {port}", f"services = [{services}]", ""]
    path = tmp_path / "dicomkit.toml"
    path.write_text("\n".join(lines))
    return path


def _studies(folder: Path) -> list[Path]:
    """Two patients: study A with two MR series (3 images), study B with one CT image."""
    out = [write(image(study=STUDY_A, series=f"{STUDY_A}.1", sop=f"{STUDY_A}.1.{i}", number=i), folder)
           for i in (1, 2)]
    out.append(write(image(study=STUDY_A, series=f"{STUDY_A}.2", sop=f"{STUDY_A}.2.1"), folder))
    out.append(write(image(patient_id="P2", patient_name="Roe^Rick", study=STUDY_B, series=f"{STUDY_B}.1",
                           sop=f"{STUDY_B}.1.1", modality="CT", sop_class="1.2.840.10008.5.1.4.1.1.2",
                           study_date="20250101"), folder))
    return out


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    require_tool("findscu")
    dest_port = free_port()
    config = _config(tmp_path, remotes={"DEST": (dest_port, '"store"'), "SCU": (free_port(), "")})
    with Server(config, data_dir=tmp_path / "data", dicom_port=0, http=False) as server:
        files = _studies(tmp_path / "in")
        out = dcmtk("storescu", "-aec", "ARCHIVE", "127.0.0.1", str(server.port), *map(str, files))
        assert out.returncode == 0, out.stderr
        wait_until(lambda: server.index.count("instance") == 4, what="4 instances indexed")
        yield server, tmp_path


def _answers(stdout_and_err: str, tag: str) -> list[str]:
    """The values findscu printed for ``tag`` (e.g. ``(0020,000d)``)."""
    return [line.split("[", 1)[1].split("]", 1)[0].strip() for line in stdout_and_err.splitlines()
            if line.removeprefix("W: ").removeprefix("I: ").lstrip().startswith(tag) and "[" in line]


def test_findscu_study_root_and_patient_root(archive: tuple[Server, Path]) -> None:
    server, _ = archive
    port = str(server.port)
    out = dcmtk("findscu", "-v", "-S", "-aec", "ARCHIVE", "127.0.0.1", port, "-k", "QueryRetrieveLevel=STUDY",
                "-k", "StudyInstanceUID", "-k", "ModalitiesInStudy", "-k", "NumberOfStudyRelatedInstances")
    assert out.returncode == 0, out.stderr
    text = out.stdout + out.stderr
    assert sorted(_answers(text, "(0020,000d)")) == [STUDY_A, STUDY_B]
    assert sorted(_answers(text, "(0020,1208)")) == ["1", "3"]
    # a wildcard on the patient's name, a date range, and a key of the series level (relational)
    out = dcmtk("findscu", "-v", "-S", "-aec", "ARCHIVE", "127.0.0.1", port, "-k", "QueryRetrieveLevel=STUDY",
                "-k", "PatientName=roe*", "-k", "StudyDate=20241231-", "-k", "StudyInstanceUID")
    assert _answers(out.stdout + out.stderr, "(0020,000d)") == [STUDY_B]
    out = dcmtk("findscu", "-v", "-P", "-aec", "ARCHIVE", "127.0.0.1", port, "-k", "QueryRetrieveLevel=SERIES",
                "-k", "PatientID=P1", "-k", f"StudyInstanceUID={STUDY_A}", "-k", "SeriesInstanceUID")
    assert out.returncode == 0, out.stderr
    assert sorted(_answers(out.stdout + out.stderr, "(0020,000e)")) == [f"{STUDY_A}.1", f"{STUDY_A}.2"]
    # the query latency of the metrics: three C-FINDs answered, each in a bucket
    metrics = server.archive.metrics.render()
    assert 'dicomkit_request_seconds_count{service="find",request="C-FIND"} 3' in metrics
    assert 'dicomkit_request_seconds_bucket{service="find",request="C-FIND",le="+Inf"} 3' in metrics
    # Instance Availability and Retrieve AE Title are the SCP's to fill (PS3.4 C.4.1.1.3.2), at every level
    for level, keys, hits in (("STUDY", ["StudyInstanceUID"], 2),
                              ("SERIES", [f"StudyInstanceUID={STUDY_A}", "SeriesInstanceUID"], 2),
                              ("IMAGE", [f"StudyInstanceUID={STUDY_A}", f"SeriesInstanceUID={STUDY_A}.1",
                                         "SOPInstanceUID"], 2)):
        out = dcmtk("findscu", "-v", "-S", "-aec", "ARCHIVE", "127.0.0.1", port, "-k", f"QueryRetrieveLevel={level}",
                    *(a for k in keys for a in ("-k", k)), "-k", "InstanceAvailability", "-k", "RetrieveAETitle")
        assert out.returncode == 0, out.stderr
        text = out.stdout + out.stderr
        assert _answers(text, "(0008,0056)") == ["ONLINE"] * hits, (level, text)
        assert _answers(text, "(0008,0054)") == ["ARCHIVE"] * hits, (level, text)


def test_getscu_and_movescu_retrieve_from_the_archive(archive: tuple[Server, Path]) -> None:
    server, tmp_path = archive
    got = tmp_path / "got"
    got.mkdir()
    out = dcmtk("getscu", "-S", "-aec", "ARCHIVE", "-od", str(got), "127.0.0.1", str(server.port),
                "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={STUDY_A}")
    assert out.returncode == 0, out.stderr
    assert len(list(got.iterdir())) == 3
    dest = server.config.remotes.get("DEST")
    assert dest is not None
    moved = tmp_path / "moved"
    moved.mkdir()
    with running(["storescp", "-aet", "DEST", "-od", str(moved), str(dest.port)], dest.port):
        out = dcmtk("movescu", "-S", "-aec", "ARCHIVE", "-aem", "DEST", "127.0.0.1", str(server.port),
                    "-k", "QueryRetrieveLevel=SERIES", "-k", f"StudyInstanceUID={STUDY_A}",
                    "-k", f"SeriesInstanceUID={STUDY_A}.1")
        assert out.returncode == 0, out.stderr
        wait_until(lambda: len(list(moved.iterdir())) == 2, what="2 instances moved")
        # a destination the archive does not know: 0xA801 (PS3.4 C.4.2.1.4.1)
        out = dcmtk("movescu", "-v", "-S", "-aec", "ARCHIVE", "-aem", "NOWHERE", "127.0.0.1", str(server.port),
                    "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={STUDY_A}")
        assert "movedestinationunknown" in (out.stdout + out.stderr).lower()


def test_a_requester_gone_mid_move_is_still_audited(archive: tuple[Server, Path],
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """movescu killed while the archive is sending: the sub-operations stop at the next response that cannot be
    sent, the handler's clean-up runs on the association's task (no "created in a different Context" from an
    abandoned generator), and what went to the destination is in the audit trail (PS3.15 A.5.3.2)."""
    from dicomkit.net import ApplicationEntity
    from dicomkit.net.sync import ServerThread
    from dicomkit.server.audit.read import entries
    from dicomkit.services.storage import DirectoryReceiver, StorageSCP

    server, tmp_path = archive
    dest = server.config.remotes.get("DEST")
    assert dest is not None
    arrived: list[str] = []

    def slowly(stored: object) -> None:  # a destination that takes its time, so the move is still running
        arrived.append(str(stored))
        time.sleep(0.4)

    ae = ApplicationEntity("DEST")
    receiver = DirectoryReceiver(tmp_path / "dest", on_stored=slowly)
    ae.add_service(StorageSCP(receiver))
    caplog.set_level(logging.INFO)
    with ServerThread(ae, "127.0.0.1", dest.port):
        movescu = subprocess.Popen(["movescu", "-S", "-aec", "ARCHIVE", "-aem", "DEST", "127.0.0.1", str(server.port),
                                    "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={STUDY_A}"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=DCMTK_ENV)
        try:
            wait_until(lambda: len(arrived) >= 1, what="the first sub-operation at the destination")
        finally:
            movescu.kill()
            movescu.wait()
        trail = server.config.audit.file_path(server.config.storage.data_dir)
        assert trail is not None

        def transferred() -> list[dict[str, object]]:
            return [e for e in entries(trail) if e["event"] == "instances-transferred"] if trail.exists() else []

        wait_until(lambda: transferred() != [], what="the C-MOVE in the audit trail")
        # what reached the destination, not what the last Pending response sent had counted
        assert f"C-MOVE: {len(arrived)} sent, 0 failed of 3" in str(transferred()[0]["message"])
    receiver.close()
    assert not [r for r in caplog.records if "different Context" in r.getMessage()
                or (r.name == "asyncio" and r.levelno >= logging.ERROR)]
    # the sub-operation in flight was answered and the sub-association released, not aborted
    assert not [r for r in caplog.records if "not outstanding" in r.getMessage() or "aborted" in r.getMessage()]


def test_worklist_mpps_and_commitment_on_the_archive(archive: tuple[Server, Path]) -> None:
    server, tmp_path = archive
    data = ["--data-dir", str(server.config.storage.data_dir)]
    item = tmp_path / "item.json"
    item.write_text('{"00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^Jane"}]},'
                    ' "00100020": {"vr": "LO", "Value": ["P1"]}, "00080050": {"vr": "SH", "Value": ["ACC9"]},'
                    ' "00400100": {"vr": "SQ", "Value": [{"00080060": {"vr": "CS", "Value": ["MR"]},'
                    ' "00400001": {"vr": "AE", "Value": ["MR1"]}, "00400002": {"vr": "DA", "Value": ["20261201"]},'
                    ' "00400009": {"vr": "SH", "Value": ["SPS1"]}}]}}')
    cli = [sys.executable, "-m", "dicomkit.cli.main"]
    out = subprocess.run([*cli, "worklist", "add", *data, str(item)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    out = subprocess.run([*cli, "find", "127.0.0.1", str(server.port), "--aec", "ARCHIVE", "--worklist", "--json",
                          "-k", "PatientName", "-k", "AccessionNumber",
                          "-k", "ScheduledProcedureStepSequence.Modality=MR"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "ACC9" in out.stdout
    # MPPS: a step in progress, then completed, naming two of the stored instances
    out = subprocess.run([*cli, "mpps", "create", "127.0.0.1", str(server.port), "--aec", "ARCHIVE",
                          "--patient-id", "P1", "--modality", "MR"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    mpps_uid = out.stdout.split()[0]
    assert server.pacs.sources.mpps.get_sync(mpps_uid) is not None
    # Storage Commitment of the stored files: the report says all are committed
    files = sorted((tmp_path / "in").iterdir())
    out = subprocess.run([*cli, "commit", "127.0.0.1", str(server.port), "--aec", "ARCHIVE", "--aet", "SCU",
                          "--wait", "60", *map(str, files)], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "4 committed" in out.stdout + out.stderr


def test_the_access_policy_guards_every_service(tmp_path: Path) -> None:
    require_tool("findscu")
    # FINDER may only find; STORER only store; others are refused at association (access "known")
    config = _config(tmp_path, access="known", remotes={"FINDER": (free_port(), '"find", "echo"'),
                                                         "STORER": (free_port(), '"store"')})
    with Server(config, data_dir=tmp_path / "data", dicom_port=0, http=False) as server:
        port = str(server.port)
        files = _studies(tmp_path / "in")
        out = dcmtk("storescu", "-aet", "STORER", "-aec", "ARCHIVE", "127.0.0.1", port, *map(str, files))
        assert out.returncode == 0, out.stderr
        wait_until(lambda: server.index.count("instance") == 4, what="4 instances indexed")
        out = dcmtk("findscu", "-v", "-S", "-aet", "FINDER", "-aec", "ARCHIVE", "127.0.0.1", port,
                    "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID")
        assert sorted(_answers(out.stdout + out.stderr, "(0020,000d)")) == [STUDY_A, STUDY_B]
        out = dcmtk("findscu", "-v", "-S", "-aet", "STORER", "-aec", "ARCHIVE", "127.0.0.1", port,
                    "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID")
        text = (out.stdout + out.stderr).lower()
        assert re.search(r"0x0?124", text) and not _answers(text, "(0020,000d)")
        got = tmp_path / "got"
        got.mkdir()
        out = dcmtk("getscu", "-v", "-S", "-aet", "FINDER", "-aec", "ARCHIVE", "-od", str(got), "127.0.0.1", port,
                    "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={STUDY_A}")
        assert re.search(r"0x0?124", (out.stdout + out.stderr).lower()) and not list(got.iterdir())
        out = dcmtk("findscu", "-S", "-aet", "STRANGER", "-aec", "ARCHIVE", "127.0.0.1", port,
                    "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID")
        assert out.returncode != 0 and "reject" in (out.stdout + out.stderr).lower()


def test_orthanc_stores_into_queries_and_retrieves_from_the_archive(tmp_path: Path) -> None:
    from ..peers import orthanc

    require_tool("Orthanc")
    orthanc_port = free_port()
    config = _config(tmp_path, remotes={"ORTHANC": (orthanc_port, "")})
    with Server(config, data_dir=tmp_path / "data", dicom_port=0, http=False) as server, \
            orthanc(tmp_path / "orthanc", {"archive": ("ARCHIVE", server.port)}, DicomPort=orthanc_port) as peer:
        for path in _studies(tmp_path / "in"):  # Orthanc gets the files over REST, then sends them to us
            peer.rest("POST", "/instances", raw=path.read_bytes())
        studies = peer.rest("GET", "/studies")
        assert isinstance(studies, list) and len(studies) == 2
        peer.rest("POST", "/modalities/archive/store", {"Resources": studies, "Synchronous": True})
        wait_until(lambda: server.index.count("instance") == 4, what="4 instances indexed")
        for study in studies:
            peer.rest("DELETE", f"/studies/{study}")
        query = peer.rest("POST", "/modalities/archive/query", {"Level": "Study", "Query": {"PatientName": "Roe*"}})
        assert isinstance(query, dict)
        answers = peer.rest("GET", f"{query['Path']}/answers?expand")
        assert isinstance(answers, list) and [a["0020,000d"]["Value"] for a in answers] == [STUDY_B]
        # C-MOVE from the archive back into Orthanc (the destination is in [remotes])
        peer.rest("POST", "/modalities/archive/move", {"Level": "Study", "TargetAet": "ORTHANC",
                                                       "Resources": [{"StudyInstanceUID": STUDY_A}]})
        instances = peer.rest("GET", "/instances")
        assert isinstance(instances, list) and len(instances) == 3
