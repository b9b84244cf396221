"""Bulk data kept as files next to a DICOM JSON or XML document (PS3.18 F.2.6, PS3.19 A.1.5 BulkData).

:class:`BulkDataFiles` gives both callables the JSON and XML models take: ``handler`` stores a large value
as a file and returns its relative URI; ``reader`` loads the Value Field a URI refers to. Values are the
little endian Value Field, as DICOMweb bulk data is.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from ..core.charset import DEFAULT
from ..core.element import DataElement
from ..core.errors import InvalidFileError
from ..core.tag import Tag
from ..core.values import encode_value
from ..core.vr import BYTES_VRS, NUMBER_FORMATS, VR


class BulkDataFiles:
    """Bulk data stored as ``<directory>/<tag>-<n>.bin``, referred to by relative URIs.

    >>> files = BulkDataFiles("out.bulk")
    >>> text = ds.to_json(bulk_data_handler=files.handler, bulk_data_threshold=4096)
    >>> back = Dataset.from_json(text, bulk_data_reader=files.reader)
    """

    def __init__(self, directory: str | os.PathLike[str], *, base: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory)
        self.base = Path(base) if base is not None else self.directory.parent  # what URIs are relative to
        self.count = 0

    def handler(self, elem: DataElement) -> str | None:
        """Write the value of a binary or numeric element to a file; other VRs stay inline (None)."""
        vr = elem.vr.value
        if vr in BYTES_VRS:
            data = elem.raw if elem.is_undefined_length and elem.raw is not None else elem.value
            data = bytes(data or b"")
        elif vr in NUMBER_FORMATS:
            data = encode_value(vr, elem.value, True, DEFAULT)  # numbers: no characters
        else:
            return None
        self.directory.mkdir(parents=True, exist_ok=True)
        self.count += 1
        path = self.directory / f"{elem.tag:08X}-{self.count}.bin"
        path.write_bytes(data)
        return os.path.relpath(path, self.base).replace(os.sep, "/")

    def reader(self, tag: Tag, vr: VR, uri: str) -> bytes:
        """The bytes of a relative URI or ``file:`` URI, resolved against ``base``."""
        parsed = urlparse(uri)
        if parsed.scheme not in ("", "file"):
            raise InvalidFileError(f"bulk data {uri!r} for {tag} is not a file; fetch it over the network "
                                   "with your own bulk_data_reader")
        path = Path(unquote(parsed.path))
        if not path.is_absolute():
            path = self.base / path
        try:
            return path.read_bytes()
        except OSError as exc:
            raise InvalidFileError(f"bulk data {uri!r} for {tag}: {exc.strerror}", source=str(path)) from None


__all__ = ["BulkDataFiles"]
