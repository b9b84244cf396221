"""STOW-RS export over HTTPS with a bearer token (``[destinations.NAME]`` url https://..., token, ca) to another
``dicomkit serve`` that takes only TLS and JWTs: the study arrives; a CA that did not sign the server's
certificate, an expired token and a token of a role that may not store are clear errors, and nothing is
stored."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("cryptography", reason="the security extra (cryptography) is not installed")

from cryptography.hazmat.primitives.asymmetric import rsa

import dicomkit
from dicomkit.cli.main import main
from dicomkit.server import Server
from dicomkit.server.auth.jwt import public_jwk, sign

from ..peers import make_certificates
from .data import image, write

STUDY = "1.2.826.0.1.3680043.10.9.1"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory, key: rsa.RSAPrivateKey,
           certs: dict[str, Path]) -> Iterator[Server]:
    """A dicomkit serve on HTTPS that knows no passwords: only tokens signed by ``key``."""
    folder = tmp_path_factory.mktemp("https-target")
    jwks = folder / "jwks.json"
    jwks.write_text(json.dumps({"keys": [public_jwk(key, "k1")]}))
    config = folder / "target.toml"
    config.write_text(f"""
[storage]
data_dir = "{folder / 'data'}"
durability = "os"

[dicom]
ae_title = "SECURE"

[tls]
http = true
certificate = "{certs['server.pem']}"
key = "{certs['server.key']}"

[auth]
jwt_keys = "{jwks}"
audience = "pacs"
issuer = "https://idp.test"
""")
    with Server(config, dicom_port=0, http_port=0, host="127.0.0.1") as server:
        yield server


def token(key: rsa.RSAPrivateKey, **claims: object) -> str:
    body: dict[str, object] = {"sub": "exporter", "aud": "pacs", "iss": "https://idp.test",
                               "exp": time.time() + 600, "iat": time.time() - 5, "roles": ["uploader"]}
    body.update(claims)
    return sign(body, key, "RS256", kid="k1")


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory, target: Server, key: rsa.RSAPrivateKey,
           certs: dict[str, Path]) -> Path:
    folder = tmp_path_factory.mktemp("https-source")
    other_ca = make_certificates(folder / "other-ca")["ca.pem"]
    url = f"https://127.0.0.1:{target.http_port}/dicom-web"
    config = folder / "source.toml"
    config.write_text(f"""
[storage]
data_dir = "{folder / 'data'}"
durability = "os"

[http]
enabled = false

[destinations.SECURE]
url = "{url}"
token = "{token(key)}"
ca = "{certs['ca.pem']}"

[destinations.UNTRUSTED]
url = "{url}"
token = "{token(key)}"
ca = "{other_ca}"

[destinations.EXPIRED]
url = "{url}"
token = "{token(key, exp=time.time() - 60, iat=time.time() - 120)}"
ca = "{certs['ca.pem']}"

[destinations.VIEWER]
url = "{url}"
token = "{token(key, roles=['viewer'])}"
ca = "{certs['ca.pem']}"
""")
    with Server(config, dicom_port=0, host="127.0.0.1") as server:
        for n in (1, 2):
            server.archive.ingest_file(write(image(study=STUDY, series=f"{STUDY}.1", sop=f"{STUDY}.1.{n}", number=n),
                                             folder / "in"))
    return config


def _export(config: Path, to: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["archive", "export", "--config", str(config), "--study", STUDY, "--to", to])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_refusals_are_clear_and_store_nothing(source: Path, target: Server,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = _export(source, "UNTRUSTED", capsys)
    assert code == 1 and "UNTRUSTED" in err and "TLS handshake failed, its certificate is not trusted" in err, err
    assert "set the destination's ca" in err, err
    code, _out, err = _export(source, "EXPIRED", capsys)
    assert code == 1 and "HTTP 401" in err, err
    code, _out, err = _export(source, "VIEWER", capsys)
    assert code == 1 and "HTTP 403" in err, err
    assert not target.index.instances(study_instance_uid=STUDY)


def test_export_over_https_with_a_token(source: Path, target: Server, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _export(source, "SECURE", capsys)
    assert code == 0, err
    assert out.startswith(f"{STUDY}: 2 of 2") and "SECURE" in out
    rows = target.index.instances(study_instance_uid=STUDY)
    assert sorted(r.sop_instance_uid for r in rows) == [f"{STUDY}.1.1", f"{STUDY}.1.2"]
    for row in rows:
        assert str(dicomkit.read(target.archive.store.path_of(row.blob_key)).PatientName) == "Doe^Jane"
