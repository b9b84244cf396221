"""The storage service over real sockets (our SCU and SCP in one event loop): sending, re-encoding, what
the SCP checks before Success, duplicates, and batches that survive a peer that stalls or aborts."""

from __future__ import annotations

import asyncio
import logging
import os
import struct
from pathlib import Path

import pytest

import dicomkit
from dicomkit.io.raw import meta_end
from dicomkit.net import ApplicationEntity, BytesPayload, CStoreRQ, PresentationContext, connect
from dicomkit.net import pdu as P
from dicomkit.services import echo, store
from dicomkit.services.storage import (
    DirectoryReceiver,
    StorageSCP,
    StoreOutcome,
    peek,
    storage_contexts,
    store_files,
)
from dicomkit.services.verification import VerificationSCP

from ..conftest import corpus_file
from ..helpers import until

ELE, ILE = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2"
CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"



@pytest.fixture
def receivers():
    made: list[DirectoryReceiver] = []
    yield made
    for receiver in made:
        receiver.close()  # removes the spare temporary files


def scp(folder: Path, receivers: list, *, scp_class=StorageSCP, duplicates="keep-first", **options):
    ae = ApplicationEntity("DKSCP", artim_timeout=2, **options)
    ae.add_service(VerificationSCP())
    receiver = DirectoryReceiver(folder, duplicates=duplicates)
    receivers.append(receiver)
    ae.add_service(scp_class(receiver) if scp_class is StorageSCP else scp_class(receiver, immediate=False))
    return ae


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def dataset_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return data[meta_end(data):]


def stored(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.dcm"))


def copies(src: Path, folder: Path, n: int) -> list[Path]:
    """``n`` copies of ``src`` with SOP Instance UIDs of their own."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        ds = dicomkit.read(src)
        ds.SOPInstanceUID = dicomkit.generate_uid()
        path = folder / f"{i:03d}.dcm"
        ds.save(path)
        out.append(path)
    return out


def test_echo_and_store_file_fast_path(tmp_path, receivers):
    src = corpus_file("MR2_UNCR.dcm")

    async def main():
        server = await scp(tmp_path / "in", receivers).start_server("127.0.0.1", 0)
        async with connect("127.0.0.1", server.port, called_ae_title="DKSCP",
                           contexts=[PresentationContext(MR, [ELE])], max_pdu=16384) as assoc:
            assert (await echo(assoc)).is_success
            rsp = await store(assoc, src)
            assert rsp.status_value.is_success and rsp.affected_sop_instance_uid
        await server.close()
        return rsp

    rsp = run(main())
    out = tmp_path / "in" / f"{rsp.affected_sop_instance_uid}.dcm"
    assert dataset_bytes(out) == dataset_bytes(src)  # the data set went through byte for byte
    meta = dicomkit.read_file_meta(out)
    assert meta.value(0x00020010) == ELE and meta.value(0x00020016) == "DICOMKIT"
    assert meta.value(0x00020003) == rsp.affected_sop_instance_uid
    receivers.pop().close()
    # no temporary file beside the objects (a folder watcher sees only whole objects), none left at all
    assert [p.name for p in (tmp_path / "in").iterdir()] in ([out.name, ".dicomkit"], [".dicomkit", out.name])
    assert not list((tmp_path / "in" / ".dicomkit" / "tmp").iterdir())


def test_temporary_files_live_in_the_hidden_work_folder(tmp_path, receivers):
    """While the receiver runs, its spare and in-progress files are in <out>/.dicomkit/tmp, not in <out>."""
    src = corpus_file("liver.dcm")

    async def main():
        ae = scp(tmp_path / "in", receivers)
        server = await ae.start_server("127.0.0.1", 0)
        work = tmp_path / "in" / ".dicomkit" / "tmp"
        await until(lambda: len(list(work.glob(".dicomkit-*.part"))) == 4, what="four spare files")
        async with connect("127.0.0.1", server.port, contexts=[str(dicomkit.read(src).SOPClassUID)]) as assoc:
            rsp = await store(assoc, src)
        assert not list((tmp_path / "in").glob(".dicomkit-*"))
        await server.close()
        return rsp

    assert run(main()).status_value.is_success


def test_store_reencodes_when_the_scp_accepts_only_implicit(tmp_path, receivers):
    src = corpus_file("SC_rgb_expb.dcm")  # Explicit VR Big Endian

    async def main():
        ae = ApplicationEntity("DKSCP")
        receiver = DirectoryReceiver(tmp_path / "in")
        receivers.append(receiver)
        ae.add_service(StorageSCP(receiver, transfer_syntaxes=[ILE]))
        server = await ae.start_server("127.0.0.1", 0)
        async with connect("127.0.0.1", server.port, contexts=[PresentationContext(
                "1.2.840.10008.5.1.4.1.1.7", ["1.2.840.10008.1.2.2", ELE, ILE])]) as assoc:
            rsp = await store(assoc, src)
            # compressed data the SCP does not take as it is goes out decompressed (lossless)
            rsp3 = await store(assoc, corpus_file("JPEG-LL.dcm"))
            ds = dicomkit.read(corpus_file("SC_rgb.dcm"))
            rsp2 = await store(assoc, ds)  # a Dataset, re-encoded too
        await server.close()
        return rsp, rsp2, rsp3

    rsp, rsp2, rsp3 = run(main())
    assert rsp.status_value.is_success and rsp2.status_value.is_success and rsp3.status_value.is_success
    decompressed = dicomkit.read(tmp_path / "in" / f"{rsp3.affected_sop_instance_uid}.dcm")
    assert decompressed.file_meta.value(0x00020010) == ILE
    assert (decompressed.pixel_array == dicomkit.read(corpus_file("JPEG-LL.dcm")).pixel_array).all()
    got = dicomkit.read(tmp_path / "in" / f"{rsp.affected_sop_instance_uid}.dcm")
    want = dicomkit.read(src)
    assert got.file_meta.value(0x00020010) == ILE
    assert got.PixelData == want.PixelData and got.Rows == want.Rows and got.PatientName == want.PatientName


def test_storage_scp_checks_the_data_set_against_the_command(tmp_path, receivers):
    good = dicomkit.read(corpus_file("liver.dcm"))
    dataset = good.to_bytes(transfer_syntax=ELE)  # the bare data set, as on the network
    sop_class = str(good.SOPClassUID)

    async def main():
        server = await scp(tmp_path / "in", receivers).start_server("127.0.0.1", 0)
        async with connect("127.0.0.1", server.port, contexts=[PresentationContext(sop_class, [ELE])]) as assoc:
            wrong_uid = await assoc.send_request(
                CStoreRQ(affected_sop_class_uid=sop_class, affected_sop_instance_uid="1.2.3.999"),
                payload=BytesPayload(dataset, ELE))
            garbage = await assoc.send_request(
                CStoreRQ(affected_sop_class_uid=sop_class, affected_sop_instance_uid="1.2.3.998"),
                payload=BytesPayload(b"\x08\x00\x16\x00UI\xff\x00" + b"x" * 10, ELE))
            assert (await echo(assoc)).is_success  # still serving
        await server.close()
        return wrong_uid, garbage

    wrong_uid, garbage = run(main())
    receivers.pop().close()
    assert wrong_uid.status == 0xA900 and "SOP Instance UID" in wrong_uid.error_comment
    assert 0xC000 <= garbage.status <= 0xCFFF and garbage.error_comment
    assert not stored(tmp_path / "in")  # nothing kept
    assert not list((tmp_path / "in" / ".dicomkit" / "tmp").iterdir())  # no temporary file left


def test_a_store_on_the_context_of_another_sop_class_is_refused_with_a_warning(tmp_path, receivers, caplog):
    """A C-STORE-RQ whose Affected SOP Class is not its context's (a sender that picked the wrong context): 0x0122
    with both UIDs, one warning line (no traceback: a refusal, not a fault), nothing stored, still serving."""
    ds = dicomkit.read(corpus_file("MR2_UNCR.dcm"))

    async def main():
        server = await scp(tmp_path / "in", receivers).start_server("127.0.0.1", 0)
        async with connect("127.0.0.1", server.port, contexts=[PresentationContext(MR, [ELE])]) as assoc:
            context = assoc.info.find_context(MR)
            rsp = await assoc.send_request(CStoreRQ(affected_sop_class_uid=CT, affected_sop_instance_uid="1.2.3.4"),
                                           context=context, payload=BytesPayload(ds.to_bytes(transfer_syntax=ELE), ELE))
            assert (await store(assoc, ds)).status_value.is_success  # still serving
        await server.close()
        return rsp

    with caplog.at_level(logging.INFO, logger="dicomkit"):
        rsp = run(main())
    assert rsp.status == 0x0122 and rsp.error_comment.startswith("not the SOP Class of this presentation context")
    refusals = [r for r in caplog.records if "C-STORE-RQ refused" in r.getMessage()]
    assert CT in refusals[0].getMessage() and MR in refusals[0].getMessage()
    assert len(refusals) == 1 and refusals[0].levelno == logging.WARNING and refusals[0].exc_info is None
    assert [p.name for p in stored(tmp_path / "in")] == [f"{ds.SOPInstanceUID}.dcm"]


def test_a_truncated_data_set_is_refused_and_the_stored_copy_kept(tmp_path, receivers):
    """What the reader refuses is refused with 0xC000 and the reason; an earlier good copy of the same SOP
    Instance UID is not touched."""
    ds = dicomkit.read(corpus_file("MR2_UNCR.dcm"))
    whole = ds.to_bytes(transfer_syntax=ELE)
    cut_in_header = whole[:5000]  # the first 5000 bytes: a value declared longer than what follows
    cut_in_pixels = whole[:-100]  # Pixel Data's length runs past the end
    uid = str(ds.SOPInstanceUID)

    async def main():
        server = await scp(tmp_path / "in", receivers).start_server("127.0.0.1", 0)
        async with connect("127.0.0.1", server.port, contexts=[PresentationContext(MR, [ELE])]) as assoc:
            first = await store(assoc, ds)
            answers = []
            for data in (cut_in_header, cut_in_pixels):
                answers.append(await assoc.send_request(
                    CStoreRQ(affected_sop_class_uid=MR, affected_sop_instance_uid=uid),
                    payload=BytesPayload(data, ELE)))
        await server.close()
        return first, answers

    first, answers = run(main())
    assert first.status_value.is_success
    for rsp in answers:
        assert rsp.status == 0xC000, rsp
        assert "declares" in rsp.error_comment and "remain" in rsp.error_comment
    [kept] = stored(tmp_path / "in")
    assert dataset_bytes(kept) == whole  # the good copy is intact


def test_a_defect_inside_a_sequence_item_is_refused(tmp_path, receivers):
    """An item whose own length is right but whose element runs past it: the reader refuses it when the sequence
    is parsed, so the SCP parses every sequence before answering (0xC000 with the reason)."""
    inner = struct.pack("<HH2sH", 0x0008, 0x1150, b"UI", 40) + b"1.2.3"  # declares 40 bytes, the item has 5
    item = struct.pack("<HHI", 0xFFFE, 0xE000, len(inner)) + inner
    data = (struct.pack("<HH2sH", 0x0008, 0x0016, b"UI", 26) + CT.encode().ljust(26, b"\x00")
            + struct.pack("<HH2sH", 0x0008, 0x0018, b"UI", 8) + b"1.2.3.46"
            + struct.pack("<HH2s2xI", 0x0008, 0x1115, b"SQ", len(item)) + item)

    async def main():
        server = await scp(tmp_path / "in", receivers).start_server("127.0.0.1", 0)
        async with connect("127.0.0.1", server.port, contexts=[PresentationContext(CT, [ELE])]) as assoc:
            rsp = await assoc.send_request(CStoreRQ(affected_sop_class_uid=CT, affected_sop_instance_uid="1.2.3.46"),
                                           payload=BytesPayload(data, ELE))
        await server.close()
        return rsp

    rsp = run(main())
    assert rsp.status == 0xC000 and rsp.error_comment
    assert not stored(tmp_path / "in")


def test_duplicates_identical_answered_success_different_refused_and_quarantined(tmp_path, receivers):
    src = corpus_file("liver.dcm")
    changed = dicomkit.read(src)
    changed.PatientName = "Someone^Else"

    async def main():
        server = await scp(tmp_path / "in", receivers).start_server("127.0.0.1", 0)
        sop = str(changed.SOPClassUID)
        async with connect("127.0.0.1", server.port, contexts=[sop]) as assoc:
            first = await store(assoc, src)
        path = tmp_path / "in" / f"{first.affected_sop_instance_uid}.dcm"
        before = os.stat(path)
        # the same data set again, from another AE (its file meta would differ): nothing is written
        async with connect("127.0.0.1", server.port, ae_title="OTHER", contexts=[sop]) as assoc:
            same = await store(assoc, src)
            different = await store(assoc, changed)
        await server.close()
        return first, same, different, before, path

    first, same, different, before, path = run(main())
    assert first.status == 0 and same.status == 0
    after = os.stat(path)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not rewritten
    assert different.status == 0xC111
    assert different.error_comment == "duplicate SOP Instance UID, different content; stored one kept"
    assert dicomkit.read(path).PatientName == dicomkit.read(src).PatientName  # the first one stays
    [quarantined] = (tmp_path / "in" / ".dicomkit" / "quarantine").iterdir()
    assert dicomkit.read(quarantined).PatientName == "Someone^Else"  # nothing received is lost


def test_duplicates_overwrite_replaces(tmp_path, receivers):
    src = corpus_file("liver.dcm")
    changed = dicomkit.read(src)
    changed.PatientName = "Someone^Else"

    async def main():
        server = await scp(tmp_path / "in", receivers, duplicates="overwrite").start_server("127.0.0.1", 0)
        async with connect("127.0.0.1", server.port, contexts=[str(changed.SOPClassUID)]) as assoc:
            await store(assoc, src)
            rsp = await store(assoc, changed)
        await server.close()
        return rsp

    rsp = run(main())
    assert rsp.status == 0
    [path] = stored(tmp_path / "in")
    assert dicomkit.read(path).PatientName == "Someone^Else"


def test_what_the_reader_corrects_is_stored_and_logged(tmp_path, receivers, caplog):
    """An odd-length value is a deviation the reader reads with a correction: stored, and the log says so."""
    data = (struct.pack("<HH2sH", 0x0008, 0x0016, b"UI", 26) + CT.encode().ljust(26, b"\x00")
            + struct.pack("<HH2sH", 0x0008, 0x0018, b"UI", 8) + b"1.2.3.45"
            + struct.pack("<HH2sH", 0x0010, 0x0010, b"PN", 3) + b"ABC")

    async def main():
        server = await scp(tmp_path / "in", receivers).start_server("127.0.0.1", 0)
        async with connect("127.0.0.1", server.port, contexts=[PresentationContext(CT, [ELE])]) as assoc:
            rsp = await assoc.send_request(CStoreRQ(affected_sop_class_uid=CT, affected_sop_instance_uid="1.2.3.45"),
                                           payload=BytesPayload(data, ELE))
        await server.close()
        return rsp

    caplog.set_level(logging.WARNING, logger="dicomkit.storage")
    assert run(main()).status == 0
    assert stored(tmp_path / "in")
    assert "stored with corrections" in caplog.text and "odd length" in caplog.text


def test_scu_checks_each_file_and_the_rest_go_on(tmp_path, receivers):
    """A truncated file fails alone, before it is sent, with the reason; the other files are stored."""
    good = copies(corpus_file("MR2_UNCR.dcm"), tmp_path / "src", 3)
    data = good[1].read_bytes()
    good[1].write_bytes(data[:5000])  # the first 5000 bytes of a valid MR file
    good[2].write_bytes(good[2].read_bytes()[:-100])  # Pixel Data cut short
    extra = copies(corpus_file("liver.dcm"), tmp_path / "src2", 1)
    files = [peek(p) for p in [*good, *extra]]

    async def main():
        server = await scp(tmp_path / "in", receivers).start_server("127.0.0.1", 0)
        contexts = storage_contexts(files)
        ae = ApplicationEntity("SCU")
        summary = await store_files(lambda: ae.associate("127.0.0.1", server.port, contexts), files)
        await server.close()
        return summary

    summary = run(main())
    by_name = {(r.path.parent.name, r.path.name): r for r in summary.results}
    assert by_name[("src", "000.dcm")].ok and by_name[("src2", "000.dcm")].ok
    for name in ("001.dcm", "002.dcm"):
        result = by_name[("src", name)]
        assert not result.ok and result.status is None  # never sent
        assert "declares" in result.error and "remain" in result.error
    assert len(stored(tmp_path / "in")) == 2 and summary.associations == 1


class Stalling(StorageSCP):
    """Never answers the C-STORE of one SOP Instance UID (as a peer that silently drops a request)."""

    stall_uid = ""

    async def handle(self, request, data, rc):
        if request.affected_sop_instance_uid == self.stall_uid:
            await asyncio.Event().wait()
        return await super().handle(request, data, rc)


class AbortingOnce(StorageSCP):
    """Aborts the association the first time one SOP Instance UID arrives."""

    abort_uid = ""
    aborted = False

    async def handle(self, request, data, rc):
        if request.affected_sop_instance_uid == self.abort_uid and not AbortingOnce.aborted:
            AbortingOnce.aborted = True
            await rc.association.abort()
            await asyncio.Event().wait()
        return await super().handle(request, data, rc)


def test_a_stalled_request_fails_alone_and_the_batch_goes_on(tmp_path, receivers):
    paths = copies(corpus_file("liver.dcm"), tmp_path / "src", 5)
    files = [peek(p) for p in paths]
    Stalling.stall_uid = str(dicomkit.read(paths[2], stop_before_pixels=True).SOPInstanceUID)

    async def main():
        server = await scp(tmp_path / "in", receivers, scp_class=Stalling).start_server("127.0.0.1", 0)
        contexts = storage_contexts(files)
        ae = ApplicationEntity("SCU", dimse_timeout=0.5)
        summary = await store_files(lambda: ae.associate("127.0.0.1", server.port, contexts), files)
        await server.close(grace=0.5)
        return summary

    summary = run(main())
    results = {r.path.name: r for r in summary.results}
    assert not results["002.dcm"].ok and "no response to C-STORE-RQ within 0.5 s" in results["002.dcm"].error
    assert all(results[f"00{i}.dcm"].ok for i in (0, 1, 3, 4))
    assert summary.associations == 2 and len(stored(tmp_path / "in")) == 4
    assert "no response to the C-STORE of 002.dcm" in summary.events[0]


def test_a_peer_that_aborts_mid_batch_loses_nothing(tmp_path, receivers, caplog):
    paths = copies(corpus_file("liver.dcm"), tmp_path / "src", 5)
    files = [peek(p) for p in paths]
    AbortingOnce.abort_uid = str(dicomkit.read(paths[1], stop_before_pixels=True).SOPInstanceUID)
    AbortingOnce.aborted = False

    async def main():
        server = await scp(tmp_path / "in", receivers, scp_class=AbortingOnce).start_server("127.0.0.1", 0)
        contexts = storage_contexts(files)
        ae = ApplicationEntity("SCU")
        summary = await store_files(lambda: ae.associate("127.0.0.1", server.port, contexts), files)
        await server.close(grace=0.5)
        return summary

    caplog.set_level(logging.WARNING)
    summary = run(main())
    assert all(r.ok for r in summary.results) and len(summary.results) == 5
    assert summary.associations == 2 and "aborted" in summary.events[0]
    assert len(stored(tmp_path / "in")) == 5
    # our SCU's side logged the abort by the peer, with what it had performed
    assert any("peer ANY-SCP at 127.0.0.1" in r.getMessage() and "1 outstanding" in r.getMessage()
               for r in caplog.records)


def test_storage_commit_paths_fsync_and_index_hook(tmp_path, receivers):
    """fsync and an async on_stored hook (an archive indexing before it answers) take the awaited path;
    the hook's outcome is what the SCU gets."""
    seen = []

    async def index(item):
        await asyncio.sleep(0)
        seen.append((item.sop_instance_uid, item.path.exists(), item.calling_ae_title, item.outcome))
        return StoreOutcome(0xB000, "coerced for the test")

    src = corpus_file("liver.dcm")
    receiver = DirectoryReceiver(tmp_path / "in", fsync=True, on_stored=index)
    receivers.append(receiver)

    async def main():
        ae = ApplicationEntity("DKSCP")
        ae.add_service(StorageSCP(receiver))
        server = await ae.start_server("127.0.0.1", 0)
        sop = str(dicomkit.read(src, stop_before_pixels=True).SOPClassUID)
        async with connect("127.0.0.1", server.port, ae_title="MODALITY", contexts=[sop]) as assoc:
            rsp = await store(assoc, src)
        await server.close()
        return rsp

    rsp = run(main())
    assert rsp.status == 0xB000 and rsp.status_value.is_warning and rsp.error_comment == "coerced for the test"
    assert seen == [(rsp.affected_sop_instance_uid, True, "MODALITY", "stored")]


def test_abort_in_the_middle_of_a_store_leaves_no_file_and_is_logged(tmp_path, receivers, caplog):
    """A peer that aborts after part of a data set: the partial object is discarded, never stored, and the
    log names the peer and what was discarded (a warning: shown without -v)."""
    receiver = DirectoryReceiver(tmp_path / "in", spare_files=0)
    receivers.append(receiver)
    work = tmp_path / "in" / ".dicomkit" / "tmp"

    async def main():
        ae = ApplicationEntity("DKSCP")
        ae.add_service(StorageSCP(receiver))
        server = await ae.start_server("127.0.0.1", 0)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(P.AAssociateRQ("DKSCP", "PEER", [P.PresentationContextRQ(1, CT, [ELE])],
                                    P.UserInformation(max_length=16384)).encode())
        assert (await reader.read(6))[0] == 0x02  # A-ASSOCIATE-AC
        await reader.read(1 << 16)
        command = CStoreRQ(message_id=1, affected_sop_class_uid=CT, affected_sop_instance_uid="1.2.3.4").encode()
        writer.write(P.PDataTF([P.PDV(1, True, True, command)]).encode())
        writer.write(P.PDataTF([P.PDV(1, False, False, b"\x08\x00\x16\x00UI\x1a\x00" + CT.encode() + b"\x00")])
                     .encode())
        await writer.drain()
        await until(lambda: list(work.glob(".dicomkit-*")), what="the object being received into a temp file")
        writer.write(P.AAbort(0, 0).encode())
        await writer.drain()
        await until(lambda: not server.active, what="the SCP ending the association")
        writer.close()
        await server.close()

    caplog.set_level(logging.WARNING)
    run(main())
    assert not stored(tmp_path / "in") and not list(work.iterdir())
    [line] = [r.getMessage() for r in caplog.records if "request(s) answered" in r.getMessage()]
    assert "peer PEER" in line and "0 request(s) answered" in line and "C-STORE-RQ of 1.2.3.4" in line


def test_receiver_refuses_a_folder_it_cannot_use(tmp_path):
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(dicomkit.DicomError, match="is not a folder"):
        DirectoryReceiver(tmp_path / "file")
    with pytest.raises(dicomkit.DicomError, match=r"parent folder .* does not exist"):
        DirectoryReceiver(tmp_path / "missing" / "in")
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(dicomkit.DicomError, match="not writable"):
            DirectoryReceiver(locked)
