"""Information models, key tables and attribute levels (PS3.4 C.6, K.6), and the generated level table."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from dicomkit.core import uid
from dicomkit.core.dictionary import keyword_for_tag
from dicomkit.services.query_retrieve import levels
from dicomkit.services.query_retrieve.levels import (
    MODALITY_WORKLIST,
    MODELS,
    PATIENT_ROOT,
    PATIENT_STUDY_ONLY,
    STUDY_ROOT,
    KeyDef,
    KeyType,
    Operation,
    QueryRetrieveLevel,
    model_for_sop_class,
    sop_classes,
)

from ...conftest import ROOT, SHARED

L = QueryRetrieveLevel


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_sop_classes_are_the_registry_entries(model: levels.InformationModel) -> None:
    for operation, value in ((Operation.FIND, model.find_uid), (Operation.MOVE, model.move_uid),
                             (Operation.GET, model.get_uid)):
        if value is None:
            continue
        entry = value.entry
        assert entry is not None and entry.type == "SOP Class"
        assert entry.name.startswith(model.name) and entry.name.upper().endswith(operation.value)
        assert model_for_sop_class(str(value)) == (model, operation)
        assert entry.retired == model.retired


def test_sop_class_lists() -> None:
    assert set(sop_classes(Operation.MOVE)) == {PATIENT_ROOT.move_uid, STUDY_ROOT.move_uid, PATIENT_STUDY_ONLY.move_uid}
    assert PATIENT_STUDY_ONLY.find_uid not in sop_classes(Operation.FIND, include_retired=False)
    assert MODALITY_WORKLIST.find_uid in sop_classes(Operation.FIND)
    assert model_for_sop_class(str(uid.CTImageStorage)) is None


def _walk(defs: tuple[KeyDef, ...]) -> list[KeyDef]:
    out = []
    for d in defs:
        out.append(d)
        out.extend(_walk(d.items))
    return out


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_key_tables_name_dictionary_attributes(model: levels.InformationModel) -> None:
    for defs in model.keys.values():
        for d in _walk(defs):
            assert keyword_for_tag(d.tag) == d.keyword
        if not model.is_worklist:
            assert sum(d.type is KeyType.UNIQUE for d in defs) == 1  # PS3.4 C.2.2.1.1: one unique key a level


def test_unique_and_required_keys() -> None:
    assert [PATIENT_ROOT.unique_key(lv).keyword for lv in PATIENT_ROOT.levels] == [
        "PatientID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"]
    assert STUDY_ROOT.levels == (L.STUDY, L.SERIES, L.IMAGE)
    assert STUDY_ROOT.key_type(0x00100020) is KeyType.REQUIRED  # PatientID: Table C.6-5
    assert PATIENT_ROOT.key_type(0x00100020) is KeyType.UNIQUE
    assert STUDY_ROOT.key_type(0x00080020) is KeyType.REQUIRED  # StudyDate
    assert STUDY_ROOT.key_type(0x00081030) is KeyType.OPTIONAL  # StudyDescription
    assert STUDY_ROOT.key_type(0x00181030) is KeyType.OPTIONAL  # ProtocolName: "all other attributes"
    required_wl = [d.keyword for d in _walk(MODALITY_WORKLIST.keys[None]) if d.type is KeyType.REQUIRED]
    assert required_wl == ["ScheduledProcedureStepSequence", "ScheduledStationAETitle",
                           "ScheduledProcedureStepStartDate", "ScheduledProcedureStepStartTime", "Modality",
                           "ScheduledPerformingPhysicianName", "PatientName", "PatientID"]


@pytest.mark.parametrize(("keyword", "patient_root", "study_root"), [
    ("PatientName", L.PATIENT, L.STUDY),
    ("PatientBirthDate", L.PATIENT, L.STUDY),
    ("PatientAge", L.STUDY, L.STUDY),  # Patient Study module: a study attribute (Table C.6-2)
    ("StudyDescription", L.STUDY, L.STUDY),
    ("Modality", L.SERIES, L.SERIES),
    ("BodyPartExamined", L.SERIES, L.SERIES),
    ("FrameOfReferenceUID", L.SERIES, L.SERIES),
    ("Manufacturer", L.SERIES, L.SERIES),  # Equipment IE
    ("ImageType", L.IMAGE, L.IMAGE),
    ("SOPClassUID", L.IMAGE, L.IMAGE),
    ("ConvolutionKernel", L.IMAGE, L.IMAGE),
])
def test_attribute_levels(keyword: str, patient_root: L, study_root: L) -> None:
    from dicomkit.core.dictionary import tag_for_keyword

    tag = tag_for_keyword(keyword)
    assert tag is not None
    assert PATIENT_ROOT.level_of(tag) is patient_root
    assert STUDY_ROOT.level_of(tag) is study_root


def test_levels_a_model_does_not_have() -> None:
    assert PATIENT_STUDY_ONLY.level_of(0x0020000E) is None  # SeriesInstanceUID
    assert PATIENT_STUDY_ONLY.parse_level("series") is None
    assert STUDY_ROOT.parse_level(" study ") is L.STUDY
    assert PATIENT_ROOT.level_of(0x00091001) is None  # private
    assert MODALITY_WORKLIST.level_of(0x00100010) is None
    assert PATIENT_ROOT.levels_above(L.SERIES) == (L.PATIENT, L.STUDY)
    assert PATIENT_ROOT.levels_below(L.SERIES) == (L.IMAGE,)
    assert [lv.depth for lv in L] == [0, 1, 2, 3]


def _load_generator() -> object:
    path = ROOT / "tools" / "generate_qr_levels.py"
    spec = importlib.util.spec_from_file_location("generate_qr_levels", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate_qr_levels"] = module
    spec.loader.exec_module(module)
    return module


def test_generated_levels_are_up_to_date() -> None:
    std = SHARED / "standard"
    if not (std / "module_attributes.json").is_file():
        pytest.skip(f"the PS3.3 tables are not at {std} (CI provides ../shared/standard)")
    generator = _load_generator()
    shipped = Path(levels.__file__).with_name("_attribute_levels.py").read_text(encoding="utf-8")
    assert generator.generate(std) == shipped  # type: ignore[attr-defined]
