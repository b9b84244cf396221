"""HTTP authentication and roles on ``dicomkit serve`` (issue 14): Basic against ``[users]`` and Bearer JWTs
(good, expired, foreign audience, forged), 401 / 403 / 429 bodies that say why, roles (a viewer cannot STOW
or DELETE, an uploader cannot DELETE), study labels in QIDO, WADO-RS (metadata, frames, rendered,
thumbnails, zip), WADO-URI and the totals, HTTPS with the DIMSE certificate (curl), dicomweb-client with
credentials, fuzzed Authorization headers, and the audit messages of it all validated against the schema."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("cryptography", reason="the security extra (cryptography) is not installed")

from cryptography.hazmat.primitives.asymmetric import rsa

from dicomkit.server import Server
from dicomkit.server.audit.read import entries
from dicomkit.server.auth.jwt import public_jwk, sign
from dicomkit.server.auth.labels import add_labels
from dicomkit.server.auth.passwords import hash_password

from ..conftest import require_tool
from ..helpers import wait_until
from ..peers import make_certificates
from ..server.conftest import postgres_server  # noqa: F401  (the fixture, for the PostgreSQL runs)
from ..server.data import image
from .http import request

FAST = {"n": 2**10}
CARDIO = "1.2.826.0.1.3680043.10.8.1"  # labelled cardio
OTHER = "1.2.826.0.1.3680043.10.8.2"  # no label
SCHEMA_RNG = Path(__file__).parents[2] / "dicomkit" / "server" / "audit" / "schema" / "audit_message.rng"


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _config(folder: Path, key: rsa.RSAPrivateKey, extra: str = "", database: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    jwks = folder / "jwks.json"
    jwks.write_text(json.dumps({"keys": [public_jwk(key, "k1")]}))
    path = folder / "pacs.toml"
    path.write_text(f"""
[storage]
data_dir = "{folder / 'data'}"
durability = "os"

[database]
url = "{database}"

[dicom]
ae_title = "PACS"

[web]
allow_delete = true

[auth]
jwt_keys = "{jwks}"
audience = "pacs"
issuer = "https://idp.test"
max_failures = 3
lockout = 60

[users.alice]
password = "{hash_password('alice-pw', **FAST)}"
roles = ["viewer"]
labels = ["cardio"]

[users.ulla]
password = "{hash_password('ulla-pw', **FAST)}"
roles = ["uploader"]

[users.root]
password = "{hash_password('root-pw', **FAST)}"
roles = ["admin"]

[users.ursula]
password = "{hash_password('ursula-pw', **FAST)}"
roles = ["uploader"]
labels = ["cardio"]
{extra}
""")
    return path


def _store(server: Server, study: str, n: int, folder: Path) -> None:
    from ..server.data import write

    for i in range(1, n + 1):
        server.archive.ingest_file(write(image(study=study, series=f"{study}.1", sop=f"{study}.1.{i}", number=i),
                                         folder))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def pacs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
         signing_key: rsa.RSAPrivateKey) -> Iterator[Server]:
    """The archive on SQLite and on PostgreSQL (the label predicates are SQL of both)."""
    folder = tmp_path_factory.mktemp("websec")
    database = ""
    if request.param == "postgresql":
        from ..server.conftest import drop_database, new_database

        server_url = request.getfixturevalue("postgres_server")
        database = new_database(server_url)
        request.addfinalizer(lambda: drop_database(server_url, database))
    with Server(_config(folder, signing_key, database=database), dicom_port=0, http_port=0,
                host="127.0.0.1") as server:
        _store(server, CARDIO, 2, folder / "in")
        _store(server, OTHER, 1, folder / "in")
        server.index.write(lambda db: add_labels(db, CARDIO, ["cardio"]))
        yield server


@pytest.fixture(autouse=True)
def unlocked(pacs: Server) -> None:
    """Every request here comes from 127.0.0.1: each test starts with the address's failures forgotten."""
    pacs.pacs.policy.authenticator.limiter.reset()  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def base(pacs: Server) -> str:
    return f"http://127.0.0.1:{pacs.http_port}"


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token(key: rsa.RSAPrivateKey, **claims: Any) -> str:
    body = {"sub": "carol", "aud": "pacs", "iss": "https://idp.test", "exp": time.time() + 300,
            "iat": time.time() - 5, "roles": ["viewer"], "labels": ["cardio"]}
    body.update(claims)
    return sign({k: v for k, v in body.items() if v is not None}, key, "RS256", kid="k1")


def _studies(answer: Any) -> set[str]:
    assert answer.status == 200, answer.body[:300]
    return {s["0020000D"]["Value"][0] for s in json.loads(answer.body)}


def _audit(server: Server) -> list[dict[str, Any]]:
    path = server.config.audit.file_path(server.config.storage.data_dir)
    assert path is not None
    return list(entries(path)) if path.exists() else []


def test_credentials_are_required_and_refusals_say_why(base: str, pacs: Server) -> None:
    assert request("GET", f"{base}/health").status == 200  # liveness probes need no credentials
    for path in ("/dicom-web/studies", "/metrics", "/wado?requestType=WADO", "/"):
        answer = request("GET", base + path)
        assert answer.status == 401, path
        assert "Basic realm=" in answer.header("www-authenticate") and "Bearer" in answer.header("www-authenticate")
        assert "authentication required" in json.loads(answer.body)["message"]
    answer = request("GET", f"{base}/dicom-web/studies", basic("ulla", "wrong"))
    assert answer.status == 401 and "not accepted" in json.loads(answer.body)["message"]
    for header in ("Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode(), "Digest x", "Bearer"):
        pacs.pacs.policy.authenticator.limiter.reset()  # type: ignore[union-attr]
        answer = request("GET", f"{base}/dicom-web/studies", {"Authorization": header})
        assert answer.status == 401, header
        assert json.loads(answer.body)["message"]
    assert "unknown-user" not in answer.body.decode()  # the reason is in the audit trail, not the answer


def test_failed_logins_lock_the_user_out(base: str, pacs: Server) -> None:
    statuses = [request("GET", f"{base}/dicom-web/studies", basic("root", f"guess{i}")).status for i in range(4)]
    assert statuses[:2] == [401, 401] and statuses[-1] == 429
    locked = request("GET", f"{base}/dicom-web/studies", basic("root", "root-pw"))  # even the right password
    assert locked.status == 429 and locked.header("retry-after") == "60"
    assert "too many failed logins" in json.loads(locked.body)["message"]
    pacs.pacs.policy.authenticator.limiter.reset()  # type: ignore[union-attr]

    def failures() -> list[dict[str, Any]]:
        return [e for e in _audit(pacs) if e["event"] == "login" and e["outcome"] and e.get("user") == "root"]

    wait_until(lambda: any(e["outcome"] == 12 for e in failures()), what="the lockout in the audit trail")
    assert max(e["outcome"] for e in failures()) == 12  # the lockout is a major failure
    assert "guess" not in json.dumps(_audit(pacs))  # never a password in the trail


def test_roles(base: str, pacs: Server, tmp_path: Path) -> None:
    stow_body, content_type = _stow(OTHER, 7)
    answer = request("POST", f"{base}/dicom-web/studies", {**basic("alice", "alice-pw"), "Content-Type": content_type},
                     stow_body)
    assert answer.status == 403
    message = json.loads(answer.body)["message"]
    assert "alice" in message and "store" in message and "uploader" in message
    answer = request("DELETE", f"{base}/dicom-web/studies/{CARDIO}", basic("alice", "alice-pw"))
    assert answer.status == 403 and "delete" in json.loads(answer.body)["message"]
    answer = request("POST", f"{base}/dicom-web/studies", {**basic("ulla", "ulla-pw"), "Content-Type": content_type},
                     stow_body)
    assert answer.status == 200, answer.body[:300]
    assert request("DELETE", f"{base}/dicom-web/studies/{OTHER}/series/{OTHER}.1/instances/{OTHER}.1.7",
                   basic("ulla", "ulla-pw")).status == 403
    assert request("DELETE", f"{base}/dicom-web/studies/{OTHER}/series/{OTHER}.1/instances/{OTHER}.1.7",
                   basic("root", "root-pw")).status == 204
    # the audit trail's file is written by its own thread: wait for both records
    wait_until(lambda: {"instances-stored", "study-deleted"} <= {e["event"] for e in _audit(pacs)},
               what="the STOW and the deletion in the audit trail")
    records = _audit(pacs)
    assert any(e["event"] == "instances-stored" and e.get("user") == "ulla" and e["studies"] == [OTHER]
               for e in records)
    deleted = [e for e in records if e["event"] == "study-deleted"]
    assert deleted and deleted[-1]["user"] == "root" and deleted[-1]["studies"] == [OTHER]


def _stow(study: str, n: int) -> tuple[bytes, str]:
    from dicomkit.io.writer import to_bytes

    data = to_bytes(image(study=study, series=f"{study}.1", sop=f"{study}.1.{n}", number=n))
    body = b"--BB\r\nContent-Type: application/dicom\r\n\r\n" + data + b"\r\n--BB--\r\n"
    return body, 'multipart/related; type="application/dicom"; boundary=BB'


def test_a_restricted_user_sees_only_its_studies(base: str, pacs: Server) -> None:
    alice, root = basic("alice", "alice-pw"), basic("root", "root-pw")
    web = f"{base}/dicom-web"
    assert _studies(request("GET", f"{web}/studies", root)) == {CARDIO, OTHER}
    answer = request("GET", f"{web}/studies", alice)
    assert _studies(answer) == {CARDIO} and answer.header("x-total-count") == "1"
    assert _studies(request("GET", f"{web}/studies?StudyInstanceUID={OTHER}", alice)) == set()
    series = request("GET", f"{web}/series", alice)
    assert {s["0020000E"]["Value"][0] for s in json.loads(series.body)} == {f"{CARDIO}.1"}
    assert request("GET", f"{web}/studies/{OTHER}/instances", alice).body in (b"[]", b"")
    assert request("GET", f"{web}/instances?limit=1", alice).header("x-total-count") == "2"
    one = f"{OTHER}/series/{OTHER}.1/instances/{OTHER}.1.1"
    mine = f"{CARDIO}/series/{CARDIO}.1/instances/{CARDIO}.1.1"
    for tail in ("", "/metadata", "/rendered", "/thumbnail", "/frames/1", "/bulk/7FE00010"):
        assert request("GET", f"{web}/studies/{one}{tail}", alice).status == 404, tail  # as if not there
        assert request("GET", f"{web}/studies/{one}{tail}", root).status == 200, tail
        assert request("GET", f"{web}/studies/{mine}{tail}", alice).status == 200, tail
    for tail in ("", "/metadata", "/thumbnail", "/rendered"):
        assert request("GET", f"{web}/studies/{OTHER}{tail}", alice).status == 404, tail
    nested = request("GET", f"{web}/studies/{OTHER}/series", alice)
    assert nested.status == 200 and json.loads(nested.body) == [] and nested.header("x-total-count") == "0"
    assert request("GET", f"{web}/studies/{OTHER}", {**alice, "Accept": "application/zip"}).status == 404
    assert request("GET", f"{web}/studies/{CARDIO}", {**alice, "Accept": "application/zip"}).status == 200
    uri = f"{base}/wado?requestType=WADO&studyUID={OTHER}&seriesUID={OTHER}.1&objectUID={OTHER}.1.1"
    assert request("GET", uri + "&contentType=application/dicom", alice).status == 404
    assert request("GET", uri + "&contentType=application/dicom", root).status == 200
    # an uploader restricted to labels may not store into a study it cannot see (0x0124 for the instance) ...
    ursula = basic("ursula", "ursula-pw")
    body, content_type = _stow(OTHER, 8)
    answer = request("POST", f"{web}/studies", {**ursula, "Content-Type": content_type}, body)
    assert answer.status == 409, answer.body[:300]
    failed = json.loads(answer.body)["00081198"]["Value"][0]
    assert failed["00081197"]["Value"] == [0x0124]
    assert pacs.index.instance(f"{OTHER}.1.8") is None
    # ... and what it stores in a new study carries its labels, so that it (and alice) see it
    new = "1.2.826.0.1.3680043.10.8.3"
    body, content_type = _stow(new, 1)
    assert request("POST", f"{web}/studies", {**ursula, "Content-Type": content_type}, body).status == 200
    assert _studies(request("GET", f"{web}/studies", alice)) == {CARDIO, new}
    assert request("DELETE", f"{web}/studies/{new}", root).status == 204


def test_bearer_tokens(base: str, pacs: Server, signing_key: rsa.RSAPrivateKey) -> None:
    web = f"{base}/dicom-web"
    assert _studies(request("GET", f"{web}/studies", bearer(token(signing_key)))) == {CARDIO}
    assert _studies(request("GET", f"{web}/studies", bearer(token(signing_key, roles=["admin"], labels=None)))) == \
        {CARDIO, OTHER}
    forged = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for bad, why in ((token(signing_key, exp=time.time() - 3600), "expired"), (token(signing_key, aud="other"), "aud"),
                     (token(signing_key, iss="https://evil.test"), "issuer"), (token(forged), "signature"),
                     ("not.a.token", "token")):
        answer = request("GET", f"{web}/studies", bearer(bad))
        assert answer.status == 401
        assert 'error="invalid_token"' in answer.header("www-authenticate")
        assert why in json.loads(answer.body)["message"]
        pacs.pacs.policy.authenticator.limiter.reset()  # type: ignore[union-attr]
    body, content_type = _stow(CARDIO, 9)
    answer = request("POST", f"{web}/studies", {**bearer(token(signing_key)), "Content-Type": content_type}, body)
    assert answer.status == 403  # the token's role is viewer


def test_dicomweb_client_with_credentials(base: str, pacs: Server) -> None:
    requests = pytest.importorskip("requests")
    from dicomweb_client.api import DICOMwebClient
    from dicomweb_client.session_utils import create_session

    session = create_session()
    session.auth = requests.auth.HTTPBasicAuth("alice", "alice-pw")
    client = DICOMwebClient(url=f"{base}/dicom-web", session=session)
    assert {s["0020000D"]["Value"][0] for s in client.search_for_studies()} == {CARDIO}
    assert len(client.retrieve_study(CARDIO)) == 2
    with pytest.raises(requests.exceptions.HTTPError):
        client.retrieve_study_metadata(OTHER)
    anonymous = DICOMwebClient(url=f"{base}/dicom-web")
    with pytest.raises(requests.exceptions.HTTPError) as info:
        anonymous.search_for_studies()
    assert info.value.response.status_code == 401


def test_logins_queries_and_accesses_are_audited_and_valid(base: str, pacs: Server, tmp_path: Path) -> None:
    alice = basic("alice", "alice-pw")
    request("GET", f"{base}/dicom-web/studies?PatientName=Doe*", alice)
    request("GET", f"{base}/dicom-web/studies/{CARDIO}/metadata", alice)
    request("GET", f"{base}/dicom-web/studies/{CARDIO}", alice)

    def events() -> set[str]:
        return {e["event"] for e in _audit(pacs) if e.get("user") == "alice"}

    wait_until(lambda: {"login", "query", "instances-accessed", "instances-transferred"} <= events(),
               what="alice's login, query, access and retrieve in the audit trail")
    records = _audit(pacs)
    logins = [e for e in records if e["event"] == "login" and e.get("user") == "alice" and e["outcome"] == 0]
    assert len(logins) == 1  # one success per user and address per ten minutes, not one per request
    chosen = [next(e for e in records if e["event"] == kind) for kind in
              ("login", "query", "instances-accessed", "instances-transferred", "instances-stored", "study-deleted")
              if any(e["event"] == kind for e in records)]
    assert len(chosen) >= 4
    xmllint = require_tool("xmllint")
    paths = []
    for i, entry in enumerate(chosen):
        path = tmp_path / f"m{i}.xml"
        path.write_text(entry["message"])
        paths.append(str(path))
    result = subprocess.run([xmllint, "--noout", "--relaxng", str(SCHEMA_RNG), *paths], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(
    st.text(max_size=60),
    st.builds(lambda s, t: f"{s} {t}", st.sampled_from(["Basic", "basic", "Bearer", "BEARER", "Negotiate"]),
              st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80)),
    st.builds(lambda u, p: "Basic " + base64.b64encode(f"{u}:{p}".encode()).decode(),
              st.sampled_from(["alice", "root", "ulla", "", "alice\x00", "ALICE"]), st.text(max_size=12)),
    st.builds(lambda p: "Bearer " + ".".join(p), st.lists(st.text(alphabet="abcXYZ012-_=", max_size=20),
                                                          min_size=1, max_size=4))))
def test_fuzzed_authorization_never_gets_in(base: str, pacs: Server, header: str) -> None:
    try:
        header.encode("latin-1")
    except UnicodeEncodeError:
        return  # not a header http.client can send
    if any(c in header for c in "\r\n") or header in (basic("alice", "alice-pw")["Authorization"],):
        return
    answer = request("GET", f"{base}/dicom-web/studies", {"Authorization": header})
    assert answer.status in (401, 429, 400, 431), (header, answer.status)
    pacs.pacs.policy.authenticator.limiter.reset()  # type: ignore[union-attr]


def test_https_with_the_dimse_certificate(tmp_path: Path, signing_key: rsa.RSAPrivateKey) -> None:
    certs = make_certificates(tmp_path / "certs")
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    config = _config(tmp_path / "pacs", signing_key, f"""
[tls]
http = true
certificate = "{certs['server.pem']}"
key = "{certs['server.key']}"
""")
    with Server(config, dicom_port=0, http_port=0, host="127.0.0.1") as server:
        url = f"https://127.0.0.1:{server.http_port}/dicom-web/studies"
        ok = subprocess.run([curl, "-sS", "--cacert", str(certs["ca.pem"]), "-u", "root:root-pw", "-w",
                             "\n%{http_code}", url], capture_output=True, text=True, timeout=60)
        assert ok.stdout.rsplit("\n", 1)[-1] == "200", ok.stderr
        assert json.loads(ok.stdout.rsplit("\n", 1)[0]) == []
        plain = subprocess.run([curl, "-sS", "-u", "root:root-pw", url.replace("https:", "http:")],
                               capture_output=True, text=True, timeout=60)
        assert plain.returncode != 0 or "200" not in plain.stdout  # no plaintext HTTP on the port
        untrusted = subprocess.run([curl, "-sS", "-u", "root:root-pw", url], capture_output=True, text=True,
                                   timeout=60)
        assert untrusted.returncode != 0  # a certificate the client does not trust: no exchange
        assert any("https://" in line for line in server.pacs.describe())


QIDO_KEYS = st.sampled_from(["StudyInstanceUID", "PatientName", "PatientID", "00100020", "limit", "offset",
                             "includefield", "fuzzymatching", "ModalitiesInStudy", "SeriesInstanceUID", "StudyDate"])
QIDO_VALUES = st.one_of(st.sampled_from([OTHER, f"{OTHER}.1", "*", "Doe*", "P1", "all", "0", "-1", "true",
                                         f"{CARDIO},{OTHER}", f"{OTHER}\\{CARDIO}"]), st.text(max_size=12))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(QIDO_KEYS, QIDO_VALUES), max_size=4),
       st.sampled_from(["/studies", "/series", "/instances", f"/studies/{OTHER}/series", f"/studies/{OTHER}/instances",
                        f"/studies/{OTHER}/series/{OTHER}.1/instances"]))
def test_fuzzed_queries_never_show_another_study(base: str, pacs: Server, params: list[tuple[str, str]],
                                                 path: str) -> None:
    import urllib.parse

    answer = request("GET", f"{base}/dicom-web{path}?{urllib.parse.urlencode(params)}", basic("alice", "alice-pw"))
    assert answer.status in (200, 400), (params, answer.status)
    if answer.status == 200:  # (a 400 may quote the parameter it refuses)
        assert OTHER.encode() not in answer.body, (params, path)
        assert int(answer.header("x-total-count") or 0) <= 2


def test_oidc_discovery_over_http(tmp_path: Path, signing_key: rsa.RSAPrivateKey) -> None:
    """A server configured with only an OpenID Connect issuer: tokens are checked against the keys its
    discovery document names (fetched at the first token), and the port takes remote clients."""
    import http.server
    import threading

    documents: dict[str, Any] = {}

    class Provider(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            doc = documents.get(self.path)
            body = json.dumps(doc).encode() if doc is not None else b"{}"
            self.send_response(200 if doc is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    idp = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Provider)
    threading.Thread(target=idp.serve_forever, daemon=True).start()
    issuer = f"http://127.0.0.1:{idp.server_address[1]}/realms/pacs"
    documents["/realms/pacs/.well-known/openid-configuration"] = {"issuer": issuer, "jwks_uri": issuer + "/certs"}
    documents["/realms/pacs/certs"] = {"keys": [public_jwk(signing_key, "k1")]}
    config = tmp_path / "pacs.toml"
    config.write_text(f"""
[storage]
data_dir = "{tmp_path / 'data'}"
durability = "os"

[auth]
oidc_issuer = "{issuer}"
audience = "pacs"
""")
    try:
        with Server(config, dicom_port=0, http_port=0, host="127.0.0.1") as server:
            web = f"http://127.0.0.1:{server.http_port}/dicom-web/studies"
            good = token(signing_key, iss=issuer, roles=["viewer"], labels=None)
            assert request("GET", web, bearer(good)).status == 200
            assert request("GET", web, bearer(token(signing_key))).status == 401  # the other issuer
            answer = request("GET", web)
            assert answer.status == 401 and answer.header("www-authenticate").startswith("Bearer")
            assert "authenticated clients" in "\n".join(server.pacs.describe())
    finally:
        idp.shutdown()
        idp.server_close()
