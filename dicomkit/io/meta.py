"""File Meta Information (PS3.10 7.1): group 0002, always Explicit VR Little Endian, with its group length.

One encoder for every writer of Part 10 files: :func:`dicomkit.write` (through :func:`build_file_meta` and
:func:`encode_file_meta`) and the storage SCP, which writes the header of each received object straight from
the C-STORE command and the presentation context with :func:`part10_header` (it runs once per object, so it
builds the bytes without a Dataset).
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Iterable

from ..core.charset import DEFAULT
from ..core.dataset import Dataset
from ..core.errors import InvalidValueError
from ..core.tag import (
    MEDIA_STORAGE_SOP_CLASS_UID,
    MEDIA_STORAGE_SOP_INSTANCE_UID,
    SOP_CLASS_UID,
    SOP_INSTANCE_UID,
    TRANSFER_SYNTAX_UID,
)
from ..core.uid import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME, UID
from .raw import LONG_VR_BYTES

FILE_META_INFORMATION_VERSION = 0x00020001
IMPLEMENTATION_CLASS = 0x00020012
IMPLEMENTATION_VERSION = 0x00020013
SOURCE_APPLICATION_ENTITY_TITLE = 0x00020016
PREAMBLE = bytes(128)
PREFIX = b"DICM"

_SHORT = struct.Struct("<HH2sH")
_LONG = struct.Struct("<HH2sHI")
# PS3.5 6.2: UI (and binary) values are padded with NUL, text with a space
_NUL_PADDED = frozenset((b"UI", b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"UN", b"UL", b"US"))


def _element(tag: int, vr: bytes, value: bytes) -> bytes:
    if len(value) & 1:
        value += b"\x00" if vr in _NUL_PADDED else b" "
    if vr in LONG_VR_BYTES:
        return _LONG.pack(0x0002, tag & 0xFFFF, vr, 0, len(value)) + value
    return _SHORT.pack(0x0002, tag & 0xFFFF, vr, len(value)) + value


def meta_group(elements: Iterable[tuple[int, bytes, bytes]]) -> bytes:
    """Group 0002 from ``(tag, VR, value bytes)`` in ascending tag order, with (0002,0000) computed."""
    body = b"".join(_element(tag, vr, value) for tag, vr, value in elements if tag != 0x00020000)
    return _SHORT.pack(0x0002, 0x0000, b"UL", 4) + struct.pack("<I", len(body)) + body


def part10_header(sop_class_uid: str, sop_instance_uid: str, transfer_syntax: str,
                  source_ae_title: str = "") -> bytes:
    """Preamble, "DICM" and the File Meta Information of an object whose data set was received over the
    network: from the C-STORE command (SOP Class/Instance), the presentation context (transfer syntax) and the
    calling AE (Source Application Entity Title, PS3.10 7.1)."""
    before, after = _header_parts(sop_class_uid, str(transfer_syntax), source_ae_title)
    instance = _element(MEDIA_STORAGE_SOP_INSTANCE_UID, b"UI", sop_instance_uid.encode("ascii", "replace"))
    return _HEAD + _GROUP_LENGTH.pack(len(before) + len(instance) + len(after)) + before + instance + after


_HEAD = PREAMBLE + PREFIX + _SHORT.pack(0x0002, 0x0000, b"UL", 4)  # up to the value of (0002,0000)
_GROUP_LENGTH = struct.Struct("<I")


@functools.lru_cache(maxsize=256)
def _header_parts(sop_class_uid: str, transfer_syntax: str, source_ae_title: str) -> tuple[bytes, bytes]:
    """The elements :func:`part10_header` writes before and after the SOP Instance UID: the same for every
    object of one SOP Class, transfer syntax and calling AE."""
    before = (_element(FILE_META_INFORMATION_VERSION, b"OB", b"\x00\x01")
              + _element(MEDIA_STORAGE_SOP_CLASS_UID, b"UI", sop_class_uid.encode("ascii", "replace")))
    after = [
        (TRANSFER_SYNTAX_UID, b"UI", transfer_syntax.encode("ascii")),
        (IMPLEMENTATION_CLASS, b"UI", IMPLEMENTATION_CLASS_UID.encode("ascii")),
        (IMPLEMENTATION_VERSION, b"SH", IMPLEMENTATION_VERSION_NAME.encode("ascii")),
    ]
    if source_ae_title:
        after.append((SOURCE_APPLICATION_ENTITY_TITLE, b"AE", source_ae_title.encode("ascii", "replace")))
    return before, b"".join(_element(tag, vr, value) for tag, vr, value in after)


def encode_file_meta(meta: Dataset) -> bytes:
    """Group 0002 of ``meta`` in Explicit VR Little Endian with a correct group length (PS3.10 7.1)."""
    return meta_group((elem._tag, str(elem.vr).encode(), elem.encoded(True, DEFAULT))
                      for elem in meta if elem._tag >> 16 == 0x0002)


def build_file_meta(ds: Dataset, transfer_syntax: UID) -> Dataset:
    """File Meta Information for ``ds`` (PS3.10 7.1), keeping what its current meta holds where valid."""
    old = ds.file_meta
    meta = Dataset()
    if old is not None:
        for elem in old:
            if elem.tag >> 16 == 0x0002 and elem.tag != 0x00020000:
                meta.add(elem)
    changed_ts = old is None or str(old.value(TRANSFER_SYNTAX_UID, "")).strip("\x00 ") != str(transfer_syntax)
    if FILE_META_INFORMATION_VERSION not in meta:
        meta.add_new(FILE_META_INFORMATION_VERSION, "OB", b"\x00\x01")
    for meta_tag, tag, what in ((MEDIA_STORAGE_SOP_CLASS_UID, SOP_CLASS_UID, "SOP Class UID (0008,0016)"),
                                (MEDIA_STORAGE_SOP_INSTANCE_UID, SOP_INSTANCE_UID, "SOP Instance UID (0008,0018)")):
        value = ds.value(tag)
        if value:
            if str(meta.value(meta_tag, "")) != str(value):
                # the data set's own UID, as it is: its element is refused if it was assigned invalid
                meta.add_new(meta_tag, "UI", str(value), validate=False)
        elif meta_tag not in meta:
            raise InvalidValueError(f"cannot write a Part 10 file: the data set has no {what}")
    if changed_ts:
        meta.add_new(TRANSFER_SYNTAX_UID, "UI", str(transfer_syntax))
    if changed_ts or IMPLEMENTATION_CLASS not in meta:
        # PS3.7 D.3.3.2: the implementation that encoded the data set identifies itself.
        meta.add_new(IMPLEMENTATION_CLASS, "UI", IMPLEMENTATION_CLASS_UID)
        meta.add_new(IMPLEMENTATION_VERSION, "SH", IMPLEMENTATION_VERSION_NAME)
    return meta


__all__ = ["build_file_meta", "encode_file_meta", "meta_group", "part10_header"]
