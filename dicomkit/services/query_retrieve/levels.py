"""Query/Retrieve Information Models (PS3.4 C.6) and the Modality Worklist model (PS3.4 K.6), as data.

An :class:`InformationModel` names its SOP Classes (FIND / MOVE / GET, from :mod:`dicomkit.core.uid`), its
levels and, per level, the Unique (U), Required (R) and Optional (O) keys of the PS3.4 tables. Every table
ends with "All other Attributes at <level> level" (type O): the level of such an attribute comes from the
Information Entity of the PS3.3 modules that hold it (generated into ``_attribute_levels.py`` by
``tools/generate_qr_levels.py``), so :meth:`InformationModel.level_of` answers for any standard attribute.

The hierarchy rules of C.4.1.2 / C.4.2.2 / C.4.3.2 (which keys an Identifier may carry at which level) are
applied by :mod:`.plan` from these tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property

from ...core import uid
from ...core.dictionary import keyword_for_tag, tag_for_keyword
from ...core.errors import DicomError, InvalidTagError
from ._attribute_levels import ATTRIBUTE_LEVELS


class QueryRetrieveLevel(str, Enum):
    """The values of Query/Retrieve Level (0008,0052) (PS3.4 Tables C.6.1-1, C.6.2-1, C.6.3-1)."""

    PATIENT = "PATIENT"
    STUDY = "STUDY"
    SERIES = "SERIES"
    IMAGE = "IMAGE"

    @property
    def depth(self) -> int:
        """0 for PATIENT ... 3 for IMAGE (the Composite Object Instance level)."""
        return _DEPTH[self]

    def __str__(self) -> str:
        return self.value


_DEPTH = {QueryRetrieveLevel.PATIENT: 0, QueryRetrieveLevel.STUDY: 1, QueryRetrieveLevel.SERIES: 2,
          QueryRetrieveLevel.IMAGE: 3}
Level = QueryRetrieveLevel


class KeyType(str, Enum):
    """PS3.4 C.1.2: U unique, R required, O optional key (K.1.2 for worklists: R required, O optional)."""

    UNIQUE = "U"
    REQUIRED = "R"
    OPTIONAL = "O"


class Operation(str, Enum):
    """The DIMSE-C operation an Identifier is sent with (PS3.4 C.4)."""

    FIND = "FIND"
    MOVE = "MOVE"
    GET = "GET"


@dataclass(frozen=True)
class KeyDef:
    """One row of a key table: tag, keyword, type and, for sequences, the keys of its item.

    ``return_type`` is the Return Key Type of the worklist tables (PS3.4 K.6-1: 1, 1C, 2, 2C, 3); Query/
    Retrieve tables have none.
    """

    tag: int
    keyword: str
    type: KeyType
    items: tuple[KeyDef, ...] = ()
    return_type: str | None = None


def _k(keyword: str, key_type: str, *items: KeyDef, ret: str | None = None) -> KeyDef:
    tag = tag_for_keyword(keyword)
    if tag is None:  # a typo in a table below: fail at import, not at query time
        raise InvalidTagError(f"unknown keyword {keyword!r} in a key table")
    return KeyDef(tag, keyword, KeyType(key_type), tuple(items), ret)


# -- PS3.4 C.6.1.1.2 Table C.6-1: Patient level keys (Patient Root; also Patient/Study Only, Table C.6-8) ---
PATIENT_KEYS: tuple[KeyDef, ...] = (
    _k("PatientName", "R"),
    _k("PatientID", "U"),
    _k("IssuerOfPatientID", "O"),
    _k("IssuerOfPatientIDQualifiersSequence", "O"),
    _k("ReferencedPatientSequence", "O", _k("ReferencedSOPClassUID", "O"), _k("ReferencedSOPInstanceUID", "O")),
    _k("PatientBirthDate", "O"),
    _k("PatientBirthTime", "O"),
    _k("PatientSex", "O"),
    _k("OtherPatientIDsSequence", "O"),
    _k("OtherPatientNames", "O"),
    _k("EthnicGroup", "O"),
    _k("PatientComments", "O"),
    _k("PatientSpeciesDescription", "O"),
    _k("PatientBreedDescription", "O"),
    _k("ResponsiblePerson", "O"),
    _k("ResponsibleOrganization", "O"),
    _k("NumberOfPatientRelatedStudies", "O"),
    _k("NumberOfPatientRelatedSeries", "O"),
    _k("NumberOfPatientRelatedInstances", "O"),
)

# -- PS3.4 C.6.1.1.3 Table C.6-2: Study level keys (Patient Root; also Patient/Study Only, Table C.6-9) -----
STUDY_KEYS: tuple[KeyDef, ...] = (
    _k("StudyDate", "R"),
    _k("StudyTime", "R"),
    _k("AccessionNumber", "R"),
    _k("StudyID", "R"),
    _k("StudyInstanceUID", "U"),
    _k("IssuerOfAccessionNumberSequence", "O"),
    _k("ModalitiesInStudy", "O"),
    _k("SOPClassesInStudy", "O"),
    _k("AnatomicRegionsInStudyCodeSequence", "O"),
    _k("ReferringPhysicianName", "O"),
    _k("StudyDescription", "O"),
    _k("ProcedureCodeSequence", "O", _k("CodeValue", "O"), _k("CodingSchemeDesignator", "O"),
       _k("CodingSchemeVersion", "O"), _k("CodeMeaning", "O")),
    _k("NameOfPhysiciansReadingStudy", "O"),
    _k("AdmittingDiagnosesDescription", "O"),
    _k("ReferencedStudySequence", "O", _k("ReferencedSOPClassUID", "O"), _k("ReferencedSOPInstanceUID", "O")),
    _k("PatientAge", "O"),
    _k("PatientSize", "O"),
    _k("PatientWeight", "O"),
    _k("Occupation", "O"),
    _k("AdditionalPatientHistory", "O"),
    _k("OtherStudyNumbers", "O"),
    _k("NumberOfStudyRelatedSeries", "O"),
    _k("NumberOfStudyRelatedInstances", "O"),
)

# -- PS3.4 C.6.1.1.4 Table C.6-3 / C.6.2.1.3 Table C.6-6: Series level keys --------------------------------
SERIES_KEYS: tuple[KeyDef, ...] = (
    _k("Modality", "R"),
    _k("SeriesNumber", "R"),
    _k("SeriesInstanceUID", "U"),
    _k("NumberOfSeriesRelatedInstances", "O"),
)

# -- PS3.4 C.6.1.1.5 Table C.6-4 / C.6.2.1.4 Table C.6-7: Composite Object Instance level keys -------------
IMAGE_KEYS: tuple[KeyDef, ...] = (
    _k("InstanceNumber", "R"),
    _k("SOPInstanceUID", "U"),
    _k("SOPClassUID", "O"),
    _k("AvailableTransferSyntaxUID", "O"),
    _k("AlternateRepresentationSequence", "O", _k("SeriesInstanceUID", "O"), _k("ReferencedSOPClassUID", "O"),
       _k("ReferencedSOPInstanceUID", "O"), _k("PurposeOfReferenceCodeSequence", "O")),
    # PS3.4 C.6.1.1.5.1: additional keys of the instance level for particular SOP Classes
    _k("ConceptNameCodeSequence", "O"),
    _k("ContentTemplateSequence", "O"),
    _k("ContainerIdentifier", "O"),
    _k("SpecimenDescriptionSequence", "O"),
)

# -- PS3.4 C.6.2.1.2 Table C.6-5: Study level keys of the Study Root model: the patient's keys move here, with
# Patient's Name and Patient ID Required (Patient ID is no longer the unique key of a level) --------------
STUDY_ROOT_STUDY_KEYS: tuple[KeyDef, ...] = (
    *STUDY_KEYS[:5],
    _k("PatientName", "R"),
    _k("PatientID", "R"),
    *STUDY_KEYS[5:],
    *(k for k in PATIENT_KEYS if k.keyword not in ("PatientName", "PatientID")),
)


# -- PS3.4 K.6.1.2.2 Table K.6-1: Modality Worklist Information Model keys (matching key type R/O, return key
# type 1/1C/2/2C/3). The rows of the Scheduled Procedure Step, Requested Procedure, Imaging Service Request,
# Visit and Patient modules most used by modalities; every other attribute of those modules is an
# optional key with return type 3 ---------------------------------------------------------------------------
def _w(keyword: str, matching: str, ret: str, *items: KeyDef) -> KeyDef:
    return _k(keyword, matching, *items, ret=ret)


WORKLIST_KEYS: tuple[KeyDef, ...] = (
    _w("ScheduledProcedureStepSequence", "R", "1",
       _w("ScheduledStationAETitle", "R", "1"),
       _w("ScheduledProcedureStepStartDate", "R", "1"),
       _w("ScheduledProcedureStepStartTime", "R", "1"),
       _w("Modality", "R", "1"),
       _w("ScheduledPerformingPhysicianName", "R", "2"),
       _w("ScheduledProcedureStepDescription", "O", "1C"),
       _w("ScheduledStationName", "O", "2"),
       _w("ScheduledProcedureStepLocation", "O", "2"),
       _w("ScheduledProtocolCodeSequence", "O", "1C"),
       _w("PreMedication", "O", "2C"),
       _w("ScheduledProcedureStepID", "O", "1"),
       _w("RequestedContrastAgent", "O", "2C"),
       _w("ScheduledProcedureStepStatus", "O", "3"),
       _w("ScheduledPerformingPhysicianIdentificationSequence", "O", "3")),
    # Requested Procedure
    _w("RequestedProcedureID", "O", "1"),
    _w("RequestedProcedureDescription", "O", "1C"),
    _w("RequestedProcedureCodeSequence", "O", "1C"),
    _w("StudyInstanceUID", "O", "1"),
    _w("StudyDate", "O", "3"),
    _w("StudyTime", "O", "3"),
    _w("ReferencedStudySequence", "O", "2"),
    _w("RequestedProcedurePriority", "O", "2"),
    _w("PatientTransportArrangements", "O", "2"),
    _w("ReasonForTheRequestedProcedure", "O", "3"),
    _w("ReasonForRequestedProcedureCodeSequence", "O", "3"),
    # Imaging Service Request
    _w("AccessionNumber", "O", "2"),
    _w("IssuerOfAccessionNumberSequence", "O", "3"),
    _w("RequestingPhysician", "O", "2"),
    _w("ReferringPhysicianName", "O", "2"),
    _w("RequestingService", "O", "3"),
    _w("NamesOfIntendedRecipientsOfResults", "O", "3"),
    # Visit Identification, Status, Relationship and Admission
    _w("AdmissionID", "O", "2"),
    _w("IssuerOfAdmissionIDSequence", "O", "2"),
    _w("InstitutionName", "O", "3"),
    _w("CurrentPatientLocation", "O", "2"),
    _w("ReferencedPatientSequence", "O", "2"),
    _w("AdmittingDiagnosesDescription", "O", "3"),
    # Patient Identification, Demographic and Medical
    _w("PatientName", "R", "1"),
    _w("PatientID", "R", "1"),
    _w("IssuerOfPatientID", "O", "3"),
    _w("IssuerOfPatientIDQualifiersSequence", "O", "3"),
    _w("OtherPatientIDsSequence", "O", "3"),
    _w("PatientBirthDate", "O", "2"),
    _w("PatientSex", "O", "2"),
    _w("PatientWeight", "O", "2"),
    _w("PatientSize", "O", "3"),
    _w("ConfidentialityConstraintOnPatientDataDescription", "O", "2"),
    _w("EthnicGroup", "O", "3"),
    _w("Occupation", "O", "3"),
    _w("AdditionalPatientHistory", "O", "3"),
    _w("PatientComments", "O", "3"),
    _w("PatientState", "O", "2"),
    _w("PregnancyStatus", "O", "2"),
    _w("MedicalAlerts", "O", "2"),
    _w("Allergies", "O", "2"),
    _w("SpecialNeeds", "O", "2"),
)

# Attributes an Identifier may carry that are not keys: they shape the query or the response.
SPECIFIC_CHARACTER_SET = 0x00080005  # PS3.4 C.2.2.2: never matched, says how the Identifier is encoded
QUERY_RETRIEVE_LEVEL = 0x00080052
QUERY_RETRIEVE_VIEW = 0x00080053  # PS3.4 C.4.1.1.3.1: with Enhanced Multi-Frame Image Conversion
RETRIEVE_AE_TITLE = 0x00080054  # filled by the SCP (C.4.1.1.3.2)
INSTANCE_AVAILABILITY = 0x00080056  # filled by the SCP (C.4.1.1.3.2)
TIMEZONE_OFFSET_FROM_UTC = 0x00080201  # PS3.4 C.4.1.1.3.1: the timezone of the query's dates and times
RETRIEVE_URL = 0x00081190  # PS3.18: filled by the origin server

def _uid(keyword: str) -> uid.UID:
    value = uid.by_keyword(keyword)
    if value is None:  # the registry lost a keyword: fail at import
        raise InvalidTagError(f"no UID with keyword {keyword!r} in the registry")
    return value


_LEVEL_BY_NAME = {"PATIENT": Level.PATIENT, "STUDY": Level.STUDY, "SERIES": Level.SERIES, "IMAGE": Level.IMAGE}


@dataclass(frozen=True)
class InformationModel:
    """One information model: its SOP Classes, levels (top first) and key tables.

    ``unknown_value_matches`` is the rule for entities whose value of a key is zero length (unknown): in
    Query/Retrieve it matches every key value (PS3.4 C.2.2.1.2, C.2.2.1.3); in a worklist it matches none
    (PS3.4 K.2.2.1.1.1).
    """

    name: str
    find_uid: uid.UID
    move_uid: uid.UID | None
    get_uid: uid.UID | None
    levels: tuple[Level, ...]
    keys: Mapping[Level | None, tuple[KeyDef, ...]]
    unknown_value_matches: bool = True
    patient_level_in_study: bool = False  # Study Root: Patient IE attributes are keys of the STUDY level
    retired: bool = False
    sop_classes: tuple[uid.UID, ...] = field(default=(), compare=False)

    @property
    def is_worklist(self) -> bool:
        return not self.levels

    @property
    def top(self) -> Level | None:
        return self.levels[0] if self.levels else None

    def parse_level(self, text: str) -> Level | None:
        """The level named by a Query/Retrieve Level value, or None when this model has no such level."""
        level = _LEVEL_BY_NAME.get(text.strip().upper())
        return level if level in self.levels else None

    def levels_above(self, level: Level) -> tuple[Level, ...]:
        return self.levels[: self.levels.index(level)]

    def levels_below(self, level: Level) -> tuple[Level, ...]:
        return self.levels[self.levels.index(level) + 1:]

    def unique_key(self, level: Level) -> KeyDef:
        """The Unique Key of a level (PS3.4 C.2.2.1.1)."""
        return next(k for k in self.keys[level] if k.type is KeyType.UNIQUE)

    @cached_property
    def _table(self) -> dict[int, tuple[Level | None, KeyDef]]:
        table: dict[int, tuple[Level | None, KeyDef]] = {}
        for level, defs in self.keys.items():
            for d in defs:
                table.setdefault(d.tag, (level, d))
        return table

    def key(self, tag: int) -> KeyDef | None:
        """The table row of a tag (None for "all other attributes")."""
        entry = self._table.get(tag)
        return entry[1] if entry else None

    def key_type(self, tag: int) -> KeyType:
        entry = self._table.get(tag)
        return entry[1].type if entry else KeyType.OPTIONAL

    def level_of(self, tag: int) -> Level | None:
        """The level a key belongs to in this model; None when unknown (private or non-standard attributes,
        or an attribute of a level the model does not have, e.g. a series attribute in Patient/Study Only).

        The tables decide first; every other attribute takes the level of its Information Entity (PS3.3),
        with Patient attributes at the STUDY level of the Study Root model (PS3.4 C.6.2.1.2).
        """
        if self.is_worklist:
            return None
        entry = self._table.get(tag)
        if entry is not None:
            return entry[0]
        name = ATTRIBUTE_LEVELS.get(tag)
        if name is None:
            return None
        level = _LEVEL_BY_NAME[name]
        if level is Level.PATIENT and self.patient_level_in_study:
            level = Level.STUDY
        return level if level in self.levels else None

    def __repr__(self) -> str:
        return f"<InformationModel {self.name}>"


PATIENT_ROOT = InformationModel(
    "Patient Root",
    _uid("PatientRootQueryRetrieveInformationModelFind"),
    _uid("PatientRootQueryRetrieveInformationModelMove"),
    _uid("PatientRootQueryRetrieveInformationModelGet"),
    (Level.PATIENT, Level.STUDY, Level.SERIES, Level.IMAGE),
    {Level.PATIENT: PATIENT_KEYS, Level.STUDY: STUDY_KEYS, Level.SERIES: SERIES_KEYS, Level.IMAGE: IMAGE_KEYS},
)

STUDY_ROOT = InformationModel(
    "Study Root",
    _uid("StudyRootQueryRetrieveInformationModelFind"),
    _uid("StudyRootQueryRetrieveInformationModelMove"),
    _uid("StudyRootQueryRetrieveInformationModelGet"),
    (Level.STUDY, Level.SERIES, Level.IMAGE),
    {Level.STUDY: STUDY_ROOT_STUDY_KEYS, Level.SERIES: SERIES_KEYS, Level.IMAGE: IMAGE_KEYS},
    patient_level_in_study=True,
)

# Retired in PS3.4 2004 but still offered by some peers (PS3.4 C.6.3, Tables C.6-8 and C.6-9).
PATIENT_STUDY_ONLY = InformationModel(
    "Patient/Study Only",
    _uid("PatientStudyOnlyQueryRetrieveInformationModelFind"),
    _uid("PatientStudyOnlyQueryRetrieveInformationModelMove"),
    _uid("PatientStudyOnlyQueryRetrieveInformationModelGet"),
    (Level.PATIENT, Level.STUDY),
    {Level.PATIENT: PATIENT_KEYS, Level.STUDY: STUDY_KEYS},
    retired=True,
)

MODALITY_WORKLIST = InformationModel(
    "Modality Worklist",
    _uid("ModalityWorklistInformationModelFind"),
    None,
    None,
    (),
    {None: WORKLIST_KEYS},
    unknown_value_matches=False,
)

QUERY_RETRIEVE_MODELS: tuple[InformationModel, ...] = (PATIENT_ROOT, STUDY_ROOT, PATIENT_STUDY_ONLY)
MODELS: tuple[InformationModel, ...] = (*QUERY_RETRIEVE_MODELS, MODALITY_WORKLIST)

# Which SOP Class means which model and operation:
_BY_SOP_CLASS: dict[str, tuple[InformationModel, Operation]] = {}
for _model in MODELS:
    for _op, _u in ((Operation.FIND, _model.find_uid), (Operation.MOVE, _model.move_uid),
                    (Operation.GET, _model.get_uid)):
        if _u is not None:
            _BY_SOP_CLASS[str(_u)] = (_model, _op)


def model_for_sop_class(sop_class_uid: str) -> tuple[InformationModel, Operation] | None:
    """The information model and operation of a Query/Retrieve or Worklist SOP Class UID, if it is one."""
    return _BY_SOP_CLASS.get(str(sop_class_uid).strip("\x00 "))


def sop_classes(operation: Operation | None = None, *, include_retired: bool = True) -> list[uid.UID]:
    """The SOP Class UIDs of the Query/Retrieve models (and the worklist for FIND)."""
    out = []
    for text, (model, op) in _BY_SOP_CLASS.items():
        if (operation is None or op is operation) and (include_retired or not model.retired):
            out.append(uid.UID(text))
    return out


class UnknownModelError(DicomError, ValueError):
    """A name that is not one of the information models."""


MODEL_NAMES: dict[str, InformationModel] = {
    "patient": PATIENT_ROOT, "study": STUDY_ROOT, "patient-study": PATIENT_STUDY_ONLY, "worklist": MODALITY_WORKLIST,
}


def model_named(model: InformationModel | str) -> InformationModel:
    """A model by its command-line name (``patient``, ``study``, ``patient-study``, ``worklist``), its name
    (``Study Root``) or any of its SOP Class UIDs; ValueError (a DicomError) naming the choices otherwise."""
    if isinstance(model, InformationModel):
        return model
    text = str(model).strip()
    found = MODEL_NAMES.get(text.lower()) or next((m for m in MODELS if m.name.lower() == text.lower()), None)
    if found is None:
        by_uid = model_for_sop_class(text)
        found = by_uid[0] if by_uid else None
    if found is None:
        raise UnknownModelError(f"unknown information model {model!r}; choose {', '.join(MODEL_NAMES)}")
    return found


def keyword(tag: int) -> str:
    """The keyword of a tag, or its ``(gggg,eeee)`` form (for messages)."""
    return keyword_for_tag(tag) or f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
