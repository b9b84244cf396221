"""Data Sets (PS3.5 7): an ordered mapping of tags to Data Elements, with keyword access.

Elements read from a file are kept as index entries ``(vr, offset, length)`` over the source buffer and
become DataElement objects only when touched; values are decoded only when read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from .dictionary import lookup, tag_for_keyword
from .element import _UNSET, DataElement, SourceEncoding
from .errors import InvalidTagError, InvalidValueError
from .tag import PIXEL_REPRESENTATION, SPECIFIC_CHARACTER_SET, TRANSFER_SYNTAX_UID, Tag, parse_tag_string, tag_str
from .values import _DECODERS
from .vr import VR

if TYPE_CHECKING:
    from pathlib import Path

    from .uid import UID

_KEYWORD_TAGS: dict[str, int] = {}
_new_element = object.__new__


def _keyword_tag(name: str) -> int | None:
    tag = _KEYWORD_TAGS.get(name)
    if tag is None:
        tag = tag_for_keyword(name)
        if tag is not None:
            _KEYWORD_TAGS[name] = tag
    return tag


@dataclass(frozen=True)
class Correction:
    """A deviation from the standard found while reading, and what the reader did about it."""

    offset: int | None
    message: str

    def __str__(self) -> str:
        return f"offset {self.offset}: {self.message}" if self.offset is not None else self.message


Key = int | str | tuple[int, int]

_VR_BY_NAME = {str(v): v for v in VR}


def _to_tag(key: Key) -> int:
    if isinstance(key, int):
        if not 0 <= key <= 0xFFFFFFFF:
            raise InvalidTagError(f"tag out of range: {key:#x}")
        return int(key)
    if isinstance(key, str):
        tag = _keyword_tag(key)
        return tag if tag is not None else parse_tag_string(key)
    return int(Tag(key))


class Dataset:
    """A DICOM data set.

    >>> ds = Dataset(); ds.PatientName = "Doe^John"; ds.Rows = 512
    >>> ds.PatientName.family_name, ds["Rows"].vr, 0x00280010 in ds
    ('Doe', <VR.US: 'US'>, True)
    """

    # the lazy index: tag -> DataElement or (vr, offset, length) over self._buf
    _elements: dict[int, Any]

    def __init__(self, elements: Any = None) -> None:
        object.__setattr__(self, "_elements", {})
        object.__setattr__(self, "read_corrections", [])
        if elements:
            if isinstance(elements, Dataset):
                for elem in elements:
                    self._elements[elem._tag] = elem.copy()
            elif isinstance(elements, dict):
                for key, value in elements.items():
                    if isinstance(value, DataElement):
                        self._elements[value._tag] = value
                    else:
                        self[key] = value
            else:
                for elem in elements:
                    self.add(elem)

    # Attributes set by the reader or by users; class-level defaults keep lazily built items cheap.
    file_meta: Dataset | None = None
    preamble: bytes | None = None
    filename: str | None = None
    read_corrections: list[Correction] = []
    is_undefined_length_item: bool = False
    # True when read with stop_before_pixels and stopped: Pixel Data and what follows are missing.
    is_partial: bool = False
    # How the data set was encoded where it was read from (set by the reader; None for one built in memory).
    # It differs from the meta's Transfer Syntax UID only when the meta was wrong (see read_corrections).
    read_transfer_syntax: UID | None = None
    _buf: memoryview | None = None
    _src: SourceEncoding | None = None

    @classmethod
    def _lazy(cls, buf: memoryview, src: SourceEncoding) -> Dataset:
        """An empty data set whose index entries will refer to ``buf`` (used by the reader)."""
        ds = cls.__new__(cls)
        d = ds.__dict__
        d["_elements"] = {}
        d["_buf"] = buf
        d["_src"] = src
        return ds

    # -- element access --------------------------------------------------------------------------------
    def _materialize(self, tag: int, entry: tuple[VR, int, int]) -> DataElement:
        vr, offset, length = entry
        d = self.__dict__
        # DataElement.from_raw, inlined: this runs for every element that is touched
        elem = _new_element(DataElement)
        elem._tag = tag
        elem._vr = vr
        elem._raw = d["_buf"][offset:offset + length]
        elem._src = d["_src"]
        elem._value = _UNSET
        elem._invalid = None
        elem.is_undefined_length = False
        d["_elements"][tag] = elem
        return elem

    def _element(self, tag: int) -> DataElement | None:
        entry = self._elements.get(tag)
        if entry is None or entry.__class__ is DataElement:
            return entry
        return self._materialize(tag, entry)

    def __getitem__(self, key: Key) -> DataElement:
        tag = _to_tag(key)
        elem = self._element(tag)
        if elem is None:
            raise KeyError(f"{tag_str(tag)} {Tag(tag).keyword} is not in the data set")
        return elem

    def __setitem__(self, key: Key, value: Any) -> None:
        tag = _to_tag(key)
        if isinstance(value, DataElement):
            if value._tag != tag:
                raise InvalidTagError(f"element {value.tag} assigned to key {tag_str(tag)}")
            self._elements[tag] = value
            return
        self._set_value(tag, value)

    def __delitem__(self, key: Key) -> None:
        tag = _to_tag(key)
        try:
            del self._elements[tag]
        except KeyError:
            raise KeyError(f"{tag_str(tag)} is not in the data set") from None

    def __contains__(self, key: object) -> bool:
        try:
            tag = _to_tag(key)  # type: ignore[arg-type]
        except (InvalidTagError, TypeError, ValueError):
            return False
        return tag in self._elements

    def __iter__(self) -> Iterator[DataElement]:
        elements = self._elements
        for tag in sorted(elements):
            elem = elements.get(tag)
            if elem is None:
                continue  # deleted while iterating
            if elem.__class__ is not DataElement:
                elem = self._materialize(tag, elem)
            yield elem

    def __len__(self) -> int:
        return len(self._elements)

    def __bool__(self) -> bool:
        return True

    def keys(self) -> list[Tag]:
        return [Tag(t) for t in sorted(self._elements)]

    def values(self) -> list[DataElement]:
        return list(self)

    def items(self) -> list[tuple[Tag, DataElement]]:
        return [(e.tag, e) for e in self]

    def tags(self) -> list[int]:
        """The tags present, in ascending order, without materialising anything."""
        return sorted(self._elements)

    def get(self, key: Key, default: Any = None) -> Any:
        """Like pydicom: a keyword gives the value, a tag gives the DataElement; ``default`` if absent."""
        if isinstance(key, str) and (tag := _keyword_tag(key)) is not None:
            elem = self._element(tag)
            return default if elem is None else elem.value
        if type(key) is int and 0 <= key <= 0xFFFFFFFF:  # a plain tag: no conversion
            elem = self._element(key)
            return default if elem is None else elem
        try:
            tag = _to_tag(key)
        except InvalidTagError:
            return default
        elem = self._element(tag)
        return default if elem is None else elem

    def value(self, key: Key, default: Any = None) -> Any:
        """The value of an element by keyword or tag, or ``default`` when absent."""
        elem = self._element(_to_tag(key))
        return default if elem is None else elem.value

    def peek(self, tag: int) -> tuple[VR, Any] | None:
        """(VR, value) of element ``tag``, or None when absent — for a reader that looks at each value once:
        an element the reader indexed and nothing has touched is decoded from its bytes by the decoder that
        ``DataElement.value`` uses, without making (and keeping) an element for it. The value is the one
        ``self[tag].value`` gives; what does not decode that way (a sequence, an invalid value) takes the
        element's path, which raises what it raises."""
        entry = self._elements.get(tag)
        if entry is None:
            return None
        if entry.__class__ is not DataElement:
            vr, offset, length = entry
            decoder = _DECODERS.get(vr)
            d = self.__dict__
            src = d["_src"]
            if decoder is not None and src is not None:
                try:
                    return vr, decoder(d["_buf"][offset:offset + length], src.little_endian, src.charset)
                except InvalidValueError:
                    pass
            entry = self._materialize(tag, entry)
        return entry._vr, entry.value

    def vr_of(self, tag: int) -> VR | None:
        """The VR of a present element without decoding it."""
        entry = self._elements.get(tag)
        if entry is None:
            return None
        return entry._vr if entry.__class__ is DataElement else entry[0]

    def add(self, element: DataElement) -> None:
        self._elements[element._tag] = element

    def add_new(self, tag: Key, vr: str | VR, value: Any = None, *, validate: bool = True) -> DataElement:
        """Add (or replace) an element; ``validate=False`` takes the value as it is, unchecked (see DataElement)."""
        elem = DataElement(_to_tag(tag), vr, value, validate=validate)
        self._elements[elem._tag] = elem
        return elem

    def pop(self, key: Key, *default: Any) -> Any:
        tag = _to_tag(key)
        if tag in self._elements:
            elem = self._element(tag)
            del self._elements[tag]
            return elem
        if default:
            return default[0]
        raise KeyError(tag_str(tag))

    def clear(self) -> None:
        self._elements.clear()

    def update(self, other: Dataset | dict[Key, Any]) -> None:
        if isinstance(other, Dataset):
            for elem in other:
                self._elements[elem._tag] = elem
        else:
            for key, value in other.items():
                self[key] = value

    # -- keyword attributes ----------------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        tag = _keyword_tag(name)
        if tag is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        entry = self.__dict__["_elements"].get(tag)
        if entry is None:
            raise AttributeError(f"{name} {tag_str(tag)} is not in the data set")
        if entry.__class__ is not DataElement:
            entry = self._materialize(tag, entry)
        return entry.value

    def __setattr__(self, name: str, value: Any) -> None:
        if name[:1].isupper():
            tag = _keyword_tag(name)
            if tag is None:
                raise AttributeError(
                    f"{name!r} is not a DICOM keyword; use ds[tag] or ds.add_new() for other elements"
                )
            self._set_value(tag, value)
            return
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        tag = _keyword_tag(name) if name[:1].isupper() else None
        if tag is not None:
            if tag not in self._elements:
                raise AttributeError(f"{name} is not in the data set")
            del self._elements[tag]
            return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        names = set(super().__dir__())
        for tag in self._elements:
            entry = lookup(tag)
            if entry and entry.keyword:
                names.add(entry.keyword)
        return sorted(names)

    def _set_value(self, tag: int, value: Any, validate: bool = True) -> None:
        if isinstance(value, DataElement):
            self._elements[tag] = value
            return
        vr = self._vr_for_new_value(tag)
        self._elements[tag] = DataElement(tag, vr, value, validate=validate)

    def _vr_for_new_value(self, tag: int) -> str:
        entry = lookup(tag)
        existing = self.vr_of(tag)
        if entry is None or entry.vr == "NONE":
            if existing is not None:
                return str(existing)
            raise InvalidValueError(
                f"{tag_str(tag)} is not in the dictionary: add it with add_new(tag, vr, value)"
            )
        vr = entry.vr
        if " or " in vr:
            if existing is not None and existing in vr.split(" or "):
                return str(existing)
            from .ambiguous import resolve_vr

            pixel_rep = self.value(PIXEL_REPRESENTATION) if PIXEL_REPRESENTATION in self._elements else None
            return resolve_vr(tag, vr, pixel_rep)
        return vr

    # -- structure --------------------------------------------------------------------------------------
    def copy(self) -> Dataset:
        """A copy whose elements and sequence items can be changed independently (raw bytes shared)."""
        new = type(self).__new__(type(self))
        d = dict(self.__dict__)
        d["_elements"] = {tag: (e.copy() if e.__class__ is DataElement else e)
                          for tag, e in self._elements.items()}
        if d.get("file_meta") is not None:
            d["file_meta"] = d["file_meta"].copy()
        d["read_corrections"] = list(self.read_corrections)
        d.pop("_pixel_source", None)  # the pixel caches belong to this data set's elements
        d.pop("_pixel_array", None)
        new.__dict__.update(d)
        return new

    __copy__ = copy

    def __deepcopy__(self, memo: dict[int, Any]) -> Dataset:
        return self.copy()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Dataset):
            return NotImplemented
        if self is other:
            return True
        if set(self._elements) != set(other._elements):
            return False
        return all(self[t] == other[t] for t in self._elements)

    __hash__ = None  # type: ignore[assignment]

    def walk(self, callback: Callable[[Dataset, DataElement], None], recursive: bool = True) -> None:
        """Call ``callback(dataset, element)`` for every element, depth first into sequences."""
        for elem in list(self):
            if elem.tag in self._elements:
                callback(self, elem)
            if recursive and elem._vr is VR.SQ and elem.tag in self._elements:
                for item in elem.value:
                    item.walk(callback, recursive)

    def iterall(self) -> Iterator[DataElement]:
        """Every element, depth first through sequence items."""
        for elem in self:
            yield elem
            if elem._vr is VR.SQ:
                for item in elem.value:
                    yield from item.iterall()

    def group_dataset(self, group: int) -> Dataset:
        new = Dataset()
        for tag in self.tags():
            if tag >> 16 == group:
                new.add(self[tag])
        return new

    # -- private blocks (PS3.5 7.8) ----------------------------------------------------------------------
    def private_creators(self, group: int) -> list[str]:
        if not group & 1:
            raise InvalidTagError(f"group {group:04X} is not private (it is even)")
        base = group << 16
        out = []
        for elem_no in range(0x10, 0x100):
            elem = self._element(base | elem_no)
            if elem is not None:
                out.append(_creator_text(elem.value))
        return out

    def private_block(self, group: int, creator: str, create: bool = False) -> PrivateBlock:
        """The block reserved by ``creator`` in private ``group`` (creating it when ``create``)."""
        if not group & 1 or group in (0x0001, 0x0003, 0x0005, 0x0007, 0xFFFF):
            raise InvalidTagError(f"group {group:04X} is not a private group")
        base = group << 16
        free = None
        for elem_no in range(0x10, 0x100):
            elem = self._element(base | elem_no)
            if elem is None:
                if free is None:
                    free = elem_no
                continue
            if _creator_text(elem.value) == creator.strip():
                return PrivateBlock(self, group, elem_no, creator)
        if not create:
            raise KeyError(f"no private block of {creator!r} in group {group:04X}")
        if free is None:
            raise InvalidValueError(f"no free private creator slot in group {group:04X}")
        self._elements[base | free] = DataElement(base | free, VR.LO, creator)
        return PrivateBlock(self, group, free, creator)

    def remove_private_tags(self) -> None:
        """Delete every private element, recursively."""
        for tag in list(self._elements):
            if Tag(tag).is_private:
                del self._elements[tag]
        for elem in self:
            if elem._vr is VR.SQ:
                for item in elem.value:
                    item.remove_private_tags()

    # -- encoding context ----------------------------------------------------------------------------
    @property
    def character_set(self) -> tuple[str, ...]:
        """The values of Specific Character Set of this data set (empty for the default)."""
        if SPECIFIC_CHARACTER_SET not in self._elements:
            return ()
        value = self.value(SPECIFIC_CHARACTER_SET)
        if not value:
            return ()
        if isinstance(value, bytes):  # kept as UN: the terms are ASCII text separated by backslash
            return tuple(t.strip(" \x00") for t in value.decode("latin_1").split("\\"))
        return tuple(value) if isinstance(value, tuple) else (value,)

    @property
    def source_encoding(self) -> SourceEncoding | None:
        return self._src

    @property
    def transfer_syntax(self) -> UID | None:
        """The transfer syntax of the data set: its File Meta Information's Transfer Syntax UID, else the one
        it was read in (a raw data set), else None (a data set built in memory)."""
        meta = self.file_meta
        if meta is not None and TRANSFER_SYNTAX_UID in meta._elements:
            value = meta.value(TRANSFER_SYNTAX_UID)
            if value:
                from .uid import UID

                return UID(str(value).strip("\x00 "))
        return self.read_transfer_syntax

    # -- I/O conveniences (implemented in dicomkit.io) ----------------------------------------------
    def save(self, path: str | Path | BinaryIO, **options: Any) -> None:
        """Write as a Part 10 file (see :func:`dicomkit.write` for the options)."""
        from ..io.writer import write

        write(self, path, **options)

    save_as = save

    def to_bytes(self, transfer_syntax: str | None = None, **options: Any) -> bytes:
        """The encoded data set alone (no preamble or meta), as sent over the network."""
        from ..io.writer import encode_dataset

        return encode_dataset(self, transfer_syntax, **options)

    # -- pixel data (implemented in dicomkit.pixels, which needs numpy: ``pip install dicomkit[pixels]``) --
    @property
    def pixel_array(self) -> Any:
        """The pixel data as a numpy array, shaped and converted as pydicom 3 does: (rows, columns) for one
        grayscale frame, (rows, columns, samples) for one colour frame, (frames, ...) in front for several;
        YCbCr converted to RGB. The array is kept and returned again until Pixel Data or the attributes
        that describe it change. For options (``frames``, ``as_rgb``, ``threads``) and a new array on every
        call, see :func:`dicomkit.pixels.pixel_array`.
        """
        from ..pixels import cached_pixel_array

        return cached_pixel_array(self)

    def frame(self, index: int, **options: Any) -> Any:
        """Frame ``index`` (0-based) as a numpy array, (rows, columns) grayscale or (rows, columns, samples)
        colour, decoding no other frame (options as :func:`dicomkit.pixels.frame`)."""
        from ..pixels import frame

        return frame(self, index, **options)

    def iter_frames(self, **options: Any) -> Iterator[Any]:
        """Each frame in turn, shaped as by :meth:`frame` (options as :func:`dicomkit.pixels.iter_frames`)."""
        from ..pixels import iter_frames

        return iter_frames(self, **options)

    # -- DICOM JSON (PS3.18 F) and Native DICOM Model XML (PS3.19 A), implemented in dicomkit.io -------
    def to_json(self, **options: Any) -> str:
        """The DICOM JSON Model text of this data set (see :func:`dicomkit.io.json_model.to_json`)."""
        from ..io.json_model import to_json

        return to_json(self, **options)

    def to_json_dict(self, **options: Any) -> dict[str, Any]:
        """The DICOM JSON Model as parsed JSON (see :func:`dicomkit.io.json_model.to_json_dict`)."""
        from ..io.json_model import to_json_dict

        return to_json_dict(self, **options)

    @classmethod
    def from_json(cls, data: str | bytes | dict[str, Any], **options: Any) -> Dataset:
        """A data set from DICOM JSON text or parsed JSON (see :func:`dicomkit.io.json_model.from_json`)."""
        from ..io.json_model import from_json

        return from_json(data, **options)

    def to_xml(self, **options: Any) -> str:
        """The Native DICOM Model XML of this data set (see :func:`dicomkit.io.xml_model.to_xml`)."""
        from ..io.xml_model import to_xml

        return to_xml(self, **options)

    @classmethod
    def from_xml(cls, data: str | bytes, **options: Any) -> Dataset:
        """A data set from Native DICOM Model (or DCMTK) XML (see :func:`dicomkit.io.xml_model.from_xml`)."""
        from ..io.xml_model import from_xml

        return from_xml(data, **options)

    # -- pydicom interoperability ---------------------------------------------------------------------
    def to_pydicom(self) -> Any:
        from ..interop.pydicom import to_pydicom

        return to_pydicom(self)

    @classmethod
    def from_pydicom(cls, pds: Any, **options: Any) -> Dataset:
        """A data set from a ``pydicom.Dataset`` (see :func:`dicomkit.interop.pydicom.from_pydicom`)."""
        from ..interop.pydicom import from_pydicom

        return from_pydicom(pds, **options)

    # -- display ----------------------------------------------------------------------------------------
    def __repr__(self) -> str:
        from .display import dataset_lines

        return "\n".join(dataset_lines(self))

    __str__ = __repr__


def _creator_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("latin_1").strip(" \x00")
    if isinstance(value, tuple):
        value = "\\".join(str(v) for v in value)
    return str(value).strip(" \x00")


class PrivateBlock:
    """The elements (gggg,xxyy) of one private creator reserved block (PS3.5 7.8.1), by offset ``yy``."""

    def __init__(self, dataset: Dataset, group: int, slot: int, creator: str) -> None:
        self.dataset = dataset
        self.group = group
        self.slot = slot
        self.creator = creator

    def tag(self, offset: int) -> Tag:
        if not 0 <= offset <= 0xFF:
            raise InvalidTagError(f"private element offset must be 0x00..0xFF, got {offset:#x}")
        return Tag((self.group << 16) | (self.slot << 8) | offset)

    def __getitem__(self, offset: int) -> DataElement:
        return self.dataset[self.tag(offset)]

    def __contains__(self, offset: int) -> bool:
        return self.tag(offset) in self.dataset

    def get(self, offset: int, default: Any = None) -> DataElement | Any:
        return self.dataset.get(int(self.tag(offset)), default)

    def add_new(self, offset: int, vr: str | VR, value: Any = None) -> DataElement:
        return self.dataset.add_new(self.tag(offset), vr, value)

    def __delitem__(self, offset: int) -> None:
        del self.dataset[self.tag(offset)]

    def __iter__(self) -> Iterator[DataElement]:
        low = (self.group << 16) | (self.slot << 8)
        for tag in self.dataset.tags():
            if low <= tag <= low + 0xFF:
                yield self.dataset[tag]

    def __repr__(self) -> str:
        return f"PrivateBlock(group=0x{self.group:04X}, slot=0x{self.slot:02X}, creator={self.creator!r})"


def keyword_vr(keyword: str) -> str | None:
    """The dictionary VR of a keyword (for building data sets)."""
    tag = _keyword_tag(keyword)
    if tag is None:
        return None
    entry = lookup(tag)
    return entry.vr if entry else None


def _vr_member(name: str) -> VR:
    vr = _VR_BY_NAME.get(name)
    if vr is None:
        raise InvalidValueError(f"unknown VR {name!r}")
    return vr
