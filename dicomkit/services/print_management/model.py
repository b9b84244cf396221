"""Print Management as data (PS3.4 Annex H, PS3.3 C.13): the SOP Classes, the statuses, the attributes each
SOP Class takes with the values they may have, and the layout of a film from its Image Display Format.

:func:`check_attributes` checks an N-CREATE Attribute List or N-SET Modification List against one of the
tables (:data:`FILM_SESSION`, :data:`FILM_BOX`, :data:`FILM_BOX_SETTABLE`, :data:`IMAGE_BOX`,
:data:`PRESENTATION_LUT`): unknown attributes are a warning (0107H, PS3.7 10.1.5.1.6), a value outside
the Enumerated / Defined Terms this printer supports is 0106H naming the attribute.

:func:`layout` turns an Image Display Format (``STANDARD\\C,R``, ``ROW\\n1,n2,...``, ``COL\\n1,n2,...``,
PS3.3 C.13.3) into the boxes of a film, in Image Box Position order, as fractions of the film.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ...core import uid
from ...core.dataset import Dataset
from ...core.dictionary import keyword_for_tag, tag_for_keyword
from ...core.errors import DicomError


def _class(keyword: str) -> str:
    return str(uid.registered(keyword))


# PS3.4 H.2 / PS3.6 Table A-1
GRAYSCALE_META = _class("BasicGrayscalePrintManagementMeta")
COLOR_META = _class("BasicColorPrintManagementMeta")
FILM_SESSION_CLASS = _class("BasicFilmSession")
FILM_BOX_CLASS = _class("BasicFilmBox")
GRAYSCALE_IMAGE_BOX_CLASS = _class("BasicGrayscaleImageBox")
COLOR_IMAGE_BOX_CLASS = _class("BasicColorImageBox")
PRINTER_CLASS = _class("Printer")
PRINTER_INSTANCE = _class("PrinterInstance")
PRESENTATION_LUT_CLASS = _class("PresentationLUT")

META_CLASSES: dict[str, tuple[str, ...]] = {  # PS3.4 H.3.1, H.3.2: the SOP Classes of each Meta SOP Class
    GRAYSCALE_META: (FILM_SESSION_CLASS, FILM_BOX_CLASS, GRAYSCALE_IMAGE_BOX_CLASS, PRINTER_CLASS),
    COLOR_META: (FILM_SESSION_CLASS, FILM_BOX_CLASS, COLOR_IMAGE_BOX_CLASS, PRINTER_CLASS),
}
IMAGE_BOX_OF_META = {GRAYSCALE_META: GRAYSCALE_IMAGE_BOX_CLASS, COLOR_META: COLOR_IMAGE_BOX_CLASS}

ACTION_PRINT = 1  # PS3.4 H.4.1, H.4.2 (N-ACTION of Film Session and Film Box): Action Type ID of "print"
# PS3.4 H.4.6 (Printer SOP Class): the N-EVENT-REPORT Event Type IDs
PRINTER_EVENTS = {1: "NORMAL", 2: "WARNING", 3: "FAILURE"}
PRINTER_EVENT_OF = {v: k for k, v in PRINTER_EVENTS.items()}

# -- the statuses specific to Print Management (PS3.4 H.4.1, H.4.2, H.4.3: the status tables of each operation) --
COLLATION_NOT_SUPPORTED = 0xB601
SESSION_EMPTY_PAGE = 0xB602
FILM_BOX_EMPTY_PAGE = 0xB603
IMAGE_DEMAGNIFIED = 0xB604
DENSITY_OUT_OF_RANGE = 0xB605
IMAGE_CROPPED = 0xB609
IMAGE_DECIMATED = 0xB60A
NO_FILM_BOX = 0xC600
QUEUE_FULL_SESSION = 0xC601
QUEUE_FULL_FILM_BOX = 0xC602
IMAGE_TOO_LARGE = 0xC603
INSUFFICIENT_MEMORY = 0xC605
COMBINED_IMAGE_TOO_LARGE = 0xC613
FILM_BOX_NOT_PRINTED = 0xC616

PRINT_STATUSES: dict[int, str] = {
    COLLATION_NOT_SUPPORTED: "Warning: Film Session printing (collation) is not supported",
    SESSION_EMPTY_PAGE: "Warning: the Film Session has no Image Box with an image (empty page)",
    FILM_BOX_EMPTY_PAGE: "Warning: the Film Box has no Image Box with an image (empty page)",
    IMAGE_DEMAGNIFIED: "Warning: the image is larger than its Image Box and was demagnified",
    DENSITY_OUT_OF_RANGE: "Warning: Min Density or Max Density outside the printer's range",
    IMAGE_CROPPED: "Warning: the image is larger than its Image Box and was cropped",
    IMAGE_DECIMATED: "Warning: the image is larger than its Image Box and was decimated",
    NO_FILM_BOX: "Failure: the Film Session has no Film Box",
    QUEUE_FULL_SESSION: "Failure: unable to create a Print Job (print queue full)",
    QUEUE_FULL_FILM_BOX: "Failure: unable to create a Print Job (print queue full)",
    IMAGE_TOO_LARGE: "Failure: the image is larger than its Image Box",
    INSUFFICIENT_MEMORY: "Failure: insufficient memory in the printer to store the image",
    COMBINED_IMAGE_TOO_LARGE: "Failure: the Combined Print Image is larger than the Image Box",
    FILM_BOX_NOT_PRINTED: "Failure: a Film Box that has not been printed exists",
}

# -- films ------------------------------------------------------------------------------------------------------
# PS3.3 C.13.3 Film Size ID Defined Terms: (width, height) in millimetres, portrait
FILM_SIZES: dict[str, tuple[float, float]] = {
    "8INX10IN": (203.2, 254.0), "8_5INX11IN": (215.9, 279.4), "10INX12IN": (254.0, 304.8),
    "10INX14IN": (254.0, 355.6), "11INX14IN": (279.4, 355.6), "11INX17IN": (279.4, 431.8),
    "14INX14IN": (355.6, 355.6), "14INX17IN": (355.6, 431.8), "24CMX24CM": (240.0, 240.0),
    "24CMX30CM": (240.0, 300.0), "A4": (210.0, 297.0), "A3": (297.0, 420.0),
}
MAGNIFICATION_TYPES = ("REPLICATE", "BILINEAR", "CUBIC", "NONE")
MEDIUM_TYPES = ("PAPER", "CLEAR FILM", "BLUE FILM", "MAMMO CLEAR FILM", "MAMMO BLUE FILM")
PRINT_PRIORITIES = ("HIGH", "MED", "LOW")
PRESENTATION_LUT_SHAPES = ("IDENTITY", "LIN OD")
RESOLUTIONS = {"STANDARD": 1, "HIGH": 2}  # Requested Resolution ID -> multiple of the printer's dpi


def density_ok(value: str) -> bool:
    """Border / Empty Image Density (PS3.3 C.13.3): BLACK, WHITE or hundredths of optical density."""
    return value in ("BLACK", "WHITE") or value.isdigit()


def _one_of(*choices: str) -> Callable[[str], bool]:
    return lambda value: value in choices


def _destination_ok(value: str) -> bool:
    return value in ("MAGAZINE", "PROCESSOR") or re.fullmatch(r"BIN_\d+", value) is not None


def _copies_ok(value: str) -> bool:
    return value.isdigit() and 1 <= int(value) <= 99


def _priority_ok(value: str) -> bool:
    return value in PRINT_PRIORITIES


def _display_format_ok(value: str) -> bool:
    try:
        layout(value)
    except PrintError:
        return False
    return True


def _yes_no(value: str) -> bool:
    return value in ("YES", "NO")


def _any(value: str) -> bool:
    return True


Check = Callable[[str], bool]


def _table(**checks: Check) -> dict[int, Check]:
    out = {}
    for keyword, check in checks.items():
        tag = tag_for_keyword(keyword)
        if tag is None:
            raise DicomError(f"unknown keyword {keyword!r} in the print tables")
        out[tag] = check
    return out


# PS3.4 H.4.1.1 (Basic Film Session: N-CREATE and N-SET attributes)
FILM_SESSION = _table(NumberOfCopies=_copies_ok, PrintPriority=_priority_ok, MediumType=_one_of(*MEDIUM_TYPES),
                      FilmDestination=_destination_ok, FilmSessionLabel=_any, MemoryAllocation=_any, OwnerID=_any,
                      ReferencedPresentationLUTSequence=_any, Illumination=_any, ReflectedAmbientLight=_any)
# PS3.4 H.4.2.1 (Basic Film Box: N-CREATE attributes; the N-SET ones below)
FILM_BOX_SETTABLE = _table(MagnificationType=_one_of(*MAGNIFICATION_TYPES), SmoothingType=_any,
                           BorderDensity=density_ok, EmptyImageDensity=density_ok, MinDensity=_any, MaxDensity=_any,
                           Trim=_yes_no, ConfigurationInformation=_any, Illumination=_any, ReflectedAmbientLight=_any,
                           ReferencedPresentationLUTSequence=_any)
FILM_BOX = {**FILM_BOX_SETTABLE, **_table(
    ImageDisplayFormat=_display_format_ok, AnnotationDisplayFormatID=_any,
    FilmOrientation=_one_of("PORTRAIT", "LANDSCAPE"), FilmSizeID=_one_of(*FILM_SIZES),
    RequestedResolutionID=_one_of(*RESOLUTIONS), ReferencedFilmSessionSequence=_any)}
# PS3.4 H.4.3.1 (Basic Grayscale / Color Image Box: N-SET attributes)
IMAGE_BOX = _table(ImageBoxPosition=_any, Polarity=_one_of("NORMAL", "REVERSE"),
                   MagnificationType=_one_of(*MAGNIFICATION_TYPES), SmoothingType=_any,
                   RequestedImageSize=_any, RequestedDecimateCropBehavior=_one_of("DECIMATE", "CROP", "FAIL"),
                   BasicGrayscaleImageSequence=_any, BasicColorImageSequence=_any,
                   ReferencedPresentationLUTSequence=_any, ConfigurationInformation=_any)
# PS3.4 H.4.9.1 (Presentation LUT: N-CREATE attributes)
PRESENTATION_LUT = _table(PresentationLUTSequence=_any, PresentationLUTShape=_one_of(*PRESENTATION_LUT_SHAPES))


class PrintError(DicomError):
    """A print request that cannot be performed: ``status`` to answer with, ``offending`` the tags."""

    def __init__(self, message: str, status: int = 0x0106, offending: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.offending = offending


@dataclass(frozen=True)
class AttributeCheck:
    """The result of :func:`check_attributes`: ``unknown`` attributes (a 0107H warning)."""

    unknown: tuple[int, ...]


def text_of(ds: Dataset, tag: int) -> str:
    """The value of a CS/ST/IS/LO element as stripped text ('' when absent or empty)."""
    if tag not in ds:
        return ""
    value = ds.value(tag)
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "\\".join(str(v).strip() for v in value)
    return str(value).strip()


def check_attributes(ds: Dataset, table: dict[int, Check], what: str) -> AttributeCheck:
    """Check a request's attributes against ``table`` (see the module documentation)."""
    unknown = []
    for elem in ds:
        tag = int(elem.tag)
        check = table.get(tag)
        if check is None:
            unknown.append(tag)
            continue
        if elem.vr == "SQ":
            continue
        value = text_of(ds, tag)
        if value and not check(value):
            keyword = keyword_for_tag(tag) or f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
            raise PrintError(f"{what}: {keyword} {value!r} is not supported", 0x0106, (tag,))
    return AttributeCheck(tuple(unknown))


# -- layout (PS3.3 C.13.3 Image Display Format) ---------------------------------------------------------------
@dataclass(frozen=True)
class Box:
    """One Image Box on a film: its position (1-based) and place as fractions of the film (x, y, width, height)."""

    position: int
    x: float
    y: float
    width: float
    height: float


def layout(display_format: str) -> list[Box]:
    """The image boxes of an Image Display Format, in Image Box Position order: STANDARD\\C,R is C columns and R
    rows (positions row by row); ROW\\n1,n2,... a row of n1 boxes, then n2, ...; COL\\n1,n2,... columns of n1,
    n2, ... boxes (positions column by column). PrintError for other formats (SLIDE, SUPERSLIDE, CUSTOM)."""
    text = display_format.strip().upper()
    kind, _, args = text.partition("\\")
    try:
        numbers = [int(n) for n in args.split(",")] if args else []
    except ValueError:
        numbers = []
    if not numbers or any(n < 1 or n > 64 for n in numbers):
        raise PrintError(f"Image Display Format {display_format!r}: expected STANDARD\\C,R, ROW\\n1,n2,... or "
                         "COL\\n1,n2,... with counts from 1 to 64", 0x0106, (0x20100010,))
    boxes: list[Box] = []
    if kind == "STANDARD" and len(numbers) == 2:
        columns, rows = numbers
        for r in range(rows):
            for c in range(columns):
                boxes.append(Box(len(boxes) + 1, c / columns, r / rows, 1 / columns, 1 / rows))
    elif kind == "ROW":
        rows = len(numbers)
        for r, n in enumerate(numbers):
            for c in range(n):
                boxes.append(Box(len(boxes) + 1, c / n, r / rows, 1 / n, 1 / rows))
    elif kind == "COL":
        columns = len(numbers)
        for c, n in enumerate(numbers):
            for r in range(n):
                boxes.append(Box(len(boxes) + 1, c / columns, r / n, 1 / columns, 1 / n))
    else:
        raise PrintError(f"Image Display Format {display_format!r} is not supported (STANDARD\\C,R, ROW\\..., "
                         "COL\\...)", 0x0106, (0x20100010,))
    if len(boxes) > 256:
        raise PrintError(f"Image Display Format {display_format!r} has {len(boxes)} boxes; at most 256",
                         0x0106, (0x20100010,))
    return boxes


def film_size_mm(film_size_id: str, orientation: str) -> tuple[float, float]:
    """(width, height) of a film in millimetres; LANDSCAPE swaps them."""
    width, height = FILM_SIZES[film_size_id]
    return (height, width) if orientation == "LANDSCAPE" else (width, height)


def density_gray(value: str, *, min_density: int = 20, max_density: int = 300) -> int:
    """An 8-bit gray for a density (PS3.3 C.13.3): WHITE and BLACK the film's lightest and darkest, else
    hundredths of optical density as luminance relative to the film's base (10^-(D - Dmin))."""
    if value == "WHITE":
        return 255
    if value == "BLACK":
        return 0
    density = max(int(value), min_density)
    return max(0, min(255, round(255 * 10 ** (-(density - min_density) / 100))))


__all__ = [
    "ACTION_PRINT", "COLOR_IMAGE_BOX_CLASS", "COLOR_META", "FILM_BOX", "FILM_BOX_CLASS", "FILM_BOX_SETTABLE",
    "FILM_SESSION", "FILM_SESSION_CLASS", "FILM_SIZES", "GRAYSCALE_IMAGE_BOX_CLASS", "GRAYSCALE_META", "IMAGE_BOX",
    "IMAGE_BOX_OF_META", "MAGNIFICATION_TYPES", "MEDIUM_TYPES", "META_CLASSES", "PRESENTATION_LUT",
    "PRESENTATION_LUT_CLASS", "PRINTER_CLASS", "PRINTER_EVENTS", "PRINTER_INSTANCE", "PRINT_STATUSES", "Box",
    "PrintError", "check_attributes", "density_gray", "film_size_mm", "layout", "text_of",
]
