"""The Print Management SCP (PS3.4 H.4): a printer on the DIMSE-N services.

:class:`PrintSCP` accepts the Basic Grayscale and Basic Color Print Management Meta SOP Classes and the
Presentation LUT SOP Class, and keeps, per association, the SOP Instances an SCU builds:

- Basic Film Session (N-CREATE, N-SET, N-ACTION print, N-DELETE; one per association, H.4.1);
- Basic Film Box (N-CREATE with its Image Boxes laid out from the Image Display Format and answered in the
  Referenced Image Box Sequence, N-SET, N-ACTION print, N-DELETE; several per session: collation);
- Basic Grayscale / Color Image Box (N-SET of the image and its presentation);
- Presentation LUT (N-CREATE, N-DELETE; referenced by Film Session, Film Box or Image Box);
- Printer (N-GET of the well-known instance; N-EVENT-REPORT of its status to every association holding a
  session when the status changes, H.4.6).

Printing hands a :class:`PrintedFilm` to a *spooler* (a callable, run in a worker thread; the film's
files, or the reason it failed as a DicomError or OSError). A spooler that fails makes the printer FAILURE
(reported with N-EVENT-REPORT) and the N-ACTION 0110H; the next film that prints makes it NORMAL again.
Everything an association made is deleted when it ends (H.4.1: the session lives as long as it).
"""

from __future__ import annotations

import asyncio
import datetime
import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...core import uid
from ...core.dataset import Dataset
from ...core.errors import DicomError, NetworkError
from ...net.association import Association
from ...net.status import PROCESSING_FAILURE
from ..dimse_n import (
    INVALID_SOP_INSTANCE,
    MISSING_ATTRIBUTE,
    NO_SUCH_ACTION,
    NO_SUCH_SOP_CLASS,
    NO_SUCH_SOP_INSTANCE,
    RESOURCE_LIMITATION,
    NOutcome,
    NRequest,
    NServiceSCP,
    attributes_outcome,
    n_event_report,
)
from .model import (
    ACTION_PRINT,
    COLOR_IMAGE_BOX_CLASS,
    COLOR_META,
    FILM_BOX,
    FILM_BOX_CLASS,
    FILM_BOX_EMPTY_PAGE,
    FILM_BOX_SETTABLE,
    FILM_SESSION,
    FILM_SESSION_CLASS,
    GRAYSCALE_IMAGE_BOX_CLASS,
    GRAYSCALE_META,
    IMAGE_BOX,
    IMAGE_BOX_OF_META,
    NO_FILM_BOX,
    PRESENTATION_LUT,
    PRESENTATION_LUT_CLASS,
    PRINTER_CLASS,
    PRINTER_EVENT_OF,
    PRINTER_INSTANCE,
    SESSION_EMPTY_PAGE,
    Box,
    PrintError,
    check_attributes,
    layout,
    text_of,
)

log = logging.getLogger("dicomkit.services.print")

ATTRIBUTE_LIST_ERROR = 0x0107


@dataclass
class ImageBox:
    """A Basic Grayscale / Color Image Box: its place, its attributes (polarity, magnification, ...) and the
    image item (Basic Grayscale / Color Image Sequence item), None while empty."""

    sop_instance_uid: str
    sop_class_uid: str
    box: Box
    attributes: Dataset = field(default_factory=Dataset)
    image: Dataset | None = None

    @property
    def position(self) -> int:
        return self.box.position


@dataclass
class FilmBox:
    sop_instance_uid: str
    attributes: Dataset
    image_boxes: list[ImageBox]
    color: bool
    printed: int = 0


@dataclass
class FilmSession:
    sop_instance_uid: str
    attributes: Dataset
    film_boxes: dict[str, FilmBox] = field(default_factory=dict)


@dataclass
class PrintedFilm:
    """What a spooler prints: the session's and the film box's attributes (with the printer's defaults filled
    in), the image boxes in position order, the Presentation LUTs they reference, and who printed it."""

    session: Dataset
    film_box: Dataset
    image_boxes: list[ImageBox]
    presentation_luts: dict[str, Dataset]
    color: bool
    calling_ae_title: str
    session_uid: str
    film_box_uid: str
    number: int  # 1, 2, ... within the session
    copies: int = 1


Spooler = Callable[[PrintedFilm], Sequence[Path]]


@dataclass
class PrinterInfo:
    """The Printer SOP Instance's attributes (PS3.3 C.13.9)."""

    name: str = "dicomkit"
    manufacturer: str = "dicomkit"
    model: str = "dicomkit print-scp"
    serial: str = "1"
    software: str = ""
    status: str = "NORMAL"  # NORMAL, WARNING, FAILURE
    status_info: str = "NORMAL"  # PS3.3 C.13.9 Defined Terms
    calibrated: datetime.datetime = field(default_factory=datetime.datetime.now)

    def dataset(self) -> Dataset:
        ds = Dataset()
        ds.PrinterStatus = self.status
        ds.PrinterStatusInfo = self.status_info
        ds.PrinterName = self.name
        ds.Manufacturer = self.manufacturer
        ds.ManufacturerModelName = self.model
        ds.DeviceSerialNumber = self.serial
        ds.SoftwareVersions = self.software or "dicomkit"
        ds.DateOfLastCalibration = self.calibrated.strftime("%Y%m%d")
        ds.TimeOfLastCalibration = self.calibrated.strftime("%H%M%S")
        return ds


@dataclass
class Defaults:
    """The printer's defaults for what a Film Session or Film Box leaves out (PS3.3 C.13.1, C.13.3)."""

    copies: int = 1
    priority: str = "MED"
    medium: str = "PAPER"
    destination: str = "PROCESSOR"
    orientation: str = "PORTRAIT"
    film_size: str = "8INX10IN"
    magnification: str = "BILINEAR"
    border_density: str = "BLACK"
    empty_density: str = "BLACK"
    min_density: int = 20
    max_density: int = 300
    trim: str = "NO"
    resolution: str = "STANDARD"

    def film_session(self, ds: Dataset) -> Dataset:
        out = ds.copy()
        for keyword, value in (("NumberOfCopies", str(self.copies)), ("PrintPriority", self.priority),
                               ("MediumType", self.medium), ("FilmDestination", self.destination)):
            if not text_of(out, _tag(keyword)):
                setattr(out, keyword, value)
        return out

    def film_box(self, ds: Dataset) -> Dataset:
        out = ds.copy()
        for keyword, value in (("FilmOrientation", self.orientation), ("FilmSizeID", self.film_size),
                               ("MagnificationType", self.magnification), ("BorderDensity", self.border_density),
                               ("EmptyImageDensity", self.empty_density), ("Trim", self.trim),
                               ("RequestedResolutionID", self.resolution)):
            if not text_of(out, _tag(keyword)):
                setattr(out, keyword, value)
        for keyword, number in (("MinDensity", self.min_density), ("MaxDensity", self.max_density)):
            if out.get(keyword) is None:
                setattr(out, keyword, number)
        return out


def _tag(keyword: str) -> int:
    from ...core.dictionary import tag_for_keyword

    tag = tag_for_keyword(keyword)
    assert tag is not None
    return tag


class _State:
    """What one association made."""

    def __init__(self, association: Association) -> None:
        self.association = association
        self.session: FilmSession | None = None
        self.image_boxes: dict[str, tuple[FilmBox, ImageBox]] = {}
        self.luts: dict[str, Dataset] = {}


def _reference(ds: Dataset, keyword: str) -> str | None:
    """The Referenced SOP Instance UID of the first item of sequence ``keyword`` (None without one)."""
    items = ds.value(keyword)
    if not items:
        return None
    value = items[0].value("ReferencedSOPInstanceUID")
    return str(value).strip("\x00 ") if value else None


class PrintSCP(NServiceSCP):
    """A printer (see the module documentation). ``spooler`` prints each film; ``defaults`` fill in what the
    SCU leaves out; ``printer`` is the Printer SOP Instance (its status changes are reported)."""

    def __init__(self, spooler: Spooler, *, defaults: Defaults | None = None, printer: PrinterInfo | None = None,
                 color: bool = True, transfer_syntaxes: Sequence[str] | None = None) -> None:
        classes = [GRAYSCALE_META, *([COLOR_META] if color else []), PRESENTATION_LUT_CLASS]
        super().__init__(classes, transfer_syntaxes=transfer_syntaxes)
        self.spooler = spooler
        self.defaults = defaults or Defaults()
        self.printer = printer or PrinterInfo()
        self._states: dict[str, _State] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.films_printed = 0
        self._numbers = itertools.count(1)

    # -- state ------------------------------------------------------------------------------------------------
    def _state(self, req: NRequest) -> _State:
        assoc = req.rc.association
        state = self._states.get(assoc.id)
        if state is None:
            state = self._states[assoc.id] = _State(assoc)
            self._spawn(self._forget_when_closed(assoc))
        return state

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _forget_when_closed(self, assoc: Association) -> None:
        await assoc.wait_closed()
        state = self._states.pop(assoc.id, None)
        if state is not None and state.session is not None:
            log.info("%s: association ended; Film Session %s deleted", assoc.id, state.session.sop_instance_uid)

    @property
    def sessions(self) -> int:
        """Film Sessions held now (one per association that made one)."""
        return sum(1 for s in self._states.values() if s.session is not None)

    # -- the printer ----------------------------------------------------------------------------------------
    async def set_printer_status(self, status: str, info: str | None = None) -> None:
        """Change the Printer's status and report it (N-EVENT-REPORT, PS3.4 H.4.6) to every association
        with a Film Session; an association that cannot take it is skipped."""
        info = info or status
        if (status, info) == (self.printer.status, self.printer.status_info):
            return
        self.printer.status, self.printer.status_info = status, info
        event = Dataset()
        event.PrinterStatusInfo = info
        event.PrinterName = self.printer.name
        for state in list(self._states.values()):
            assoc = state.association
            if state.session is None or not assoc.is_established:
                continue
            meta = GRAYSCALE_META  # the report goes on the context of a Meta SOP Class we accepted
            if assoc.info is not None and assoc.info.find_context(GRAYSCALE_META, as_scu=False) is None:
                meta = COLOR_META
            try:
                await n_event_report(assoc, PRINTER_CLASS, PRINTER_INSTANCE, PRINTER_EVENT_OF[status], event,
                                     meta_sop_class=meta, timeout=10)
            except (NetworkError, DicomError) as exc:
                log.info("%s: printer status %s not reported: %s", assoc.id, status, exc)

    # -- the DIMSE-N hooks --------------------------------------------------------------------------------------
    async def n_get(self, req: NRequest) -> NOutcome:
        if req.sop_class_uid != PRINTER_CLASS:
            return NOutcome.failure(NO_SUCH_SOP_CLASS, f"N-GET of {uid.UID(req.sop_class_uid).name} is not supported")
        if req.sop_instance_uid != PRINTER_INSTANCE:
            return NOutcome.failure(NO_SUCH_SOP_INSTANCE, "not the Printer SOP Instance (1.2.840.10008.5.1.1.17)")
        return attributes_outcome(self.printer.dataset(), req.attribute_identifiers)

    async def n_create(self, req: NRequest) -> NOutcome:
        state = self._state(req)
        ds = req.dataset if req.dataset is not None else Dataset()
        instance = req.request.affected_sop_instance_uid or str(uid.generate_uid())
        if not uid.UID(instance).is_valid:
            return NOutcome.failure(INVALID_SOP_INSTANCE, f"{instance[:40]!r} is not a valid UID")
        try:
            if req.sop_class_uid == FILM_SESSION_CLASS:
                return self._create_session(state, instance, ds)
            if req.sop_class_uid == FILM_BOX_CLASS:
                return self._create_film_box(state, instance, ds, req)
            if req.sop_class_uid == PRESENTATION_LUT_CLASS:
                return self._create_lut(state, instance, ds)
        except PrintError as exc:
            return NOutcome.failure(exc.status, str(exc), tags=exc.offending)
        return NOutcome.failure(NO_SUCH_SOP_CLASS, f"N-CREATE of {uid.UID(req.sop_class_uid).name} is not supported")

    def _create_session(self, state: _State, instance: str, ds: Dataset) -> NOutcome:
        if state.session is not None:  # PS3.4 H.4.1: one Film Session per association
            return NOutcome.failure(RESOURCE_LIMITATION, "this association has a Film Session already")
        checked = check_attributes(ds, FILM_SESSION, "Basic Film Session")
        self._check_lut_reference(state, ds)
        attributes = self.defaults.film_session(_known(ds, FILM_SESSION))
        state.session = FilmSession(instance, attributes)
        log.info("%s: Film Session %s created (%s copies, %s)", state.association.id, instance,
                 text_of(attributes, 0x20000010), text_of(attributes, 0x20000030))
        return self._answer(attributes, checked.unknown, instance)

    @staticmethod
    def _answer(attributes: Dataset, unknown: tuple[int, ...], instance: str | None = None) -> NOutcome:
        if unknown:
            return NOutcome(ATTRIBUTE_LIST_ERROR, attributes, attribute_identifier_list=unknown,
                            affected_sop_instance_uid=instance)
        return NOutcome(dataset=attributes, affected_sop_instance_uid=instance)

    def _check_lut_reference(self, state: _State, ds: Dataset) -> None:
        if "ReferencedPresentationLUTSequence" in ds:
            ref = _reference(ds, "ReferencedPresentationLUTSequence")
            if ref is not None and ref not in state.luts:
                raise PrintError(f"no Presentation LUT {ref}", 0x0106, (0x20500500,))

    def _create_film_box(self, state: _State, instance: str, ds: Dataset, req: NRequest) -> NOutcome:
        session = state.session
        if session is None:
            raise PrintError("no Film Session on this association: N-CREATE one first", PROCESSING_FAILURE)
        if not text_of(ds, 0x20100010):
            raise PrintError("Image Display Format missing (PS3.4 H.4.2.1)", MISSING_ATTRIBUTE, (0x20100010,))
        if "ReferencedFilmSessionSequence" not in ds:
            raise PrintError("Referenced Film Session Sequence missing", MISSING_ATTRIBUTE, (0x20100500,))
        if _reference(ds, "ReferencedFilmSessionSequence") != session.sop_instance_uid:
            raise PrintError("Referenced Film Session Sequence does not name this association's Film Session",
                             0x0106, (0x20100500,))
        checked = check_attributes(ds, FILM_BOX, "Basic Film Box")
        self._check_lut_reference(state, ds)
        meta = str(req.rc.context.abstract_syntax)
        image_box_class = IMAGE_BOX_OF_META.get(meta, GRAYSCALE_IMAGE_BOX_CLASS)
        attributes = self.defaults.film_box(_known(ds, FILM_BOX))
        boxes = [ImageBox(str(uid.generate_uid()), image_box_class, box)
                 for box in layout(text_of(attributes, 0x20100010))]
        film = FilmBox(instance, attributes, boxes, color=image_box_class == COLOR_IMAGE_BOX_CLASS)
        session.film_boxes[instance] = film
        for box in boxes:
            state.image_boxes[box.sop_instance_uid] = (film, box)
        answer = attributes.copy()
        refs = []
        for box in boxes:
            item = Dataset()
            item.ReferencedSOPClassUID = box.sop_class_uid
            item.ReferencedSOPInstanceUID = box.sop_instance_uid
            refs.append(item)
        answer.ReferencedImageBoxSequence = refs
        log.info("%s: Film Box %s created: %s, %s %s, %d image boxes", state.association.id, instance,
                 text_of(attributes, 0x20100010), text_of(attributes, 0x20100050), text_of(attributes, 0x20100040),
                 len(boxes))
        return self._answer(answer, checked.unknown, instance)

    def _create_lut(self, state: _State, instance: str, ds: Dataset) -> NOutcome:
        checked = check_attributes(ds, PRESENTATION_LUT, "Presentation LUT")
        has_shape = bool(text_of(ds, 0x20500020))
        items = ds.value("PresentationLUTSequence")
        has_table = bool(items)
        if has_shape == has_table:  # PS3.4 H.4.9.1: one of the two, not both
            raise PrintError("a Presentation LUT needs either Presentation LUT Shape or Presentation LUT Sequence",
                             MISSING_ATTRIBUTE if not has_shape else 0x0106, (0x20500020, 0x20500010))
        if has_table:
            item = items[0]
            if item.value("LUTDescriptor") is None or item.value("LUTData") is None:
                raise PrintError("the Presentation LUT Sequence item needs LUT Descriptor and LUT Data", 0x0106,
                                 (0x20500010,))
        if instance in state.luts:
            return NOutcome.failure(0x0111, f"Presentation LUT {instance} exists")
        state.luts[instance] = _known(ds, PRESENTATION_LUT)
        return self._answer(state.luts[instance].copy(), checked.unknown, instance)

    async def n_set(self, req: NRequest) -> NOutcome:
        state = self._state(req)
        instance = req.sop_instance_uid or ""
        ds = req.dataset if req.dataset is not None else Dataset()
        try:
            if req.sop_class_uid in (FILM_SESSION_CLASS, FILM_BOX_CLASS):
                session = req.sop_class_uid == FILM_SESSION_CLASS
                target = self._session(state, instance) if session else self._film_box(state, instance)
                table = FILM_SESSION if session else FILM_BOX_SETTABLE
                checked = check_attributes(ds, table, "Basic Film Session" if session else "Basic Film Box N-SET")
                self._check_lut_reference(state, ds)
                target.attributes.update(_known(ds, table))
                return self._answer(ds, checked.unknown)
            if req.sop_class_uid in (GRAYSCALE_IMAGE_BOX_CLASS, COLOR_IMAGE_BOX_CLASS):
                return self._set_image_box(state, instance, ds, req.sop_class_uid)
        except PrintError as exc:
            return NOutcome.failure(exc.status, str(exc), tags=exc.offending)
        return NOutcome.failure(NO_SUCH_SOP_CLASS, f"N-SET of {uid.UID(req.sop_class_uid).name} is not supported")

    def _session(self, state: _State, instance: str) -> FilmSession:
        if state.session is None or state.session.sop_instance_uid != instance:
            raise PrintError(f"no Film Session {instance}", NO_SUCH_SOP_INSTANCE)
        return state.session

    def _film_box(self, state: _State, instance: str) -> FilmBox:
        film = state.session.film_boxes.get(instance) if state.session is not None else None
        if film is None:
            raise PrintError(f"no Film Box {instance}", NO_SUCH_SOP_INSTANCE)
        return film

    def _set_image_box(self, state: _State, instance: str, ds: Dataset, sop_class: str) -> NOutcome:
        found = state.image_boxes.get(instance)
        if found is None:
            raise PrintError(f"no Image Box {instance}", NO_SUCH_SOP_INSTANCE)
        _, box = found
        if box.sop_class_uid != sop_class:
            raise PrintError(f"Image Box {instance} is a {uid.UID(box.sop_class_uid).name}", 0x0119)
        checked = check_attributes(ds, IMAGE_BOX, "Image Box")
        position = ds.value("ImageBoxPosition")
        if position not in (None, "") and int(position) != box.position:
            raise PrintError(f"Image Box Position {position} is not this box's ({box.position})", 0x0106,
                             (0x20200010,))
        self._check_lut_reference(state, ds)
        color = sop_class == COLOR_IMAGE_BOX_CLASS
        keyword = "BasicColorImageSequence" if color else "BasicGrayscaleImageSequence"
        wrong = "BasicGrayscaleImageSequence" if color else "BasicColorImageSequence"
        if wrong in ds:
            raise PrintError(f"a {uid.UID(sop_class).name} takes {keyword}, not {wrong}", 0x0106, (_tag(wrong),))
        if keyword in ds:
            items = ds.value(keyword)
            box.image = _check_image(items[0], color) if items else None
        for elem in _known(ds, IMAGE_BOX):
            if int(elem.tag) != _tag(keyword):
                box.attributes.add(elem.copy())
        return self._answer(Dataset(), checked.unknown)

    async def n_action(self, req: NRequest) -> NOutcome:
        state = self._state(req)
        instance = req.sop_instance_uid or ""
        if req.action_type_id != ACTION_PRINT:
            return NOutcome.failure(NO_SUCH_ACTION, f"no action type {req.action_type_id} (1 is print)")
        try:
            if req.sop_class_uid == FILM_SESSION_CLASS:
                session = self._session(state, instance)
                if not session.film_boxes:
                    return NOutcome.failure(NO_FILM_BOX, "the Film Session has no Film Box")
                films = list(session.film_boxes.values())
            elif req.sop_class_uid == FILM_BOX_CLASS:
                films = [self._film_box(state, instance)]
            else:
                return NOutcome.failure(NO_SUCH_SOP_CLASS, f"N-ACTION of {uid.UID(req.sop_class_uid).name} is not "
                                        "supported")
            for film in films:
                await self._print(state, film, req)
        except PrintError as exc:
            return NOutcome.failure(exc.status, str(exc), tags=exc.offending)
        if all(box.image is None for film in films for box in film.image_boxes):
            status = SESSION_EMPTY_PAGE if req.sop_class_uid == FILM_SESSION_CLASS else FILM_BOX_EMPTY_PAGE
            return NOutcome(status)
        return NOutcome()

    async def _print(self, state: _State, film: FilmBox, req: NRequest) -> None:
        session = state.session
        assert session is not None
        number = next(self._numbers)
        copies_text = text_of(session.attributes, 0x20000010)
        printed = PrintedFilm(session.attributes.copy(), film.attributes.copy(), list(film.image_boxes),
                              dict(state.luts), film.color, req.rc.calling_ae_title, session.sop_instance_uid,
                              film.sop_instance_uid, number, int(copies_text) if copies_text.isdigit() else 1)
        try:
            paths = await asyncio.to_thread(self.spooler, printed)
        except (DicomError, OSError) as exc:
            log.warning("%s: Film Box %s could not be printed: %s", state.association.id, film.sop_instance_uid, exc)
            self._spawn(self.set_printer_status("FAILURE", "PRINTER DOWN"))
            raise PrintError(f"the film could not be printed: {exc}", PROCESSING_FAILURE) from exc
        self.films_printed += 1
        film.printed += 1
        if self.printer.status != "NORMAL":
            self._spawn(self.set_printer_status("NORMAL", "NORMAL"))
        log.info("%s: Film Box %s printed from %s: %s", state.association.id, film.sop_instance_uid,
                 req.rc.calling_ae_title, ", ".join(str(p) for p in paths))

    async def n_delete(self, req: NRequest) -> NOutcome:
        state = self._state(req)
        instance = req.sop_instance_uid or ""
        try:
            if req.sop_class_uid == FILM_SESSION_CLASS:
                self._session(state, instance)
                state.session = None
                state.image_boxes.clear()
                return NOutcome()
            if req.sop_class_uid == FILM_BOX_CLASS:
                film = self._film_box(state, instance)
                assert state.session is not None
                del state.session.film_boxes[instance]
                for box in film.image_boxes:
                    state.image_boxes.pop(box.sop_instance_uid, None)
                return NOutcome()
            if req.sop_class_uid == PRESENTATION_LUT_CLASS:
                if state.luts.pop(instance, None) is None:
                    raise PrintError(f"no Presentation LUT {instance}", NO_SUCH_SOP_INSTANCE)
                return NOutcome()
        except PrintError as exc:
            return NOutcome.failure(exc.status, str(exc), tags=exc.offending)
        return NOutcome.failure(NO_SUCH_SOP_CLASS, f"N-DELETE of {uid.UID(req.sop_class_uid).name} is not supported")

    async def drain(self) -> None:
        """Wait for the status reports still being sent."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _known(ds: Dataset, table: dict[int, Any]) -> Dataset:
    """The attributes of ``ds`` that ``table`` names (the others are answered 0107H and not kept)."""
    out = Dataset()
    for elem in ds:
        if int(elem.tag) in table:
            out.add(elem.copy())
    return out


def _check_image(item: Dataset, color: bool) -> Dataset:
    """A Basic Grayscale / Color Image Sequence item, checked (PS3.4 H.4.3, PS3.3 C.13.5)."""
    tag = 0x20200111 if color else 0x20200110
    try:
        samples = int(item.value("SamplesPerPixel", 0) or 0)
        rows = int(item.value("Rows", 0) or 0)
        columns = int(item.value("Columns", 0) or 0)
        allocated = int(item.value("BitsAllocated", 0) or 0)
        stored = int(item.value("BitsStored", 0) or 0)
        high = int(item.value("HighBit", 0) or 0)
        representation = int(item.value("PixelRepresentation", 0) or 0)
    except (TypeError, ValueError) as exc:
        raise PrintError(f"the image's Image Pixel attributes cannot be read: {exc}", 0x0106, (tag,)) from exc
    photometric = str(item.value("PhotometricInterpretation", "") or "").strip()
    if color:
        ok = samples == 3 and photometric == "RGB" and allocated == 8 and stored == 8 and high == 7
        want = "3 samples, RGB, 8 bits"
    else:
        ok = (samples == 1 and photometric in ("MONOCHROME1", "MONOCHROME2") and
              (allocated, stored, high) in ((8, 8, 7), (16, 12, 11), (16, 16, 15)))
        want = "1 sample, MONOCHROME1/2, 8 or 12 bits"
    if not ok or representation != 0 or rows < 1 or columns < 1:
        raise PrintError(f"the image is not a print image ({want}, unsigned): {samples} sample(s), {photometric}, "
                         f"{allocated}/{stored}/{high} bits", 0x0106, (tag,))
    data = item.value(0x7FE00010)
    need = rows * columns * samples * (allocated // 8)
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) < need:
        have = len(data) if isinstance(data, (bytes, bytearray, memoryview)) else 0
        raise PrintError(f"the image's Pixel Data has {have} bytes; {rows}x{columns} needs {need}", 0x0106, (tag,))
    return item


__all__ = ["Defaults", "FilmBox", "FilmSession", "ImageBox", "PrintSCP", "PrintedFilm", "PrinterInfo", "Spooler"]
