"""The registry of SOP Classes (one table for negotiation, help and conformance) and the AE table."""

from __future__ import annotations

import pytest

from dicomkit.core.uid import storage_sop_classes
from dicomkit.net import ApplicationEntity
from dicomkit.services.aetable import AETable, AETableError, RemoteAE, UnknownAE
from dicomkit.services.query_retrieve import MODALITY_WORKLIST, STUDY_ROOT
from dicomkit.services.query_retrieve.find import FindSCP
from dicomkit.services.registry import REGISTRY, SERVICES, Registry


def test_every_service_has_sop_classes_and_an_annex():
    for service in SERVICES:
        rows = REGISTRY.entries(service)
        assert rows, service
        assert all(r.annex.startswith("PS3.4 ") for r in rows)
    assert REGISTRY.service_of(str(STUDY_ROOT.find_uid)) == "find"
    assert REGISTRY.service_of(str(MODALITY_WORKLIST.find_uid)) == "worklist"
    assert REGISTRY.service_of("1.2.840.10008.1.20.1") == "commit"
    assert REGISTRY.service_of("1.2.3.4") is None
    assert len(REGISTRY.entries("store")) == len(storage_sop_classes())


def test_contexts_proposals_rows_and_help_come_from_the_table():
    contexts = REGISTRY.contexts("find", "move")
    assert {c.abstract_syntax for c in contexts} == set(REGISTRY.sop_classes("find", "move"))
    assert all(c.transfer_syntaxes[0] == "1.2.840.10008.1.2.1" for c in contexts)
    store = REGISTRY.contexts("store")
    assert "1.2.840.10008.1.2.4.90" in store[0].transfer_syntaxes  # storage takes every syntax dicomkit reads
    proposals = REGISTRY.proposals("find")
    assert len(proposals) == 2  # the retired Patient/Study Only model is not proposed by default
    rows = REGISTRY.rows()
    assert {"sop_class", "uid", "service", "dimse", "scu", "scp"} <= set(rows[0])
    text = REGISTRY.describe("find", "worklist", "store")
    assert "Study Root Query/Retrieve Information Model - FIND" in text and "Storage SOP Classes" in text
    only = REGISTRY.only(["mpps"])
    assert isinstance(only, Registry) and {r.service for r in only} == {"mpps"}
    with pytest.raises(Exception, match="unknown service"):
        REGISTRY.entries("fax")
    assert [r.name for r in REGISTRY.entries("print")] == [
        "Basic Grayscale Print Management Meta SOP Class", "Basic Color Print Management Meta SOP Class",
        "Presentation LUT SOP Class"]


def test_scp_contexts_match_the_registry():
    scp = FindSCP(source=_NoSource())
    assert {c.abstract_syntax for c in scp.contexts()} == set(REGISTRY.sop_classes("find"))


class _NoSource:
    def unsupported_keys(self, plan):
        return frozenset()

    async def find(self, plan, requester):
        if False:
            yield


def test_ae_table_from_mapping_and_toml():
    table = AETable.from_mapping({
        "CT1": {"host": "10.0.0.5", "port": 104, "services": ["echo", "store"]},
        "PACS": {"host": "pacs.example", "port": 11112, "tls": {"ca": "/ca.pem", "server_name": "pacs"},
                 "associations": 4, "description": "the archive"},
    })
    assert table.permits("CT1", "store") and not table.permits("CT1", "move") and not table.permits("X", "echo")
    pacs = table.get("PACS ")
    assert pacs is not None and pacs.tls and pacs.tls_ca == "/ca.pem" and pacs.associations == 4
    assert pacs.address == "pacs.example:11112"
    assert AETable.from_mapping(table.to_mapping()) == table
    toml = AETable.from_toml("""
[remotes.MOVESCU]
host = "127.0.0.1"
port = 4242
services = ["find", "move"]
""")
    assert toml.require("MOVESCU", "move").port == 4242
    with pytest.raises(UnknownAE):
        toml.require("MOVESCU", "store")
    with pytest.raises(UnknownAE, match="not in the AE table"):
        toml.require("NOBODY")
    assert RemoteAE.parse("STORE=[::1]:104").host == "::1"
    assert AETable.of("A=h:1", RemoteAE("B", "h", 2)).get("B").port == 2


@pytest.mark.parametrize("data, message", [
    ({"CT1": {"host": "h"}}, "remotes.CT1.port: missing"),
    ({"CT1": {"host": "h", "port": 70000}}, "port 70000"),
    ({"CT1": {"host": "h", "port": 1, "services": ["teleport"]}}, "unknown service"),
    ({"CT1": {"host": "h", "port": 1, "colour": "red"}}, "remotes.CT1.colour: unknown key"),
    ({"CT1": {"host": "h", "port": 1, "tls": {"pin": "x"}}}, "tls.pin: unknown key"),
    ({"THIS-TITLE-IS-TOO-LONG": {"host": "h", "port": 1}}, "longer than 16"),
    ({"CT1": {"host": "bad host!", "port": 1}}, "not a host name"),
    ({"CT1": {"host": "h", "port": 1, "associations": 0}}, "associations"),
    ({"CT1": "h:1"}, "expected a table"),
])
def test_ae_table_errors_name_the_entry(data, message):
    with pytest.raises(AETableError, match=message):
        AETable.from_mapping(data)


def test_ae_table_bad_toml():
    with pytest.raises(AETableError, match="not valid TOML"):
        AETable.from_toml("[remotes.X\nhost=")
    with pytest.raises(AETableError, match="AE=HOST:PORT"):
        RemoteAE.parse("nonsense")


def test_services_sharing_a_request_type_each_get_their_sop_classes():
    from dicomkit.net.dimse import CFindRQ
    from dicomkit.net.handlers import SopClassRouter
    from dicomkit.services.worklist import WorklistSCP

    ae = ApplicationEntity("SCP")
    qr, wl = FindSCP(_NoSource()), WorklistSCP(_NoSource())
    ae.add_service(qr)
    assert ae.handlers[CFindRQ] is qr  # one service: no router on the path
    ae.add_service(wl)
    router = ae.handlers[CFindRQ]
    assert isinstance(router, SopClassRouter)
    assert router.routes[str(STUDY_ROOT.find_uid)] is qr and router.routes[str(MODALITY_WORKLIST.find_uid)] is wl
