"""The storage SCU's per-object choice of an accepted context: lossless recompression (JPEG-LS to a peer that
takes only JPEG 2000 Lossless), compression of native data, lossy only when allowed, an encoder that refuses
moving the choice on; and a batch needing more than 128 presentation contexts split transparently."""

from __future__ import annotations

from pathlib import Path

import pytest

import dicomkit
from dicomkit.core.errors import DimseError
from dicomkit.net import ApplicationEntity, PresentationContext
from dicomkit.services.storage import DirectoryReceiver, StorageSCP, peek, store
from dicomkit.services.storage.scu import FileInfo, store_all
from dicomkit.services.storage.source import StoreSource

from ..conftest import corpus_file
from .live import instance, run, serving

JPEG_LS, J2K, RLE, BASELINE = "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.5", \
    "1.2.840.10008.1.2.4.50"
ELE = "1.2.840.10008.1.2.1"
VERIFICATION = "1.2.840.10008.1.1"


def receiver_only(folder: Path, syntaxes: list[str]) -> StorageSCP:
    return StorageSCP(DirectoryReceiver(folder), transfer_syntaxes=syntaxes)


def proposal(path: Path, *syntaxes: str) -> list[PresentationContext]:
    sop_class = peek(path).sop_class_uid
    return [PresentationContext(sop_class, [ts]) for ts in syntaxes]


def test_jpeg_ls_goes_to_a_jpeg_2000_only_peer_recompressed_losslessly(tmp_path):
    pytest.importorskip("imagecodecs")
    path = corpus_file("JLSL_16_15_1_1F.dcm")

    async def go():
        async with serving(receiver_only(tmp_path, [J2K])) as server:
            ae = ApplicationEntity("SCU")
            async with await ae.associate("127.0.0.1", server.port, proposal(path, JPEG_LS, ELE, J2K),
                                          called_ae_title="SCP") as assoc:
                accepted = [c.transfer_syntax for c in assoc.accepted_contexts if c.abstract_syntax != VERIFICATION]
                assert accepted == [J2K]
                source = StoreSource.from_path(path)
                assert (await store(assoc, source)).status_value == 0

    run(go())
    received = dicomkit.read(next(tmp_path.glob("*.dcm")))
    original = dicomkit.read(path)
    assert str(received.file_meta.TransferSyntaxUID) == J2K
    assert received.SOPInstanceUID == original.SOPInstanceUID
    assert (received.pixel_array == original.pixel_array).all()  # bit-exact


def test_native_data_is_compressed_losslessly_for_a_compressed_only_peer(tmp_path):
    pytest.importorskip("imagecodecs")
    path = corpus_file("MR2_UNCR.dcm")

    async def go():
        async with serving(receiver_only(tmp_path, [RLE])) as server, await ApplicationEntity("SCU").associate(
                "127.0.0.1", server.port, proposal(path, RLE), called_ae_title="SCP") as assoc:
            assert (await store(assoc, path)).status_value == 0

    run(go())
    received = dicomkit.read(next(tmp_path.glob("*.dcm")))
    assert str(received.file_meta.TransferSyntaxUID) == RLE
    assert (received.pixel_array == dicomkit.read(path).pixel_array).all()


def test_lossy_only_when_allowed(tmp_path):
    pytest.importorskip("imagecodecs")
    path = corpus_file("US1_UNCR.dcm")

    async def go():
        async with serving(receiver_only(tmp_path, [BASELINE])) as server, await ApplicationEntity("SCU").associate(
                "127.0.0.1", server.port, proposal(path, BASELINE), called_ae_title="SCP") as assoc:
            with pytest.raises(DimseError, match="lossy compression was not allowed"):
                await store(assoc, path)
            assert assoc.is_established
            rsp = await store(assoc, path, allow_lossy=True)
            assert rsp.status_value == 0

    run(go())
    received = dicomkit.read(next(tmp_path.glob("*.dcm")))
    assert str(received.file_meta.TransferSyntaxUID) == BASELINE
    assert received.SOPInstanceUID != dicomkit.read(path).SOPInstanceUID  # lossy: a new instance
    assert received.LossyImageCompression == "01"


def test_an_encoder_that_refuses_moves_the_choice_on(tmp_path):
    pytest.importorskip("imagecodecs")
    path = corpus_file("SC_rgb_32bit.dcm")  # 32-bit samples: JPEG 2000 and JPEG-LS cannot take them, RLE can

    async def go():
        async with serving(receiver_only(tmp_path, [J2K, RLE])) as server, await ApplicationEntity("SCU").associate(
                "127.0.0.1", server.port, proposal(path, J2K, RLE), called_ae_title="SCP") as assoc:
            assert (await store(assoc, path)).status_value == 0

    run(go())
    received = dicomkit.read(next(tmp_path.glob("*.dcm")))
    assert str(received.file_meta.TransferSyntaxUID) == RLE
    assert (received.pixel_array == dicomkit.read(path).pixel_array).all()


def test_a_batch_of_more_than_128_contexts_is_split_transparently(tmp_path):
    from dicomkit.core import uid

    classes = [str(u) for u in uid.storage_sop_classes(include_retired=False)][:150]
    files = []
    for i, sop_class in enumerate(classes):
        ds = instance(1, 0, i, sop_class=sop_class)
        path = tmp_path / "in" / f"{i}.dcm"
        path.parent.mkdir(exist_ok=True)
        ds.save(path, transfer_syntax=ELE)
        files.append(peek(path))
    files.append(FileInfo(tmp_path / "missing.dcm", error="cannot read: no such file"))
    opened: list[int] = []

    async def go():
        async with serving(StorageSCP(DirectoryReceiver(tmp_path / "out"))) as server:
            ae = ApplicationEntity("SCU")

            async def connect(contexts):
                opened.append(len(contexts))
                return await ae.associate("127.0.0.1", server.port, contexts, called_ae_title="SCP")

            return await store_all(connect, files)

    summary = run(go())
    assert len(summary.sent) == 150 and [r.path.name for r in summary.failed] == ["missing.dcm"]
    assert summary.associations == len(opened) == 2 and all(n <= 127 for n in opened)
    assert len(list((tmp_path / "out").glob("*.dcm"))) == 150
