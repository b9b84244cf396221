"""Storage Commitment data sets (PS3.4 J.3): N-ACTION request and N-EVENT-REPORT result, both ways."""

from __future__ import annotations

import pytest

import dicomkit
from dicomkit import Dataset
from dicomkit.core import uid
from dicomkit.services.commitment import (
    EVENT_FAILURES_EXIST,
    EVENT_SUCCESSFUL,
    FAILURE_REASONS,
    INVALID_ARGUMENT_VALUE,
    NO_SUCH_EVENT_TYPE,
    NO_SUCH_OBJECT_INSTANCE,
    RESOURCE_LIMITATION,
    SOP_CLASS,
    WELL_KNOWN_INSTANCE,
    CommitmentError,
    CommitmentReport,
    CommitmentRequest,
    CommitmentResult,
    SopReference,
)

CT = "1.2.840.10008.5.1.4.1.1.2"
IMPLICIT = "1.2.840.10008.1.2"  # DIMSE data sets of N-services are often sent Implicit VR Little Endian


def _wire(ds: Dataset) -> Dataset:
    return dicomkit.read(ds.to_bytes(IMPLICIT), force=True)


def test_uids() -> None:
    assert uid.by_keyword("StorageCommitmentPushModel") == SOP_CLASS
    assert str(WELL_KNOWN_INSTANCE) == "1.2.840.10008.1.20.1.1"
    assert FAILURE_REASONS[0x0131] == "Duplicate transaction UID"  # PS3.3 C.14.1.1


def test_request_round_trip() -> None:
    request = CommitmentRequest.new([(CT, "1.2.3.1"), SopReference(CT, "1.2.3.2", storage_media_file_set_id="CD1")])
    assert uid.UID(request.transaction_uid).is_valid
    back = CommitmentRequest.from_dataset(_wire(request.to_dataset()))
    assert back == request
    fixed = CommitmentRequest.new([(CT, "1.2.3.1")], transaction_uid="1.2.99")
    assert fixed.transaction_uid == "1.2.99"


def test_report_round_trip_with_failures() -> None:
    results = [CommitmentResult(SopReference(CT, "1.2.3.1"), None, "ARCHIVE"),
               CommitmentResult(SopReference(CT, "1.2.3.2"), NO_SUCH_OBJECT_INSTANCE),
               CommitmentResult(SopReference(CT, "1.2.3.3"), None, "NEARLINE")]
    report = CommitmentReport.from_results("1.2.99", results, retrieve_ae_title="ARCHIVE")
    assert report.event_type_id == EVENT_FAILURES_EXIST
    ds = report.to_dataset()
    assert [i.ReferencedSOPInstanceUID for i in ds.ReferencedSOPSequence] == ["1.2.3.1", "1.2.3.3"]
    assert "RetrieveAETitle" not in ds.ReferencedSOPSequence[0]  # the same as the top-level one
    assert ds.ReferencedSOPSequence[1].RetrieveAETitle == "NEARLINE"
    assert ds.FailedSOPSequence[0].FailureReason == NO_SUCH_OBJECT_INSTANCE
    back = CommitmentReport.from_dataset(_wire(ds), EVENT_FAILURES_EXIST)
    assert back.transaction_uid == "1.2.99" and back.retrieve_ae_title == "ARCHIVE"
    assert [(r.reference.sop_instance_uid, r.failure_reason, r.retrieve_ae_title) for r in back.results] == [
        ("1.2.3.1", None, "ARCHIVE"), ("1.2.3.3", None, "NEARLINE"), ("1.2.3.2", NO_SUCH_OBJECT_INSTANCE, None)]


def test_all_committed_and_all_failed() -> None:
    ok = CommitmentReport.from_results("1.2.99", [CommitmentResult(SopReference(CT, "1.2.3.1"))])
    assert ok.event_type_id == EVENT_SUCCESSFUL and "FailedSOPSequence" not in ok.to_dataset()
    bad = CommitmentReport.from_results("1.2.99", [CommitmentResult(SopReference(CT, "1.2.3.1"), RESOURCE_LIMITATION)])
    ds = bad.to_dataset()
    assert "ReferencedSOPSequence" not in ds  # 1C: only when some instances are committed
    assert CommitmentReport.from_dataset(_wire(ds), EVENT_FAILURES_EXIST).failed[0].reason_text == "Resource limitation"


def _request(**attrs: object) -> Dataset:
    ds = Dataset()
    for k, v in attrs.items():
        setattr(ds, k, v)
    return ds


def _item(**attrs: object) -> Dataset:
    return _request(**attrs)


@pytest.mark.parametrize(("ds", "tag"), [
    (_request(ReferencedSOPSequence=[_item(ReferencedSOPClassUID=CT, ReferencedSOPInstanceUID="1.2.3")]), 0x00081195),
    (_request(TransactionUID="1.2.x", ReferencedSOPSequence=[]), 0x00081195),
    (_request(TransactionUID="1.2.9"), 0x00081199),
    (_request(TransactionUID="1.2.9", ReferencedSOPSequence=[]), 0x00081199),
    (_request(TransactionUID="1.2.9", ReferencedSOPSequence=[_item(ReferencedSOPClassUID=CT)]), 0x00081155),
    (_request(TransactionUID="1.2.9", ReferencedSOPSequence=[_item(ReferencedSOPClassUID=CT,
                                                                   ReferencedSOPInstanceUID="01.2")]), 0x00081155),
])
def test_bad_requests(ds: Dataset, tag: int) -> None:
    with pytest.raises(CommitmentError) as info:
        CommitmentRequest.from_dataset(ds)
    assert info.value.status == INVALID_ARGUMENT_VALUE and info.value.offending == (tag,)


def test_bad_reports() -> None:
    ds = _request(TransactionUID="1.2.9", FailedSOPSequence=[_item(ReferencedSOPClassUID=CT,
                                                                   ReferencedSOPInstanceUID="1.2.3")])
    with pytest.raises(CommitmentError, match="Failure Reason"):
        CommitmentReport.from_dataset(ds)
    ok = CommitmentReport.from_results("1.2.9", [CommitmentResult(SopReference(CT, "1.2.3"))]).to_dataset()
    with pytest.raises(CommitmentError, match="does not agree"):
        CommitmentReport.from_dataset(ok, EVENT_FAILURES_EXIST)
    with pytest.raises(CommitmentError) as info:
        CommitmentReport.from_dataset(ok, 7)
    assert info.value.status == NO_SUCH_EVENT_TYPE
