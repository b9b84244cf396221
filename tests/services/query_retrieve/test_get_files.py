"""The C-GET SCP over files (FolderSource): what it sends straight from a file is that file's data set, byte
for byte; an object re-encoded for a peer that refuses its own syntax reads back the same; a truncated or
overrunning file fails its sub-operation alone (counted, listed, and named in the Error Comment) while the
others are sent — through the storage SCU's context choice made once per (SOP Class, transfer syntax)."""

from __future__ import annotations

from pathlib import Path

import dicomkit
from dicomkit.io.raw import probe_part10
from dicomkit.net import ApplicationEntity, PresentationContext
from dicomkit.services.aetable import RemoteAE
from dicomkit.services.memory_source import FolderSource
from dicomkit.services.query_retrieve.find import query_contexts
from dicomkit.services.query_retrieve.get import GetSCP, get, get_on
from dicomkit.services.query_retrieve.levels import Operation

from ..live import CT, instance, keys, run, serving, study_uid

ELE, ILE = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2"
STUDY = 31


def _folder(tmp_path: Path, *, broken: bool) -> tuple[Path, dict[str, Path]]:
    """Six CT files of one study (four Explicit, two Implicit VR Little Endian); with ``broken``, one cut
    inside its Pixel Data and one whose Pixel Data declares more bytes than the file holds."""
    folder = tmp_path / "archive"
    folder.mkdir()
    files: dict[str, Path] = {}
    for n in range(6):
        ds = instance(STUDY, 0, n, pixels=True)
        ds.add_new(0x7FE00010, "OW", bytes(range(256)) * 32)  # 8 KiB of pixel data
        path = folder / f"{n}.dcm"
        dicomkit.write(ds, path, transfer_syntax=ILE if n >= 4 else ELE)
        files[str(ds.SOPInstanceUID)] = path
    if broken:
        cut = folder / "0.dcm"
        cut.write_bytes(cut.read_bytes()[:-3000])
        over = folder / "1.dcm"
        data = bytearray(over.read_bytes())
        at = bytes(data).rindex(b"\xe0\x7f\x10\x00OW")  # (7FE0,0010) OW: 4 reserved bytes, then the length
        data[at + 8:at + 12] = (len(data) * 2).to_bytes(4, "little")
        over.write_bytes(bytes(data))
    return folder, files


def _data_set(path: Path) -> bytes:
    data = path.read_bytes()
    probe = probe_part10(data)
    assert probe is not None
    return data[probe.data_offset:]


def _assert_arrived(received: Path, source: Path) -> None:
    """The get SCU proposes Explicit then Implicit VR in one context per class, so the SCP accepts Explicit:
    Explicit VR files go out as they are, Implicit VR ones re-encoded."""
    if probe_part10(source.read_bytes()).transfer_syntax == ELE:
        assert _data_set(received) == _data_set(source)  # the file's own bytes, unchanged
    else:
        assert probe_part10(received.read_bytes()).transfer_syntax == ELE
        assert dicomkit.read(received) == dicomkit.read(source)


def test_instances_sent_from_files_arrive_byte_for_byte(tmp_path):
    folder, files = _folder(tmp_path, broken=False)

    async def go():
        async with serving(GetSCP(FolderSource(folder))) as server:
            peer = RemoteAE("SCP", "127.0.0.1", server.port)
            return await get(peer, keys("STUDY", StudyInstanceUID=study_uid(STUDY)), output=tmp_path / "got",
                             sop_classes=[CT])

    result = run(go())
    assert result.status == 0 and result.completed == 6 and not result.failed
    for uid, source in files.items():
        _assert_arrived(tmp_path / "got" / f"{uid}.dcm", source)


def test_a_peer_taking_only_implicit_vr_gets_those_as_they_are_and_the_others_re_encoded(tmp_path):
    folder, files = _folder(tmp_path, broken=False)

    async def go():
        async with serving(GetSCP(FolderSource(folder))) as server:
            contexts = [*query_contexts("study", operations=[Operation.GET]),
                        PresentationContext(CT, [ILE], scu_role=False, scp_role=True)]
            async with await ApplicationEntity("GETSCU").associate("127.0.0.1", server.port, contexts,
                                                                   called_ae_title="SCP") as assoc:
                return await get_on(assoc, keys("STUDY", StudyInstanceUID=study_uid(STUDY)),
                                    output=tmp_path / "got")

    result = run(go())
    assert result.status == 0 and result.completed == 6
    for uid, source in files.items():
        received = tmp_path / "got" / f"{uid}.dcm"
        assert probe_part10(received.read_bytes()).transfer_syntax == ILE
        if probe_part10(source.read_bytes()).transfer_syntax == ILE:
            assert _data_set(received) == _data_set(source)
        else:
            assert dicomkit.read(received) == dicomkit.read(source)


def test_a_truncated_or_overrunning_file_fails_alone_with_its_reason(tmp_path):
    folder, files = _folder(tmp_path, broken=True)
    cut, over = (f"{study_uid(STUDY)}.0.{n}" for n in (0, 1))

    async def go():
        async with serving(GetSCP(FolderSource(folder))) as server:
            peer = RemoteAE("SCP", "127.0.0.1", server.port)
            return await get(peer, keys("STUDY", StudyInstanceUID=study_uid(STUDY)), output=tmp_path / "got",
                             sop_classes=[CT])

    result = run(go())
    assert result.status == 0xB000  # Warning: sub-operations complete, one or more failures
    assert result.completed == 4 and result.failed == 2
    assert sorted(result.failed_sop_instance_uids) == sorted([cut, over])
    assert "(7FE0,0010) declares" in (result.error_comment or "")
    assert sorted(p.stem for p in (tmp_path / "got").glob("*.dcm")) == sorted(set(files) - {cut, over})
    for uid in set(files) - {cut, over}:
        _assert_arrived(tmp_path / "got" / f"{uid}.dcm", files[uid])
