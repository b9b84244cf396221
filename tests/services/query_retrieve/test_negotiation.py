"""SOP Class Extended Negotiation of Query/Retrieve and Worklist (PS3.4 C.5, K.5.1)."""

from __future__ import annotations

from dicomkit.net import pdu
from dicomkit.services.query_retrieve import negotiation
from dicomkit.services.query_retrieve.levels import MODALITY_WORKLIST, PATIENT_ROOT, STUDY_ROOT
from dicomkit.services.query_retrieve.negotiation import (
    SUPPORTED_FIND,
    FindOptions,
    RetrieveOptions,
    WorklistOptions,
    answer,
)
from dicomkit.services.query_retrieve.plan import PlanOptions

FIND = str(STUDY_ROOT.find_uid)


def test_find_fields_in_byte_order() -> None:
    opts = FindOptions.from_bytes(b"\x01\x00\x01\x01\x00\x01\x01")
    assert (opts.relational_queries, opts.combined_datetime_matching, opts.fuzzy_semantic_matching,
            opts.timezone_query_adjustment, opts.enhanced_multiframe_conversion, opts.empty_value_matching,
            opts.multiple_value_matching) == (True, False, True, True, False, True, True)
    assert opts.length == 7 and opts.to_bytes() == b"\x01\x00\x01\x01\x00\x01\x01"


def test_short_fields_count_as_zero_and_answers_keep_the_offered_length() -> None:
    opts = FindOptions.from_bytes(b"\x01")  # PS3.4 C.5.1.1: bytes 2-7 are optional
    assert opts.relational_queries and not opts.combined_datetime_matching
    assert answer(FIND, b"\x01") == b"\x01"
    assert answer(FIND, b"\x00\x01") == b"\x00\x01"


def test_unsupported_options_are_refused_not_ignored() -> None:
    # everything requested: Enhanced Multi-Frame Image Conversion (byte 5) is answered 0
    assert answer(FIND, b"\x01" * 7) == b"\x01\x01\x01\x01\x00\x01\x01"
    assert answer(str(PATIENT_ROOT.move_uid), b"\x01\x01") == b"\x01\x00"  # relational retrieval yes, EMF no
    assert answer(FIND, b"\x01" * 9) == b"\x01\x01\x01\x01\x00\x01\x01"  # unknown trailing bytes dropped
    limited = FindOptions(relational_queries=False, combined_datetime_matching=True)
    assert answer(FIND, b"\x01\x01", find=limited) == b"\x00\x01"


def test_values_other_than_one_are_not_requests() -> None:
    assert not FindOptions.from_bytes(b"\x02\xff")


def test_worklist_reserved_bytes() -> None:
    offered = WorklistOptions.from_bytes(b"\x01\x01\x01")  # PS3.4 K.5.1: bytes 1-2 reserved (1), 3 fuzzy
    assert offered.fuzzy_semantic_matching and not offered.timezone_query_adjustment
    assert answer(str(MODALITY_WORKLIST.find_uid), b"\x01\x01\x01") == b"\x01\x01\x01"
    assert answer(str(MODALITY_WORKLIST.find_uid), b"\x01\x01\x00\x01") == b"\x01\x01\x00\x01"
    assert WorklistOptions(fuzzy_semantic_matching=True).to_bytes() == b"\x01\x01\x01\x00"


def test_other_sop_classes_and_empty_fields_get_no_answer() -> None:
    assert answer("1.2.840.10008.5.1.4.1.1.2", b"\x01") is None
    assert answer(FIND, b"") is None
    assert negotiation.parse("1.2.840.10008.1.1", b"\x01") is None


def test_plan_options_from_what_was_accepted() -> None:
    accepted = FindOptions.from_bytes(answer(FIND, b"\x01\x01\x01\x01\x01\x01\x01") or b"")
    opts = PlanOptions.from_negotiation(accepted, pn_case_insensitive=False)
    assert opts == PlanOptions(relational=True, combined_datetime=True, fuzzy_names=True, timezone_adjustment=True,
                               empty_value_matching=True, multiple_value_matching=True, pn_case_insensitive=False)
    assert PlanOptions.from_negotiation(RetrieveOptions(relational_retrieval=True)).relational
    assert PlanOptions.from_negotiation(None) == PlanOptions()
    assert SUPPORTED_FIND.accepted(SUPPORTED_FIND).to_bytes() == b"\x01\x01\x01\x01\x00\x01\x01"


def test_carried_by_the_association_pdus() -> None:
    info = pdu.UserInformation(max_length=16384, implementation_class_uid="1.2.3",
                               extended_negotiation=[pdu.SOPClassExtendedNegotiation(FIND, b"\x01\x00\x01")])
    rq = pdu.AAssociateRQ("SCP", "SCU", [pdu.PresentationContextRQ(1, FIND, ["1.2.840.10008.1.2.1"])], info)
    decoded = pdu.decode(rq.encode())
    assert isinstance(decoded, pdu.AAssociateRQ)
    item = decoded.user_information.extended_negotiation[0]
    reply = answer(item.sop_class_uid, item.application_information)
    assert reply == b"\x01\x00\x01"
