"""The audit trail: PS3.15 A.5 messages validated against the schema of A.5.1.1 (xmllint --relaxng), syslog
over UDP, TCP and TLS received by a collector started here, the local file, and a collector that is down."""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
import subprocess
from pathlib import Path

import pytest

from dicomkit.cli.main import main
from dicomkit.server.audit import (
    ALERTS,
    EVENTS,
    SCHEMA_RNC,
    SCHEMA_RNG,
    AuditError,
    Auditor,
    FileSink,
    Source,
    StudyRef,
    build,
    syslog_sink,
)
from dicomkit.server.audit.read import Filter, entries, parse_since, search, tail
from dicomkit.server.audit.rnc import RncError, to_rng
from dicomkit.services.sources import Requester

from ..conftest import require_tool
from ..helpers import wait_until
from ..peers import make_certificates
from .syslog_listener import Collector

SOURCE = Source("DICOMKIT", ae_title="DICOMKIT", site_id="Radiology")
CT = "1.2.840.10008.5.1.4.1.1.2"
WHO = Requester("CT1", "DICOMKIT", "127.0.0.1", 40123, "alice", 2, "A7")
STUDY = StudyRef("1.2.826.0.1.3680043.2.1125.1", "PAT-1", "Doe^Jane", ("ACC-9",), {CT: 12})


def _kinds() -> list[tuple[str, dict[str, object]]]:
    """One example of every event the server records, with the details each takes."""
    return [
        ("application-start", {"launcher": "root"}),
        ("application-stop", {}),
        ("association-accepted", {"requester": WHO, "subject": "alice"}),
        ("association-rejected", {"requester": WHO, "outcome": 4, "description": "bad passcode",
                                  "subject": "alice"}),
        ("login", {"requester": WHO, "subject": "alice"}),
        ("login", {"requester": WHO, "outcome": 8, "description": "token signature does not verify"}),
        ("logout", {"requester": WHO}),
        ("instances-stored", {"requester": WHO, "studies": [STUDY]}),
        ("instances-transferred", {"requester": WHO, "destination": Requester("WS1", address="10.0.0.9"),
                                   "studies": [STUDY]}),
        ("instances-transferred", {"requester": WHO, "studies": [STUDY]}),
        ("instances-accessed", {"requester": WHO, "studies": [STUDY]}),
        ("export", {"requester": WHO, "studies": [STUDY]}),
        ("import", {"studies": [STUDY]}),
        ("query", {"requester": WHO, "query": b"\x08\x00\x52\x00\x06\x00\x00\x00STUDY ",
                   "sop_class": "1.2.840.10008.5.1.4.1.2.2.1", "transfer_syntax": "1.2.840.10008.1.2"}),
        ("study-deleted", {"requester": WHO, "studies": [STUDY]}),
        ("audit-log-used", {"requester": Requester(user_identity="operator", protocol="local")}),
        *[("security-alert", {"requester": WHO, "alert": alert, "outcome": 4, "subject": "EVIL",
                              "description": f"{alert} <test> & \x01 control"}) for alert in ALERTS],
    ]


def _xmllint() -> str:
    return require_tool("xmllint")


def _validate(folder: Path, messages: list[str]) -> subprocess.CompletedProcess[str]:
    paths = []
    for i, xml in enumerate(messages):
        path = folder / f"m{i:03d}.xml"
        path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n' + xml, encoding="utf-8")
        paths.append(str(path))
    return subprocess.run([_xmllint(), "--noout", "--relaxng", str(SCHEMA_RNG), *paths], capture_output=True,
                          text=True, timeout=120)


def test_shipped_rng_is_the_transcribed_rnc() -> None:
    # the XML syntax the validators read is made from the standard's compact text, not written apart
    assert to_rng(SCHEMA_RNC.read_text()) == SCHEMA_RNG.read_text()
    text = SCHEMA_RNC.read_text()
    for needle in ("PS3.15 A.5.1.1", "element AuditMessage", "ParticipantObjectContainsStudy",
                   "attribute EventOutcomeIndicator", '"12"             ## Major failure'):
        assert needle in text


def test_rnc_converter_refuses_what_it_does_not_know() -> None:
    with pytest.raises(RncError):
        to_rng("start = element * { text }")
    with pytest.raises(RncError):
        to_rng("start = element a { text , text | text }")
    with pytest.raises(RncError):
        to_rng("start = element a { foo:bar }")


def test_every_kind_of_message_validates(tmp_path: Path) -> None:
    messages = [build(event, SOURCE, **details) for event, details in _kinds()]  # type: ignore[arg-type]
    assert {e for e, _ in _kinds()} == set(EVENTS)
    result = _validate(tmp_path, messages)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("validates") == len(messages)


def test_messages_are_written_as_elementtree_writes_them() -> None:
    """The messages' own writer (``to_xml``) gives the bytes ``ET.tostring`` gives for the same tree."""
    import xml.etree.ElementTree as ET

    nasty = "\x00\x01<evil attr=\"x\">&amp;\ud800\uffff\x1b[31m \t\nend \r'"
    who = Requester(nasty[:16], "PACS", "127.0.0.1", 1, nasty, 1, nasty)
    messages = [build(event, SOURCE, **details) for event, details in _kinds()]  # type: ignore[arg-type]
    messages += [build("association-rejected", SOURCE, requester=who, subject=nasty, description=nasty, outcome=4),
                 build("instances-stored", SOURCE, requester=who, studies=[StudyRef(nasty, nasty, nasty, (nasty,))])]
    for xml in messages:
        assert ET.tostring(ET.fromstring(xml), encoding="unicode") == xml


def test_hostile_text_still_makes_valid_messages(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    nasty = "\x00\x01<evil attr=\"x\">&amp;\ud800\uffff\x1b[31m \t\nend"
    who = Requester(nasty[:16], "PACS", "127.0.0.1", 1, nasty, 1, nasty)
    messages = [build("association-rejected", SOURCE, requester=who, subject=nasty, description=nasty, outcome=4),
                build("security-alert", SOURCE, requester=who, alert="node-authentication", subject=nasty),
                build("instances-stored", SOURCE, requester=who, studies=[StudyRef(nasty, nasty, nasty, (nasty,))])]
    for xml in messages:
        ET.fromstring(xml)  # well-formed
    result = _validate(tmp_path, messages)
    assert result.returncode == 0, result.stderr
    sink = FileSink(tmp_path / "audit.log")
    with Auditor(SOURCE, [sink]) as audit:  # and the local file takes them (nothing stuck, nothing dropped)
        audit.record("association-rejected", requester=who, subject=nasty, outcome=4)
        audit.record("login", requester=WHO)
    assert [e["event"] for e in entries(tmp_path / "audit.log")] == ["association-rejected", "login"]
    assert sink.dropped == 0


def test_the_schema_refuses_broken_messages(tmp_path: Path) -> None:
    good = build("instances-stored", SOURCE, requester=WHO, studies=[STUDY])
    broken = [
        good.replace('EventOutcomeIndicator="0"', 'EventOutcomeIndicator="3"'),
        good.replace('EventActionCode="C"', 'EventActionCode="X"'),
        good.replace("<AuditSourceIdentification", "<AuditSource"),
        good.replace('UserIsRequestor="true"', 'UserIsRequestor="yes"'),
        good.replace(' NumberOfInstances="12"', ""),
        good.replace("<ParticipantObjectName>1.2.826.0.1.3680043.2.1125.1</ParticipantObjectName>", ""),
    ]
    for i, xml in enumerate(broken):
        folder = tmp_path / str(i)
        folder.mkdir()
        assert _validate(folder, [xml]).returncode != 0, f"broken message {i} validated"


def test_message_content() -> None:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(build("instances-stored", SOURCE, requester=WHO, studies=[STUDY]))
    ident = root.find("EventIdentification")
    assert ident is not None and ident.get("EventActionCode") == "C"
    assert ident.find("EventID").get("csd-code") == "110104"  # type: ignore[union-attr]
    parts = root.findall("ActiveParticipant")
    assert parts[0].get("UserID") == "alice" and parts[0].get("AlternativeUserID") == "AETITLES=CT1"
    assert parts[0].get("NetworkAccessPointID") == "127.0.0.1" and parts[0].get("NetworkAccessPointTypeCode") == "2"
    assert parts[0].find("RoleIDCode").get("csd-code") == "110153"  # type: ignore[union-attr]
    assert parts[1].find("RoleIDCode").get("csd-code") == "110152"  # type: ignore[union-attr]
    objects = root.findall("ParticipantObjectIdentification")
    assert objects[0].get("ParticipantObjectID") == STUDY.study_uid
    assert objects[0].find("ParticipantObjectDescription/SOPClass").get("NumberOfInstances") == "12"  # type: ignore
    assert objects[1].get("ParticipantObjectID") == "PAT-1" and objects[1].get("ParticipantObjectTypeCodeRole") == "1"
    with pytest.raises(AuditError):
        build("no-such-event", SOURCE)
    with pytest.raises(AuditError):
        build("security-alert", SOURCE, alert="nonsense")
    with pytest.raises(AuditError):
        build("login", SOURCE, outcome=3)


def _tls_collector(tmp_path: Path) -> tuple[Collector, dict[str, Path]]:
    certs = make_certificates(tmp_path / "certs")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs["server.pem"], certs["server.key"])
    context.load_verify_locations(certs["ca.pem"])
    context.verify_mode = ssl.CERT_REQUIRED  # RFC 5425 5.3: both ends authenticate
    return Collector("tls", context), certs


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
def test_syslog_collector_receives_and_parses(tmp_path: Path, transport: str) -> None:
    certs: dict[str, Path] = {}
    if transport == "tls":
        collector, certs = _tls_collector(tmp_path)
        sink = syslog_sink(f"tls://localhost:{collector.port}", ca=str(certs["ca.pem"]),
                           cert=str(certs["client.pem"]), key=str(certs["client.key"]))
    else:
        collector = Collector(transport)
        sink = syslog_sink(f"{transport}://127.0.0.1:{collector.port}")
    try:
        with Auditor(SOURCE, [sink]) as audit:
            for event, details in _kinds():
                audit.record(event, **details)  # type: ignore[arg-type]
            wait_until(lambda: len(collector.messages) == len(_kinds()), what="every message at the collector")
        assert not collector.errors
        assert audit.dropped == 0
        first = collector.messages[0]
        assert first.msgid == "DICOM+RFC3881" and first.bom
        assert first.pri == 10 * 8 + 5  # authpriv.notice for a success
        failure = next(m for m in collector.messages if 'EventOutcomeIndicator="8"' in m.msg)
        assert failure.pri == 10 * 8 + 3  # authpriv.err for a serious failure
        assert dt.datetime.fromisoformat(first.timestamp.replace("Z", "+00:00")).tzinfo is not None
        result = _validate(tmp_path, [m.msg for m in collector.messages])
        assert result.returncode == 0, result.stderr
    finally:
        collector.close()


def test_a_collector_that_is_down_never_stalls_the_caller(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port with no listener: every connection is refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = syslog_sink(f"tcp://127.0.0.1:{port}", capacity=5)
    file_sink = FileSink(tmp_path / "audit.log", capacity=1000)
    audit = Auditor(SOURCE, [sink, file_sink]).start()
    for _ in range(50):
        audit.record("login", requester=WHO)
    wait_until(lambda: len((tmp_path / "audit.log").read_text().splitlines()) == 50 if
               (tmp_path / "audit.log").exists() else False, what="the local file to hold every record")
    wait_until(lambda: sink.failures > 0, what="the sink to try the collector")
    audit.close(timeout=1.0)
    assert sink.sent == 0
    assert sink.dropped >= 45  # the queue holds 5; what did not fit, and what was never sent, is counted
    assert sink.dropped + sink.sent <= 50
    assert file_sink.dropped == 0 and audit.dropped == sink.dropped


def test_collector_restarted_gets_the_queued_messages(tmp_path: Path) -> None:
    collector = Collector("tcp")
    port = collector.port
    collector.close()  # down at first
    sink = syslog_sink(f"tcp://127.0.0.1:{port}", capacity=100)
    with Auditor(SOURCE, [sink]) as audit:
        audit.record("login", requester=WHO)
        wait_until(lambda: sink.failures > 0, what="a failed delivery")
        back = _listen_on(port)
        try:
            audit.record("logout", requester=WHO)
            wait_until(lambda: len(back.messages) == 2, timeout=20, what="both messages after the restart")
        finally:
            back.close()
    assert sink.dropped == 0


def _listen_on(port: int) -> Collector:
    """A TCP collector on a given port (the one that was down)."""
    import threading

    c = Collector.__new__(Collector)
    c.transport, c.context, c.messages, c.errors = "tcp", None, [], []
    c.sock = socket.socket()
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    c.sock.bind(("127.0.0.1", port))
    c.sock.listen(8)
    c.sock.settimeout(0.2)
    c.port = port
    c._stop = threading.Event()
    c._thread = threading.Thread(target=c._run, daemon=True)
    c._thread.start()
    return c


def test_local_file_rotates_and_is_searched(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "audit.log"
    sink = FileSink(path, max_bytes=4000, backups=3)
    other = StudyRef("1.2.3.4", "PAT-2")
    with Auditor(SOURCE, [sink]) as audit:
        for i in range(30):
            audit.record("instances-stored", requester=WHO if i % 2 else Requester("MR1", user_identity="bob"),
                         studies=[STUDY if i % 3 else other])
    assert (tmp_path / "audit" / "audit.log.1").exists() and not (tmp_path / "audit" / "audit.log.4").exists()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    kept = list(search(path, Filter()))
    assert 0 < len(kept) < 30  # the oldest were rotated away
    assert all(e["event"] == "instances-stored" for e in kept)
    alice = list(search(path, Filter(user="alice")))
    assert alice and all(e["user"] == "alice" for e in alice)
    studies = list(search(path, Filter(study="1.2.3.4")))
    assert studies and all("1.2.3.4" in e["studies"] for e in studies)
    assert tail(path, 3)[-1] == kept[-1]
    assert not list(search(path, Filter(since=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))))
    assert parse_since("2h") < dt.datetime.now(dt.UTC)


def test_cli_audit_tail_and_search(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    with Auditor(SOURCE, [FileSink(data / "audit" / "audit.log")]) as audit:
        audit.record("instances-stored", requester=WHO, studies=[STUDY])
        audit.record("security-alert", requester=Requester("EVIL", address="192.0.2.1"), outcome=4,
                     alert="node-authentication", subject="EVIL")
    assert main(["audit", "search", "--data-dir", str(data), "--user", "alice"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and "instances-stored ok alice/CT1 from 127.0.0.1" in out[0] and STUDY.study_uid in out[0]
    assert main(["audit", "search", "--data-dir", str(data), "--failures", "--json"]) == 0
    entries = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["event"] for e in entries] == ["security-alert"]
    assert main(["audit", "tail", "--data-dir", str(data), "-n", "1", "--xml"]) == 0
    assert capsys.readouterr().out.startswith("<AuditMessage>")
    # reading the trail was recorded (PS3.15 A.5.3.2)
    assert main(["audit", "search", "--data-dir", str(data), "--event", "audit-log-used"]) == 0
    assert "audit-log-used" in capsys.readouterr().out
    assert main(["audit", "search", "--data-dir", str(tmp_path / "none")]) == 2
    assert "no audit file" in capsys.readouterr().err
    assert main(["audit", "search", "--data-dir", str(data), "--since", "yesterday-ish"]) == 2


_RSYSLOG_CONF = """
global(workDirectory="{dir}" maxMessageSize="64k"
       defaultNetstreamDriverCAFile="{ca}" defaultNetstreamDriverCertFile="{cert}"
       defaultNetstreamDriverKeyFile="{key}")
module(load="imudp")
module(load="imtcp")
input(type="imudp" address="127.0.0.1" port="{udp}" name="udp" ruleset="audit")
input(type="imtcp" address="127.0.0.1" port="{tcp}" name="tcp" ruleset="audit")
input(type="imtcp" address="127.0.0.1" port="{tls}" name="tls" ruleset="audit" streamDriver.name="ossl"
      streamDriver.mode="1" streamDriver.authMode="x509/certvalid")
template(name="fields" type="list") {{
  property(name="inputname") constant(value="|") property(name="msgid") constant(value="|")
  property(name="app-name") constant(value="|") property(name="pri") constant(value="|")
  property(name="msg" droplastlf="on") constant(value="\\n")
}}
ruleset(name="audit") {{ action(type="omfile" file="{dir}/messages.log" template="fields") }}
"""


@pytest.mark.interop
def test_rsyslog_receives_every_kind_over_udp_tcp_and_tls(tmp_path: Path) -> None:
    """Debian's rsyslog, run by the test on high ports (imudp, imtcp with octet counting, imtcp over the
    OpenSSL stream driver with client certificates), as the collector."""
    import glob

    from ..peers import free_port, wait_listening

    rsyslogd = require_tool("rsyslogd")
    if not glob.glob("/usr/lib/*/rsyslog/lmnsd_ossl.so") + glob.glob("/usr/lib/rsyslog/lmnsd_ossl.so"):
        pytest.skip("rsyslog's OpenSSL driver is not installed (Debian package rsyslog-openssl)")
    certs = make_certificates(tmp_path / "certs")
    ports = {"udp": free_port(), "tcp": free_port(), "tls": free_port()}
    conf = tmp_path / "rsyslog.conf"
    conf.write_text(_RSYSLOG_CONF.format(dir=tmp_path, ca=certs["ca.pem"], cert=certs["server.pem"],
                                         key=certs["server.key"], **ports))
    proc = subprocess.Popen([rsyslogd, "-n", "-f", str(conf), "-i", str(tmp_path / "rsyslogd.pid")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_listening(ports["tcp"], proc=proc)
        wait_listening(ports["tls"], proc=proc)
        sinks = [syslog_sink(f"udp://127.0.0.1:{ports['udp']}"), syslog_sink(f"tcp://127.0.0.1:{ports['tcp']}"),
                 syslog_sink(f"tls://localhost:{ports['tls']}", ca=str(certs["ca.pem"]),
                             cert=str(certs["client.pem"]), key=str(certs["client.key"]))]
        kinds = _kinds()
        with Auditor(SOURCE, sinks) as audit:
            for event, details in kinds:
                audit.record(event, **details)  # type: ignore[arg-type]
            out = tmp_path / "messages.log"

            def lines() -> list[str]:
                return out.read_text(encoding="utf-8").splitlines() if out.exists() else []

            wait_until(lambda: len(lines()) == 3 * len(kinds), timeout=30, what="every message in rsyslog's file")
        received: dict[str, list[str]] = {"udp": [], "tcp": [], "tls": []}
        for line in lines():
            name, msgid, app, pri, msg = line.split("|", 4)
            assert msgid == "DICOM+RFC3881" and app == "dicomkit" and int(pri) in (85, 84, 83)
            received[name].append(msg.lstrip("\ufeff"))
        assert all(len(v) == len(kinds) for v in received.values())
        result = _validate(tmp_path, [m for v in received.values() for m in v])
        assert result.returncode == 0, result.stderr
        assert audit.dropped == 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
