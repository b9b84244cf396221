"""The server's access policy on the DIMSE side: unknown AEs, DICOM TLS (DCMTK built with TLS and Python
clients), TLS only, mutual authentication and certificates tied to AEs, User Identity negotiation
(passcodes, JWTs: good, bad, expired, wrong audience), roles, fuzzed identities, hostile UIDs, and what
the logs and the audit trail hold."""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("cryptography", reason="the security extra (cryptography) is not installed")

from cryptography.hazmat.primitives.asymmetric import rsa

import dicomkit
from dicomkit.core.errors import AssociationRejected, NetworkError
from dicomkit.net.negotiation import (
    AssociationGrant,
    PeerInfo,
    PresentationContext,
    Rejection,
    assign_context_ids,
    build_request,
)
from dicomkit.net.pdu import UserIdentityRQ
from dicomkit.net.sync import connect
from dicomkit.net.tls import client_context
from dicomkit.server import Server
from dicomkit.server.access import AccessPolicy
from dicomkit.server.audit.read import entries
from dicomkit.server.auth.jwt import public_jwk, sign
from dicomkit.server.auth.passwords import hash_password
from dicomkit.server.config import load_config
from dicomkit.services import echo, store

from ..conftest import require_tool
from ..helpers import wait_until
from ..peers import dcmtk, make_certificates, require_dcmtk_tls
from .data import image, write

CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
FAST = {"n": 2**10}


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _config(folder: Path, text: str = "", *, access: str = "open") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pacs.toml"
    path.write_text(f"""
[storage]
data_dir = "{folder / 'data'}"
durability = "os"

[dicom]
ae_title = "PACS"
host = "127.0.0.1"
port = 0
access = "{access}"

[http]
enabled = false
{text}
""")
    return path


def _audit(server: Server) -> list[dict[str, Any]]:
    path = server.config.audit.file_path(server.config.storage.data_dir)
    assert path is not None
    return list(entries(path)) if path.exists() else []


def _wait_audit(server: Server, event: str, count: int = 1) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def ready() -> bool:
        found[:] = [e for e in _audit(server) if e["event"] == event]
        return len(found) >= count

    wait_until(ready, what=f"{count} {event} audit record(s)")
    return found


@pytest.fixture
def known_server(tmp_path: Path) -> Iterator[Server]:
    config = _config(tmp_path, """
[remotes.CT1]
host = "127.0.0.1"
port = 104
services = ["echo", "store"]

[remotes.VIEW]
host = "127.0.0.1"
port = 105
services = ["echo"]
""", access="known")
    with Server(config) as server:
        yield server


def test_unknown_ae_is_refused_and_audited(known_server: Server) -> None:
    with pytest.raises(AssociationRejected) as info:
        with connect("127.0.0.1", known_server.port, ae_title="STRANGER", called_ae_title="PACS") as assoc:
            assoc.call(echo)
    assert (info.value.result, info.value.source, info.value.reason) == (1, 1, 3)  # calling AE not recognized
    alert = _wait_audit(known_server, "security-alert")[0]
    assert alert["outcome"] == 4 and alert["alert"] == "node-authentication" and alert["subject"] == "STRANGER"
    assert 'csd-code="110126"' in alert["message"]
    with connect("127.0.0.1", known_server.port, ae_title="CT1", called_ae_title="PACS") as assoc:
        assoc.call(echo)
    accepted = _wait_audit(known_server, "association-accepted")[0]
    assert accepted["calling_ae"] == "CT1" and accepted["address"] == "127.0.0.1"


@pytest.mark.interop
def test_unknown_ae_refused_for_dcmtk(known_server: Server) -> None:
    require_tool("echoscu")
    refused = dcmtk("echoscu", "-aet", "STRANGER", "-aec", "PACS", "127.0.0.1", str(known_server.port))
    assert refused.returncode != 0 and "Calling AE Title Not Recognized" in refused.stdout + refused.stderr
    ok = dcmtk("echoscu", "-aet", "CT1", "-aec", "PACS", "127.0.0.1", str(known_server.port))
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_services_per_ae(known_server: Server, tmp_path: Path) -> None:
    path = write(image(), tmp_path / "in")
    with connect("127.0.0.1", known_server.port, ae_title="VIEW", called_ae_title="PACS", contexts=[MR]) as assoc:
        assert int(assoc.call(store, path).status) == 0x0124  # Refused: Not Authorized
    with connect("127.0.0.1", known_server.port, ae_title="CT1", called_ae_title="PACS", contexts=[MR]) as assoc:
        assert int(assoc.call(store, path).status) == 0
    stored = _wait_audit(known_server, "instances-stored")[0]
    assert stored["calling_ae"] == "CT1" and stored["studies"] == ["1.2.826.0.1.3680043.10.1.1"]
    assert 'NumberOfInstances="1"' in stored["message"] and "Doe^Jane" in stored["message"]


def _tls_server(tmp_path: Path, certs: dict[str, Path], extra: str = "", **tls: Any) -> Server:
    options = {"certificate": str(certs["server.pem"]), "key": str(certs["server.key"]), "ca": str(certs["ca.pem"]),
               "port": 0, **tls}
    lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in options.items())
    return Server(_config(tmp_path, f"[tls]\n{lines}\n{extra}"))


def _client_tls(certs: dict[str, Path], *, with_cert: bool = True) -> ssl.SSLContext:
    if with_cert:
        return client_context(ca=certs["ca.pem"], cert=certs["client.pem"], key=certs["client.key"])
    return client_context(ca=certs["ca.pem"])


def test_tls_with_python_client_and_plaintext_beside(tmp_path: Path, certs: dict[str, Path]) -> None:
    with _tls_server(tmp_path, certs) as server:
        tls_port = server.pacs.policy.tls_port  # type: ignore[union-attr]
        assert tls_port and tls_port != server.port
        with connect("127.0.0.1", tls_port, called_ae_title="PACS", tls=_client_tls(certs)) as assoc:
            assoc.call(echo)
        with connect("127.0.0.1", server.port, called_ae_title="PACS") as assoc:  # plaintext still there
            assoc.call(echo)
        # a plaintext association sent to the TLS port is a failed handshake, audited
        with pytest.raises(NetworkError):
            with connect("127.0.0.1", tls_port, called_ae_title="PACS", acse_timeout=5) as assoc:
                assoc.call(echo)
        alert = _wait_audit(server, "security-alert")[0]
        assert alert["alert"] == "node-authentication" and "TLS handshake failed" in alert["message"]


def test_tls_only_refuses_plaintext(tmp_path: Path, certs: dict[str, Path]) -> None:
    with _tls_server(tmp_path, certs, plaintext=False) as server:
        assert server.pacs.policy.plain_server is None  # type: ignore[union-attr]
        port = server.port  # the TLS listener is the server's port
        with connect("127.0.0.1", port, called_ae_title="PACS", tls=_client_tls(certs)) as assoc:
            assoc.call(echo)
        with pytest.raises(NetworkError):
            with connect("127.0.0.1", port, called_ae_title="PACS", acse_timeout=5) as assoc:
                assoc.call(echo)
        assert server.pacs.describe()[1].startswith("TLS    DICOM TLS") and "only" in server.pacs.describe()[1]


def test_mutual_authentication_and_certificates_tied_to_aes(tmp_path: Path, certs: dict[str, Path]) -> None:
    remotes = """
[remotes.CT1]
host = "127.0.0.1"
port = 104
tls = true
tls_subject = "dicomkit test client"

[remotes.CT2]
host = "127.0.0.1"
port = 104
tls_subject = "someone else"
"""
    path = _config(tmp_path, f"""[tls]
certificate = "{certs['server.pem']}"
key = "{certs['server.key']}"
ca = "{certs['ca.pem']}"
verify_clients = true
port = 0
""" + remotes, access="known")
    with Server(path) as server:
        tls_port = server.pacs.policy.tls_port  # type: ignore[union-attr]
        with connect("127.0.0.1", tls_port, ae_title="CT1", called_ae_title="PACS", tls=_client_tls(certs)) as a:
            a.call(echo)
        with pytest.raises(AssociationRejected):  # the certificate is not CT2's
            with connect("127.0.0.1", tls_port, ae_title="CT2", called_ae_title="PACS", tls=_client_tls(certs)):
                pass
        with pytest.raises(AssociationRejected):  # CT1 must use TLS
            with connect("127.0.0.1", server.port, ae_title="CT1", called_ae_title="PACS"):
                pass
        with pytest.raises(NetworkError):  # no client certificate: the handshake fails
            with connect("127.0.0.1", tls_port, ae_title="CT1", called_ae_title="PACS",
                         tls=_client_tls(certs, with_cert=False), acse_timeout=5) as a:
                a.call(echo)
        alerts = _wait_audit(server, "security-alert", 3)
        assert any("does not belong to AE 'CT2'" in a["message"] for a in alerts)
        assert any("must connect over TLS" in a["message"] for a in alerts)
        assert any("TLS handshake failed" in a["message"] for a in alerts)


@pytest.mark.interop
def test_dcmtk_over_tls(tmp_path: Path, certs: dict[str, Path]) -> None:
    require_dcmtk_tls()
    files = [write(image(sop=f"1.2.826.0.1.3680043.10.99.{i}", number=i), tmp_path / "in") for i in range(3)]
    with _tls_server(tmp_path / "pacs", certs, verify_clients=True) as server:
        port = str(server.pacs.policy.tls_port)  # type: ignore[union-attr]
        tls = ["+tls", str(certs["client.key"]), str(certs["client.pem"]), "+cf", str(certs["ca.pem"])]
        result = dcmtk("echoscu", *tls, "-aec", "PACS", "127.0.0.1", port)
        assert result.returncode == 0, result.stdout + result.stderr
        result = dcmtk("storescu", *tls, "-aec", "PACS", "127.0.0.1", port, *map(str, files))
        assert result.returncode == 0, result.stdout + result.stderr
        wait_until(lambda: server.index.count("instance") == 3, what="three instances over TLS")
        refused = dcmtk("echoscu", "-aec", "PACS", "127.0.0.1", port)  # plaintext to the TLS port
        assert refused.returncode != 0
        anonymous = dcmtk("echoscu", "+tla", "+cf", str(certs["ca.pem"]), "-aec", "PACS", "127.0.0.1", port)
        assert anonymous.returncode != 0  # mutual authentication: no client certificate, no association
        _wait_audit(server, "security-alert", 2)


def _identity_server(tmp_path: Path, signing_key: rsa.RSAPrivateKey, mode: str = "optional",
                     max_failures: int = 3) -> Server:
    jwks = tmp_path / "jwks.json"
    tmp_path.mkdir(parents=True, exist_ok=True)
    jwks.write_text(json.dumps({"keys": [public_jwk(signing_key, "k1")]}))
    return Server(_config(tmp_path, f"""
[auth]
dicom_identity = "{mode}"
jwt_keys = "{jwks}"
audience = "pacs"
issuer = "https://idp.test"
max_failures = {max_failures}

[users.alice]
password = "{hash_password('alice-pw', **FAST)}"
roles = ["uploader"]

[users.victor]
password = "{hash_password('victor-pw', **FAST)}"
roles = ["viewer"]
"""))


def _token(key: rsa.RSAPrivateKey, **claims: Any) -> bytes:
    base = {"sub": "carol", "aud": "pacs", "iss": "https://idp.test", "exp": time.time() + 300,
            "iat": time.time() - 5, "roles": ["viewer"]}
    base.update(claims)
    return sign({k: v for k, v in base.items() if v is not None}, key, "RS256", kid="k1").encode()


def _associate(server: Server, identity: UserIdentityRQ | None, contexts: list[str] | None = None) -> Any:
    return connect("127.0.0.1", server.port, ae_title="MOD1", called_ae_title="PACS", contexts=contexts,
                   user_identity=identity)


def test_user_identity_passcode_and_jwt(tmp_path: Path, signing_key: rsa.RSAPrivateKey) -> None:
    with _identity_server(tmp_path, signing_key, max_failures=100) as server:
        with _associate(server, UserIdentityRQ(2, b"alice", b"alice-pw", True)) as assoc:
            assert assoc.info.user_identity_response == b""  # the positive response that was asked for
            assoc.call(echo)
        with _associate(server, UserIdentityRQ(5, _token(signing_key), b"", True)) as assoc:
            assert assoc.info.user_identity_response == b""
        accepted = _wait_audit(server, "association-accepted", 2)
        assert [e.get("user") for e in accepted] == ["alice", "carol"]
        for bad in (UserIdentityRQ(2, b"alice", b"wrong", True),
                    UserIdentityRQ(2, b"nobody", b"alice-pw", False),
                    UserIdentityRQ(5, _token(signing_key, exp=time.time() - 3600), b"", True),
                    UserIdentityRQ(5, _token(signing_key, aud="other"), b"", True),
                    UserIdentityRQ(5, _token(signing_key, iss="https://evil.test"), b"", True),
                    UserIdentityRQ(5, _token(rsa.generate_private_key(public_exponent=65537, key_size=2048)), b""),
                    UserIdentityRQ(5, b"not-a-token", b"")):
            with pytest.raises(AssociationRejected) as info, _associate(server, bad):
                pass
            assert (info.value.result, info.value.source, info.value.reason) == (1, 1, 1)
        rejected = _wait_audit(server, "association-rejected", 7)
        reasons = " ".join(e["message"] for e in rejected)
        for text in ("password not accepted", "expired", "aud", "issuer", "signature"):
            assert text in reasons
        assert "alice-pw" not in json.dumps(_audit(server))  # never a credential in the trail
        with _associate(server, UserIdentityRQ(1, b"just-a-name")) as assoc:  # asserted: recorded, grants nothing
            assoc.call(echo)
        assert _wait_audit(server, "association-accepted", 3)[-1]["user"] == "just-a-name"


def test_roles_of_the_identity(tmp_path: Path, signing_key: rsa.RSAPrivateKey) -> None:
    path = write(image(), tmp_path / "in")
    with _identity_server(tmp_path / "pacs", signing_key) as server:
        with _associate(server, UserIdentityRQ(2, b"victor", b"victor-pw"), [MR]) as assoc:
            assert int(assoc.call(store, path).status) == 0x0124  # a viewer may not store
        with _associate(server, UserIdentityRQ(2, b"alice", b"alice-pw"), [MR]) as assoc:
            assert int(assoc.call(store, path).status) == 0
        with _associate(server, UserIdentityRQ(5, _token(signing_key)), [MR]) as assoc:  # a token with viewer
            assert int(assoc.call(store, path).status) == 0x0124


def test_identity_required_and_lockout(tmp_path: Path, signing_key: rsa.RSAPrivateKey) -> None:
    with _identity_server(tmp_path, signing_key, mode="required") as server:
        for identity in (None, UserIdentityRQ(1, b"alice"), UserIdentityRQ(3, b"kerberos-ticket")):
            with pytest.raises(AssociationRejected), _associate(server, identity):
                pass
        for _ in range(3):
            with pytest.raises(AssociationRejected):
                with _associate(server, UserIdentityRQ(2, b"alice", b"guess")):
                    pass
        with pytest.raises(AssociationRejected):  # locked out now, even with the right passcode
            with _associate(server, UserIdentityRQ(2, b"alice", b"alice-pw")):
                pass
        rejected = _wait_audit(server, "association-rejected", 7)
        assert rejected[-1]["outcome"] == 12 and "too many failed logins" in rejected[-1]["message"]


@pytest.mark.interop
def test_pynetdicom_user_identity(tmp_path: Path, signing_key: rsa.RSAPrivateKey) -> None:
    pynetdicom = pytest.importorskip("pynetdicom")
    from pynetdicom.pdu_primitives import UserIdentityNegotiation

    with _identity_server(tmp_path, signing_key) as server:
        ae = pynetdicom.AE(ae_title="PYN")
        ae.add_requested_context("1.2.840.10008.1.1")
        for user, passcode, ok in ((b"alice", b"alice-pw", True), (b"alice", b"nope", False)):
            item = UserIdentityNegotiation()
            item.user_identity_type = 2
            item.primary_field = user
            item.secondary_field = passcode
            item.positive_response_requested = True
            assoc = ae.associate("127.0.0.1", server.port, ae_title="PACS", ext_neg=[item])
            assert assoc.is_established == ok
            if ok:
                assert assoc.send_c_echo().Status == 0
                assoc.release()


def _rq(identity: UserIdentityRQ | None, calling: str = "MOD1") -> Any:
    contexts = assign_context_ids([PresentationContext("1.2.840.10008.1.1", ["1.2.840.10008.1.2"])])
    return build_request(calling, "PACS", contexts, user_identity=identity)


def test_fuzzed_identities_never_get_through(tmp_path: Path, signing_key: rsa.RSAPrivateKey) -> None:
    path = _config(tmp_path, f"""
[auth]
dicom_identity = "required"
max_failures = 0
jwt_secret = "{'s' * 40}"
algorithms = ["RS256", "HS256"]

[users.alice]
password = "{hash_password('alice-pw', **FAST)}"
""")
    config = load_config(path)
    policy = AccessPolicy(config)

    def check(identity: UserIdentityRQ) -> Any:
        outcome = policy.check(_rq(identity), PeerInfo(("127.0.0.1", 2), "A2"))
        if isinstance(outcome, AssociationGrant):
            return outcome

        async def wait() -> Any:
            return await outcome

        return asyncio.run(wait())

    assert check(UserIdentityRQ(2, b"alice", b"alice-pw")).authorization.identity.name == "alice"

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(kind=st.integers(0, 255), primary=st.binary(max_size=200), secondary=st.binary(max_size=50),
           positive=st.booleans())
    def fuzz(kind: int, primary: bytes, secondary: bytes, positive: bool) -> None:
        if kind == 2 and primary.strip(b"\x00 ") == b"alice" and secondary == b"alice-pw":
            return
        try:
            grant = check(UserIdentityRQ(kind, primary, secondary, positive))
        except Rejection:
            return
        raise AssertionError(f"an identity of type {kind} got through: {grant}")

    try:
        fuzz()
    finally:
        policy.auditor.close()


def test_hostile_uids_through_dimse(tmp_path: Path) -> None:
    with Server(_config(tmp_path)) as server:
        store_root = server.config.storage.data_dir / "store"
        hostile = ["../../../../tmp/evil", "/etc/passwd", "1.2.3/../../x", "..", "1.2.3\\..\\x", "1.2.\x00.3",
                   "%2e%2e%2fx", "a" * 64]
        statuses = []
        (tmp_path / "in").mkdir()
        for i, uid in enumerate(hostile):
            with warnings.catch_warnings():  # values that break their VR, on purpose
                warnings.simplefilter("ignore")
                ds = image(study=uid, series=uid, sop=f"1.2.826.0.1.3680043.10.55.{i}")
            path = tmp_path / "in" / f"{i}.dcm"
            dicomkit.write(ds, path, validate=False)
            with connect("127.0.0.1", server.port, called_ae_title="PACS", contexts=[MR]) as assoc:
                statuses.append(int(assoc.call(store, path).status))
        for blob in store_root.rglob("*"):
            assert store_root in blob.resolve().parents  # nothing was written outside the store
        assert not (tmp_path / "x").exists() and not Path("/tmp/evil").exists()
        blobs = [b.relative_to(store_root) for b in store_root.rglob("*.dcm")]
        assert len(blobs) == len(hostile) and all(len(b.parts) == 4 for b in blobs)  # xx/study/series/blob
        assert all(".." not in b.parts for b in blobs)
        stored = server.index.count("instance")
        assert stored == sum(1 for s in statuses if s == 0)


def test_no_phi_or_secrets_in_logs_at_info(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                           signing_key: rsa.RSAPrivateKey) -> None:
    name = "Secretname^Patricia"
    path = write(image(patient_name=name, patient_id="PHI-ID-777"), tmp_path / "in")
    caplog.set_level(logging.INFO, logger="dicomkit")
    with _identity_server(tmp_path / "pacs", signing_key) as server:
        with _associate(server, UserIdentityRQ(2, b"alice", b"alice-pw"), [MR]) as assoc:
            assert int(assoc.call(store, path).status) == 0
        with pytest.raises(AssociationRejected):
            with _associate(server, UserIdentityRQ(2, b"alice", b"wrong-secret-pw")):
                pass
        assert server.index.study("1.2.826.0.1.3680043.10.1.1")["num_instances"] == 1  # queried
        token = _token(signing_key)
        with _associate(server, UserIdentityRQ(5, token)) as assoc:
            assoc.call(echo)
        _wait_audit(server, "instances-stored")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "association accepted" in text  # the logs did capture the server's INFO lines
    for secret in (name, "Secretname", "PHI-ID-777", "alice-pw", "wrong-secret-pw", token.decode()):
        assert secret not in text, f"{secret!r} in the INFO logs"



def test_label_rules_label_what_arrives(tmp_path: Path) -> None:
    from dicomkit.server.auth.labels import Visibility, labels_of

    config = _config(tmp_path, """
[[labels.rules]]
label = "cathlab"
calling_ae = "CATH1"

[[labels.rules]]
label = "testhosp"
attribute = "InstitutionName"
value = "test*"
""")
    first = write(image(study="1.2.826.0.1.3680043.10.1.1"), tmp_path / "in")
    other = image(study="1.2.826.0.1.3680043.10.1.2", series="1.2.826.0.1.3680043.10.1.2.1", patient_id="P2")
    other.InstitutionName = "Elsewhere"
    second = write(other, tmp_path / "in")
    with Server(config) as server:
        with connect("127.0.0.1", server.port, ae_title="CATH1", called_ae_title="PACS", contexts=[MR]) as assoc:
            assert int(assoc.call(store, first).status) == 0
        with connect("127.0.0.1", server.port, ae_title="CT1", called_ae_title="PACS", contexts=[MR]) as assoc:
            assert int(assoc.call(store, second).status) == 0

        def labels(uid: str) -> set[str]:
            return labels_of(server.index.read(), uid)

        wait_until(lambda: labels("1.2.826.0.1.3680043.10.1.1") == {"cathlab", "testhosp"}, what="rule labels")
        _wait_audit(server, "instances-stored", 2)
        assert labels("1.2.826.0.1.3680043.10.1.2") == set()
        predicate, params = Visibility.of(["cathlab"]).sql("studies.pk")
        rows = server.index.query(f"SELECT study_instance_uid AS uid FROM studies WHERE {predicate}", params)
        assert [r["uid"] for r in rows] == ["1.2.826.0.1.3680043.10.1.1"]


def test_pdu_size_limits_on_the_server(tmp_path: Path) -> None:
    import socket
    import struct

    with Server(_config(tmp_path)) as server:
        for pdu_type, length in ((0x01, 0x7FFFFFFF), (0x01, (1 << 21) + 1), (0x04, 0x7FFFFFFF)):
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
                sock.sendall(struct.pack(">BBI", pdu_type, 0, length) + b"\0" * 64)
                answer = b""
                while len(answer) < 10 and (chunk := sock.recv(4096)):  # it never waits for the 2 GB
                    answer += chunk
            assert answer[:1] == b"\x07" and len(answer) == 10  # A-ABORT at once (PS3.8 9.3.8, AA-1)
        with connect("127.0.0.1", server.port, called_ae_title="PACS") as assoc:  # and it still serves
            assoc.call(echo)


def test_a_dead_collector_shows_in_metrics_and_never_stalls_associations(tmp_path: Path) -> None:
    import socket

    from .test_serve import http_get

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    path = _config(tmp_path, f'[audit]\nsyslog = "tcp://127.0.0.1:{dead}"\nqueue = 2\n')
    with Server(path, overrides={"http.enabled": True, "http.host": "127.0.0.1", "http.port": 0}) as server:
        for _ in range(10):
            with connect("127.0.0.1", server.port, called_ae_title="PACS") as assoc:
                assoc.call(echo)
        wait_until(lambda: server.pacs.policy.auditor.dropped > 0, what="dropped audit messages")  # type: ignore
        assert server.http_port is not None
        status, metrics = http_get(server.http_port, "/metrics")
        assert status == 200
        line = next(x for x in metrics.splitlines() if x.startswith("dicomkit_audit_dropped "))
        assert int(float(line.split()[1])) > 0
        assert len(_wait_audit(server, "association-accepted", 10)) == 10  # the local file has them all


def test_start_stop_and_configuration_changes_are_audited(tmp_path: Path) -> None:
    path = _config(tmp_path)
    with Server(path) as server:
        pass
    with Server(path) as server:  # the same configuration: no alert
        pass
    with Server(path, overrides={"dicom.max_associations": 7}) as server:
        pass
    events = [(e["event"], e.get("alert")) for e in _audit(server)]
    assert events.count(("application-start", None)) == 3 and events.count(("application-stop", None)) == 3
    assert events.count(("security-alert", "security-configuration")) == 1
    assert events.index(("security-alert", "security-configuration")) > 4  # at the third start


def test_fuzzed_calling_ae_titles_never_get_in(tmp_path: Path) -> None:
    from hypothesis import assume

    path = _config(tmp_path, '[remotes.CT1]\nhost = "127.0.0.1"\nport = 104\n', access="known")
    policy = AccessPolicy(load_config(path))

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(title=st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=16))
    def fuzz(title: str) -> None:
        try:
            rq = _rq(None, calling=title)
        except NetworkError:
            assume(False)  # not an AE title at all: the PDU codec refuses it before any policy
        try:
            policy.check(rq, PeerInfo(("127.0.0.1", 3), "A3"))
        except Rejection as exc:
            assert exc.rj.reason == 3
            return
        assert rq.calling_ae_title.strip() == "CT1", f"{title!r} got in"

    try:
        fuzz()
        assert isinstance(policy.check(_rq(None, calling="CT1"), PeerInfo(("127.0.0.1", 3), "A4")), AssociationGrant)
    finally:
        policy.auditor.close()


def test_known_ae_must_come_from_its_host(tmp_path: Path) -> None:
    path = _config(tmp_path, """
[auth]
check_ae_host = true

[remotes.HERE]
host = "127.0.0.1"
port = 104

[remotes.THERE]
host = "127.0.0.2"
port = 104

[remotes.NAMED]
host = "localhost"
port = 104
""", access="known")
    with Server(path) as server:
        for title in ("HERE", "NAMED"):
            with connect("127.0.0.1", server.port, ae_title=title, called_ae_title="PACS") as assoc:
                assoc.call(echo)
        with pytest.raises(AssociationRejected):
            with connect("127.0.0.1", server.port, ae_title="THERE", called_ae_title="PACS"):
                pass
        alert = _wait_audit(server, "security-alert")[0]
        assert "connected from 127.0.0.1, not from its host 127.0.0.2" in alert["message"]
