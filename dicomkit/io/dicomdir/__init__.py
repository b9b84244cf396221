"""DICOMDIR and File-sets (PS3.10 8, PS3.3 Annex F, PS3.11 Annex D STD-GEN-CD).

- ``read``: a DICOMDIR read into a tree of Directory Records (:func:`read_dicomdir`, :class:`FileSet`);
- ``write``: creating and updating File-sets (:func:`create_fileset`, :func:`add_to_fileset`,
  :func:`remove_from_fileset`), the DICOMDIR always written whole with fresh offsets.
"""

from .read import MEDIA_STORAGE_DIRECTORY_STORAGE, DirectoryRecord, FileSet, read_dicomdir, record_offsets
from .write import (
    FileSetError,
    FileSetReport,
    add_to_fileset,
    create_fileset,
    encode_fileset,
    remove_from_fileset,
)

__all__ = [
    "MEDIA_STORAGE_DIRECTORY_STORAGE",
    "DirectoryRecord",
    "FileSet",
    "FileSetError",
    "FileSetReport",
    "add_to_fileset",
    "create_fileset",
    "encode_fileset",
    "read_dicomdir",
    "record_offsets",
    "remove_from_fileset",
]
