"""Identifiers written as keys: ``PatientName=DOE*``, ``0020,000D``, ``ScheduledProcedureStepSequence[0].Modality=CT``.

What an SCU user types (``dicomkit find -k ...``, DCMTK's findscu ``-k`` syntax) or passes as a mapping,
turned into the Identifier :class:`~dicomkit.Dataset` of a C-FIND, C-MOVE or C-GET request:

- ``Keyword=value`` or ``gggg,eeee=value`` (also ``(gggg,eeee)``): the key with that value; several values
  are separated by ``\\`` as in DICOM (``ModalitiesInStudy=CT\\MR``);
- ``Keyword`` or ``Keyword=``: a zero-length key (a return key, universal matching);
- ``Sequence[N].Keyword=value`` (``Sequence.Keyword`` is item 0): a key in item N of a sequence, items made
  as needed; ``Sequence`` alone is a zero-length sequence (every item returned);
- a mapping ``{"PatientName": "DOE*", "StudyDate": "", "ScheduledProcedureStepSequence": [{"Modality": "CT"}]}``.

A later key of the same tag replaces an earlier one. A bad key raises :class:`KeyError_` (a DicomError)
naming it.

>>> ds = identifier(["QueryRetrieveLevel=STUDY", "PatientName=DOE*", "StudyDate=20240101-", "0020,000D"])
>>> ds.PatientName, ds.StudyDate, "StudyInstanceUID" in ds
('DOE*', '20240101-', True)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ...core.dataset import Dataset
from ...core.dictionary import lookup
from ...core.element import DataElement
from ...core.errors import DicomError
from ...core.tag import parse_tag_string

_PART = re.compile(r"^\s*(?P<name>\(?[0-9A-Za-z,]+\)?)\s*(?:\[(?P<index>\d+)\])?\s*$")
_INTEGER_VRS = frozenset({"US", "SS", "UL", "SL", "UV", "SV"})
_FLOAT_VRS = frozenset({"FL", "FD"})


class KeyError_(DicomError, ValueError):
    """A key that cannot be read (unknown keyword or tag, a value its VR cannot hold, a bad path)."""


def _tag_and_vr(name: str, spec: str) -> tuple[int, str]:
    try:
        tag = parse_tag_string(name)
    except DicomError:
        raise KeyError_(f"-k {spec!r}: {name!r} is neither a DICOM keyword nor a tag (gggg,eeee)") from None
    entry = lookup(tag)
    if entry is None or entry.vr in ("NONE", ""):
        raise KeyError_(f"-k {spec!r}: {name!r} is not in the data dictionary; its VR is unknown")
    return tag, entry.vr.split(" or ")[0]


def _value(vr: str, text: str, spec: str) -> Any:
    if text == "":
        return None
    if vr == "SQ":
        raise KeyError_(f"-k {spec!r}: a sequence takes item keys (Sequence[0].Keyword=value), not a value")
    parts = text.split("\\")
    try:
        if vr in _INTEGER_VRS:
            values: list[Any] = [int(p, 0) for p in parts]
        elif vr in _FLOAT_VRS:
            values = [float(p) for p in parts]
        elif vr == "AT":
            values = [parse_tag_string(p) for p in parts]
        elif vr in ("OB", "OW", "OD", "OF", "OL", "OV", "UN"):
            return bytes.fromhex(text)
        else:
            return text
    except (ValueError, DicomError):
        raise KeyError_(f"-k {spec!r}: {text!r} is not a valid {vr} value") from None
    return values[0] if len(values) == 1 else values


def _item(ds: Dataset, tag: int, index: int, spec: str) -> Dataset:
    elem = ds.get(tag)
    if elem is None or elem.vr != "SQ":
        _add(ds, tag, "SQ", [])
        elem = ds[tag]
    items = elem.value
    if index > 64:
        raise KeyError_(f"-k {spec!r}: item index {index} is too large")
    while len(items) <= index:
        items.append(Dataset())
    item: Dataset = items[index]
    return item


def add_key(ds: Dataset, spec: str) -> Dataset:
    """Add one key written as text (see the module documentation) to ``ds``; returns ``ds``."""
    path, sep, text = spec.partition("=")
    parts = path.split(".")
    if not path.strip() or any(not p.strip() for p in parts):
        raise KeyError_(f"-k {spec!r}: expected Keyword=value, gggg,eeee=value or Sequence[0].Keyword=value")
    target = ds
    for part in parts[:-1]:
        m = _PART.match(part)
        if m is None:
            raise KeyError_(f"-k {spec!r}: {part!r} is not Keyword or Keyword[N]")
        tag, vr = _tag_and_vr(m.group("name"), spec)
        if vr != "SQ":
            raise KeyError_(f"-k {spec!r}: {m.group('name')} is not a sequence")
        target = _item(target, tag, int(m.group("index") or 0), spec)
    m = _PART.match(parts[-1])
    if m is None:
        raise KeyError_(f"-k {spec!r}: {parts[-1]!r} is not a keyword or a tag")
    tag, vr = _tag_and_vr(m.group("name"), spec)
    if m.group("index") is not None:
        if vr != "SQ":
            raise KeyError_(f"-k {spec!r}: {m.group('name')} is not a sequence")
        _item(target, tag, int(m.group("index")), spec)  # an (empty) item: the whole item is asked for
        if sep and text:
            raise KeyError_(f"-k {spec!r}: a sequence item takes keys, not a value")
        return ds
    if vr == "SQ" and sep and text:
        raise KeyError_(f"-k {spec!r}: a sequence takes item keys (Sequence[0].Keyword=value), not a value")
    try:
        _add(target, tag, vr, [] if vr == "SQ" else _value(vr, text if sep else "", spec))
    except KeyError_:
        raise
    except DicomError as exc:
        raise KeyError_(f"-k {spec!r}: {exc}") from None
    return ds


def _add(ds: Dataset, tag: int, vr: str, value: Any) -> None:
    """A key as written: its value is not checked against the VR here (query forms such as ranges, wild
    cards and ``""`` are what keys hold; the SCP judges them and answers with a status)."""
    ds.add(DataElement(tag, vr, value, validate=False))


def _from_mapping(ds: Dataset, data: Mapping[str, Any], where: str) -> None:
    for name, value in data.items():
        spec = f"{where}{name}"
        tag, vr = _tag_and_vr(str(name), spec)
        if vr == "SQ":
            if value in (None, "", []):
                _add(ds, tag, "SQ", [])
                continue
            items = value if isinstance(value, list | tuple) else [value]
            out = []
            for i, item in enumerate(items):
                if isinstance(item, Dataset):
                    out.append(item)
                elif isinstance(item, Mapping):
                    sub = Dataset()
                    _from_mapping(sub, item, f"{spec}[{i}].")
                    out.append(sub)
                else:
                    raise KeyError_(f"{spec}: sequence items are mappings of keys")
            _add(ds, tag, "SQ", out)
            continue
        try:
            _add(ds, tag, vr, _value(vr, value or "", spec) if isinstance(value, str) or value is None else value)
        except KeyError_:
            raise
        except DicomError as exc:
            raise KeyError_(f"{spec}: {exc}") from None


def identifier(keys: Iterable[str] | Mapping[str, Any] | Dataset, *, base: Dataset | None = None) -> Dataset:
    """The Identifier of ``keys`` (text specs, a mapping, or a Dataset, copied), added to a copy of ``base``."""
    ds = base.copy() if base is not None else Dataset()
    if isinstance(keys, Dataset):
        for elem in keys:
            ds.add(elem.copy())
        return ds
    if isinstance(keys, Mapping):
        _from_mapping(ds, keys, "")
        return ds
    if isinstance(keys, str):
        keys = [keys]
    for spec in keys:
        add_key(ds, spec)
    return ds


__all__ = ["KeyError_", "add_key", "identifier"]
