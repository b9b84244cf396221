"""Applying the profile to a data set in memory (PS3.15 E.1.1), recursing into every sequence item.

Only what the profile says to change is touched: elements are looked up by tag in the resolved table and
decoded only when their value must change, so everything else goes out as the bytes it came in with.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import __version__
from ..core.dataset import Dataset
from ..core.element import DataElement
from ..core.errors import InvalidValueError
from ..core.sequence import Sequence
from ..core.tag import is_private_group
from ..core.vr import VR
from .burned_in import burned_in_reason, mask_regions
from .clean import DUMMY, Cleaner, identifiers
from .dates import shift_da, shift_dt
from .private_safe import PRIVATE_DATA_ELEMENT_CHARACTERISTICS, SAFE_BLOCKS, declared_safe
from .profile import CONFORMANCE_ACTIONS, BurnedInAnnotationError, Options, Profile, conformance_action, iod_table
from .uids import STRUCTURAL_UID_TAGS, MappingTable, Pseudonymizer

PATIENT_NAME = 0x00100010
PATIENT_ID = 0x00100020
SOP_CLASS_UID = 0x00080016
PATIENT_IDENTITY_REMOVED = 0x00120062
DEIDENTIFICATION_METHOD = 0x00120063
DEIDENTIFICATION_METHOD_CODE_SEQUENCE = 0x00120064
LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED = 0x00280303
BURNED_IN_ANNOTATION = 0x00280301
OVERLAY_DATA = 0x60003000
# PS3.3 C.12.2 Common Instance Reference Module: when present, the references it lists must stay resolvable.
REFERENCED_SERIES_SEQUENCE = 0x00081115
STUDIES_CONTAINING_OTHER_REFERENCED_INSTANCES = 0x00081200

_SQ, _UI, _DA, _DT, _TM, _AE, _PN, _CS = VR.SQ, VR.UI, VR.DA, VR.DT, VR.TM, VR.AE, VR.PN, VR.CS
_TEXT = frozenset({VR.LO, VR.SH, VR.ST, VR.LT, VR.UT, VR.UC})
# What "dummy" mode (action D on a sequence) replaces in the items: every value that can carry text.
_DUMMY_VRS = _TEXT | {VR.PN, VR.DA, VR.DT, VR.TM, VR.AS, VR.AE, VR.DS, VR.IS, VR.UR}

NORMAL, CLEAN, DUMMY_MODE = 0, 1, 2

DEFAULT_METHOD = f"dicomkit {__version__}: PS3.15 Annex E Basic Profile"


def _length(ds: Dataset, tag: int) -> int:
    """The value length of an element, without decoding it."""
    entry = ds._elements[tag]
    return int(entry[2]) if entry.__class__ is tuple else int(entry.length)


class _Instance:
    """What one de-identification of one data set needs to know."""

    __slots__ = ("cleaner", "days", "patient_id", "references", "types", "zero_as_dummy")

    def __init__(self, types: dict[int, int], days: int, cleaner: Cleaner | None, patient_id: str,
                 references: bool, zero_as_dummy: bool = False) -> None:
        self.zero_as_dummy = zero_as_dummy
        self.types = types
        self.references = references
        self.days = days
        self.cleaner = cleaner
        self.patient_id = patient_id


class Deidentifier:
    """The Basic Application Level Confidentiality Profile with the given :class:`Options`.

    >>> deid = Deidentifier(Options(dates="shift"), key="a secret")
    >>> clean = deid.apply(ds)            # a de-identified copy; ds is left as it was
    >>> deid.apply_file("in.dcm", "out/in.dcm")

    The same key gives the same replacement UIDs, patient pseudonyms and date offsets in every run and
    process; ``table`` collects the replacements (see :class:`MappingTable`) for re-identification.
    """

    def __init__(self, options: Options | None = None, *, key: str | bytes | None = None,
                 table: MappingTable | None = None, method: str = DEFAULT_METHOD) -> None:
        self.options = options or Options()
        self.profile = Profile(self.options)
        self.pseudonyms = Pseudonymizer(key, table=table)
        if len(method) > 64:
            raise InvalidValueError("De-identification Method (LO) holds at most 64 characters")
        self.method = method
        o = self.options
        self._needs_cleaner = (o.clean_descriptors or o.clean_structured_content or o.clean_graphics
                               or o.retain_patient_characteristics or o.retain_device_identity)
        self._actions: dict[str, Callable[[Dataset, int, VR, _Instance, int, int], None]] = {
            "X": self._remove, "Z": self._zero, "D": self._dummy, "K": self._keep, "C": self._clean,
            "U": self._uid, "U*": self._keep,
        }

    @property
    def table(self) -> MappingTable:
        return self.pseudonyms.table

    # -- public API ------------------------------------------------------------------------------------
    def apply(self, ds: Dataset, *, in_place: bool = False, mark: bool = True, dicomdir: bool = False) -> Dataset:
        """The de-identified data set (a copy unless ``in_place``).

        Raises :class:`BurnedInAnnotationError` when the pixel data may carry burned-in identification
        (Burned In Annotation YES, or absent for US, SC and XA) and neither ``Options.mask`` nor
        ``Options.allow_burned_in`` says what to do. ``mark=False`` leaves out the attributes that record
        the de-identification; ``dicomdir=True`` treats the data set as a DICOMDIR, whose record keys are
        mostly Type 1 (PS3.3 F.5): values the profile would empty (Z) get dummies (D) instead.
        """
        options = self.options
        reason = burned_in_reason(ds)
        if reason is not None and not options.mask and not options.allow_burned_in:
            raise BurnedInAnnotationError(f"pixel data may carry burned-in identification ({reason}); "
                                          "mask regions or allow it (--mask, --allow-burned-in)")
        out = ds if in_place else ds.copy()
        original_id = str(ds.get("PatientID") or "")
        days = self.pseudonyms.date_offset(original_id) if options.dates == "shift" else 0
        cleaner = Cleaner(identifiers(ds)) if self._needs_cleaner else None
        # X/Z/U* sequences are kept (with their UIDs replaced) when a Common Instance Reference Module lists
        # what they reference: removing them would leave it listing references nothing makes.
        references = REFERENCED_SERIES_SEQUENCE in ds or STUDIES_CONTAINING_OTHER_REFERENCED_INSTANCES in ds
        inst = _Instance(iod_table(ds.get("SOPClassUID")), days, cleaner, original_id.strip(), references, dicomdir)
        masked = mask_regions(out, options.mask) if options.mask and self._has_pixels(ds) else False
        self._dataset(out, inst, 0, NORMAL)
        if mark:
            self._mark(out, masked)
        out.file_meta = self._file_meta(out)
        out.preamble = None  # PS3.15 E.1.1 item 7: the preamble is replaced
        return out

    def apply_file(self, src: Any, dst: Any, **options: Any) -> None:
        """De-identify a file (or a DICOMDIR with its records) into ``dst``, written atomically."""
        from .files import deidentify_file

        deidentify_file(self, src, dst, **options)

    # -- the walk --------------------------------------------------------------------------------------
    @staticmethod
    def _has_pixels(ds: Dataset) -> bool:
        return 0x7FE00010 in ds or 0x7FE00008 in ds or 0x7FE00009 in ds

    def _dataset(self, ds: Dataset, inst: _Instance, parent: int, mode: int) -> None:
        elements = ds._elements
        profile_action = self.profile.action
        retain_uids = self.options.retain_uids
        shifting = self.options.dates == "shift"
        private: list[int] = []
        for tag in list(elements):
            if tag >> 16 & 1 and is_private_group(tag >> 16):
                private.append(tag)
                continue
            vr = ds.vr_of(tag)
            if vr is None:
                continue  # removed with its overlay plane
            action = profile_action(tag)
            if action is None:
                if vr is _SQ:
                    self._items(ds, tag, inst, mode)
                elif vr is _UI:
                    if not retain_uids and tag not in STRUCTURAL_UID_TAGS:
                        self._uid(ds, tag, vr, inst, parent, mode)
                elif mode == DUMMY_MODE:
                    if vr in _DUMMY_VRS and tag & 0xFFFF:
                        self._dummy(ds, tag, vr, inst, parent, mode)
                elif mode == CLEAN:
                    if vr in _TEXT or vr is _PN:
                        self._clean(ds, tag, vr, inst, parent, mode)
                    elif shifting and (vr is _DA or vr is _DT):
                        self._shift(ds, tag, vr, inst)
                elif shifting and (vr is _DA or vr is _DT):
                    self._shift(ds, tag, vr, inst)
                continue
            if action in CONFORMANCE_ACTIONS:
                if action == "X/Z/U*" and inst.references:
                    action = "U*"
                else:
                    action = conformance_action(action, inst.types.get((parent << 32) | tag))
            elif action == "X" and tag & 0xFF00FFFF == OVERLAY_DATA:
                self._remove_overlay(ds, tag)
                continue
            if mode == DUMMY_MODE and action == "K" and vr in _DUMMY_VRS:
                action = "D"
            self._actions[action](ds, tag, vr, inst, parent, mode)
        if private:
            self._private(ds, private, inst, mode)

    def _items(self, ds: Dataset, tag: int, inst: _Instance, mode: int) -> None:
        seq = ds[tag].value
        for item in seq:
            self._dataset(item, inst, tag, mode)

    # -- actions (PS3.15 E.1.1) ----------------------------------------------------------------------------
    def _remove(self, ds: Dataset, tag: int, vr: VR, inst: _Instance, parent: int, mode: int) -> None:
        ds._elements.pop(tag, None)

    @staticmethod
    def _remove_overlay(ds: Dataset, tag: int) -> None:
        """Overlay Data goes (X), and with it the rest of its Overlay Plane (PS3.3 C.9.2), which would be
        incomplete without it."""
        group = tag >> 16
        for other in [t for t in ds._elements if t >> 16 == group]:
            del ds._elements[other]

    def _zero(self, ds: Dataset, tag: int, vr: VR, inst: _Instance, parent: int, mode: int) -> None:
        if tag in (PATIENT_ID, PATIENT_NAME):
            self._pseudonym(ds, tag, vr, inst)  # Z allows a dummy: a keyed pseudonym keeps a patient together
            return
        if inst.zero_as_dummy and vr is not _SQ and _length(ds, tag):
            self._dummy(ds, tag, vr, inst, parent, mode)
            return
        if vr is _SQ:
            ds._elements[tag] = DataElement(tag, vr, Sequence())
        elif _length(ds, tag):
            ds._elements[tag] = DataElement(tag, vr, None)

    def _dummy(self, ds: Dataset, tag: int, vr: VR, inst: _Instance, parent: int, mode: int) -> None:
        if vr is _SQ:
            self._items(ds, tag, inst, DUMMY_MODE)
            return
        if vr is _UI:
            self._uid(ds, tag, vr, inst, parent, mode)
            return
        if (tag in (PATIENT_ID, PATIENT_NAME)) and self._pseudonym(ds, tag, vr, inst):
            return
        if (vr is _DA or vr is _DT) and self.options.dates == "shift" and ds[tag].length:
            self._shift(ds, tag, vr, inst)
            return
        ds._elements[tag] = DataElement(tag, vr, DUMMY.get(vr))

    def _keep(self, ds: Dataset, tag: int, vr: VR, inst: _Instance, parent: int, mode: int) -> None:
        if vr is _SQ:
            self._items(ds, tag, inst, mode)

    def _clean(self, ds: Dataset, tag: int, vr: VR, inst: _Instance, parent: int, mode: int) -> None:
        if vr is _SQ:
            self._items(ds, tag, inst, CLEAN if mode != DUMMY_MODE else mode)
        elif vr is _DA or vr is _DT:
            if self.options.dates == "shift":
                self._shift(ds, tag, vr, inst)
        elif vr is _TM:
            return  # whole-day shifts keep times (PS3.15 E.3.6 Note 4)
        elif vr is _UI:
            self._uid(ds, tag, vr, inst, parent, mode)
        elif vr is _AE:
            value = ds[tag].value
            if value:
                values = value if isinstance(value, tuple) else (value,)
                ds._elements[tag] = DataElement(tag, vr, [("AE" + self.pseudonyms.text("ae", v, 14)) if v else ""
                                                          for v in values])
        elif vr is _PN:
            if ds[tag].length:
                ds._elements[tag] = DataElement(tag, vr, DUMMY["PN"])
        elif vr in _TEXT and inst.cleaner is not None:
            elem = ds[tag]
            if elem.length:
                value = elem.value
                cleaned = inst.cleaner.value(value)
                if cleaned != value:
                    ds._elements[tag] = DataElement(tag, vr, cleaned)

    def _uid(self, ds: Dataset, tag: int, vr: VR, inst: _Instance, parent: int, mode: int) -> None:
        if vr is _SQ:
            self._items(ds, tag, inst, mode)
            return
        if vr is not _UI:
            return
        if not _length(ds, tag):
            return
        value = ds[tag].value
        uid = self.pseudonyms.uid
        if isinstance(value, tuple):
            new: Any = [uid(str(v)) for v in value]
            if new == [str(v) for v in value]:
                return
        else:
            new = uid(str(value))
            if new == str(value):
                return
        ds._elements[tag] = DataElement(tag, vr, new)

    def _shift(self, ds: Dataset, tag: int, vr: VR, inst: _Instance) -> None:
        if not _length(ds, tag):
            return
        elem = ds[tag]
        shift = shift_da if vr is _DA else shift_dt
        value = elem.value
        if isinstance(value, tuple):
            ds._elements[tag] = DataElement(tag, vr, [shift(str(v), inst.days) for v in value])
        else:
            ds._elements[tag] = DataElement(tag, vr, shift(str(value), inst.days) or None)

    def _pseudonym(self, ds: Dataset, tag: int, vr: VR, inst: _Instance) -> bool:
        elem = ds[tag]
        original = str(elem.value or "").strip() if elem.length else ""
        if not original:
            if elem.length:
                ds._elements[tag] = DataElement(tag, vr, None)
            return False
        if tag == PATIENT_NAME and inst.patient_id:
            value = self.pseudonyms.patient_id(inst.patient_id)  # the name is the Patient ID's pseudonym
        elif tag == PATIENT_NAME:
            value = self.pseudonyms.patient_id("name:" + original)
        else:
            value = self.pseudonyms.patient_id(original)
        limit = vr.max_length
        ds._elements[tag] = DataElement(tag, vr, value[:limit] if limit else value)  # e.g. an ID sent as SH
        return True

    # -- private attributes (PS3.15 E.3.10) -----------------------------------------------------------------
    def _private(self, ds: Dataset, tags: list[int], inst: _Instance, mode: int) -> None:
        """Private attributes go (Table E.1-1, last row) unless kept: by ``keep``, or under the Retain Safe
        Private Option when Table E.3.10-1 or the data set itself (0008,0300) says they are safe. A kept
        element keeps the Private Creator that reserves its block (PS3.5 7.8.1)."""
        elements = ds._elements
        keep_tags = self.options.keep
        safe = self.profile.private == "C"
        declared = declared_safe(ds.get("PrivateDataElementCharacteristicsSequence")) \
            if safe and PRIVATE_DATA_ELEMENT_CHARACTERISTICS in elements else {}
        creators: dict[int, str] = {}
        if safe:
            for tag in tags:
                if 0x10 <= tag & 0xFFFF <= 0xFF:
                    value = ds[tag].value
                    text = value.decode("latin_1") if isinstance(value, bytes) else str(value)
                    creators[tag] = text.strip(" \x00")
        kept_blocks: set[int] = set()
        for tag in tags:
            elem_no = tag & 0xFFFF
            if 0x10 <= elem_no <= 0xFF:
                continue
            keep = tag in keep_tags
            if not keep and safe and elem_no >= 0x1000:
                creator = creators.get((tag & 0xFFFF0000) | (elem_no >> 8))
                if creator is not None:
                    key = (tag >> 16, creator)
                    offsets = SAFE_BLOCKS.get(key)
                    declared_offsets = declared.get(key, ())
                    keep = (offsets is not None and elem_no & 0xFF in offsets) or (key in declared and (
                        declared_offsets is None or elem_no & 0xFF in declared_offsets))
            if keep:
                kept_blocks.add((tag & 0xFFFF0000) | (elem_no >> 8))
                if ds.vr_of(tag) is _SQ:
                    self._items(ds, tag, inst, mode)
            else:
                del elements[tag]
        for tag in tags:
            if 0x10 <= tag & 0xFFFF <= 0xFF and tag not in kept_blocks and tag not in keep_tags:
                del elements[tag]

    # -- what the de-identification records (PS3.15 E.1.1 items 6, 7; E.3.6) -----------------------------
    def _mark(self, ds: Dataset, masked: bool) -> None:
        options = self.options
        ds._elements[PATIENT_IDENTITY_REMOVED] = DataElement(PATIENT_IDENTITY_REMOVED, VR.CS, "YES")
        methods: list[str] = []
        if DEIDENTIFICATION_METHOD in ds._elements:
            old = ds[DEIDENTIFICATION_METHOD].value
            methods = [str(v) for v in (old if isinstance(old, tuple) else (old,)) if v]
        if self.method not in methods:
            methods.append(self.method)
        ds._elements[DEIDENTIFICATION_METHOD] = DataElement(DEIDENTIFICATION_METHOD, VR.LO, methods)
        items = list(ds[DEIDENTIFICATION_METHOD_CODE_SEQUENCE].value) \
            if DEIDENTIFICATION_METHOD_CODE_SEQUENCE in ds._elements else []
        present = {(str(i.get("CodeValue") or ""), str(i.get("CodingSchemeDesignator") or "")) for i in items}
        for value, meaning in options.method_codes(pixels_cleaned=masked):
            if (value, "DCM") in present:
                continue
            item = Dataset()
            item.add(DataElement(0x00080100, VR.SH, value))
            item.add(DataElement(0x00080102, VR.SH, "DCM"))
            item.add(DataElement(0x00080104, VR.LO, meaning))
            items.append(item)
        ds._elements[DEIDENTIFICATION_METHOD_CODE_SEQUENCE] = DataElement(
            DEIDENTIFICATION_METHOD_CODE_SEQUENCE, VR.SQ, Sequence(items))
        status = {"remove": "REMOVED", "keep": "UNMODIFIED", "shift": "MODIFIED"}[options.dates]
        if LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED in ds._elements:  # de-identified before: say the most
            ranks = ("UNMODIFIED", "MODIFIED", "REMOVED")
            before = str(ds[LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED].value or "").strip()
            if before in ranks and ranks.index(before) > ranks.index(status):
                status = before
        ds._elements[LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED] = DataElement(
            LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED, VR.CS, status)
        if masked:
            ds._elements[BURNED_IN_ANNOTATION] = DataElement(BURNED_IN_ANNOTATION, VR.CS, "NO")

    @staticmethod
    def _file_meta(ds: Dataset) -> Dataset:
        """New File Meta Information: nothing of the original's but its transfer syntax (E.1.1 item 7)."""
        meta = Dataset()
        ts = ds.transfer_syntax or ds.__dict__.get("read_transfer_syntax")
        if ts:
            meta.add(DataElement(0x00020010, VR.UI, str(ts)))
        return meta
