"""Printing films into a folder: each film a PNG and a PDF at its physical size (and, asked for, a DICOM Secondary
Capture image), with a JSON note of what was asked.

:class:`FolderSpooler` is the spooler of :class:`~.scp.PrintSCP` that ``dicomkit print-scp`` uses. A film is
laid out from its Image Display Format on its Film Size ID and Film Orientation at ``dpi`` dots per inch
(twice as many for Requested Resolution ID HIGH), its images turned into display values
(:func:`dicomkit.pixels.film.print_image`: polarity, MONOCHROME1, Presentation LUT) and placed by
:func:`~dicomkit.pixels.film.compose_film` with the Magnification Type, Border and Empty Image Density and
Trim asked for (a Requested Image Size larger than its box is decimated to fit unless Requested
Decimate/Crop Behavior is CROP; FAIL is printed as DECIMATE). The files are
``OUTPUT/<date>-<time>-<AE>-<n>.png|.pdf|.dcm|.json``, each written atomically. The ``.dcm`` is a Secondary
Capture Image (PS3.3 A.8.1; Conversion Type WSD, the film session label as Series Description, one series per
film session) that a PACS can store.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...core.dataset import Dataset
from ...core.errors import DicomError
from ...io.writer import write_atomic, write_bytes_atomic
from .model import RESOLUTIONS, density_gray, film_size_mm, layout, text_of
from .scp import ImageBox, PrintedFilm

GAP = 0.01  # of the film's shorter side, between boxes and around them
FORMATS = ("png", "pdf", "dcm")
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


def _number(ds: Dataset, keyword: str, default: int) -> int:
    value = ds.value(keyword)
    try:
        return int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def _lut(film: PrintedFilm, *places: Dataset) -> tuple[Sequence[int] | None, int, tuple[int, int] | None]:
    """The Presentation LUT that applies (the image box's, else the film box's, else the session's, H.4.9)."""
    for place in places:
        items = place.value("ReferencedPresentationLUTSequence")
        if not items:
            continue
        ref = str(items[0].value("ReferencedSOPInstanceUID", "") or "").strip("\x00 ")
        lut = film.presentation_luts.get(ref)
        if lut is None:
            continue
        shape = text_of(lut, 0x20500020)
        if shape == "LIN OD":
            return None, 8, (_number(film.film_box, "MinDensity", 20), _number(film.film_box, "MaxDensity", 300))
        if shape == "IDENTITY":
            return None, 8, None
        item = lut.value("PresentationLUTSequence")[0]
        descriptor = item.value("LUTDescriptor")
        data = item.value("LUTData")
        values = list(data) if isinstance(data, (list, tuple)) else _words(data)
        bits = int(descriptor[2]) if isinstance(descriptor, (list, tuple)) and len(descriptor) > 2 else 16
        return values, bits, None
    return None, 8, None


def _words(data: Any) -> list[int]:
    raw = bytes(data or b"")
    return [int.from_bytes(raw[i:i + 2], "little") for i in range(0, len(raw) - 1, 2)]


class FolderSpooler:
    """Writes each film into ``output`` (see the module documentation); ``formats`` among png, pdf, dcm."""

    def __init__(self, output: str | Path, *, dpi: int = 150, formats: Sequence[str] = ("png", "pdf")) -> None:
        self.output = Path(output)
        if self.output.exists() and not self.output.is_dir():
            raise DicomError(f"{self.output} is not a folder")
        self.output.mkdir(parents=True, exist_ok=True)
        if dpi < 10 or dpi > 1200:
            raise DicomError(f"dpi {dpi}: expected 10 to 1200")
        unknown = set(formats) - set(FORMATS)
        if unknown or not formats:
            raise DicomError(f"formats: {', '.join(FORMATS)}, not {', '.join(sorted(unknown)) or 'none'}")
        self.dpi = dpi
        self.formats = tuple(formats)
        self._series: dict[str, tuple[str, str]] = {}  # film session -> (Study, Series Instance UID)

    def render(self, film: PrintedFilm) -> tuple[Any, tuple[float, float]]:
        """The film as an 8-bit image and its (width, height) in millimetres."""
        from ...pixels.film import PlacedImage, compose_film

        fb = film.film_box
        width_mm, height_mm = film_size_mm(text_of(fb, 0x20100050), text_of(fb, 0x20100040))
        dpi = self.dpi * RESOLUTIONS.get(text_of(fb, 0x20200050), 1)
        width, height = round(width_mm / 25.4 * dpi), round(height_mm / 25.4 * dpi)
        low, high = _number(fb, "MinDensity", 20), _number(fb, "MaxDensity", 300)
        gap = max(1, round(min(width, height) * GAP))
        placed = []
        by_position = {b.position: b for b in film.image_boxes}
        for geometry in layout(text_of(fb, 0x20100010)):
            x0, y0 = round(geometry.x * (width - gap)) + gap, round(geometry.y * (height - gap)) + gap
            x1 = round((geometry.x + geometry.width) * (width - gap))
            y1 = round((geometry.y + geometry.height) * (height - gap))
            box = by_position.get(geometry.position)
            image, magnification, size, aspect = None, text_of(fb, 0x20100060) or "BILINEAR", None, 1.0
            crop = False
            if box is not None and box.image is not None:
                image = self._image(film, box, low, high)
                magnification = text_of(box.attributes, 0x20100060) or magnification
                size, aspect = self._size(box, dpi)
                crop = text_of(box.attributes, 0x20200040) == "CROP"
            placed.append(PlacedImage(x0, y0, max(1, x1 - x0), max(1, y1 - y0), image, magnification, size, aspect,
                                      crop))
        border = density_gray(text_of(fb, 0x20100100) or "BLACK", min_density=low, max_density=high)
        empty = density_gray(text_of(fb, 0x20100110) or "BLACK", min_density=low, max_density=high)
        image = compose_film(width, height, placed, border=border, empty=empty, color=film.color,
                             trim=text_of(fb, 0x20100140) == "YES")
        return image, (width_mm, height_mm)

    @staticmethod
    def _image(film: PrintedFilm, box: ImageBox, low: int, high: int) -> Any:
        from ...pixels.film import print_image

        item = box.image
        assert item is not None
        lut, lut_bits, lin_od = _lut(film, box.attributes, film.film_box, film.session)
        if lin_od is not None:
            lin_od = (low, high)
        return print_image(bytes(item.value(0x7FE00010)), int(item.Rows), int(item.Columns),
                           samples=int(item.SamplesPerPixel), bits_allocated=int(item.BitsAllocated),
                           bits_stored=int(item.BitsStored), photometric=str(item.PhotometricInterpretation),
                           planar_configuration=int(item.value("PlanarConfiguration", 1) or 0),
                           polarity=text_of(box.attributes, 0x20200020) or "NORMAL", lut=lut, lut_bits=lut_bits,
                           lin_od=lin_od)

    @staticmethod
    def _size(box: ImageBox, dpi: int) -> tuple[int | None, float]:
        item = box.image
        assert item is not None
        aspect = 1.0
        ratio = item.value("PixelAspectRatio")
        if isinstance(ratio, (list, tuple)) and len(ratio) == 2 and int(ratio[1]):
            aspect = int(ratio[0]) / int(ratio[1])  # PS3.3 C.7.6.3.1.7: row : column
        requested = box.attributes.value("RequestedImageSize")
        try:
            size = round(float(requested) / 25.4 * dpi) if requested not in (None, "") else None
        except (TypeError, ValueError):
            size = None
        return size, aspect

    def __call__(self, film: PrintedFilm) -> list[Path]:
        from ...pixels.pdf import encode_pdf
        from ...pixels.png import encode_png

        image, (width_mm, height_mm) = self.render(film)
        ae = "".join(c if c.isalnum() or c in "-_" else "_" for c in film.calling_ae_title.strip()) or "SCU"
        stem = self.output / f"{time.strftime('%Y%m%d-%H%M%S')}-{ae}-{film.number:04d}"
        paths = []
        if "png" in self.formats:
            paths.append(write_bytes_atomic(stem.with_suffix(".png"), encode_png(image)))
        if "pdf" in self.formats:
            label = text_of(film.session, 0x20000050) or f"film {film.number}"
            paths.append(write_bytes_atomic(stem.with_suffix(".pdf"), encode_pdf([(image, width_mm, height_mm)],
                                                                          title=label)))
        if "dcm" in self.formats:
            path = stem.with_suffix(".dcm")
            write_atomic(self.secondary_capture(film, image, dpi=image.shape[1] / (width_mm / 25.4)), path)
            paths.append(path)
        note = {"calling_ae_title": film.calling_ae_title, "film_session": film.session_uid,
                "film_box": film.film_box_uid, "copies": film.copies, "color": film.color,
                "pixels": [int(image.shape[1]), int(image.shape[0])], "size_mm": [width_mm, height_mm],
                "session": _attributes(film.session), "film": _attributes(film.film_box),
                "images": [{"position": b.position, "printed": b.image is not None, **_attributes(b.attributes),
                            **({"rows": int(b.image.Rows), "columns": int(b.image.Columns),
                                "photometric": str(b.image.PhotometricInterpretation)} if b.image is not None else {})}
                           for b in film.image_boxes],
                "files": [p.name for p in paths]}
        paths.append(write_bytes_atomic(stem.with_suffix(".json"), json.dumps(note, indent=1).encode()))
        return paths


    def secondary_capture(self, film: PrintedFilm, image: Any, *, dpi: float) -> Dataset:
        """The film as a Secondary Capture Image (PS3.3 A.8.1): the films of one session in one series."""
        from ...core.uid import generate_uid
        from ...pixels.encode import set_pixel_data

        study, series = self._series.setdefault(film.session_uid, (str(generate_uid()), str(generate_uid())))
        if len(self._series) > 1024:  # forget old sessions
            self._series = {film.session_uid: (study, series)}
        now = time.localtime()
        ds = Dataset()
        ds.SpecificCharacterSet = "ISO_IR 192"
        ds.SOPClassUID = SECONDARY_CAPTURE
        ds.SOPInstanceUID = str(generate_uid())
        ds.StudyDate = ds.ContentDate = time.strftime("%Y%m%d", now)
        ds.StudyTime = ds.ContentTime = time.strftime("%H%M%S", now)
        ds.AccessionNumber = ""
        ds.Modality = "OT"
        ds.ConversionType = "WSD"  # PS3.3 C.8.6.1: workstation
        ds.Manufacturer = "dicomkit"
        ds.ReferringPhysicianName = ""
        ds.SeriesDescription = text_of(film.session, 0x20000050) or "printed films"
        ds.PatientName = ""
        ds.PatientID = ""
        ds.PatientBirthDate = ""
        ds.PatientSex = ""
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.StudyID = ""
        ds.SeriesNumber = 1
        ds.Laterality = ""  # Type 2C; dciodvfy asks for it (docs/clinical.md, "Agreement with dciodvfy")
        ds.InstanceNumber = film.number
        ds.PatientOrientation = ""
        ds.NominalScannedPixelSpacing = [f"{25.4 / dpi:.6g}"] * 2  # mm on the film
        set_pixel_data(ds, image, photometric="RGB" if image.ndim == 3 else "MONOCHROME2")
        return ds


def _attributes(ds: Dataset) -> dict[str, str]:
    """The plain-valued attributes of a print SOP Instance, by keyword (sequences left out)."""
    from ...core.dictionary import keyword_for_tag

    out = {}
    for elem in ds:
        if elem.vr == "SQ":
            continue
        out[keyword_for_tag(int(elem.tag)) or str(elem.tag)] = text_of(ds, int(elem.tag))
    return out


__all__ = ["FolderSpooler"]
