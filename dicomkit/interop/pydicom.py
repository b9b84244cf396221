"""Conversion to and from pydicom datasets, for code that mixes both (pydicom is not a dependency)."""

from __future__ import annotations

from typing import Any

from ..core.ambiguous import resolve_vr
from ..core.dataset import Dataset
from ..core.element import DataElement
from ..core.errors import MissingDependencyError
from ..core.tag import PIXEL_REPRESENTATION
from ..core.values import swap_words
from ..core.vr import VR, WORD_SIZES

_STRING_LIKE = frozenset({"PN", "DS", "IS", "DA", "TM", "DT", "UI"})


def _pydicom() -> Any:
    try:
        import pydicom
    except ImportError as exc:  # pragma: no cover - exercised only without the dev extra
        raise MissingDependencyError("pydicom is needed for this conversion: pip install pydicom") from exc
    return pydicom


def _to_pydicom_value(elem: DataElement) -> Any:
    value = elem.value
    vr = elem.vr.value
    if vr == "SQ":
        pydicom = _pydicom()
        return pydicom.Sequence([to_pydicom(item) for item in value])
    if isinstance(value, tuple):
        return [str(v) if vr in _STRING_LIKE else (int(v) if vr == "AT" else v) for v in value]
    if vr in _STRING_LIKE and value is not None:
        return str(value)
    if vr == "AT" and value is not None:
        return int(value)
    return value


def to_pydicom(ds: Dataset) -> Any:
    """A ``pydicom.Dataset`` with the same elements, values and file meta information."""
    pydicom = _pydicom()
    out = pydicom.Dataset()
    for elem in ds:
        pelem = pydicom.DataElement(int(elem.tag), elem.vr.value, _to_pydicom_value(elem))
        if elem.is_undefined_length:
            pelem.is_undefined_length = True
        out.add(pelem)
    if ds.file_meta is not None:
        out.file_meta = pydicom.dataset.FileMetaDataset(to_pydicom(ds.file_meta))
    if ds.preamble is not None:
        out.preamble = ds.preamble
    return out


def _from_pydicom_value(vr: str, value: Any, little: bool) -> Any:
    if value is None:
        return None
    if vr in WORD_SIZES and isinstance(value, bytes | bytearray):
        data = bytes(value)
        if not little and WORD_SIZES[vr] > 1:
            data = swap_words(data, WORD_SIZES[vr])
        return data
    if vr in ("DS", "IS"):
        items = list(value) if _is_multi(value) else [value]
        texts = [getattr(v, "original_string", None) or str(v) for v in items]
        return texts if len(texts) != 1 else texts[0]
    if vr == "PN":
        items = list(value) if _is_multi(value) else [value]
        names = [str(v) for v in items]
        return names if len(names) != 1 else names[0]
    if _is_multi(value):
        return list(value)
    return value


def _is_multi(value: Any) -> bool:
    return isinstance(value, list | tuple) or type(value).__name__ == "MultiValue"


def from_pydicom(pds: Any, *, validate: bool = False) -> Dataset:
    """A dicomkit Dataset from a ``pydicom.Dataset`` (values converted, file meta and preamble kept).

    Values are taken as a file's are (pydicom has warned about those assigned to it), unless ``validate``
    checks each as if assigned through dicomkit's API (see :class:`~dicomkit.InvalidValueWarning`).
    """
    encoding = getattr(pds, "original_encoding", (None, None))
    little = encoding[1] is not False
    out = Dataset()
    pixel_rep = pds.get(PIXEL_REPRESENTATION)
    pixel_rep_value = pixel_rep.value if pixel_rep is not None else None
    for pelem in pds:
        vr = str(pelem.VR)
        if " or " in vr:
            vr = resolve_vr(int(pelem.tag), vr, pixel_rep_value)
        if vr == "SQ":
            items = [from_pydicom(item, validate=validate) for item in pelem.value]
            elem = DataElement(int(pelem.tag), VR.SQ, items)
            elem.value.is_undefined_length = bool(getattr(pelem, "is_undefined_length", False))
        else:
            elem = DataElement(int(pelem.tag), vr, _from_pydicom_value(vr, pelem.value, little),
                               undefined_length=bool(getattr(pelem, "is_undefined_length", False)),
                               validate=validate)
        out.add(elem)
    meta = getattr(pds, "file_meta", None)
    if meta is not None and len(meta):
        out.file_meta = from_pydicom(meta, validate=validate)
    preamble = getattr(pds, "preamble", None)
    if preamble:
        out.preamble = bytes(preamble)
    return out
