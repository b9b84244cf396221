"""DIMSE command sets (PS3.7 E), messages, statuses and reassembly."""

from __future__ import annotations

import io

import pytest

from dicomkit.core.errors import DimseError
from dicomkit.net import dimse as D
from dicomkit.net.pdu import PDV
from dicomkit.net.status import Status

CT = "1.2.840.10008.5.1.4.1.1.2"

MESSAGES = [
    D.CStoreRQ(message_id=7, affected_sop_class_uid=CT, affected_sop_instance_uid="1.2.3.4.5", priority=D.Priority.HIGH,
               move_originator_aet="MOVER", move_originator_message_id=3),
    D.CStoreRSP(message_id_being_responded_to=7, status=0xB000, affected_sop_class_uid=CT,
                affected_sop_instance_uid="1.2.3", error_comment="coerced", offending_element=(0x00100010,)),
    D.CFindRQ(message_id=1, affected_sop_class_uid="1.2.840.10008.5.1.4.1.2.2.1"),
    D.CFindRSP(message_id_being_responded_to=1, status=0xFF00, has_dataset=True),
    D.CGetRQ(message_id=2, affected_sop_class_uid="1.2.840.10008.5.1.4.1.2.2.3"),
    D.CGetRSP(message_id_being_responded_to=2, status=0xFF00, number_of_remaining_suboperations=3,
              number_of_completed_suboperations=1, number_of_failed_suboperations=0,
              number_of_warning_suboperations=0),
    D.CMoveRQ(message_id=3, affected_sop_class_uid="1.2.840.10008.5.1.4.1.2.2.2", move_destination="DEST"),
    D.CMoveRSP(message_id_being_responded_to=3, status=0),
    D.CEchoRQ(message_id=4, affected_sop_class_uid="1.2.840.10008.1.1"),
    D.CEchoRSP(message_id_being_responded_to=4, status=0),
    D.CCancelRQ(message_id_being_responded_to=1),
    D.NEventReportRQ(message_id=5, affected_sop_class_uid="1.2.840.10008.1.20.1",
                     affected_sop_instance_uid="1.2.840.10008.1.20.1.1", event_type_id=1, has_dataset=True),
    D.NEventReportRSP(message_id_being_responded_to=5, status=0, event_type_id=1),
    D.NGetRQ(message_id=6, requested_sop_class_uid="1.2.3", requested_sop_instance_uid="1.2.3.4",
             attribute_identifier_list=(0x00100010, 0x00100020)),
    D.NGetRSP(message_id_being_responded_to=6, status=0, has_dataset=True),
    D.NSetRQ(message_id=8, requested_sop_class_uid="1.2.3", requested_sop_instance_uid="1.2.3.4"),
    D.NSetRSP(message_id_being_responded_to=8, status=0x0106, offending_element=(0x00080020,)),
    D.NActionRQ(message_id=9, requested_sop_class_uid="1.2.840.10008.1.20.1",
                requested_sop_instance_uid="1.2.840.10008.1.20.1.1", action_type_id=1, has_dataset=True),
    D.NActionRSP(message_id_being_responded_to=9, status=0, action_type_id=1),
    D.NCreateRQ(message_id=10, affected_sop_class_uid="1.2.840.10008.3.1.2.3.3", has_dataset=True),
    D.NCreateRSP(message_id_being_responded_to=10, status=0, affected_sop_instance_uid="1.2.5"),
    D.NDeleteRQ(message_id=11, requested_sop_class_uid="1.2.3", requested_sop_instance_uid="1.2.3.4"),
    D.NDeleteRSP(message_id_being_responded_to=11, status=0x0112, error_id=5),
]


@pytest.mark.parametrize("message", MESSAGES, ids=[type(m).__name__ for m in MESSAGES])
def test_command_round_trip(message):
    back = D.decode_command(message.encode())
    assert type(back) is type(message)
    for name in ("message_id", "message_id_being_responded_to", "affected_sop_class_uid", "affected_sop_instance_uid",
                 "requested_sop_class_uid", "requested_sop_instance_uid", "priority", "status", "move_destination",
                 "offending_element", "error_comment", "error_id", "event_type_id", "action_type_id",
                 "attribute_identifier_list", "number_of_remaining_suboperations", "move_originator_aet",
                 "move_originator_message_id", "has_dataset"):
        assert getattr(back, name) == getattr(message, name), name


@pytest.mark.parametrize("message", MESSAGES, ids=[type(m).__name__ for m in MESSAGES])
def test_decoded_message_is_what_its_constructor_builds(message):
    """decode_command fills the message without the dataclass __init__: every field (defaults included) and
    the Status of a response must be what the constructor makes of the same values."""
    back = D.decode_command(message.encode())
    given = {name: value for name, value in back.__dict__.items() if value is not None}
    built = type(message)(**given)
    assert back.__dict__ == built.__dict__
    assert {k: type(v) for k, v in back.__dict__.items()} == {k: type(v) for k, v in built.__dict__.items()}
    assert set(back.__dict__) == set(type(message)().__dict__)  # every field, none more


def test_uid_values_of_a_command_set():
    # padded with NUL or space, 64 characters long: read inline; longer or not ASCII: refused as before
    uid64 = "1." + "2" * 62
    for value in (b"1.2.3\x00", b"1.2.3 ", uid64.encode()):
        rq = D.CEchoRQ(message_id=1, affected_sop_class_uid="1.2.840.10008.1.1").encode()
        data = rq.replace(b"\x12\x00\x00\x001.2.840.10008.1.1\x00", len(value).to_bytes(4, "little") + value)
        assert D.decode_command(data).affected_sop_class_uid == value.decode().rstrip("\x00 ")
    rq = D.CEchoRQ(message_id=1, affected_sop_class_uid="1.2.840.10008.1.1").encode()
    for value, match in ((b"1.2.\xe9", "not ASCII"), (b"1." + b"2" * 64, "too long")):
        data = rq.replace(b"\x12\x00\x00\x001.2.840.10008.1.1\x00", len(value).to_bytes(4, "little") + value)
        with pytest.raises(DimseError, match=match):
            D.decode_command(data)


@pytest.mark.parametrize("message", MESSAGES, ids=[type(m).__name__ for m in MESSAGES])
def test_pydicom_reads_our_command_sets(message):
    pydicom = pytest.importorskip("pydicom")
    from pydicom.filereader import read_dataset

    data = message.encode()
    ds = read_dataset(io.BytesIO(data), is_implicit_VR=True, is_little_endian=True)
    assert ds.CommandGroupLength == len(data) - 12  # PS3.7 E.1: bytes after the group length element
    assert ds.CommandField == message.COMMAND_FIELD
    assert ds.CommandDataSetType == (0x0101 if not message.has_dataset else 0x0001)
    if message.affected_sop_class_uid:
        assert ds.AffectedSOPClassUID == message.affected_sop_class_uid
    assert list(ds.keys()) == sorted(ds.keys())  # ascending tag order
    assert pydicom  # the oracle was available


def test_pynetdicom_command_set_decodes_here():
    pytest.importorskip("pynetdicom")
    from pydicom.dataset import Dataset
    from pynetdicom.dsutils import encode

    ds = Dataset()
    ds.CommandGroupLength = 0
    ds.AffectedSOPClassUID = CT
    ds.CommandField = 0x0001
    ds.MessageID = 12
    ds.Priority = 2
    ds.CommandDataSetType = 0x0000
    ds.AffectedSOPInstanceUID = "1.2.3.4.5.6"
    body = encode(ds, True, True)
    message = D.decode_command(body)
    assert isinstance(message, D.CStoreRQ) and message.message_id == 12 and message.priority == 2
    assert message.affected_sop_instance_uid == "1.2.3.4.5.6" and message.has_dataset


def test_uid_padding_and_group_length_bytes():
    data = D.CEchoRQ(message_id=1, affected_sop_class_uid="1.2.840.10008.1.1").encode()
    # (0000,0002) UI "1.2.840.10008.1.1" is 17 characters: padded with one NUL (PS3.5 9.1)
    assert b"\x00\x00\x02\x00\x12\x00\x00\x001.2.840.10008.1.1\x00" in data
    assert data[:12] == b"\x00\x00\x00\x00\x04\x00\x00\x00" + (len(data) - 12).to_bytes(4, "little")


@pytest.mark.parametrize("data,match", [
    (b"\x00\x00\x10\x01\x02\x00\x00\x00\x01\x00", "no Command Field"),
    (b"\x00\x00\x00\x01\x02\x00\x00\x00\x30\x00", "no Command Data Set Type"),
    (b"\x00\x00\x00\x01\x09\x00\x00\x00\x30\x00", "runs past the end"),
    (b"\x08\x00\x16\x00\x09\x00\x00\x00ab", "runs past the end"),  # before its group is looked at
    (b"\x00\x00\x00\x01\x02\x00\x00\x00\x30\x00\x00\x00\x00\x08", "header truncated at offset 10"),
    (b"\x08\x00\x16\x00\x02\x00\x00\x00ab", "only group 0000"),
    (b"\x00\x00\x00\x01\x02\x00\x00\x00\x34\x12\x00\x00\x00\x08\x02\x00\x00\x00\x01\x01", "unknown Command Field"),
    (b"\x00\x00\x00\x01\x04\x00\x00\x00\x30\x00\x00\x00", "US needs 2"),
    (b"\x00\x00\x00\x01\x02\x00\x00\x00\x30\x00\x00\x00\x00\x08\x02\x00\x00\x00\x01\x01", "lacks"),
])
def test_malformed_command_sets(data, match):
    with pytest.raises(DimseError, match=match):
        D.decode_command(data)


def test_missing_mandatory_field_refused_on_encode():
    with pytest.raises(DimseError, match="affected_sop_instance_uid"):
        D.CStoreRQ(message_id=1, affected_sop_class_uid=CT).encode()


@pytest.mark.parametrize("code,category,meaning", [
    (0x0000, "Success", "Success"), (0xFF00, "Pending", "Pending"), (0xFE00, "Cancel", "Cancel"),
    (0xB000, "Warning", "Warning: unknown status"), (0x0107, "Warning", "Warning: attribute list error"),
    (0xA700, "Failure", "Failure: unknown status"), (0xC123, "Failure", "Failure: unknown status"),
    (0x0122, "Failure", "Failure: refused: SOP Class not supported"),
    (0x0211, "Failure", "Failure: unrecognized operation"),
])
def test_status_categories_and_general_meanings(code, category, meaning):
    """PS3.7 Annex C: categories by range; the general meanings (services add theirs, see services tests)."""
    s = Status(code)
    assert s.category == category
    assert s.meaning() == meaning
    assert str(s) == f"0x{code:04X}"


def test_assembler_streams_data_and_rejects_disorder():
    sinks = {}
    done = []

    def on_command(cid, message):
        sinks[message.message_id] = D.MemorySink()
        return sinks[message.message_id]

    asm = D.MessageAssembler(on_command, lambda cid, m, s: done.append((cid, m, s)))
    command = D.CStoreRQ(message_id=1, affected_sop_class_uid=CT, affected_sop_instance_uid="1.2").encode()
    for frag, last in D.command_fragments(command, 10):
        asm.receive(PDV(1, True, last, memoryview(bytes(frag))))
    asm.receive(PDV(1, False, False, memoryview(b"abc")))
    assert sinks[1].data == b"abc" and not done
    asm.receive(PDV(1, False, True, memoryview(b"def")))
    assert done[0][2].data == b"abcdef" and done[0][2].complete
    with pytest.raises(DimseError, match="no command"):
        asm.receive(PDV(1, False, True, memoryview(b"x")))
    asm.receive(PDV(3, True, True, memoryview(command)))
    with pytest.raises(DimseError, match="before the data set"):
        asm.receive(PDV(3, True, True, memoryview(command)))
    echo = D.CEchoRQ(message_id=9, affected_sop_class_uid="1.2.840.10008.1.1").encode()
    asm.receive(PDV(5, True, True, memoryview(echo)))
    assert isinstance(done[-1][1], D.CEchoRQ) and done[-1][2] is None


@pytest.mark.parametrize("status", [0x0000, 0xA700, 0xB000, 0xC000, 0xFFFF])
@pytest.mark.parametrize("comment", [None, "refused"])
@pytest.mark.parametrize("instance", ["1.2.3.4", "1.2.34", None])
def test_c_store_rsp_template_gives_the_general_encoding(status: int, comment: str | None,
                                                         instance: str | None) -> None:
    """The C-STORE-RSP template (the receive path's answer) writes what the general command encoder writes."""
    for message_id, sop_class in ((1, "1.2.840.10008.5.1.4.1.1.2"), (0xFFFF, "1.2.3")):
        rsp = D.CStoreRSP(status=Status(status), error_comment=comment)
        rsp.message_id_being_responded_to = message_id
        rsp.affected_sop_class_uid = sop_class
        rsp.affected_sop_instance_uid = instance
        encoded = rsp.encode()
        assert encoded == D.Response.encode(rsp)
        back = D.decode_command(encoded)
        assert isinstance(back, D.CStoreRSP)
        assert (back.status, back.message_id_being_responded_to, back.affected_sop_instance_uid,
                back.error_comment) == (status, message_id, instance, comment)
    rsp = D.CStoreRSP(status=0, offending_element=(0x00100010,), message_id_being_responded_to=3,
                    affected_sop_class_uid="1.2", affected_sop_instance_uid="1.3")
    assert rsp.encode() == D.Response.encode(rsp)
    assert D.decode_command(rsp.encode()).offending_element == (0x00100010,)


def _outcome(decode, data):
    """What decoding gives: the message's class and fields, or the error's text."""
    try:
        message = decode(data)
    except DimseError as exc:
        return "error", str(exc)
    return type(message), dict(message.__dict__)


@pytest.mark.parametrize("message", MESSAGES, ids=[type(m).__name__ for m in MESSAGES])
def test_a_known_layout_decodes_as_the_walk(message):
    """A command set with the layout of one decoded before is read in one unpack (``_Layout``): the same message
    as the element walk, the same error for each byte changed to values that matter there (another tag, length,
    Command Field, data set type, a non-ASCII or padding byte in a UID)."""
    data = message.encode()
    D._LAYOUTS.clear()
    first = _outcome(D.decode_command, data)
    assert len(data) in D._LAYOUTS  # the layout was kept
    assert _outcome(D.decode_command, data) == first == _outcome(D._decode_walk, memoryview(data))
    for at in range(len(data)):
        for byte in (0x00, 0x01, 0x02, 0x20, 0x30, 0x80, 0xE9, 0xFF, data[at] ^ 0x01):
            changed = bytearray(data)
            changed[at] = byte
            assert _outcome(D.decode_command, bytes(changed)) == _outcome(D._decode_walk, memoryview(changed)), (
                at, byte)


def test_messages_of_one_layout_take_the_unpack_and_keep_their_values():
    D._LAYOUTS.clear()
    for n in range(1, 300):
        rsp = D.CGetRSP(message_id_being_responded_to=2, status=0xFF00, number_of_remaining_suboperations=300 - n,
                        number_of_completed_suboperations=n, number_of_failed_suboperations=0,
                        number_of_warning_suboperations=0, affected_sop_class_uid="1.2.840.10008.5.1.4.1.2.2.3")
        back = D.decode_command(rsp.encode())
        assert back.__dict__ == rsp.__dict__
    rq = D.CStoreRQ(message_id=7, affected_sop_class_uid=CT, affected_sop_instance_uid="1.2.3.4.5")
    other = D.CStoreRQ(message_id=8, affected_sop_class_uid=CT, affected_sop_instance_uid="1.2.3.4.6",
                       priority=D.Priority.LOW)
    assert D.decode_command(rq.encode()).__dict__ == rq.__dict__
    [layout] = D._LAYOUTS[len(other.encode())]
    assert layout.decode(memoryview(other.encode())).__dict__ == other.__dict__  # the same layout
    assert len(D._LAYOUTS) == 2


@pytest.mark.parametrize("status,comment", [(0x0000, None), (0xB000, "coerced"), (0xA700, "out of resources")])
def test_store_response_is_what_the_constructor_builds(status, comment):
    built = D.CStoreRSP(status=Status(status), error_comment=comment)
    fast = D.store_response(status, comment)
    assert type(fast) is D.CStoreRSP and fast.__dict__ == built.__dict__
    assert {k: type(v) for k, v in fast.__dict__.items()} == {k: type(v) for k, v in built.__dict__.items()}
    assert list(fast.__dict__) == list(built.__dict__)
