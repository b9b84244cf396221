"""IOD validation (PS3.3 A, C; PS3.5 6, 7; PS3.10 7.1): the modules a SOP Class requires, the attributes of
each module by type, sequences and their items, VR, VM and value formats of every element, enumerated values
and defined terms, and the File Meta Information."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from ..core.dataset import Dataset
from ..core.dictionary import lookup
from ..core.element import DataElement
from ..core.errors import DicomError
from ..core.uid import UID
from ..core.vr import MULTI_STRING_VRS, NUMBER_SIZES, STRING_VRS, WORD_SIZES
from .report import ERROR, NOTE, WARNING, Finding, Report
from .tables import Attribute, ModuleUse, iod_for_sop_class
from .vr_rules import check_value, uid_root_problem, vm_allows

SOP_CLASS_UID, SOP_INSTANCE_UID = 0x00080016, 0x00080018
_CODE_VALUES = {0x00080100, 0x00080119, 0x00080120}
VALUE_TYPE, REFERENCED_CONTENT_ITEM = 0x0040A040, 0x0040DB73
# PS3.3 C.17.3 / C.18: the value attributes of SR content items are included per Value Type; the tables
# flatten the macros and lose that condition, so it is kept here.
_SR_VALUE_ATTRIBUTES: dict[int, set[str]] = {
    0x0040A300: {"NUM"}, 0x0040A301: {"NUM"},
    0x0040A168: {"CODE"},
    0x00081199: {"COMPOSITE", "IMAGE", "WAVEFORM"},
    0x00700022: {"SCOORD", "SCOORD3D"}, 0x00700023: {"SCOORD", "SCOORD3D"}, 0x0070031A: {"SCOORD", "SCOORD3D"},
    0x00480301: {"SCOORD"}, 0x30060024: {"SCOORD3D"},
    0x0040A130: {"TCOORD"}, 0x0040A132: {"TCOORD"}, 0x0040A138: {"TCOORD"}, 0x0040A13A: {"TCOORD"},
    0x0040A050: {"CONTAINER"}, 0x0040A504: {"CONTAINER"},
}
# PS3.3 A.8.1.3, A.8.2.3 ...: in the Secondary Capture IODs, Modality (0008,0060) of the General Series Module is
# Type 3 (the SC Equipment Module says so); the tables keep the General Series Module's Type 1.
_OVERRIDES: dict[tuple[str, str, int], str] = {
    (iod, "general-series", 0x00080060): "3"
    for iod in ("secondary-capture-image", "multi-frame-single-bit-secondary-capture-image",
                "multi-frame-grayscale-byte-secondary-capture-image",
                "multi-frame-grayscale-word-secondary-capture-image", "multi-frame-true-color-secondary-capture-image")
}


def camel(name: str) -> str:
    """A module name as dciodvfy writes it: "General Series" -> "GeneralSeries"."""
    words = re.split(r"[^A-Za-z0-9]+", name)
    return "".join(w[:1].upper() + w[1:] for w in words if w)


def _keyword(tag: int) -> str:
    entry = lookup(tag)
    return entry.keyword if entry and entry.keyword else f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _name(tag: int) -> str:
    entry = lookup(tag)
    return entry.name if entry else _keyword(tag)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _numbers(values: tuple[str, ...]) -> set[float] | None:
    out = {_number(v) for v in values}
    return None if None in out else {v for v in out if v is not None}


def _is_empty(elem: DataElement) -> bool:
    if str(elem.vr) == "SQ":
        return len(elem.value) == 0
    return elem.length == 0


def _texts(elem: DataElement) -> list[str]:
    """The values of a string element as text, without padding, from its bytes where it has them."""
    raw = elem.raw
    vr = str(elem.vr)
    if raw is not None and vr not in ("SH", "LO", "ST", "LT", "PN", "UC", "UT"):
        text = bytes(raw).decode("latin-1")
    else:
        value = elem.value
        if value is None or value == "":
            return []
        text = "\\".join(str(v) for v in value) if isinstance(value, tuple) else str(value)
    text = text.rstrip("\x00 ") if vr == "UI" else text.rstrip(" \x00")
    if vr in ("DS", "IS", "AE", "CS", "DA", "TM", "DT", "AS", "SH", "LO", "PN", "UC"):
        text = text.rstrip(" ")
    if text == "":
        return []
    if vr in MULTI_STRING_VRS:
        return [t.rstrip("\x00 ") if vr == "UI" else t.rstrip(" ") if vr not in ("DS", "IS") else t
                for t in text.split("\\")]
    return [text]


def _value_count(elem: DataElement) -> int:
    vr = str(elem.vr)
    if elem.length == 0:
        return 0
    if vr in STRING_VRS:
        return len(_texts(elem)) if vr in MULTI_STRING_VRS else 1
    if vr in NUMBER_SIZES:
        return elem.length // NUMBER_SIZES[vr]
    return 1


def _values(elem: DataElement) -> list[str]:
    vr = str(elem.vr)
    if vr in STRING_VRS:
        return _texts(elem)
    value = elem.value
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, tuple) else [str(value)]


class _Validator:
    def __init__(self, ds: Dataset, report: Report) -> None:
        self.ds = ds
        self.report = report
        self.covered: dict[int, str] = {}  # top-level tag -> first module that has it
        self.shared: set[int | str] = set()  # tags that several modules of the IOD define

    def add(self, severity: str, kind: str, message: str, module: str = "", tag: int | None = None,
            path: str = "") -> None:
        self.report.add(Finding(severity, kind, message, module, _keyword(tag) if tag is not None else "", path))

    # -- conditions -----------------------------------------------------------------------------------------
    def _find(self, tag: int, item: Dataset) -> DataElement | None:
        for where in (item, self.ds):
            if tag in where:
                return where[tag]
        return None

    def evaluate(self, expr: Any, item: Dataset) -> bool | None:
        """True / False where the condition can be decided from the data set, None where not."""
        if expr is None:
            return None
        op = expr[0]
        if op in ("and", "or"):
            results = [self.evaluate(e, item) for e in expr[1:]]
            if op == "and":
                return False if False in results else (None if None in results else True)
            return True if True in results else (None if None in results else False)
        tag = expr[1]
        if not isinstance(tag, int):
            return None
        elem = self._find(tag, item)
        if op == "present":
            return elem is not None
        if op == "absent":
            return elem is None
        if op == "value":
            return elem is not None and not _is_empty(elem)
        if elem is None or str(elem.vr) == "SQ":
            return False if op in ("eq", "gt") else None
        try:
            values = [v.strip() for v in _values(elem)]
        except DicomError:
            return None
        if op == "gt":
            try:
                return bool(values) and float(values[0]) > expr[2]
            except ValueError:
                return None
        wanted = {str(v) for v in expr[2]}
        index = expr[3] if len(expr) > 3 else None
        if index is not None:
            values = values[index - 1:index]
            if not values:
                return False if op == "eq" else None
        hit = any(v in wanted for v in values)
        return hit if op == "eq" else not hit

    # -- modules --------------------------------------------------------------------------------------------
    def module(self, use: ModuleUse) -> None:
        name = camel(use.name)
        if use.attributes is None:
            if use.usage == "M":
                self.add(NOTE, "no-table", f"Module <{name}> not checked: its attribute table is not in the "
                                           "shipped PS3.3 tables (2020 release)", name)
            return
        present = any(self._present(a, self.ds) for a in use.attributes
                      if use.usage == "M" or a.tag not in self.shared)
        if use.usage == "M":
            required: bool | None = True
        elif use.usage == "C":
            required = self.evaluate(use.condition, self.ds)
        else:
            required = False
        if required is None and not present:
            self.add(NOTE, "not-evaluated", f"Condition of module <{name}> not evaluated: {use.condition_text}",
                     name)
            return
        if not required and not present:
            return
        if required and not present:
            usage = "Mandatory" if use.usage == "M" else "Conditional"
            self.add(ERROR, "module-missing", f"Missing module <{name}> ({usage})", name)
        for attr in use.attributes:
            for tag in self._tags(attr, self.ds):
                self.covered.setdefault(tag, name)
        self.attributes(use.attributes, self.ds, name, "")

    @staticmethod
    def _tags(attr: Attribute, item: Dataset) -> list[int]:
        if isinstance(attr.tag, int):
            return [attr.tag]
        # a repeating group (PS3.5 7.6): every even group of the range present in the item
        pattern = attr.tag.lower()
        base = int(pattern[:2] + "00", 16)
        element = int(pattern[4:], 16)
        groups = sorted({t >> 16 for t in item.tags() if base <= t >> 16 <= base + 0x1E and not (t >> 16) & 1})
        return [(g << 16) | element for g in groups]

    def _present(self, attr: Attribute, item: Dataset) -> bool:
        return any(t in item for t in self._tags(attr, item))

    def attributes(self, attrs: tuple[Attribute, ...], item: Dataset, module: str, path: str) -> None:
        defined = {a.tag for a in attrs}
        if path and defined >= _CODE_VALUES and not any(t in item for t in _CODE_VALUES):
            # PS3.3 8.8: a code item has one of Code Value, Long Code Value and URN Code Value
            for t in sorted(_CODE_VALUES):
                self.add(ERROR, "missing", f"Missing attribute Type 1C Conditional Element=<{_keyword(t)}> "
                         f"Module=<{module}>", module, t, f"{path}{_keyword(t)}")
            attrs = tuple(a for a in attrs if a.tag not in _CODE_VALUES)
        for attr in attrs:
            tags = self._tags(attr, item)
            if not tags:
                continue  # a repeating group none of whose groups is present
            for tag in tags:
                self.attribute(attr, tag, item, module, path)

    def attribute(self, attr: Attribute, tag: int, item: Dataset, module: str, path: str) -> None:
        if tag in _SR_VALUE_ATTRIBUTES and (VALUE_TYPE in item or REFERENCED_CONTENT_ITEM in item):
            value_type = _texts(item[VALUE_TYPE]) if VALUE_TYPE in item else []
            if not value_type or value_type[0] not in _SR_VALUE_ATTRIBUTES[tag]:
                return  # not an attribute of this item's value type
        keyword = _keyword(tag)
        where = f"{path}{keyword}"
        typ = attr.type
        requirement = {"1": "Required", "2": "Required", "3": "Optional"}.get(typ, "Conditional")
        label = f"Type {typ} {requirement} Element=<{keyword}> Module=<{module}>"
        elem = item._element(tag) if tag in item else None
        if elem is None:
            if typ in ("1", "2"):
                self.add(ERROR, "missing", f"Missing attribute {label}", module, tag, where)
            elif typ in ("1C", "2C"):
                condition = attr.condition if attr.condition is not None or path else _CONDITIONS.get(tag)
                decided = self.evaluate(condition, item)
                if decided:
                    self.add(ERROR, "missing", f"Missing attribute {label}", module, tag, where)
                elif decided is None and path == "":
                    self.add(NOTE, "not-evaluated", f"Condition not evaluated for absent {label}: "
                                                    f"{attr.condition_text or '(no condition text)'}",
                             module, tag, where)
            return
        try:
            empty = _is_empty(elem)
        except DicomError as exc:
            self.add(ERROR, "unreadable", f"Cannot read {where}: {exc}", module, tag, where)
            return
        if empty:
            if typ in ("1", "1C"):
                self.add(ERROR, "empty", f"Empty attribute (no value) {label}", module, tag, where)
            elif str(elem.vr) == "SQ" and typ == "3" and attr.items is not None and attr.items[0] > 0:
                self.add(ERROR, "sequence-items", f"Bad Sequence number of Items 0 ({attr.items[0]}-n Required by "
                         f"Module definition) Element=<{keyword}> Module=<{module}>", module, tag, where)
            return
        if attr.enumeration is not None and str(elem.vr) != "SQ":
            self.enumeration(attr, elem, module)
        if str(elem.vr) == "SQ":
            items = elem.value
            if attr.items is not None:
                low, high = attr.items
                if len(items) < low or (high is not None and len(items) > high):
                    wanted = f"{low}-n" if high is None else (str(low) if low == high else f"{low}-{high}")
                    self.add(ERROR, "sequence-items", f"Bad Sequence number of Items {len(items)} ({wanted} "
                             f"Required by Module definition) Element=<{keyword}> Module=<{module}>",
                             module, tag, where)
            for i, sub in enumerate(items, 1):
                self.attributes(attr.children, sub, module, f"{where}[{i}].")

    def enumeration(self, attr: Attribute, elem: DataElement, module: str) -> None:
        assert attr.enumeration is not None
        kind, allowed = attr.enumeration
        allowed_set = set(allowed)
        try:
            values = _values(elem)
        except DicomError:
            return
        for i, value in enumerate(values, 1):
            v = value.strip()
            if v == "" or v in allowed_set:
                continue
            if str(elem.vr) in ("US", "SS", "UL", "SL", "IS", "DS") and _numbers(allowed) is not None and \
                    _number(v) in (_numbers(allowed) or ()):
                continue  # 4 and 0004 are one value
            if " " in v and all(w in allowed_set for w in v.split()):
                continue  # a value of several words (PALETTE COLOR) read as separate terms from the prose
            if kind == "E":
                self.add(ERROR, "enumerated", f"Unrecognized enumerated value <{v}> for value {i} of attribute "
                         f"<{_name(elem.tag)}>", module, elem.tag)
            else:
                self.add(WARNING, "defined-term", f"Unrecognized defined term <{v}> for value {i} of attribute "
                         f"<{_name(elem.tag)}>", module, elem.tag)

    # -- functional groups (PS3.3 C.7.6.16) -----------------------------------------------------------------
    def functional_groups(self, macros: tuple[ModuleUse, ...]) -> None:
        """Each frame's functional groups are its Per-frame item and the Shared item together; every macro the
        IOD requires is in one of them, and its attributes are checked where it is."""
        if not macros or 0x52009230 not in self.ds:
            return
        shared_items = self.ds.value(0x52009229) or []
        shared = shared_items[0] if shared_items else Dataset()
        for frame, per_frame in enumerate(self.ds.value(0x52009230) or [], 1):
            for use in macros:
                if use.attributes is None:
                    continue
                name = camel(use.name)
                for attr in use.attributes:
                    tags = self._tags(attr, shared)
                    where_shared = any(t in shared for t in tags)
                    item, label = (shared, "SharedFunctionalGroupsSequence[1].") if where_shared else \
                        (per_frame, f"PerFrameFunctionalGroupsSequence[{frame}].")
                    if not where_shared and not self._present(attr, per_frame):
                        required = use.usage == "M" or (use.usage == "C" and self.evaluate(use.condition, per_frame))
                        if required:
                            self.add(ERROR, "missing", f"Missing attribute Type 1 Required Element=<"
                                     f"{_keyword(attr.tag) if isinstance(attr.tag, int) else attr.tag}> "
                                     f"Module=<{name}Macro>", name, attr.tag if isinstance(attr.tag, int) else None,
                                     f"{label}{_keyword(attr.tag) if isinstance(attr.tag, int) else attr.tag}")
                        continue
                    if where_shared and frame > 1:
                        continue  # the shared item is checked once
                    self.attributes((attr,), item, f"{name}Macro", label)

    # -- every element --------------------------------------------------------------------------------------
    def elements(self, item: Dataset, path: str, top: bool) -> None:
        for tag in item.tags():
            group = tag >> 16
            if group & 1 or (tag & 0xFFFF) == 0 or group in (0x0000, 0xFFFE):
                continue  # private, group lengths, items
            try:
                elem = item[tag]
            except DicomError as exc:
                self.add(ERROR, "unreadable", f"Cannot read {path}{_keyword(tag)}: {exc}", "", tag)
                continue
            module = self.covered.get(tag, "") if top else ""
            self.element(elem, module, f"{path}{_keyword(tag)}")
            if str(elem.vr) == "SQ":
                try:
                    items = elem.value
                except DicomError as exc:
                    self.add(ERROR, "unreadable", f"Cannot read {path}{_keyword(tag)}: {exc}", module, tag)
                    continue
                for i, sub in enumerate(items, 1):
                    self.elements(sub, f"{path}{_keyword(tag)}[{i}].", False)

    def element(self, elem: DataElement, module: str, where: str) -> None:
        tag = int(elem.tag)
        entry = lookup(tag)
        vr = str(elem.vr)
        keyword = _keyword(tag)
        if entry is None or entry.vr == "NONE":
            return
        allowed = [v.strip() for v in entry.vr.split(" or ")]
        if vr not in allowed and vr != "UN":
            self.add(ERROR, "vr", f"Invalid Value Representation {vr} ({entry.vr} Required) Element=<{keyword}> "
                     f"Module=<{module}>", module, tag, where)
            return
        if vr == "SQ" or vr == "UN":
            return
        try:
            count = _value_count(elem)
        except DicomError as exc:
            self.add(ERROR, "unreadable", f"Cannot read {where}: {exc}", module, tag, where)
            return
        if count and not vm_allows(entry.vm, count):
            self.add(ERROR, "vm", f"Bad attribute Value Multiplicity {count} ({entry.vm} Required by Dictionary) "
                     f"Element=<{keyword}> Module=<{module}>", module, tag, where)
        size = NUMBER_SIZES.get(vr) or WORD_SIZES.get(vr)
        if size and elem.length % size and not elem.is_undefined_length:
            self.add(ERROR, "value", f"Value length {elem.length} of {where} is not a multiple of {size} "
                     f"for VR {vr}", module, tag, where)
        if vr not in STRING_VRS:
            return
        label = f"(0x{tag >> 16:04x},0x{tag & 0xFFFF:04x}) {vr} {entry.name}"
        for i, value in enumerate(_texts(elem), 1):
            for problem in check_value(vr, value):
                self.add(ERROR, "value", f"Value invalid for this VR - {label}  {vr} [{i}] = <{value}> - "
                         f"{problem}", module, tag, where)
            root = uid_root_problem(value) if vr == "UI" else None
            if root is not None:
                self.add(ERROR, "uid-root", f"{root} in (0x{tag >> 16:04x},0x{tag & 0xFFFF:04x}) {entry.name}",
                         module, tag, where)

    def not_in_iod(self) -> None:
        for tag in self.ds.tags():
            group = tag >> 16
            if group & 1 or group in (0x0000, 0x0002, 0xFFFE) or (tag & 0xFFFF) == 0 or tag in self.covered:
                continue
            entry = lookup(tag)
            vr = entry.vr if entry else "UN"
            name = entry.name if entry else ""
            self.add(WARNING, "not-in-iod", f"Attribute is not present in standard DICOM IOD - "
                     f"(0x{group:04x},0x{tag & 0xFFFF:04x}) {vr} {name}", "", tag, _keyword(tag))


# PS3.10 Table 7.1-1 File Meta Information
_META = ((0x00020000, "1"), (0x00020001, "1"), (0x00020002, "1"), (0x00020003, "1"), (0x00020010, "1"),
         (0x00020012, "1"), (0x00020013, "3"), (0x00020016, "3"), (0x00020017, "3"), (0x00020018, "3"),
         (0x00020100, "3"), (0x00020102, "1C"))


def _file_meta(v: _Validator, meta: Dataset | None) -> None:
    module = "FileMetaInformation"
    meta = meta if meta is not None else Dataset()
    for tag, typ in _META:
        label = f"Type {typ} {'Required' if typ == '1' else 'Optional'} Element=<{_keyword(tag)}> Module=<{module}>"
        if tag not in meta:
            if typ == "1":
                v.add(ERROR, "missing", f"Missing attribute {label}", module, tag, _keyword(tag))
            continue
        elem = meta[tag]
        if typ == "1" and _is_empty(elem):
            v.add(ERROR, "empty", f"Empty attribute (no value) {label}", module, tag, _keyword(tag))
        v.element(elem, module, _keyword(tag))
    for meta_tag, tag, what in ((0x00020002, SOP_CLASS_UID, "SOPClassUID"),
                                (0x00020003, SOP_INSTANCE_UID, "SOPInstanceUID")):
        if meta_tag in meta and tag in v.ds:
            a, b = _texts(meta[meta_tag]), _texts(v.ds[tag])
            if a and b and a != b:
                v.add(ERROR, "meta", f"{_keyword(meta_tag)} different from {what}", module, meta_tag)


# Conditions whose prose the generator cannot read, written out here (top-level attributes):
_CONDITIONS: dict[int, Any] = {
    # PS3.3 C.7.6.1 Patient Orientation (2C): "Required if image does not require Image Orientation (Patient)
    # and Image Position (Patient)": an image that needs them has them, at the top level or, in a multi-frame
    # image with functional groups, per frame (their absence is reported apart).
    0x00200020: ["and", ["absent", 0x00200037], ["absent", 0x52009229]],
    # PS3.3 C.7.3.1 Patient Position (2C): "Required for images where Patient Orientation Code Sequence
    # (0054,0410) is not present and whose SOP Class is one of" CT, Enhanced CT, MR, Enhanced MR, Enhanced
    # Color MR or MR Spectroscopy.
    0x00185100: ["and", ["absent", 0x00540410],
                 ["eq", 0x00080016, ["1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.2.1",
                                     "1.2.840.10008.5.1.4.1.1.4", "1.2.840.10008.5.1.4.1.1.4.1",
                                     "1.2.840.10008.5.1.4.1.1.4.3", "1.2.840.10008.5.1.4.1.1.4.2"], None]],
}


def _override(iod_id: str, use: ModuleUse) -> ModuleUse:
    if use.attributes is None or not any(k[0] == iod_id and k[1] == use.module_id for k in _OVERRIDES):
        return use
    attrs = tuple(replace(a, type=_OVERRIDES.get((iod_id, use.module_id, a.tag), a.type)) if isinstance(a.tag, int)
                  else a for a in use.attributes)
    return replace(use, attributes=attrs)


def validate(ds: Dataset, *, source: str = "", file_meta: bool | None = None) -> Report:
    """Validate ``ds`` against the IOD of its SOP Class; ``file_meta`` checks the File Meta Information too
    (by default when the data set was read from a file)."""
    report = Report(source or (ds.filename or ""))
    v = _Validator(ds, report)
    if (file_meta if file_meta is not None else ds.filename is not None) and ds.file_meta is not None \
            and len(ds.file_meta):
        _file_meta(v, ds.file_meta)
    sop_class = _texts(ds[SOP_CLASS_UID]) if SOP_CLASS_UID in ds else []
    iod = iod_for_sop_class(sop_class[0]) if sop_class else None
    if iod is None:
        report.iod = ""
        v.add(ERROR, "unknown-iod", "Information Object Not found" +
              (f" for SOP Class UID {sop_class[0]}" if sop_class else " (no SOP Class UID (0008,0016))"))
        v.elements(ds, "", True)
        return report
    report.iod = camel(iod.name)
    if UID(sop_class[0]).is_retired:
        name = UID(sop_class[0]).name or sop_class[0]
        v.add(WARNING, "retired", f"SOP Class {name} is retired: its IOD is no longer in PS3.3; only the element "
              "checks were made")
        v.elements(ds, "", True)
        return report
    seen: set[int | str] = set()
    for use in iod.modules:
        for a in use.attributes or ():
            (v.shared if a.tag in seen else seen).add(a.tag)
    for use in iod.modules:
        v.module(_override(iod.iod_id, use))
    v.functional_groups(iod.functional_groups)
    v.elements(ds, "", True)
    if all(use.attributes is not None for use in iod.modules):
        v.not_in_iod()
    return report


__all__ = ["camel", "validate"]
