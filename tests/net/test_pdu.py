"""PDU codec (PS3.8 9.3, PS3.7 D.3.3): byte layouts, round trips, pynetdicom as an oracle, errors."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dicomkit.core.errors import PDUError
from dicomkit.net import pdu as P

CT = "1.2.840.10008.5.1.4.1.1.2"
ELE = "1.2.840.10008.1.2.1"
ILE = "1.2.840.10008.1.2"


def full_rq() -> P.AAssociateRQ:
    ui = P.UserInformation(
        max_length=16384, implementation_class_uid="1.2.3.4", implementation_version_name="TEST_1",
        async_ops_window=P.AsyncOperationsWindow(5, 3),
        role_selections=[P.RoleSelection(CT, True, True)],
        extended_negotiation=[P.SOPClassExtendedNegotiation(CT, b"\x01\x00\x01")],
        common_extended_negotiation=[P.SOPClassCommonExtendedNegotiation(CT, "1.2.840.10008.4.2", ["1.2.3", "1.2.4"])],
        user_identity=P.UserIdentityRQ(P.UserIdentityType.USERNAME_AND_PASSCODE, b"alice", b"secret", True),
    )
    contexts = [P.PresentationContextRQ(1, CT, [ELE, ILE]), P.PresentationContextRQ(3, "1.2.840.10008.1.1", [ILE])]
    return P.AAssociateRQ("STORESCP", "STORESCU", contexts, ui)


def test_associate_rq_fixed_fields_layout():
    data = full_rq().encode()
    # PS3.8 Table 9-11: type, reserved, length, protocol version, reserved, called, calling, 32 reserved
    assert data[0] == 0x01 and data[1] == 0
    assert struct.unpack(">I", data[2:6])[0] == len(data) - 6
    assert data[6:8] == b"\x00\x01"
    assert data[10:26] == b"STORESCP        " and data[26:42] == b"STORESCU        "
    assert data[42:74] == bytes(32)
    # the application context item follows (PS3.8 9.3.2.1): 10H, reserved, length, name
    assert data[74] == 0x10 and struct.unpack(">H", data[76:78])[0] == 21
    assert data[78:99] == b"1.2.840.10008.3.1.1.1"


def test_associate_rq_round_trip_with_every_sub_item():
    rq = full_rq()
    back = P.decode(rq.encode())
    assert isinstance(back, P.AAssociateRQ)
    assert back == rq


@pytest.mark.parametrize("kind,primary,secondary", [
    (P.UserIdentityType.USERNAME, b"bob", b""),
    (P.UserIdentityType.USERNAME_AND_PASSCODE, b"bob", b"pw"),
    (P.UserIdentityType.KERBEROS, b"\x60\x82\x01\x00" + bytes(200), b""),
    (P.UserIdentityType.SAML, b"<saml:Assertion>" + b"x" * 3000 + b"</saml:Assertion>", b""),
    (P.UserIdentityType.JWT, b"eyJhbGciOiJIUzI1NiJ9.e30.sig", b""),
])
def test_user_identity_types_round_trip(kind, primary, secondary):
    rq = full_rq()
    rq.user_information.user_identity = P.UserIdentityRQ(kind, primary, secondary, False)
    back = P.decode(rq.encode())
    assert back.user_information.user_identity == rq.user_information.user_identity


def test_user_identity_repr_hides_credentials():
    ident = P.UserIdentityRQ(2, b"alice", b"secret")
    assert "secret" not in repr(ident) and "alice" not in repr(ident)


def test_associate_ac_round_trip_and_identity_response():
    ui = P.UserInformation(max_length=0, implementation_class_uid="1.2.3",
                           async_ops_window=P.AsyncOperationsWindow(1, 1),
                           role_selections=[P.RoleSelection(CT, True, False)],
                           user_identity=P.UserIdentityAC(b"ticket"))
    ac = P.AAssociateAC("STORESCP", "STORESCU", [P.PresentationContextAC(1, 0, ELE), P.PresentationContextAC(3, 3)], ui)
    back = P.decode(ac.encode())
    assert back == P.AAssociateAC("STORESCP", "STORESCU",
                                  [P.PresentationContextAC(1, 0, ELE), P.PresentationContextAC(3, 3, "")], ui)


@pytest.mark.parametrize("pdu,expected", [
    (P.AAssociateRJ(1, 1, 7), b"\x03\x00\x00\x00\x00\x04\x00\x01\x01\x07"),
    (P.AReleaseRQ(), b"\x05\x00\x00\x00\x00\x04\x00\x00\x00\x00"),
    (P.AReleaseRP(), b"\x06\x00\x00\x00\x00\x04\x00\x00\x00\x00"),
    (P.AAbort(2, 6), b"\x07\x00\x00\x00\x00\x04\x00\x00\x02\x06"),
])
def test_fixed_size_pdus_bytes(pdu, expected):
    assert pdu.encode() == expected
    assert P.decode(expected) == pdu


def test_pdata_layout_and_round_trip():
    pdv1 = P.PDV(1, True, True, b"\x01\x02")
    pdv2 = P.PDV(3, False, False, b"abcd")
    data = P.PDataTF([pdv1, pdv2]).encode()
    # PS3.9 9.3.5: PDV item length, context ID, message control header (E.2: bit 0 command, bit 1 last)
    assert data == (b"\x04\x00" + struct.pack(">I", 18) + struct.pack(">I", 4) + b"\x01\x03\x01\x02"
                    + struct.pack(">I", 6) + b"\x03\x00abcd")
    back = P.decode(data)
    assert [(v.context_id, v.is_command, v.is_last, bytes(v.data)) for v in back.pdvs] == [
        (1, True, True, b"\x01\x02"), (3, False, False, b"abcd")]
    assert P.pdata_header(5, 2, 4) + b"wxyz" == P.PDataTF([P.PDV(5, False, True, b"wxyz")]).encode()


def test_pynetdicom_decodes_our_request_and_we_decode_its():
    pdus = pytest.importorskip("pynetdicom.pdu")
    rq = full_rq()
    theirs = pdus.A_ASSOCIATE_RQ()
    theirs.decode(rq.encode())
    assert theirs.called_ae_title.strip() == "STORESCP"
    assert theirs.calling_ae_title.strip() == "STORESCU"
    assert [str(i.abstract_syntax) for i in theirs.presentation_context] == [CT, "1.2.840.10008.1.1"]
    assert theirs.encode() == rq.encode()  # pynetdicom re-encodes it to the same bytes


def test_pynetdicom_pdata_and_abort():
    pdus = pytest.importorskip("pynetdicom.pdu")
    theirs = pdus.P_DATA_TF()
    data = P.PDataTF([P.PDV(7, True, True, b"\x00" * 10)]).encode()
    theirs.decode(data)
    assert theirs.encode() == data
    abort = pdus.A_ABORT_RQ()
    abort.decode(P.AAbort(2, 4).encode())
    assert abort.source == 2 and abort.reason_diagnostic == 4


@pytest.mark.parametrize("data,reason", [
    (b"\x09\x00\x00\x00\x00\x04\x00\x00\x00\x00", P.AbortReason.UNRECOGNIZED_PDU),  # PDU type 09H
    (b"\x05\x00\x00\x00\x00\x02\x00\x00", P.AbortReason.INVALID_PDU_PARAMETER_VALUE),  # release RQ length 2
    (b"\x04\x00\x00\x00\x00\x05\x00\x00\x00\x01\x01", P.AbortReason.INVALID_PDU_PARAMETER_VALUE),  # PDV length 1
    (b"\x04\x00\x00\x00\x00\x06\x00\x00\x00\x09\x01\x03", P.AbortReason.INVALID_PDU_PARAMETER_VALUE),  # PDV too long
    (b"\x04\x00\x00\x00\x00\x00", P.AbortReason.INVALID_PDU_PARAMETER_VALUE),  # no PDV
])
def test_invalid_pdus_name_the_abort_reason(data, reason):
    with pytest.raises(PDUError) as info:
        P.decode(data)
    assert info.value.reason == reason


def test_invalid_associate_rq_variants():
    good = full_rq().encode()
    with pytest.raises(PDUError):  # truncated fixed part
        P.decode(good[:6 + 40].replace(good[2:6], struct.pack(">I", 40)))
    # an unknown item type at the PDU level: unrecognized PDU parameter
    body = good[6:] + b"\x77\x00\x00\x00"
    with pytest.raises(PDUError) as info:
        P.decode(good[:2] + struct.pack(">I", len(body)) + body)
    assert info.value.reason == P.AbortReason.UNRECOGNIZED_PDU_PARAMETER
    # an item length running past the end
    bad = bytearray(good)
    bad[76:78] = b"\xff\xff"
    with pytest.raises(PDUError):
        P.decode(bytes(bad))
    # no presentation context at all
    rq = full_rq()
    rq.presentation_contexts = []
    with pytest.raises(PDUError, match="no presentation context"):
        P.decode(rq.encode())


def test_unknown_user_information_sub_items_are_kept_and_ignored():
    rq = full_rq()
    rq.user_information.unknown = [(0x7F, b"future")]
    back = P.decode(rq.encode())
    assert back.user_information.unknown == [(0x7F, b"future")]


def test_ae_titles_validated():
    for bad in ["", "   ", "X" * 17, "BAD\\AE", "TAB\tAE"]:
        with pytest.raises(PDUError):
            P.AAssociateRQ(bad, "OK", [P.PresentationContextRQ(1, CT, [ELE])]).encode()
    assert P.validate_ae_title("  PACS ") == "PACS"


def test_reader_byte_by_byte_and_batched():
    stream = full_rq().encode() + P.PDataTF([P.PDV(1, False, True, b"x" * 1000)]).encode() + P.AReleaseRQ().encode()
    for step in (1, 7, len(stream)):
        reader = P.PDUReader(16384)
        got = []
        for i in range(0, len(stream), step):
            reader.feed(stream[i:i + step])
            while (pdu := reader.next_pdu()) is not None:
                got.append(type(pdu).__name__ if not isinstance(pdu, P.PDataTF) else bytes(pdu.pdvs[0].data))
        assert got == ["AAssociateRQ", b"x" * 1000, "AReleaseRQ"]
        assert reader.buffered == 0


def test_reader_refuses_oversized_pdu_at_its_header():
    reader = P.PDUReader(16384)
    reader.feed(b"\x04\x00" + struct.pack(">I", 16385))  # only the header arrived
    with pytest.raises(PDUError, match="exceeds the limit"):
        reader.next_pdu()
    reader = P.PDUReader(16384)
    reader.feed(b"\x01\x00" + struct.pack(">I", 0xFFFFFFF0))
    with pytest.raises(PDUError):
        reader.next_pdu()


def test_reader_grows_for_large_pdus_and_shrinks_back():
    reader = P.PDUReader(0, chunk=4096)
    big = P.PDataTF([P.PDV(1, False, True, bytes(range(256)) * 4000)]).encode()
    reader.feed(big)
    pdu = reader.next_pdu()
    assert bytes(pdu.pdvs[0].data) == bytes(range(256)) * 4000
    del pdu
    reader.get_buffer(-1)
    assert len(reader._buf) == 4096  # gave back the memory one huge PDU needed


@settings(max_examples=400, deadline=None)
@given(st.binary(min_size=0, max_size=300))
def test_decoder_never_raises_anything_but_pdu_error(data):
    reader = P.PDUReader(16384)
    reader.feed(data)
    try:
        while reader.next_pdu() is not None:
            pass
    except PDUError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 400), st.integers(0, 255))
def test_mutated_association_request_never_crashes(position, value):
    data = bytearray(full_rq().encode())
    data[position % len(data)] = value
    try:
        P.decode(bytes(data))
    except PDUError:
        pass


def test_reader_buffer_grows_with_the_bytes_not_with_the_claim():
    """A header announcing megabytes it never sends must not make the reader allocate them (a fuzzed or
    hostile peer would otherwise hold memory per connection); real large PDUs still arrive whole."""
    reader = P.PDUReader(1 << 22)
    reader.feed(struct.pack(">BBI", 0x01, 0, 2_000_000) + b"x" * 100)  # A-ASSOCIATE-RQ claiming 2 MB
    assert reader.next_pdu() is None
    assert len(reader._buf) < 1 << 16
    fresh = P.PDUReader(1 << 22)
    assert len(fresh._buf) <= 1 << 14  # a new connection starts small
    big = P.PDataTF([P.PDV(1, False, True, bytes(3_000_000))]).encode()
    for start in range(0, len(big), 65536):
        fresh.feed(big[start:start + 65536])
    pdu = fresh.next_pdu()
    assert isinstance(pdu, P.PDataTF) and len(pdu.pdvs[0].data) == 3_000_000


@pytest.mark.parametrize("pdvs", [
    [(1, True, True, b"\x00\x01")],  # one PDV filling the PDU (read without the loop)
    [(3, False, False, b"x" * 1000)],
    [(1, True, True, b"ab"), (1, False, True, b"cdef")],  # several: the loop
])
def test_pdata_read_through_the_framer_as_decoded_whole(pdvs):
    data = P.PDataTF([P.PDV(*p) for p in pdvs]).encode()
    reader = P.PDUReader()
    reader.feed(data)
    framed = reader.next_pdu()
    whole = P.decode(data)
    for got in (framed, whole):
        assert isinstance(got, P.PDataTF)
        assert [(v.context_id, v.is_command, v.is_last, bytes(v.data)) for v in got.pdvs] == pdvs


@pytest.mark.parametrize("body,match", [
    (b"\x00\x00\x00\x01\x01\x03", "does not fit"),  # a PDV length of 1: no room for its control header
    (b"\x00\x00\x00\x05\x01\x03ab", "does not fit"),  # longer than the PDU
    (b"\x00\x00\x00\x02\x01", "truncated"),
])
def test_malformed_pdata_is_refused(body, match):
    with pytest.raises(PDUError, match=match):
        P.decode(b"\x04\x00" + len(body).to_bytes(4, "big") + body)
