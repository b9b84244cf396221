"""Study labels on the DIMSE side of ``dicomkit serve``: a user restricted to labels finds, counts and retrieves
only the studies carrying one of them (C-FIND at every level with pynetdicom and dicomkit's SCU, C-GET, the
patient's counts), labels put by rules at ingest (DCMTK storescu), and the query and retrieve audit messages
validated against the schema of PS3.15 A.5.1."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dicomkit.net.pdu import UserIdentityRQ
from dicomkit.net.sync import connect
from dicomkit.server import Server
from dicomkit.server.audit.read import entries
from dicomkit.server.auth.labels import labels_of
from dicomkit.server.auth.passwords import hash_password
from dicomkit.services.query_retrieve.find import find_all

from ..conftest import require_tool
from ..helpers import wait_until
from ..peers import dcmtk
from .data import image, write

STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
STUDY_ROOT_GET = "1.2.840.10008.5.1.4.1.2.2.3"
PATIENT_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.1.1"
MR = "1.2.840.10008.5.1.4.1.1.4"
CARDIO = "1.2.826.0.1.3680043.10.7.1"  # patient P1, Cardio Center: labelled "cardio" by the rule
OTHER = "1.2.826.0.1.3680043.10.7.2"  # patient P1 too, another institution: no label
THIRD = "1.2.826.0.1.3680043.10.7.3"  # patient P2: no label
FAST = {"n": 2**10}
SCHEMA_RNG = Path(__file__).parents[2] / "dicomkit" / "server" / "audit" / "schema" / "audit_message.rng"


def _files(folder: Path) -> list[Path]:
    out = []
    for study, patient, institution, n in ((CARDIO, "P1", "Cardio Center", 2), (OTHER, "P1", "Elsewhere", 1),
                                           (THIRD, "P2", "Elsewhere", 1)):
        for i in range(1, n + 1):
            ds = image(study=study, series=f"{study}.1", sop=f"{study}.1.{i}", number=i, patient_id=patient,
                       patient_name="Doe^Jane" if patient == "P1" else "Roe^Rick")
            ds.InstitutionName = institution
            out.append(write(ds, folder))
    return out


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def pacs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The archive on SQLite and on PostgreSQL (the label predicates are SQL of both)."""
    require_tool("storescu")
    folder = tmp_path_factory.mktemp("visibility")
    database = ""
    if request.param == "postgresql":
        from .conftest import drop_database, new_database

        server_url = request.getfixturevalue("postgres_server")
        database = new_database(server_url)
        request.addfinalizer(lambda: drop_database(server_url, database))
    config = folder / "pacs.toml"
    config.write_text(f"""
[storage]
data_dir = "{folder / 'data'}"
durability = "os"

[database]
url = "{database}"

[dicom]
ae_title = "PACS"

[http]
enabled = false

[users.alice]
password = "{hash_password('alice-pw', **FAST)}"
roles = ["viewer"]
labels = ["cardio"]

[users.root]
password = "{hash_password('root-pw', **FAST)}"
roles = ["admin"]
labels = ["cardio"]

[[labels.rules]]
label = "cardio"
attribute = "InstitutionName"
value = "cardio*"
""")
    with Server(config, dicom_port=0, host="127.0.0.1") as server:
        out = dcmtk("storescu", "-aec", "PACS", "127.0.0.1", str(server.port), *map(str, _files(folder / "in")))
        assert out.returncode == 0, out.stderr
        wait_until(lambda: labels_of(server.index.read(), CARDIO) == {"cardio"}, what="the rule's label")
        assert labels_of(server.index.read(), OTHER) == set()
        yield server


def _as(server: Server, user: bytes, password: bytes, contexts: list[str]) -> Any:
    return connect("127.0.0.1", server.port, ae_title="WS1", called_ae_title="PACS", contexts=contexts,
                   user_identity=UserIdentityRQ(2, user, password))


def _uids(matches: list[Any], tag: int = 0x0020000D) -> set[str]:
    return {str(m.value(tag)) for m in matches}


def test_c_find_shows_only_the_labelled_studies(pacs: Server) -> None:
    keys = ["QueryRetrieveLevel=STUDY", "StudyInstanceUID", "NumberOfStudyRelatedInstances"]
    with _as(pacs, b"alice", b"alice-pw", [STUDY_ROOT_FIND]) as assoc:
        assert _uids(assoc.call(find_all, keys)) == {CARDIO}
        assert _uids(assoc.call(find_all, ["QueryRetrieveLevel=SERIES", f"StudyInstanceUID={OTHER}",
                                           "SeriesInstanceUID"])) == set()  # asked by UID: still nothing
        instances = assoc.call(find_all, ["QueryRetrieveLevel=IMAGE", f"StudyInstanceUID={CARDIO}",
                                          f"SeriesInstanceUID={CARDIO}.1", "SOPInstanceUID"])
        assert _uids(instances, 0x00080018) == {f"{CARDIO}.1.1", f"{CARDIO}.1.2"}
    with _as(pacs, b"root", b"root-pw", [STUDY_ROOT_FIND]) as assoc:  # admin: every study, whatever its labels
        assert _uids(assoc.call(find_all, keys)) == {CARDIO, OTHER, THIRD}
    with connect("127.0.0.1", pacs.port, ae_title="WS1", called_ae_title="PACS",
                 contexts=[STUDY_ROOT_FIND]) as assoc:  # no identity (dicom_identity optional): unrestricted
        assert _uids(assoc.call(find_all, keys)) == {CARDIO, OTHER, THIRD}


def test_patient_level_and_its_counts(pacs: Server) -> None:
    keys = ["QueryRetrieveLevel=PATIENT", "PatientID", "NumberOfPatientRelatedStudies",
            "NumberOfPatientRelatedInstances"]
    with _as(pacs, b"alice", b"alice-pw", [PATIENT_ROOT_FIND]) as assoc:
        matches = assoc.call(find_all, keys, model="patient")
    assert [str(m.value(0x00100020)) for m in matches] == ["P1"]  # P2 has no study alice may see
    # P1 has two studies (three instances); alice sees one of them, and the counts say so
    assert int(matches[0].value(0x00201200)) == 1 and int(matches[0].value(0x00201204)) == 2


def test_the_patients_counts_as_matching_keys_count_only_the_visible_studies(pacs: Server) -> None:
    """P1 has two studies (three instances) of which alice sees one (two instances): matching on the counts
    must not tell her the totals, at PATIENT level, at STUDY level (Study Root) and in QIDO-RS."""
    import asyncio

    from dicomkit.services.query_retrieve.qido import plan_from_query_params
    from dicomkit.services.sources import Requester

    with _as(pacs, b"alice", b"alice-pw", [PATIENT_ROOT_FIND, STUDY_ROOT_FIND]) as assoc:
        def patients(**counts: int) -> set[str]:
            keys = ["QueryRetrieveLevel=PATIENT", "PatientID", *(f"{k}={v}" for k, v in counts.items())]
            return _uids(assoc.call(find_all, keys, model="patient"), 0x00100020)

        assert patients(NumberOfPatientRelatedStudies=2) == set()  # the total: not hers to learn
        assert patients(NumberOfPatientRelatedStudies=1) == {"P1"}
        assert patients(NumberOfPatientRelatedInstances=3) == set()
        assert patients(NumberOfPatientRelatedInstances=2) == {"P1"}
        assert patients(NumberOfPatientRelatedSeries=1) == {"P1"}
        assert patients(NumberOfPatientRelatedSeries=2) == set()
        studies = assoc.call(find_all, ["QueryRetrieveLevel=STUDY", "StudyInstanceUID",
                                        "NumberOfPatientRelatedStudies=2"])
        assert _uids(studies) == set()
        studies = assoc.call(find_all, ["QueryRetrieveLevel=STUDY", "StudyInstanceUID",
                                        "NumberOfPatientRelatedStudies=1", "NumberOfStudyRelatedInstances"])
        assert _uids(studies) == {CARDIO} and int(studies[0].value(0x00201208)) == 2
    with _as(pacs, b"root", b"root-pw", [PATIENT_ROOT_FIND]) as assoc:  # unrestricted: the totals
        keys = ["QueryRetrieveLevel=PATIENT", "PatientID", "NumberOfPatientRelatedStudies=2"]
        assert _uids(assoc.call(find_all, keys, model="patient"), 0x00100020) == {"P1"}

    source = pacs.pacs.sources.query  # what QIDO-RS asks
    alice = Requester("web", user_identity="alice", protocol="dicomweb", labels=frozenset({"cardio"}))

    async def qido(params: list[tuple[str, str]]) -> tuple[int, list[str]]:
        plan = plan_from_query_params("studies", params).plan
        found = [str(m.value(0x0020000D)) async for m in source.find_rows(plan, alice)]
        return await source.count(plan, alice), found

    assert asyncio.run(qido([("NumberOfPatientRelatedStudies", "2")])) == (0, [])
    assert asyncio.run(qido([("NumberOfPatientRelatedStudies", "1"),
                             ("includefield", "NumberOfPatientRelatedInstances")])) == (1, [CARDIO])


def test_pynetdicom_find_and_get_with_a_restricted_user(pacs: Server, tmp_path: Path) -> None:
    pynetdicom = pytest.importorskip("pynetdicom")
    from pydicom.dataset import Dataset as PyDataset
    from pynetdicom import build_role, evt
    from pynetdicom.pdu_primitives import UserIdentityNegotiation

    item = UserIdentityNegotiation()
    item.user_identity_type = 2
    item.primary_field = b"alice"
    item.secondary_field = b"alice-pw"
    received: list[str] = []

    def on_store(event: Any) -> int:
        received.append(str(event.request.AffectedSOPInstanceUID))
        return 0

    ae = pynetdicom.AE(ae_title="PYN")
    ae.add_requested_context(STUDY_ROOT_FIND)
    ae.add_requested_context(STUDY_ROOT_GET)
    ae.add_requested_context(MR)
    assoc = ae.associate("127.0.0.1", pacs.port, ae_title="PACS", ext_neg=[item, build_role(MR, scp_role=True)],
                         evt_handlers=[(evt.EVT_C_STORE, on_store)])
    assert assoc.is_established
    try:
        query = PyDataset()
        query.QueryRetrieveLevel = "STUDY"
        query.StudyInstanceUID = ""
        found = [str(ds.StudyInstanceUID) for status, ds in assoc.send_c_find(query, STUDY_ROOT_FIND)
                 if status and status.Status in (0xFF00, 0xFF01)]
        assert found == [CARDIO]
        for study, expected in ((OTHER, []), (THIRD, []), (CARDIO, [f"{CARDIO}.1.1", f"{CARDIO}.1.2"])):
            received.clear()
            ask = PyDataset()
            ask.QueryRetrieveLevel = "STUDY"
            ask.StudyInstanceUID = study
            statuses = [status.Status for status, _ in assoc.send_c_get(ask, STUDY_ROOT_GET) if status]
            assert statuses[-1] == 0x0000
            assert sorted(received) == expected
    finally:
        assoc.release()


def _audit(server: Server) -> list[dict[str, Any]]:
    path = server.config.audit.file_path(server.config.storage.data_dir)
    assert path is not None
    return list(entries(path)) if path.exists() else []


def _validate(folder: Path, messages: list[str]) -> None:
    xmllint = require_tool("xmllint")
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, xml in enumerate(messages):
        path = folder / f"m{i:03d}.xml"
        path.write_text(xml)
        paths.append(str(path))
    result = subprocess.run([xmllint, "--noout", "--relaxng", str(SCHEMA_RNG), *paths], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_queries_and_retrievals_are_audited(pacs: Server, tmp_path: Path) -> None:
    from dicomkit.services.query_retrieve import Operation
    from dicomkit.services.query_retrieve.find import query_contexts
    from dicomkit.services.query_retrieve.get import get_on, storage_roles

    require_tool("findscu")
    out = dcmtk("findscu", "-S", "-aec", "PACS", "127.0.0.1", str(pacs.port), "-k", "QueryRetrieveLevel=STUDY",
                "-k", "PatientName=Doe*", "-k", "StudyInstanceUID")
    assert out.returncode == 0, out.stderr
    with connect("127.0.0.1", pacs.port, ae_title="WS1", called_ae_title="PACS",
                 contexts=[*query_contexts("study", operations=[Operation.GET]), *storage_roles([MR])],
                 user_identity=UserIdentityRQ(2, b"alice", b"alice-pw")) as assoc:
        result = assoc.call(get_on, ["QueryRetrieveLevel=STUDY", f"StudyInstanceUID={CARDIO}"],
                            output=str(tmp_path / "got"))
        assert result.progress.completed == 2

    def audited() -> bool:
        records = _audit(pacs)
        return any(r["event"] == "query" and r.get("calling_ae") == "FINDSCU" for r in records) and any(
            r["event"] == "instances-transferred" and r.get("calling_ae") == "WS1" for r in records)

    wait_until(audited, what="the query and the retrieval in the audit trail")
    records = _audit(pacs)
    query = next(r for r in records if r["event"] == "query" and r.get("calling_ae") == "FINDSCU")
    assert "Doe*" not in query["message"]  # the identifier is in the message base64-encoded, as A.5.3.10 says
    import base64
    import re

    encoded = re.search(r"<ParticipantObjectQuery>([^<]+)</ParticipantObjectQuery>", query["message"])
    assert encoded is not None and b"Doe*" in base64.b64decode(encoded.group(1))
    sent = [r for r in records if r["event"] == "instances-transferred" and r.get("calling_ae") == "WS1"]
    assert [s["studies"] for s in sent] == [[CARDIO]] and sent[0]["outcome"] == 0 and sent[0]["user"] == "alice"
    assert "2 sent, 0 failed of 2" in sent[0]["message"]
    _validate(tmp_path / "xml", [query["message"], sent[0]["message"]])


def test_storage_commitment_answers_only_for_visible_studies(pacs: Server) -> None:
    from dicomkit.services.commitment import NO_SUCH_OBJECT_INSTANCE, SopReference
    from dicomkit.services.sources import Requester

    source = pacs.pacs.sources.commitment
    refs = [SopReference(MR, f"{CARDIO}.1.1"), SopReference(MR, f"{OTHER}.1.1")]
    restricted = source.check_sync(refs, Requester("WS1", labels=frozenset({"cardio"})))
    assert [r.failure_reason for r in restricted] == [None, NO_SUCH_OBJECT_INSTANCE]  # as if it were not there
    assert [r.failure_reason for r in source.check_sync(refs, Requester("WS1"))] == [None, None]


LEVEL_KEYS = {"PATIENT": ["PatientID", "PatientName", "NumberOfPatientRelatedStudies"],
              "STUDY": ["StudyInstanceUID", "PatientID", "StudyDate", "ModalitiesInStudy", "AccessionNumber"],
              "SERIES": ["StudyInstanceUID", "SeriesInstanceUID", "Modality"],
              "IMAGE": ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"]}
FUZZ_VALUES = [OTHER, THIRD, f"{OTHER}.1", f"{OTHER}.1.1", f"{CARDIO}\\{OTHER}", "*", "P2", "P*", "Roe*", "", "?",
               "20240101-", "MR", "AP2"]


def test_fuzzed_identifiers_never_show_another_study(pacs: Server) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    keys_of = st.sampled_from(list(LEVEL_KEYS)).flatmap(lambda level: st.tuples(
        st.just(level), st.lists(st.tuples(st.sampled_from(LEVEL_KEYS[level]),
                                           st.one_of(st.sampled_from(FUZZ_VALUES),
                                                     st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126,
                                                                                    blacklist_characters="\\"),
                                                             max_size=8))),
                                 max_size=3)))

    with _as(pacs, b"alice", b"alice-pw", [STUDY_ROOT_FIND, PATIENT_ROOT_FIND]) as assoc:

        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        @given(keys_of)
        def check(case: tuple[str, list[tuple[str, str]]]) -> None:
            level, pairs = case
            pairs = [(k, v) for k, v in pairs if "\\" not in v or "UID" in k]  # value lists: UIDs only
            keys = [f"QueryRetrieveLevel={level}"] + [f"{k}={v}" for k, v in pairs]
            keys += [k for k in LEVEL_KEYS[level] if not any(p == k for p, _ in pairs)]
            # a refused identifier (0xA900, 0xC0xx) is an answer too: no matches
            matches = assoc.call(find_all, keys, model="patient" if level == "PATIENT" else "study",
                                 raise_on_failure=False)
            for match in matches:
                text = " ".join(str(e.value) for e in match)
                assert OTHER not in text and THIRD not in text and "P2" not in text, (keys, text)
                if level == "PATIENT" and match.value(0x00201200) is not None:
                    assert int(match.value(0x00201200)) <= 1

        check()
