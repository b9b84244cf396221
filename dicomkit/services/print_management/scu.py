"""The Print Management SCU (PS3.4 H): film sessions, film boxes and image boxes on a printer.

:class:`PrintClient` drives one association: ``printer()`` (N-GET of the Printer), ``create_session``,
``create_film_box`` (the printer answers the Image Boxes it laid out), ``set_image`` (N-SET of an Image Box
with a Basic Grayscale / Color Image Sequence item), ``print_film`` / ``print_session`` (N-ACTION),
``create_presentation_lut`` and ``delete``. :func:`print_images` prints DICOM images on as many films as
they need, :func:`image_item` turns a DICOM image into the item an Image Box takes (the frame as
:func:`dicomkit.pixels.render` shows it: Modality and VOI LUT applied, 8 bits; RGB for the colour class).
:class:`PrinterEvents` receives the printer's N-EVENT-REPORTs on the SCU's associations::

    async with ae.connect(host, port, print_contexts(), called_ae_title="PRINTER") as assoc:
        report = await print_images(assoc, [dicomkit.read("ct.dcm")], display_format="STANDARD\\\\1,1")
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...core.dataset import Dataset
from ...core.errors import DicomError
from ...net.association import DEFAULT_TIMEOUT, Association, Timeout
from ...net.negotiation import PresentationContext
from ..dimse_n import (
    NOutcome,
    NRequest,
    NResult,
    NServiceFailed,
    NServiceSCP,
    n_action,
    n_create,
    n_delete,
    n_get,
    n_set,
)
from .model import (
    ACTION_PRINT,
    COLOR_IMAGE_BOX_CLASS,
    COLOR_META,
    FILM_BOX_CLASS,
    FILM_SESSION_CLASS,
    GRAYSCALE_META,
    PRESENTATION_LUT_CLASS,
    PRINT_STATUSES,
    PRINTER_CLASS,
    PRINTER_EVENTS,
    PRINTER_INSTANCE,
    layout,
)

log = logging.getLogger("dicomkit.services.print")


def print_contexts(*, color: bool = False, presentation_lut: bool = False) -> list[str]:
    """What a print SCU proposes: the Meta SOP Class (grayscale or colour), the Presentation LUT SOP Class."""
    return [COLOR_META if color else GRAYSCALE_META, *([PRESENTATION_LUT_CLASS] if presentation_lut else [])]


def describe(result: NResult) -> str:
    """A result's status in words, the Print Management statuses (PS3.4 H) included."""
    code = int(result.status)
    meaning = PRINT_STATUSES.get(code)
    return f"0x{code:04X} ({meaning})" if meaning else result.describe()


@dataclass
class FilmBoxHandle:
    """A Film Box made on the printer: its SOP Instance UID and its Image Boxes (class, instance) by position."""

    sop_instance_uid: str
    image_boxes: list[tuple[str, str]]
    attributes: Dataset


@dataclass
class PrintReport:
    """What :func:`print_images` did: films printed, the statuses that were not plain Success, printer events."""

    films: int = 0
    warnings: list[str] = field(default_factory=list)
    printer: Dataset | None = None


class PrintClient:
    """Print Management on ``assoc`` (see the module documentation); ``color`` selects the Meta SOP Class."""

    def __init__(self, assoc: Association, *, color: bool = False, timeout: Timeout = DEFAULT_TIMEOUT) -> None:
        self.assoc = assoc
        self.color = color
        self.meta = COLOR_META if color else GRAYSCALE_META
        self.timeout = timeout
        self.session_uid: str | None = None
        self.warnings: list[str] = []

    def _checked(self, what: str, result: NResult) -> NResult:
        if not result.ok:
            raise NServiceFailed(result)
        if int(result.status) != 0:
            self.warnings.append(f"{what}: {describe(result)}")
        return result

    async def printer(self, attributes: Iterable[int] = ()) -> Dataset:
        """N-GET of the Printer SOP Instance (PS3.4 H.4.6): Printer Status, Printer Status Info, ..."""
        result = self._checked("Printer N-GET", await n_get(
            self.assoc, PRINTER_CLASS, PRINTER_INSTANCE, attributes, meta_sop_class=self.meta, timeout=self.timeout))
        return result.dataset if result.dataset is not None else Dataset()

    async def create_session(self, attributes: Dataset | None = None) -> str:
        """N-CREATE the Basic Film Session (Number of Copies, Print Priority, Medium Type, Film Destination, ...)."""
        result = self._checked("Film Session N-CREATE", await n_create(
            self.assoc, FILM_SESSION_CLASS, attributes if attributes is not None else Dataset(),
            meta_sop_class=self.meta, timeout=self.timeout))
        uid = result.affected_sop_instance_uid
        if not uid:
            raise DicomError("the printer answered the Film Session N-CREATE without a SOP Instance UID")
        self.session_uid = uid
        return uid

    async def create_film_box(self, display_format: str, attributes: Dataset | None = None,
                              presentation_lut: str | None = None) -> FilmBoxHandle:
        """N-CREATE a Basic Film Box of ``display_format`` (``STANDARD\\C,R``, ...) in the session."""
        if self.session_uid is None:
            raise DicomError("create the Film Session first")
        ds = attributes.copy() if attributes is not None else Dataset()
        ds.ImageDisplayFormat = display_format
        ref = Dataset()
        ref.ReferencedSOPClassUID = FILM_SESSION_CLASS
        ref.ReferencedSOPInstanceUID = self.session_uid
        ds.ReferencedFilmSessionSequence = [ref]
        if presentation_lut is not None:
            ds.ReferencedPresentationLUTSequence = [_lut_reference(presentation_lut)]
        result = self._checked("Film Box N-CREATE", await n_create(self.assoc, FILM_BOX_CLASS, ds,
                                                                   meta_sop_class=self.meta, timeout=self.timeout))
        answer = result.dataset if result.dataset is not None else Dataset()
        seq = answer.value("ReferencedImageBoxSequence")
        boxes = [(str(item.value("ReferencedSOPClassUID", "")).strip("\x00 "),
                  str(item.value("ReferencedSOPInstanceUID", "")).strip("\x00 "))
                 for item in (seq or [])]
        uid = result.affected_sop_instance_uid
        if not uid or not boxes:
            raise DicomError("the printer's Film Box N-CREATE response has no SOP Instance UID or no Referenced "
                             "Image Box Sequence")
        return FilmBoxHandle(uid, boxes, answer)

    async def set_image(self, image_box: tuple[str, str], item: Dataset | None, position: int,
                        attributes: Dataset | None = None) -> NResult:
        """N-SET an Image Box: the image ``item`` (None: empty), its position and ``attributes`` (Polarity, ...)."""
        box_class, box_uid = image_box
        ds = attributes.copy() if attributes is not None else Dataset()
        ds.ImageBoxPosition = position
        keyword = "BasicColorImageSequence" if box_class == COLOR_IMAGE_BOX_CLASS else "BasicGrayscaleImageSequence"
        setattr(ds, keyword, [item] if item is not None else [])
        return self._checked(f"Image Box {position} N-SET", await n_set(
            self.assoc, box_class, box_uid, ds, meta_sop_class=self.meta, timeout=self.timeout))

    async def print_film(self, film: FilmBoxHandle) -> NResult:
        """N-ACTION print of one Film Box (PS3.4 H.4.2)."""
        return self._checked("Film Box N-ACTION", await n_action(
            self.assoc, FILM_BOX_CLASS, film.sop_instance_uid, ACTION_PRINT, meta_sop_class=self.meta,
            timeout=self.timeout))

    async def print_session(self) -> NResult:
        """N-ACTION print of the whole Film Session (every Film Box, collated; PS3.4 H.4.1)."""
        if self.session_uid is None:
            raise DicomError("create the Film Session first")
        return self._checked("Film Session N-ACTION", await n_action(
            self.assoc, FILM_SESSION_CLASS, self.session_uid, ACTION_PRINT, meta_sop_class=self.meta,
            timeout=self.timeout))

    async def delete_film_box(self, film: FilmBoxHandle) -> NResult:
        return self._checked("Film Box N-DELETE", await n_delete(
            self.assoc, FILM_BOX_CLASS, film.sop_instance_uid, meta_sop_class=self.meta, timeout=self.timeout))

    async def delete(self) -> NResult | None:
        """N-DELETE the Film Session (and so everything in it)."""
        if self.session_uid is None:
            return None
        result = self._checked("Film Session N-DELETE", await n_delete(
            self.assoc, FILM_SESSION_CLASS, self.session_uid, meta_sop_class=self.meta, timeout=self.timeout))
        self.session_uid = None
        return result

    async def create_presentation_lut(self, shape: str = "IDENTITY") -> str:
        """N-CREATE a Presentation LUT of Presentation LUT Shape ``shape`` (IDENTITY or LIN OD)."""
        ds = Dataset()
        ds.PresentationLUTShape = shape
        result = self._checked("Presentation LUT N-CREATE", await n_create(
            self.assoc, PRESENTATION_LUT_CLASS, ds, timeout=self.timeout))
        uid = result.affected_sop_instance_uid
        if not uid:
            raise DicomError("the printer answered the Presentation LUT N-CREATE without a SOP Instance UID")
        return uid


def _lut_reference(uid: str) -> Dataset:
    ref = Dataset()
    ref.ReferencedSOPClassUID = PRESENTATION_LUT_CLASS
    ref.ReferencedSOPInstanceUID = uid
    return ref


def image_item(ds: Dataset, *, color: bool = False, frame: int = 0, max_size: int | None = None) -> Dataset:
    """The Basic Grayscale (or, ``color``, Color) Image Sequence item of frame ``frame`` of a DICOM image: 8-bit
    MONOCHROME2 P-values (RGB, colour-by-plane, PS3.4 H.4.3.2); ``max_size`` shrinks larger images to fit."""
    from ...pixels.film import print_pixels

    rows, columns, data = print_pixels(ds, frame=frame, color=color, max_size=max_size)
    item = Dataset()
    item.SamplesPerPixel = 3 if color else 1
    item.PhotometricInterpretation = "RGB" if color else "MONOCHROME2"
    if color:
        item.PlanarConfiguration = 1
    item.Rows, item.Columns = rows, columns
    item.PixelAspectRatio = [1, 1]
    item.BitsAllocated, item.BitsStored, item.HighBit, item.PixelRepresentation = 8, 8, 7, 0
    item.add_new(0x7FE00010, "OB", data + (b"\x00" if len(data) % 2 else b""))
    return item


async def print_images(assoc: Association, images: Sequence[Dataset], *, color: bool = False,
                       max_size: int | None = 2048, **options: Any) -> PrintReport:
    """Print DICOM ``images`` (see :func:`print_items`, which takes the same options), each rendered by
    :func:`image_item` first: an image that cannot be rendered fails before anything is sent."""
    items = [image_item(ds, color=color, max_size=max_size) for ds in images]
    return await print_items(assoc, items, color=color, **options)


async def print_items(assoc: Association, items: Sequence[Dataset], *, display_format: str = "STANDARD\\1,1",
                      color: bool = False, session: Dataset | None = None, film: Dataset | None = None,
                      image_box: Dataset | None = None, presentation_lut: str | None = None,
                      session_print: bool = False, timeout: Timeout = DEFAULT_TIMEOUT) -> PrintReport:
    """Print Image Box ``items`` (:func:`image_item`) on films of ``display_format`` (as many as they fill):
    Printer N-GET, a Film Session with ``session``'s attributes, per film a Film Box (``film``'s attributes)
    whose Image Boxes get the items in order (``image_box``'s attributes: Polarity, ...), printed one by one
    or, ``session_print``, all at once (N-ACTION of the session); then the session is deleted.
    ``presentation_lut``: a Presentation LUT Shape (IDENTITY, LIN OD) to create and reference from each Film
    Box. A printer that reports FAILURE is not sent anything."""
    if not items:
        raise DicomError("nothing to print")
    per_film = len(layout(display_format))
    client = PrintClient(assoc, color=color, timeout=timeout)
    report = PrintReport()
    report.printer = await client.printer()
    status = str(report.printer.value("PrinterStatus", "") or "").strip()
    if status == "FAILURE":
        raise DicomError(f"the printer reports FAILURE ({report.printer.value('PrinterStatusInfo', '')})")
    lut_uid = await client.create_presentation_lut(presentation_lut) if presentation_lut else None
    await client.create_session(session)
    try:
        for start in range(0, len(items), per_film):
            batch = items[start:start + per_film]
            handle = await client.create_film_box(display_format, film, lut_uid)
            if len(handle.image_boxes) < len(batch):
                raise DicomError(f"the printer laid out {len(handle.image_boxes)} image boxes for {display_format}; "
                                 f"{len(batch)} were expected")
            for position, (box, item) in enumerate(zip(handle.image_boxes, batch, strict=False), 1):
                await client.set_image(box, item, position, image_box)
            if not session_print:
                await client.print_film(handle)
            report.films += 1
        if session_print:
            await client.print_session()
    finally:
        if assoc.is_established:
            await client.delete()
    report.warnings = client.warnings
    return report


class PrinterEvents(NServiceSCP):
    """Receives the Printer's N-EVENT-REPORTs (PS3.4 H.4.6: NORMAL, WARNING, FAILURE) on the associations
    an SCU requests; ``events`` keeps them as (status, Printer Status Info)."""

    def __init__(self) -> None:
        super().__init__([GRAYSCALE_META, COLOR_META])
        self.events: list[tuple[str, str]] = []

    async def n_event_report(self, req: NRequest) -> NOutcome:
        if req.sop_class_uid != PRINTER_CLASS:
            return NOutcome.failure(0x0118, "only the Printer SOP Class reports events here")
        status = PRINTER_EVENTS.get(req.event_type_id or 0)
        if status is None:
            return NOutcome.failure(0x0113, f"no Printer event type {req.event_type_id} (1 to 3)")
        info = str(req.dataset.value("PrinterStatusInfo", "") or "").strip() if req.dataset is not None else ""
        self.events.append((status, info or status))
        log.info("%s: printer %s reports %s (%s)", req.rc.association_id, req.rc.calling_ae_title, status, info)
        return NOutcome()

    def contexts(self) -> Sequence[PresentationContext]:
        return [PresentationContext(u, list(self.transfer_syntaxes)) for u in self.sop_classes]


__all__ = ["FilmBoxHandle", "PrintClient", "PrintReport", "PrinterEvents", "describe", "image_item", "print_contexts",
           "print_images", "print_items"]
