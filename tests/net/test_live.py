"""Our SCU against our SCP over real sockets (in one event loop): DIMSE, windows, limits, timeouts.

The storage service over the same sockets is tested in tests/services/test_storage_live.py."""

from __future__ import annotations

import asyncio
import socket
import struct
from pathlib import Path

import pytest

import dicomkit
from dicomkit.core.errors import AssociationAborted, AssociationRejected, NetworkTimeout
from dicomkit.net import (
    ApplicationEntity,
    BytesPayload,
    CEchoRQ,
    CStoreRQ,
    CStoreRSP,
    DimseHandler,
    SingleResponse,
    connect,
)
from dicomkit.net import pdu as P
from dicomkit.net.sync import ServerThread
from dicomkit.net.sync import connect as connect_sync
from dicomkit.services import echo, store
from dicomkit.services.storage import DirectoryReceiver, StorageSCP
from dicomkit.services.verification import VerificationSCP

from ..conftest import CORPUS, corpus_file
from ..helpers import until, wait_until

ELE, ILE = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2"
CT = "1.2.840.10008.5.1.4.1.1.2"



RECEIVERS = []


@pytest.fixture(autouse=True)
def _close_receivers():
    yield
    while RECEIVERS:
        RECEIVERS.pop().close()  # removes the spare temporary files


def scp(tmp_path: Path, **options) -> ApplicationEntity:
    ae = ApplicationEntity("DKSCP", artim_timeout=2, **options)
    ae.add_service(VerificationSCP())
    receiver = DirectoryReceiver(tmp_path / "in")
    RECEIVERS.append(receiver)
    ae.add_service(StorageSCP(receiver))
    return ae


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


class Slow(SingleResponse):
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.active = 0
        self.peak = 0

    async def handle(self, request, data, rc):
        self.active += 1
        self.peak = max(self.peak, self.active)
        await asyncio.sleep(self.delay)
        self.active -= 1
        return CStoreRSP(status=0)


@pytest.mark.parametrize("proposed,performed,expected", [(8, 3, 3), (4, 16, 4), (1, 16, 1)])
def test_asynchronous_operations_window_is_honoured(tmp_path, proposed, performed, expected):
    src = corpus_file("CT_small.dcm") if (CORPUS / "CT_small.dcm").exists() else corpus_file("liver.dcm")
    slow = Slow(0.05)

    async def main():
        ae = ApplicationEntity("DKSCP", max_ops_performed=performed)
        ae.add_supported_context(str(dicomkit.read(src, stop_before_pixels=True).SOPClassUID), [ELE, ILE])
        ae.add_handler(CStoreRQ, slow)
        server = await ae.start_server("127.0.0.1", 0)
        sop = str(dicomkit.read(src, stop_before_pixels=True).SOPClassUID)
        async with connect("127.0.0.1", server.port, contexts=[sop], async_ops=proposed) as assoc:
            assert assoc.info.max_ops_invoked_local == expected
            results = await asyncio.gather(*(store(assoc, src) for _ in range(12)))
        await server.close()
        return results

    results = run(main())
    assert all(r.status_value.is_success for r in results)
    assert slow.peak == expected  # never more outstanding than agreed, and the window was used


def test_max_pdu_is_respected_in_both_directions(tmp_path):
    """The SCP announces 4096 bytes: a larger PDU would make its reader abort. The store succeeds only
    if the SCU fragments to that size."""
    src = corpus_file("MR2_UNCR.dcm")

    async def main():
        server = await scp(tmp_path, max_pdu=4096).start_server("127.0.0.1", 0)
        async with connect("127.0.0.1", server.port, contexts=["MRImageStorage"], max_pdu=4096) as assoc:
            assert assoc.info.peer_max_pdu == 4096 and assoc.info.send_fragment_size == 4090
            rsp = await store(assoc, src)
        await server.close()
        return rsp

    assert run(main()).status_value.is_success


def test_rejections_called_ae_and_connection_limit(tmp_path):
    async def main():
        server = await scp(tmp_path, require_called_ae_title=True, maximum_associations=1).start_server("127.0.0.1", 0)
        with pytest.raises(AssociationRejected) as wrong:
            await connect("127.0.0.1", server.port, called_ae_title="NOTME")
        first = await connect("127.0.0.1", server.port, called_ae_title="DKSCP")
        with pytest.raises(AssociationRejected) as busy:
            await connect("127.0.0.1", server.port, called_ae_title="DKSCP")
        await first.release()
        await until(lambda: not server.active, what="the SCP seeing the release")
        again = await connect("127.0.0.1", server.port, called_ae_title="DKSCP")
        await again.release()
        await server.close()
        return wrong.value, busy.value

    wrong, busy = run(main())
    assert (wrong.result, wrong.source, wrong.reason) == (1, 1, 7)
    assert "called-AE-title-not-recognized" in str(wrong)
    assert (busy.result, busy.source, busy.reason) == (2, 3, 2)  # transient, local-limit-exceeded


class Broken(SingleResponse):
    async def handle(self, request, data, rc):
        raise RuntimeError("handler bug")


class Never(SingleResponse):
    async def handle(self, request, data, rc):
        await asyncio.sleep(3600)


def test_handler_failure_answers_processing_failure_and_dimse_timeout_aborts(tmp_path):
    async def main():
        ae = ApplicationEntity("DKSCP")
        ae.add_supported_context(CT)
        ae.add_supported_context("1.2.840.10008.1.1")
        ae.add_handler(CStoreRQ, Broken())
        ae.add_handler(CEchoRQ, Never())
        server = await ae.start_server("127.0.0.1", 0)
        async with connect("127.0.0.1", server.port, contexts=[CT], dimse_timeout=0.3) as assoc:
            rsp = await assoc.send_request(
                CStoreRQ(affected_sop_class_uid=CT, affected_sop_instance_uid="1.2.3"),
                payload=BytesPayload(b"\x08\x00\x16\x00\x02\x00\x00\x00", ELE))
            with pytest.raises(NetworkTimeout, match="DIMSE timeout"):
                await echo(assoc)
            assert not assoc.is_established
        await server.close(grace=0.5)
        return rsp

    rsp = run(main())
    assert rsp.status == 0x0110 and "handler bug" in rsp.error_comment


def test_artim_closes_a_silent_connection_and_idle_timeout(tmp_path):
    async def main():
        ae = scp(tmp_path, network_timeout=0.5)
        ae.artim_timeout = 0.3
        server = await ae.start_server("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the SCP (Sta2, ARTIM)
        writer.close()
        assoc = await connect("127.0.0.1", server.port)
        # idle longer than the SCP's network timeout: the SCP aborts
        await until(lambda: not assoc.is_established, what="the idle association being aborted")
        await server.close()

    run(main())


def test_graceful_shutdown_waits_then_aborts(tmp_path):
    async def main():
        server = await scp(tmp_path).start_server("127.0.0.1", 0)
        assoc = await connect("127.0.0.1", server.port)
        await server.close(grace=0.3)  # the association does not end by itself: aborted after the grace
        await until(lambda: not assoc.is_established, what="our side seeing the abort")
        return len(server.active)

    assert run(main()) == 0


def test_release_by_peer_while_store_is_committing(tmp_path):
    """An A-RELEASE-RQ that arrives while a C-STORE is still being committed: the SCP finishes the commit
    and sends its response before it answers the release (PS3.8 7.2, AR-7 in Sta8)."""
    committing = asyncio.Event()
    finish = asyncio.Event()
    events = []

    class SlowCommit(StorageSCP):
        async def handle(self, request, data, rc):
            committing.set()
            await finish.wait()
            rsp = await super().handle(request, data, rc)
            events.append("commit answered")
            return rsp

    src = corpus_file("liver.dcm")

    async def main():
        ae = ApplicationEntity("DKSCP")
        receiver = DirectoryReceiver(tmp_path / "in")
        RECEIVERS.append(receiver)
        ae.add_service(SlowCommit(receiver, immediate=False))
        server = await ae.start_server("127.0.0.1", 0)
        assoc = await connect("127.0.0.1", server.port,
                              contexts=[str(dicomkit.read(src, stop_before_pixels=True).SOPClassUID)])
        task = asyncio.create_task(store(assoc, src))
        await committing.wait()  # the SCP is inside the commit now
        # the C-STORE response is still outstanding; the release goes out in the middle of the commit
        release = asyncio.create_task(assoc.release())
        await until(lambda: assoc.state.label != "Sta6", what="the A-RELEASE-RQ going out")
        events.append("release sent")
        finish.set()
        await release
        events.append("release answered")
        rsp = await task
        await server.close()
        return rsp

    assert run(main()).status_value.is_success
    assert events == ["release sent", "commit answered", "release answered"]
    assert len(list((tmp_path / "in").glob("*.dcm"))) == 1  # stored: the commit was not cut short


def test_mutated_pdus_are_aborted_and_the_scp_keeps_serving(tmp_path, caplog):
    """Fuzz a running SCP: send A-ASSOCIATE-RQ / P-DATA variants with corrupted bytes; each connection
    ends (A-ABORT, A-ASSOCIATE-RJ or close) and a normal association still works afterwards."""
    import random

    rng = random.Random(1234)
    rq = P.AAssociateRQ("DKSCP", "FUZZ", [P.PresentationContextRQ(1, "1.2.840.10008.1.1", [ILE])],
                        P.UserInformation(max_length=16384, implementation_class_uid="1.2.3")).encode()
    echo_command = CEchoRQ(message_id=1, affected_sop_class_uid="1.2.840.10008.1.1").encode()
    pdata = P.PDataTF([P.PDV(1, True, True, echo_command)]).encode()

    def mutate(data: bytes) -> bytes:
        b = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            kind = rng.random()
            if kind < 0.5:
                b[rng.randrange(len(b))] = rng.randrange(256)
            elif kind < 0.7:
                del b[rng.randrange(len(b)):]
                b = b or bytearray(b"\x01")
            elif kind < 0.85:
                pos = rng.randrange(len(b))
                b[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
            else:
                b[2:6] = struct.pack(">I", rng.choice([0, 1, 4, 0xFFFF, 0x7FFFFFFF, len(b)]))
        return bytes(b)

    async def attempt(port: int, payload: bytes) -> bytes:
        """Everything the SCP sends back until it closes (or stays quiet for a while)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(payload)
        got = b""
        try:
            while chunk := await asyncio.wait_for(reader.read(1 << 16), 2 if not got else 0.5):
                got += chunk
        except (TimeoutError, ConnectionError):
            pass
        writer.close()
        return got

    async def main():
        ae = scp(tmp_path)
        ae.artim_timeout = 0.5
        server = await ae.start_server("127.0.0.1", 0)
        answers = {"abort": 0, "reject": 0, "accept": 0, "closed": 0}
        payloads = [mutate(rq) if i % 2 == 0 else rq + mutate(pdata) for i in range(150)]
        for start in range(0, len(payloads), 30):  # 30 connections at a time
            for got in await asyncio.gather(*(attempt(server.port, p) for p in payloads[start:start + 30])):
                # what came back: A-ABORT, A-ASSOCIATE-RJ or -AC (then, for a bad P-DATA, an A-ABORT)
                kinds = _pdu_types(got)
                key = "abort" if 0x07 in kinds else {0x03: "reject", 0x02: "accept"}.get(kinds[0] if kinds else -1,
                                                                                       "closed")
                answers[key] += 1
            assert (await echo(await connect("127.0.0.1", server.port))).is_success
        assert (await echo(await connect("127.0.0.1", server.port))).is_success
        await server.close(grace=0.5)
        return answers

    import logging

    caplog.set_level(logging.WARNING)
    answers = run(main())
    # nothing escaped into the event loop ("Fatal error: protocol...", "Exception in callback", handler bugs)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text[-2000:]
    print(answers)
    assert answers["abort"] > 40  # malformed PDUs got A-ABORT
    assert sum(answers.values()) == 150


def _pdu_types(data: bytes) -> list[int]:
    kinds, pos = [], 0
    while pos + 6 <= len(data):
        kinds.append(data[pos])
        pos += 6 + struct.unpack(">I", data[pos + 2:pos + 6])[0]
    return kinds


def test_sync_facade(tmp_path):
    src = corpus_file("liver.dcm")
    server = ServerThread(scp(tmp_path), "127.0.0.1", 0)
    try:
        with connect_sync("127.0.0.1", server.port, contexts=[str(dicomkit.read(src).SOPClassUID)]) as assoc:
            assert assoc.call(echo).is_success
            assert assoc.call(store, src).status_value.is_success
            assert server.active == 1
        wait_until(lambda: server.active == 0, what="the SCP seeing the close")
        assert not assoc.is_established
    finally:
        server.stop()
    assert len(list((tmp_path / "in").glob("*.dcm"))) == 1


def test_connect_errors_are_clear():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(dicomkit.NetworkError, match="cannot connect"):
        run(connect("127.0.0.1", port))
    with socket.socket() as silent:  # accepts connections (backlog) but never answers: ACSE timeout
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        with pytest.raises(NetworkTimeout, match="no answer to A-ASSOCIATE-RQ"):
            run(connect("127.0.0.1", silent.getsockname()[1], acse_timeout=0.3))


def test_abort_by_peer_fails_pending_requests(tmp_path):
    async def main():
        ae = ApplicationEntity("DKSCP")
        ae.add_supported_context("1.2.840.10008.1.1")
        ae.add_handler(CEchoRQ, Never())
        server = await ae.start_server("127.0.0.1", 0)
        assoc = await connect("127.0.0.1", server.port)
        pending = asyncio.create_task(echo(assoc))
        await until(lambda: assoc._pending, what="the C-ECHO going out")
        await until(lambda: server.active, what="the SCP seeing the association")
        for peer in list(server.active):
            await peer.abort()
        with pytest.raises(AssociationAborted):
            await pending
        await server.close()

    run(main())


def test_pending_responses_with_data_sets_and_c_cancel(tmp_path):
    """The plumbing later query services use: several pending responses carrying identifiers, then a
    final status; C-CANCEL-RQ reaches the handler of the request it names."""
    from dicomkit.net import CFindRQ, CFindRSP
    from dicomkit.net.status import Status

    find_model = "1.2.840.10008.5.1.4.1.2.2.1"

    class Finder(DimseHandler):
        async def responses(self, request, data, rc):
            assert data is not None and bytes(data.data) == b"query"
            for i in range(50):
                if rc.cancelled.is_set():
                    yield CFindRSP(status=Status(0xFE00)), None
                    return
                yield CFindRSP(status=Status(0xFF00)), BytesPayload(f"match {i}".encode(), ELE)
                await asyncio.sleep(0.01)
            yield CFindRSP(status=Status(0)), None

    async def main():
        ae = ApplicationEntity("DKSCP")
        ae.add_supported_context(find_model, [ELE])
        ae.add_handler(CFindRQ, Finder())
        ae.add_service(VerificationSCP())
        server = await ae.start_server("127.0.0.1", 0)
        async with connect("127.0.0.1", server.port, contexts=[find_model]) as assoc:
            got = []
            request = CFindRQ(affected_sop_class_uid=find_model)
            async for reply in assoc.requests(request, payload=BytesPayload(b"query", ELE)):
                got.append((reply.response.status, reply.data))
                if len(got) == 3:
                    await assoc.cancel(request.message_id)
            assert (await echo(assoc)).is_success
        await server.close()
        return got

    got = run(main())
    assert got[:3] == [(0xFF00, b"match 0"), (0xFF00, b"match 1"), (0xFF00, b"match 2")]
    assert got[-1] == (0xFE00, None) and len(got) < 10
