"""Building SR data sets (PS3.3 A.35): a content tree plus the Patient, Study, Series, Equipment, SR Document
General / Key Object Document and SOP Common modules, with the evidence sequences the references need."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable

from ..core.dataset import Dataset
from ..core.sequence import Sequence
from ..core.uid import generate_uid
from .content import ContentItem, Reference
from .document import SRError, encode_item, iter_references

BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"
ENHANCED_SR = "1.2.840.10008.5.1.4.1.1.88.22"
COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
COMPREHENSIVE_3D_SR = "1.2.840.10008.5.1.4.1.1.88.34"
KEY_OBJECT_SELECTION = "1.2.840.10008.5.1.4.1.1.88.59"

_BASIC_TYPES = {"CONTAINER", "TEXT", "CODE", "DATETIME", "DATE", "TIME", "UIDREF", "PNAME", "COMPOSITE", "IMAGE",
                "WAVEFORM"}
_ENHANCED_TYPES = _BASIC_TYPES | {"NUM", "SCOORD", "TCOORD"}

# PS3.3 C.7.1.1, C.7.2.1: Patient and General Study attributes copied from a source instance
_PATIENT = ("PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex")
_STUDY = ("StudyInstanceUID", "StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID", "AccessionNumber",
          "StudyDescription")
_TYPE2 = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
          "ReferringPhysicianName", "StudyID", "AccessionNumber")


def sop_class_for(content: ContentItem) -> str:
    """The least SR IOD whose value types and by-reference use (PS3.3 A.35.1-A.35.3, A.35.13) fit."""
    types = {item.value_type for item in content.walk() if item.value_type}
    by_reference = any(item.is_reference for item in content.walk())
    if "SCOORD3D" in types:
        return COMPREHENSIVE_3D_SR
    if by_reference or not types <= _ENHANCED_TYPES:
        return COMPREHENSIVE_SR
    if types <= _BASIC_TYPES:
        return BASIC_TEXT_SR
    return ENHANCED_SR


def _now() -> tuple[str, str]:
    now = _dt.datetime.now()
    return now.strftime("%Y%m%d"), now.strftime("%H%M%S")


def _evidence(refs: Iterable[Reference], default_study: str) -> Sequence:
    """The Hierarchical SOP Instance Reference Macro (PS3.3 Table C.17-3) for ``refs``, grouped by study and
    series; each reference needs its series UID (``Reference.to(ds)`` keeps it)."""
    studies: dict[str, dict[str, dict[str, str]]] = {}
    for ref in refs:
        if not ref.series_uid:
            raise SRError(f"the reference to {ref.sop_instance_uid} has no series UID, which the evidence "
                          "sequence needs (PS3.3 C.17.2.3): make it with Reference.to(dataset) or give series_uid")
        series = studies.setdefault(ref.study_uid or default_study, {}).setdefault(ref.series_uid, {})
        series[ref.sop_instance_uid] = ref.sop_class_uid
    out = Sequence()
    for study_uid, all_series in studies.items():
        st = Dataset()
        st.StudyInstanceUID = study_uid
        st.ReferencedSeriesSequence = Sequence()
        for series_uid, instances in all_series.items():
            se = Dataset()
            se.SeriesInstanceUID = series_uid
            se.ReferencedSOPSequence = Sequence()
            for instance_uid, class_uid in instances.items():
                r = Dataset()
                r.ReferencedSOPClassUID = class_uid
                r.ReferencedSOPInstanceUID = instance_uid
                se.ReferencedSOPSequence.append(r)
            st.ReferencedSeriesSequence.append(se)
        out.append(st)
    return out


def build_sr(content: ContentItem, *, source: Dataset | None = None, sop_class_uid: str | None = None,
             series_instance_uid: str | None = None, series_number: int = 1, instance_number: int = 1,
             completion_flag: str = "COMPLETE", verification_flag: str = "UNVERIFIED",
             verifying_observer: tuple[str, str] | None = None, manufacturer: str = "dicomkit",
             series_description: str | None = None, sop_instance_uid: str | None = None) -> Dataset:
    """An SR data set for ``content`` (the root CONTAINER), ready to ``save``.

    ``source`` gives the patient and study (any instance of the study reported on; without it a new study
    is made). The SOP Class is the least that holds the content (see :func:`sop_class_for`) unless given;
    a Key Object Selection Document is made when ``sop_class_uid`` is KEY_OBJECT_SELECTION. The instances the
    content references are listed in Current Requested Procedure Evidence Sequence.
    ``verifying_observer`` is (name, organization) and makes the document VERIFIED.
    """
    if content.value_type != "CONTAINER" or content.concept is None:
        raise SRError("the root of an SR document is a CONTAINER with a concept name (PS3.3 C.17.3.2.2)")
    sop_class = sop_class_for(content) if sop_class_uid is None else sop_class_uid
    kos = sop_class == KEY_OBJECT_SELECTION
    ds = Dataset()
    date, time = _now()
    texts = [str(i.value) for i in content.walk() if isinstance(i.value, str)]
    texts += [c.meaning for i in content.walk() for c in (i.concept,) if c is not None]
    if any(not t.isascii() for t in texts):
        ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_instance_uid or generate_uid()
    ds.InstanceCreationDate, ds.InstanceCreationTime = date, time
    # Patient, General Study (PS3.3 C.7.1.1, C.7.2.1)
    for keyword in _PATIENT + _STUDY:
        if source is not None and keyword in source:
            ds[keyword] = source[keyword].value
    if "StudyInstanceUID" not in ds:
        ds.StudyInstanceUID = generate_uid()
        ds.StudyDate, ds.StudyTime = date, time
    for keyword in _TYPE2:
        if keyword not in ds:
            ds[keyword] = None
    # SR Document Series / Key Object Document Series (PS3.3 C.17.1, C.17.6.1)
    ds.Modality = "KO" if kos else "SR"
    ds.SeriesInstanceUID = series_instance_uid or generate_uid()
    ds.SeriesNumber = series_number
    if series_description:
        ds.SeriesDescription = series_description
    ds.ReferencedPerformedProcedureStepSequence = Sequence()
    ds.Manufacturer = manufacturer  # General Equipment (PS3.3 C.7.5.1)
    ds.InstanceNumber = instance_number
    ds.ContentDate, ds.ContentTime = date, time
    refs = iter_references(content.walk())
    study_uid = str(ds.StudyInstanceUID)
    if kos:
        # Key Object Document Module (PS3.3 C.17.6.2): the evidence is Type 1
        if not refs:
            raise SRError("a Key Object Selection Document references at least one instance (PS3.16 TID 2010)")
        ds.CurrentRequestedProcedureEvidenceSequence = _evidence(refs, study_uid)
    else:
        # SR Document General Module (PS3.3 C.17.2)
        ds.CompletionFlag = completion_flag
        if verifying_observer is not None:
            verification_flag = "VERIFIED"
            o = Dataset()
            o.VerifyingObserverName, o.VerifyingOrganization = verifying_observer
            o.VerificationDateTime = date + time
            o.VerifyingObserverIdentificationCodeSequence = Sequence()
            ds.VerifyingObserverSequence = Sequence([o])
        ds.VerificationFlag = verification_flag
        ds.PerformedProcedureCodeSequence = Sequence()
        if refs:
            ds.CurrentRequestedProcedureEvidenceSequence = _evidence(refs, study_uid)
    # SR Document Content (PS3.3 C.17.3): the root item's attributes are the data set's own
    encode_item(content, ds)
    return ds


__all__ = ["BASIC_TEXT_SR", "COMPREHENSIVE_3D_SR", "COMPREHENSIVE_SR", "ENHANCED_SR", "KEY_OBJECT_SELECTION",
           "build_sr", "sop_class_for"]
