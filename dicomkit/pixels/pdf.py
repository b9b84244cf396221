"""PDF files of images, one page per image at a given physical size (ISO 32000-1, written here with zlib).

Each page holds one image XObject (DeviceGray or DeviceRGB, 8 bits, FlateDecode) drawn over the whole page;
the page's MediaBox is its size in points (1/72 inch). Enough for films printed to a file.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from ..core.errors import PixelDataError


def encode_pdf(pages: Sequence[tuple[NDArray[np.uint8], float, float]], *, title: str = "") -> bytes:
    """A PDF of ``pages``: (image, width_mm, height_mm) each; an image is (rows, columns) or (rows, columns, 3)."""
    if not pages:
        raise PixelDataError("a PDF needs at least one page")
    objects: list[bytes] = []  # object n+1 is objects[n]

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below, once the page tree's number is known
    tree = add(b"")
    kids = []
    for image, width_mm, height_mm in pages:
        if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
            raise PixelDataError(f"a PDF page takes an 8-bit gray or RGB image, not {image.dtype} {image.shape}")
        rows, columns = image.shape[:2]
        space = b"/DeviceRGB" if image.ndim == 3 else b"/DeviceGray"
        data = zlib.compress(np.ascontiguousarray(image).tobytes(), 6)
        xobject = add(b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s /BitsPerComponent 8 "
                      b"/Filter /FlateDecode /Length %d >>\nstream\n" % (columns, rows, space, len(data))
                      + data + b"\nendstream")
        w, h = width_mm * 72 / 25.4, height_mm * 72 / 25.4
        content = b"q %.3f 0 0 %.3f 0 0 cm /Im0 Do Q" % (w, h)
        stream = add(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.3f %.3f] /Resources << /XObject "
                        b"<< /Im0 %d 0 R >> >> /Contents %d 0 R >>" % (tree, w, h, xobject, stream)))
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % tree
    objects[tree - 1] = (b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids)
                         + b"] /Count %d >>" % len(kids))
    safe = title.encode("ascii", "replace").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    info = add(b"<< /Producer (dicomkit) /Title (" + safe + b") >>")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, catalog, info, xref)
    return bytes(out)


__all__ = ["encode_pdf"]
