"""ApplicationEntity.association_check: runs before negotiation with what is known of the connection; it may
answer at once or later (an awaitable), refuse with A-ASSOCIATE-RJ, and what it grants reaches the handlers."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from dicomkit.core.errors import AssociationRejected, NetworkError
from dicomkit.net import ApplicationEntity, connect
from dicomkit.net.negotiation import AssociationGrant, PeerInfo, Rejection
from dicomkit.net.pdu import AAssociateRQ, UserIdentityRQ
from dicomkit.services import echo
from dicomkit.services.verification import VerificationSCP

from ..helpers import until


def _scp(check: Any) -> ApplicationEntity:
    ae = ApplicationEntity("SCP")
    ae.add_service(VerificationSCP())
    ae.association_check = check
    return ae


def test_check_sees_the_request_and_the_peer_and_grants() -> None:
    seen: list[tuple[str, PeerInfo]] = []
    accepted: list[Any] = []

    def check(rq: AAssociateRQ, peer: PeerInfo) -> AssociationGrant:
        seen.append((rq.calling_ae_title, peer))
        return AssociationGrant(identity_response=b"welcome", authorization={"who": rq.calling_ae_title})

    async def main() -> None:
        server = await _scp(check).start_server("127.0.0.1", 0, on_association=lambda a: accepted.append(a))
        async with server:
            identity = UserIdentityRQ(1, b"bob", positive_response_requested=True)
            async with connect("127.0.0.1", server.port, ae_title="ME", user_identity=identity) as assoc:
                await echo(assoc)
                assert assoc.info is not None and assoc.info.user_identity_response == b"welcome"
            await until(lambda: accepted and accepted[0].info is not None)
            assert accepted[0].info.authorization == {"who": "ME"}

    asyncio.run(main())
    (calling, peer), = seen
    assert calling == "ME" and peer.address is not None and peer.address[0] == "127.0.0.1"
    assert not peer.tls and peer.certificate is None and peer.association_id.startswith("A")


def test_a_check_that_waits_then_refuses_or_accepts() -> None:
    release = asyncio.Event()

    async def decide(rq: AAssociateRQ) -> AssociationGrant:
        await release.wait()
        if rq.calling_ae_title == "BAD":
            raise Rejection("not you", 1, 1, 3)
        return AssociationGrant()

    def check(rq: AAssociateRQ, peer: PeerInfo) -> Any:
        return decide(rq)

    async def main() -> None:
        server = await _scp(check).start_server("127.0.0.1", 0)
        async with server:
            pending = asyncio.ensure_future(connect("127.0.0.1", server.port, ae_title="GOOD").__aenter__())
            bad = asyncio.ensure_future(connect("127.0.0.1", server.port, ae_title="BAD").__aenter__())
            await asyncio.sleep(0)
            assert not pending.done()
            release.set()
            assoc = await pending
            await echo(assoc)
            await assoc.release()
            with pytest.raises(AssociationRejected) as info:
                await bad
            assert info.value.reason == 3

    asyncio.run(main())


def test_a_check_that_fails_aborts_and_a_peer_that_leaves_is_fine() -> None:
    async def boom(rq: AAssociateRQ) -> AssociationGrant:
        raise RuntimeError("bug in the check")

    gate = asyncio.Event()
    finished: list[bool] = []

    async def slow(rq: AAssociateRQ) -> AssociationGrant:
        await gate.wait()
        finished.append(True)
        return AssociationGrant()

    async def main() -> None:
        server = await _scp(lambda rq, peer: boom(rq)).start_server("127.0.0.1", 0)
        async with server:
            with pytest.raises(NetworkError):
                async with connect("127.0.0.1", server.port):
                    pass
        server = await _scp(lambda rq, peer: slow(rq)).start_server("127.0.0.1", 0)
        async with server:
            attempt = asyncio.ensure_future(connect("127.0.0.1", server.port, acse_timeout=0.2).__aenter__())
            with pytest.raises(NetworkError):
                await attempt  # gives up and aborts while the check still runs
            gate.set()
            await until(lambda: finished)
            await until(lambda: not server.active)  # the late grant answered nothing and nothing leaked

    asyncio.run(main())
