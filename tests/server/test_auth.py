"""Authentication building blocks: scrypt passwords, roles, study labels (SQL and Python predicates, both
databases), JWT validation (RS256, ES256, HS256; bad, expired, wrong audience/issuer; algorithm confusion),
JWKS refresh and OIDC discovery over a local HTTP server, failed-login lockouts."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("cryptography", reason="the security extra (cryptography) is not installed")

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from dicomkit.core.dataset import Dataset
from dicomkit.server.auth import AuthenticationError, Authenticator, Identity
from dicomkit.server.auth.jwt import (
    KeySet,
    RemoteKeySet,
    TokenError,
    TokenValidator,
    b64encode,
    discover,
    key_from_pem,
    public_jwk,
    sign,
)
from dicomkit.server.auth.labels import (
    LabelError,
    Visibility,
    add_labels,
    check_label,
    labels_for,
    labels_of,
    remove_labels,
    set_labels,
)
from dicomkit.server.auth.passwords import PasswordHashError, hash_password, verify_password
from dicomkit.server.auth.ratelimit import FailureLimiter
from dicomkit.server.auth.roles import permits
from dicomkit.server.config import Config, ConfigError, load_config
from dicomkit.server.securityconfig import AuthConfig, LabelRule, UserEntry

FAST = {"n": 2**10}  # cheap scrypt parameters for tests that hash many times
NOW = 1_800_000_000.0


def test_passwords() -> None:
    stored = hash_password("correct horse", **FAST)
    assert stored.startswith("scrypt$1024$8$1$")
    assert verify_password("correct horse", stored)
    assert not verify_password("correct hors", stored)
    assert not verify_password("", stored)
    assert not verify_password("correct horse", None)  # unknown user: same work, always False
    assert hash_password("x", **FAST) != hash_password("x", **FAST)  # salted
    for bad in ("plain", "scrypt$3$8$1$AA$AA", "scrypt$1024$8$1$!!$AA"):
        with pytest.raises(PasswordHashError):
            verify_password("x", bad)


def test_roles() -> None:
    assert permits(["viewer"], "read") and not permits(["viewer"], "store")
    assert permits(["uploader"], "store") and not permits(["uploader"], "delete")
    assert all(permits(["admin"], a) for a in ("read", "store", "delete", "operate"))
    assert permits([], None) and not permits([], "read")
    with pytest.raises(ValueError):
        permits(["admin"], "fly")


def test_visibility_predicates() -> None:
    everyone = Visibility.of(None)
    cardio = Visibility.of(["cardio", "site-b"])
    assert everyone.sees([]) and everyone.sees(["x"])
    assert cardio.sees(["cardio"]) and cardio.sees(["research", "site-b"])
    assert not cardio.sees([]) and not cardio.sees(["neuro"])
    assert Visibility.of(["cardio"], roles=["admin"]).labels is None
    assert everyone.sql() == ("1 = 1", [])
    sql, params = cardio.sql("st.pk")
    assert "sl.study_pk = st.pk" in sql and params == ["cardio", "site-b"]
    for bad in ("", "Cardio", "a b", "x" * 65, "-x", "a;drop"):
        with pytest.raises(LabelError):
            check_label(bad)


def test_label_rules() -> None:
    rules = [LabelRule("cathlab", calling_ae="CATH1"), LabelRule("stmary", attribute="InstitutionName",
                                                                 value="St Mary*"),
             LabelRule("both", calling_ae="CT1", attribute="Modality", value="CT")]
    assert labels_for(rules, calling_ae="CATH1", attributes={}) == {"cathlab"}
    assert labels_for(rules, calling_ae="X", attributes={"InstitutionName": "st mary's hospital"}) == {"stmary"}
    assert labels_for(rules, calling_ae="CT1", attributes={"Modality": "CT"}) == {"both"}
    assert labels_for(rules, calling_ae="CT1", attributes={"Modality": "MR"}) == set()


def test_labels_in_the_index(config: Config, tmp_path: Path) -> None:
    from dicomkit.server.ingest import Archive
    from dicomkit.server.operator import import_files

    from .data import files

    with Archive(config) as archive:
        index = archive.index
        paths = files(tmp_path / "in", 4, studies=2)
        import_files(archive, paths, workers=2)
        a, b = sorted(r["study_instance_uid"] for r in index.studies())
        index.write(lambda db: add_labels(db, a, ["cardio", "site-b"]))
        index.write(lambda db: add_labels(db, b, ["neuro"]))
        assert labels_of(index.read(), a) == {"cardio", "site-b"}
        assert index.write(lambda db: remove_labels(db, a, ["site-b"])) == {"cardio"}
        assert index.write(lambda db: set_labels(db, b, ["neuro", "research"])) == {"neuro", "research"}
        with pytest.raises(LabelError):
            index.write(lambda db: add_labels(db, "9.9.9", ["x"]))

        def visible(v: Visibility) -> set[str]:
            predicate, params = v.sql("studies.pk")
            rows = index.query(f"SELECT study_instance_uid AS uid FROM studies WHERE {predicate}", params)
            return {r["uid"] for r in rows}

        assert visible(Visibility.of(None)) == {a, b}
        assert visible(Visibility.of(["cardio"])) == {a}
        assert visible(Visibility.of(["research", "cardio"])) == {a, b}
        assert visible(Visibility.of(["other"])) == set()
        # the Python predicate agrees with the SQL one
        for labels in (["cardio"], ["neuro"], ["other"], ["cardio", "neuro"]):
            v = Visibility.of(labels)
            assert visible(v) == {u for u in (a, b) if v.sees(labels_of(index.read(), u))}
        archive.delete("study", a)
        assert index.query("SELECT count(*) AS n FROM study_labels")[0]["n"] == 2  # a's rows went with it


@pytest.fixture
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _claims(**extra: Any) -> dict[str, Any]:
    return {"sub": "alice", "aud": "dicomkit", "iss": "https://idp.test", "exp": NOW + 300, "iat": NOW - 10,
            **extra}


def _validator(keys: Any, **options: Any) -> TokenValidator:
    settings = {"algorithms": ["RS256", "ES256", "HS256"], "audience": "dicomkit", "issuer": "https://idp.test",
                "clock": lambda: NOW}
    settings.update(options)
    return TokenValidator(keys, **settings)


def test_jwt_valid_tokens(rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> None:
    keys = KeySet.from_jwks({"keys": [public_jwk(rsa_key, "r1"), public_jwk(ec_key, "e1"),
                                      {"kty": "oct", "k": b64encode(b"s" * 32), "kid": "h1"}]})
    v = _validator(keys)
    assert v.validate(sign(_claims(), rsa_key, "RS256", kid="r1"))["sub"] == "alice"
    assert v.validate(sign(_claims(), ec_key, "ES256", kid="e1"))["sub"] == "alice"
    assert v.validate(sign(_claims(), b"s" * 32, "HS256", kid="h1"))["sub"] == "alice"
    assert v.validate(sign(_claims(aud=["other", "dicomkit"]), rsa_key, "RS256"))["sub"] == "alice"
    from cryptography.hazmat.primitives import serialization

    pem = rsa_key.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    assert _validator(KeySet([key_from_pem(pem)])).validate(sign(_claims(), rsa_key, "RS256"))


@pytest.mark.parametrize(("change", "reason"), [
    ({"exp": NOW - 100}, "expired"),
    ({"nbf": NOW + 100}, "not-yet-valid"),
    ({"iat": NOW + 100}, "not-yet-valid"),
    ({"aud": "someone-else"}, "audience"),
    ({"aud": None}, "audience"),
    ({"iss": "https://evil.test"}, "issuer"),
    ({"aud": ["other", "another"]}, "audience"),
    ({"exp": None}, "claims"),
    ({"exp": "tomorrow"}, "claims"),
])
def test_jwt_refused_claims(rsa_key: rsa.RSAPrivateKey, change: dict[str, Any], reason: str) -> None:
    claims = {k: v for k, v in {**_claims(), **change}.items() if v is not None}
    with pytest.raises(TokenError) as info:
        _validator(KeySet.from_jwks({"keys": [public_jwk(rsa_key)]})).validate(sign(claims, rsa_key, "RS256"))
    assert info.value.reason == reason


def test_jwt_audience_unconfigured(rsa_key: rsa.RSAPrivateKey) -> None:
    v = _validator(KeySet.from_jwks({"keys": [public_jwk(rsa_key)]}), audience=None)
    assert v.validate(sign({k: x for k, x in _claims().items() if k != "aud"}, rsa_key, "RS256"))["sub"] == "alice"
    with pytest.raises(TokenError) as info:  # a token meant for a named audience, and we have none
        v.validate(sign(_claims(), rsa_key, "RS256"))
    assert info.value.reason == "audience"


def test_token_claims_of_the_wrong_shape_are_refused() -> None:
    auth = Authenticator({}, AuthConfig())
    assert auth.identity_from_claims({"sub": "x", "labels": ["cardio"]}).labels == frozenset({"cardio"})
    for claims in ({"sub": "x", "labels": 5}, {"sub": "x", "roles": {"admin": True}}, {"sub": "x", "labels": ["Bad!"]},
                   {"sub": 7}, {}):
        with pytest.raises(AuthenticationError):
            auth.identity_from_claims(claims)


def test_jwt_refused_signatures(rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> None:
    keys = KeySet.from_jwks({"keys": [public_jwk(rsa_key, "r1")]})
    v = _validator(keys)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = sign(_claims(), rsa_key, "RS256", kid="r1")
    head, body, sig = token.split(".")

    def reason(t: str, validator: TokenValidator = v) -> str:
        with pytest.raises(TokenError) as info:
            validator.validate(t)
        return info.value.reason

    assert reason(sign(_claims(), other, "RS256", kid="r1")) == "signature"
    forged_body = b64encode(json.dumps({**_claims(), "sub": "admin"}).encode())
    assert reason(f"{head}.{forged_body}.{sig}") == "signature"
    none_head = b64encode(json.dumps({"alg": "none"}).encode())
    assert reason(f"{none_head}.{body}.") == "algorithm"
    # algorithm confusion: an HS256 token "signed" with the RSA public key's bytes
    from cryptography.hazmat.primitives import serialization

    pem = rsa_key.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    assert reason(sign(_claims(), pem, "HS256", kid="r1")) == "key"
    assert reason(sign(_claims(), ec_key, "ES256", kid="r1")) == "key"  # no EC key configured
    assert reason(sign(_claims(), rsa_key, "RS384")) == "algorithm"  # not allowed by the configuration
    crit = b64encode(json.dumps({"alg": "RS256", "crit": ["exp"]}).encode())
    assert reason(f"{crit}.{body}.{sig}") == "malformed"
    for junk in ("", "a.b", "a.b.c.d", "!!.!!.!!", "e30.e30.", "W10.e30.AA", "x" * 20000):
        assert reason(junk) in ("malformed", "algorithm")


class _Docs(http.server.BaseHTTPRequestHandler):
    documents: dict[str, Any] = {}
    hits: list[str] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        doc = type(self).documents.get(self.path)
        body = json.dumps(doc).encode() if doc is not None else b"{}"
        self.send_response(200 if doc is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def idp() -> Iterator[tuple[str, type[_Docs]]]:
    handler = type("Docs", (_Docs,), {"documents": {}, "hits": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def test_jwks_url_cached_and_refreshed_on_rotation(idp: tuple[str, type[_Docs]], rsa_key: rsa.RSAPrivateKey) -> None:
    base, docs = idp
    docs.documents["/jwks"] = {"keys": [public_jwk(rsa_key, "k1")]}
    clock = [0.0]
    remote = RemoteKeySet(base + "/jwks", ttl=3600, min_refresh=30, clock=lambda: clock[0])
    v = _validator(remote)
    assert v.validate(sign(_claims(), rsa_key, "RS256", kid="k1"))
    assert v.validate(sign(_claims(), rsa_key, "RS256", kid="k1"))
    assert remote.fetches == 1  # cached
    new = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    docs.documents["/jwks"] = {"keys": [public_jwk(rsa_key, "k1"), public_jwk(new, "k2")]}
    clock[0] = 5.0  # too soon to refetch for an unknown kid
    with pytest.raises(TokenError):
        v.validate(sign(_claims(), new, "RS256", kid="k2"))
    clock[0] = 40.0
    assert v.validate(sign(_claims(), new, "RS256", kid="k2"))
    assert remote.fetches == 2
    del docs.documents["/jwks"]  # the provider is broken: the keys known keep working
    clock[0] = 5000.0
    assert v.validate(sign(_claims(), new, "RS256", kid="k2"))


def test_oidc_discovery(idp: tuple[str, type[_Docs]], ec_key: ec.EllipticCurvePrivateKey) -> None:
    base, docs = idp
    issuer = base + "/realms/pacs"
    docs.documents["/realms/pacs/.well-known/openid-configuration"] = {"issuer": issuer,
                                                                      "jwks_uri": base + "/realms/pacs/certs"}
    docs.documents["/realms/pacs/certs"] = {"keys": [public_jwk(ec_key, "e")]}
    config = AuthConfig(oidc_issuer=issuer, audience="dicomkit")
    auth = Authenticator.from_config({}, config)
    assert not docs.hits  # nothing fetched before the first token
    token = sign({**_claims(iss=issuer), "exp": time.time() + 60, "iat": time.time(),
                  "preferred_username": "carol", "roles": ["uploader", "bogus"], "labels": ["cardio"]},
                 ec_key, "ES256", kid="e")
    identity = auth.token_login(token, "127.0.0.1")
    assert identity == Identity("carol", ("uploader",), frozenset({"cardio"}), "jwt")
    assert docs.hits == ["/realms/pacs/.well-known/openid-configuration", "/realms/pacs/certs"]
    down = Authenticator.from_config({}, AuthConfig(oidc_issuer=base + "/realms/down", audience="dicomkit"))
    with pytest.raises(AuthenticationError) as info:  # an identity provider that is down refuses logins only
        down.token_login(token, "127.0.0.1")
    assert info.value.reason == "token-key"
    with pytest.raises(TokenError):
        discover(base + "/realms/other")
    docs.documents["/realms/evil/.well-known/openid-configuration"] = {"issuer": issuer, "jwks_uri": base}
    with pytest.raises(TokenError):
        discover(base + "/realms/evil")  # a document naming another issuer is refused


def test_authenticator_passwords_and_lockout() -> None:
    clock = [0.0]
    users = {"alice": UserEntry("alice", hash_password("pw-alice", **FAST), ("uploader",), ("cardio",)),
             "bob": UserEntry("bob", hash_password("pw-bob", **FAST), ("viewer",))}
    auth = Authenticator(users, AuthConfig(max_failures=3, failure_window=60, lockout=120),
                         clock=lambda: clock[0])
    alice = auth.password_login("alice", "pw-alice", "10.0.0.1")
    assert alice.roles == ("uploader",) and alice.labels == frozenset({"cardio"})
    assert alice.permits("store") and not alice.permits("delete")
    assert alice.visibility.sees(["cardio"]) and not alice.visibility.sees(["neuro"])
    for _ in range(2):
        with pytest.raises(AuthenticationError) as info:
            auth.password_login("alice", "wrong", "10.0.0.2")
        assert info.value.reason == "bad-password" and info.value.outcome == 4
    with pytest.raises(AuthenticationError) as info:
        auth.password_login("alice", "wrong", "10.0.0.2")
    assert info.value.outcome == 12 and "locked out" in str(info.value)
    with pytest.raises(AuthenticationError) as info:
        auth.password_login("alice", "pw-alice", "10.0.0.3")  # the right password, but the user is locked
    assert info.value.reason == "locked-out"
    with pytest.raises(AuthenticationError):
        auth.password_login("bob", "pw-bob", "10.0.0.2")  # and so is the address
    assert auth.password_login("bob", "pw-bob", "10.0.0.9").name == "bob"
    clock[0] = 500.0
    assert auth.password_login("alice", "pw-alice", "10.0.0.2").name == "alice"
    with pytest.raises(AuthenticationError) as info:
        auth.password_login("mallory", "x", "10.0.0.5")
    assert info.value.reason == "unknown-user"
    with pytest.raises(AuthenticationError) as info:
        auth.token_login("a.b.c")
    assert info.value.reason == "not-configured"


def test_limiter_is_bounded() -> None:
    limiter = FailureLimiter(3, 60, 60, capacity=100, clock=lambda: 0.0)
    for i in range(1000):
        limiter.failure(f"user{i}", None)
    assert len(limiter._tables["user"]) == 100


def test_security_configuration(tmp_path: Path) -> None:
    stored = hash_password("pw", **FAST)
    path = tmp_path / "pacs.toml"
    path.write_text(f"""
[users.alice]
password = "{stored}"
roles = ["admin"]
labels = ["cardio"]

[[labels.rules]]
label = "cathlab"
calling_ae = "CATH1"

[auth]
algorithms = "RS256, ES256"
dicom_identity = "required"

[audit]
syslog = "tls://collector.example:6514"
max_file_size = "5 MB"
""")
    config = load_config(path)
    assert config.users["alice"].roles == ("admin",) and config.label_rules[0].label == "cathlab"
    assert config.auth.algorithms == ["RS256", "ES256"] and config.audit.max_file_size == 5 * 10**6
    for text, key in ((('[users.bob]\npassword = "hunter2"\n'), "users.bob.password"),
                      ('[users.bob]\nroles = ["god"]\n', "users.bob.roles"),
                      ('[[labels.rules]]\nlabel = "Bad Label"\ncalling_ae = "X"\n', "labels.rules[0].label"),
                      ('[[labels.rules]]\nlabel = "x"\n', "labels.rules[0]"),
                      ('[audit]\nsyslog = "http://x"\n', "audit.syslog"),
                      ('[tls]\nport = 2762\n', "tls.certificate"),
                      ('[tls]\nplaintext = false\n', "tls.plaintext"),
                      ('[tls]\nverify_clients = true\n', "tls.verify_clients"),
                      ('[auth]\nalgorithms = ["none"]\n', "auth.algorithms"),
                      ('[auth]\ndicom_identity = "sometimes"\n', "auth.dicom_identity")):
        path.write_text(text)
        with pytest.raises(ConfigError) as info:
            load_config(path)
        assert str(info.value).startswith(key), (str(info.value), key)


def test_dataset_attributes_for_rules() -> None:
    ds = Dataset()
    ds.InstitutionName = "St Mary Hospital"
    assert labels_for([LabelRule("stmary", attribute="InstitutionName", value="st mary*")], calling_ae=None,
                      attributes={"InstitutionName": str(ds.InstitutionName)}) == {"stmary"}


def test_cli_hash_password_and_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from dicomkit.cli.main import main
    from dicomkit.server.ingest import Archive
    from dicomkit.server.operator import import_files

    from .data import files

    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret!\n"))
    assert main(["security", "hash-password", "--password-stdin"]) == 0
    stored = capsys.readouterr().out.strip()
    assert verify_password("s3cret!", stored) and "s3cret" not in stored
    data = tmp_path / "data"
    with Archive(load_config(None, {"storage.data_dir": str(data)})) as archive:
        import_files(archive, files(tmp_path / "in", 1), workers=1)
        uid = archive.index.studies()[0]["study_instance_uid"]
    assert main(["security", "labels", "--data-dir", str(data), "--study", uid, "--add", "cardio", "research"]) == 0
    assert capsys.readouterr().out.strip() == "cardio research"
    assert main(["security", "labels", "--data-dir", str(data), "--study", uid, "--remove", "research"]) == 0
    assert capsys.readouterr().out.strip() == "cardio"
    assert main(["security", "labels", "--data-dir", str(data), "--study", uid, "--set"]) == 0
    assert "no labels" in capsys.readouterr().out
    assert main(["security", "labels", "--data-dir", str(data), "--study", uid, "--add", "Bad Label"]) == 1
    assert "label 'Bad Label'" in capsys.readouterr().err
    assert main(["security", "labels", "--data-dir", str(data), "--study", "9.9", "--add", "x"]) == 1
    assert "no study 9.9" in capsys.readouterr().err


def test_archive_delete_is_audited(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dicomkit.cli.main import main
    from dicomkit.server.audit.read import entries
    from dicomkit.server.ingest import Archive
    from dicomkit.server.operator import import_files

    from .data import files

    data = tmp_path / "data"
    with Archive(load_config(None, {"storage.data_dir": str(data)})) as archive:
        import_files(archive, files(tmp_path / "in", 3, studies=1), workers=1)
        uid = archive.index.studies()[0]["study_instance_uid"]
    assert main(["archive", "delete", "--data-dir", str(data), "--study", uid]) == 0
    [entry] = [e for e in entries(data / "audit" / "audit.log") if e["event"] == "study-deleted"]
    assert entry["studies"] == [uid] and 'EventActionCode="D"' in entry["message"]
    assert 'NumberOfInstances="3"' in entry["message"] and 'ParticipantObjectDataLifeCycle="14"' in entry["message"]
