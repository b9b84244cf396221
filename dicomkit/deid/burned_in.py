"""Burned-in annotation (PS3.15 E.1.1 item 2 Note 5, E.3.1 Clean Pixel Data Option).

:func:`burned_in_reason` says why an instance's pixel data may carry burned-in identification: Burned In
Annotation (0028,0301) is YES, or it is absent for the modalities and SOP classes that commonly burn text
in (ultrasound, secondary capture, X-ray angiography). :func:`mask_regions` blanks configured rectangles in
every frame through :mod:`dicomkit.pixels` (imported only then; it needs numpy). Pixel data is otherwise
never touched.
"""

from __future__ import annotations

from typing import Any

from ..core.dataset import Dataset
from ..core.errors import DicomError
from .profile import DeidentificationError, Region

# Where text is commonly burned in when Burned In Annotation is not stated (issue 13; PS3.3 C.7.6.1.1.5).
UNSTATED_MODALITIES = frozenset({"US", "SC", "XA"})
SECONDARY_CAPTURE_PREFIX = "1.2.840.10008.5.1.4.1.1.7"
_PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)


def burned_in_reason(ds: Dataset) -> str | None:
    """Why the pixel data may carry burned-in identification, or None (no pixel data, or stated NO)."""
    if not any(t in ds for t in _PIXEL_TAGS):
        return None
    stated = str(ds.get("BurnedInAnnotation") or "").strip().upper()
    if stated == "YES":
        return "Burned In Annotation is YES"
    if stated:
        return None
    modality = str(ds.get("Modality") or "").strip().upper()
    sop_class = str(ds.get("SOPClassUID") or "")
    if modality in UNSTATED_MODALITIES:
        return f"Burned In Annotation is not stated for modality {modality}"
    if sop_class.startswith(SECONDARY_CAPTURE_PREFIX):
        return "Burned In Annotation is not stated for a Secondary Capture image"
    return None


def mask_regions(ds: Dataset, regions: tuple[Region, ...]) -> bool:
    """Blank ``regions`` (pixel value 0, the black of MONOCHROME2 and RGB) in every frame of ``ds``.

    Native pixel data keeps its encoding; compressed pixel data is decoded and written back native
    (Explicit VR Little Endian), since re-encoding a lossy stream would lose more. Returns True when
    pixels were changed.
    """
    if not regions:
        return False
    try:
        from ..pixels import decoded_photometric, describe, pixel_source, set_pixel_data
    except DicomError as exc:
        raise DeidentificationError(f"masking pixel regions needs dicomkit.pixels: {exc}") from None
    try:
        # (frames, rows, columns, samples) in the stored colour space, a new array
        frames: Any = pixel_source(ds).decode_all()
        photometric = decoded_photometric(describe(ds))
        rows, columns = frames.shape[1], frames.shape[2]
        changed = False
        for r in regions:
            if r.x >= columns or r.y >= rows:
                continue
            frames[:, r.y:min(rows, r.y + r.height), r.x:min(columns, r.x + r.width), :] = 0
            changed = True
        if not changed:
            return False
        allocated = int(ds.get("BitsAllocated") or frames.dtype.itemsize * 8)
        set_pixel_data(ds, frames, photometric=photometric, bits_stored=ds.get("BitsStored"),
                       bits_allocated=allocated, planar_configuration=int(ds.get("PlanarConfiguration") or 0))
    except DicomError as exc:
        raise DeidentificationError(f"cannot mask the pixel data: {exc}") from None
    return True
