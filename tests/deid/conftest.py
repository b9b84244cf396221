"""Helpers for the de-identification tests: Table E.1-1 as the standard tabulates it, and data sets that
carry every attribute of it (top level and nested) with identifying values valid for their VR."""

from __future__ import annotations

import json
from typing import Any

from dicomkit.core.dataset import Dataset
from dicomkit.core.dictionary import lookup
from dicomkit.core.element import DataElement
from dicomkit.core.sequence import Sequence

from ..conftest import SHARED

TABLE_PATH = SHARED / "standard" / "confidentiality_profile_attributes.json"
# A standard sequence that Table E.1-1 does not list: the profile recurses into it, so every attribute put
# in its item is handled as a nested attribute.
CARRIER = 0x00082218  # Anatomic Region Sequence
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"


def table_rows() -> list[dict[str, Any]]:
    return json.loads(TABLE_PATH.read_text(encoding="utf-8"))


def plain_rows() -> dict[int, dict[str, Any]]:
    """Rows with a plain tag (not (50xx,xxxx), (60xx,...) or private), by tag."""
    out = {}
    for row in table_rows():
        tag = row["tag"].strip("()").replace(",", "")
        if "X" in tag.upper()[:4] or "X" in tag.upper()[4:] or row["tag"].startswith("(GGGG"):
            continue
        out[int(tag, 16)] = row
    return out


def vr_of(tag: int) -> str:
    entry = lookup(tag)
    assert entry is not None, hex(tag)
    return entry.vr.split(" or ")[0] if entry.vr != "NONE" else "UN"


IDENT = "IDENT"


def identifying_value(tag: int, vr: str) -> Any:
    """A value that identifies (it carries IDENT and the tag), valid for ``vr``."""
    n = f"{tag:08X}"
    if vr in ("LO", "SH", "LT", "ST", "UT", "UC"):
        return f"{IDENT}{n}"[:16]
    if vr == "PN":
        return f"{IDENT}^{n}"
    if vr in ("CS", "AE"):
        return f"{IDENT}{n}"[:16]
    if vr == "AS":
        return "042Y"
    if vr == "DA":
        return "20200131"
    if vr == "TM":
        return "101530"
    if vr == "DT":
        return "20200131101530"
    if vr in ("DS", "IS"):
        return "42"
    if vr == "UI":
        return f"1.2.999.{int(n, 16)}"
    if vr == "UR":
        return f"http://ident.example/{n}"
    if vr in ("US", "SS", "UL", "SL", "SV", "UV"):
        return 42
    if vr in ("FL", "FD"):
        return 42.0
    if vr == "AT":
        return 0x00100010
    return f"{IDENT}{n}".encode()


def item_with_references(tag: int) -> Dataset:
    item = Dataset()
    item.add(DataElement(0x00081150, "UI", CT_IMAGE))
    item.add(DataElement(0x00081155, "UI", f"1.2.999.1.{tag:d}"))
    item.add(DataElement(0x00100010, "PN", f"{IDENT}^NESTED"))
    return item


def every_attribute(*, sop_class: str = CT_IMAGE) -> Dataset:
    """A data set with every plain attribute of Table E.1-1, and the same again inside an item of CARRIER."""
    ds = Dataset()

    def fill(target: Dataset) -> None:
        for tag in plain_rows():
            if tag >> 16 in (0x0000, 0x0002, 0xFFFA, 0xFFFC) or tag == 0x00041511:
                continue  # command, meta and padding elements are not data set attributes here
            vr = vr_of(tag)
            if vr == "SQ":
                target.add(DataElement(tag, "SQ", Sequence([item_with_references(tag)])))
            else:
                target.add(DataElement(tag, vr, identifying_value(tag, vr)))

    fill(ds)
    nested = Dataset()
    fill(nested)
    ds.add(DataElement(CARRIER, "SQ", Sequence([nested])))
    ds.add(DataElement(0x00080016, "UI", sop_class))
    ds.add(DataElement(0x00080018, "UI", "1.2.999.77.1"))
    ds.add(DataElement(0x00100020, "LO", "PID-12345"))
    ds.add(DataElement(0x00100010, "PN", "Doe^John"))
    block = ds.private_block(0x0011, "ACME", create=True)
    block.add_new(0x01, "LO", f"{IDENT}PRIVATE")
    return ds


_RULES = {
    "AE": r"[^\\\x00-\x1f]{1,16}", "AS": r"\d{3}[DWMY]", "CS": r"[A-Z0-9 _]{1,16}", "DA": r"\d{8}",
    "DS": r" *[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)? *", "IS": r" *[+-]?\d{1,12} *",
    "DT": r"\d{4}(\d{2}(\d{2}(\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?)?)?)?([+-]\d{4})?",
    "TM": r"\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?", "UI": r"(0|[1-9]\d*)(\.(0|[1-9]\d*))*",
}


def validate_value(vr: str, value: Any) -> None:
    """Raise AssertionError unless ``value`` is a valid non-empty value of ``vr`` (PS3.5 6.2)."""
    import re

    from dicomkit.core.vr import MAX_LENGTH

    values = value if isinstance(value, tuple | list) else (value,)
    assert values, f"{vr}: no value"
    for v in values:
        if vr in ("US", "SS", "UL", "SL", "SV", "UV", "AT"):
            assert isinstance(v, int)
            continue
        if vr in ("FL", "FD"):
            assert isinstance(v, float | int)
            continue
        if vr in ("OB", "OW", "OD", "OF", "OL", "OV", "UN"):
            assert isinstance(v, bytes) and v and len(v) % 2 == 0
            continue
        text = str(v)
        assert text, f"{vr}: empty"
        limit = MAX_LENGTH.get(vr)
        if limit is not None:
            assert len(text) <= limit, f"{vr}: {text!r} longer than {limit}"
        rule = _RULES.get(vr)
        if rule is not None:
            assert re.fullmatch(rule, text), f"{vr}: {text!r} is not valid"
