"""Cleaning (action C) of text, and the dummy values of action D.

PS3.15 E.3.5 leaves the manner of cleaning to the implementation and asks that it be described. dicomkit
cleans text by removing from it every identifying value the instance itself carries (names in any PN
attribute, Patient ID and other identifiers, accession and study numbers, institution, station and device
names, addresses and telephone numbers, the patient's birth date) wherever it appears, case-insensitively
and as whole words, together with anything shaped like a calendar date or a telephone number, and
"Dr./Prof." followed by a name. What remains keeps its meaning ("CT chest abdomen pelvis - 55F Dr. Smith"
becomes "CT chest abdomen pelvis - 55F"). This is conservative, not perfect: free text naming people the
instance does not otherwise mention can survive, which is why the option is off by default and text
attributes are removed by the Basic Profile.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ..core.dataset import Dataset
from ..core.vr import VR

# Attributes whose values identify someone or something, collected to be removed from cleaned text.
IDENTIFYING_TAGS = (
    0x00100020, 0x00101000, 0x00100021, 0x00080050, 0x00200010, 0x00400009, 0x00401001, 0x00400253,
    0x00380010, 0x00380060, 0x00100030, 0x00101040, 0x00102154, 0x00101090, 0x00080080, 0x00080081,
    0x00081040, 0x00081010, 0x00181000, 0x00080092, 0x00080094, 0x00401005, 0x00400243, 0x00380300,
    0x00120040, 0x00120042, 0x00120010, 0x00120020, 0x00400512, 0x00400551, 0x00102297, 0x00102299,
)

_DATE_LIKE = re.compile(r"\b(\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}|(19|20)\d{6})\b")
_PHONE_LIKE = re.compile(r"(\+?\d[\d ()./-]{7,}\d)")
_TITLED_NAME = re.compile(r"\b(Dr|Prof|Mr|Mrs|Ms|Dres)\.?\s+[A-Z][\w'-]*(\s+[A-Z][\w'-]*)?")
_SPACES = re.compile(r"[ \t]{2,}")
_DANGLING = re.compile(r"[\s,;:/-]+$")


def _words(text: str) -> Iterable[str]:
    for part in re.split(r"[\^=\\,\s]+", text):
        part = part.strip(" .")
        if len(part) >= 2:
            yield part


def identifiers(ds: Dataset) -> list[str]:
    """The identifying strings of a data set (its top level) that cleaned text must not contain."""
    found: set[str] = set()
    for tag in ds.tags():
        vr = ds.vr_of(tag)
        if vr is VR.PN or tag in IDENTIFYING_TAGS:
            elem = ds[tag]
            value = elem.value
            values = value if isinstance(value, tuple) else (value,)
            for v in values:
                if v is None or isinstance(v, bytes | Dataset):
                    continue
                text = str(v).strip()
                if not text:
                    continue
                found.add(text)
                if vr is VR.PN:
                    found.update(w for w in _words(text) if len(w) >= 3)
                elif vr is VR.DA and len(text) == 8:
                    found.update({f"{text[:4]}-{text[4:6]}-{text[6:]}", f"{text[6:]}.{text[4:6]}.{text[:4]}",
                                  f"{text[4:6]}/{text[6:]}/{text[:4]}", f"{text[6:]}/{text[4:6]}/{text[:4]}"})
    return sorted(found, key=len, reverse=True)


class Cleaner:
    """Removes the identifiers of one instance from text (see the module docstring)."""

    def __init__(self, identifying: list[str]) -> None:
        words = [re.escape(w) for w in identifying if w]
        self._pattern = re.compile(r"(?<!\w)(" + "|".join(words) + r")(?!\w)", re.IGNORECASE) if words else None

    def text(self, value: str) -> str:
        if not value:
            return value
        out = _TITLED_NAME.sub("", value)
        if self._pattern is not None:
            out = self._pattern.sub("", out)
        out = _DATE_LIKE.sub("", out)
        out = _PHONE_LIKE.sub("", out)
        out = _SPACES.sub(" ", out).strip()
        return _DANGLING.sub("", out)

    def value(self, value: Any) -> Any:
        if isinstance(value, tuple):
            return tuple(self.value(v) for v in value)
        if isinstance(value, str):
            return self.text(value)
        return value


# Dummy values of action D, valid for their VR (PS3.5 6.2).
DUMMY: dict[str, Any] = {
    "AE": "ANONYMOUS", "AS": "000Y", "CS": "ANONYMOUS", "DA": "19000101", "DS": "0", "DT": "19000101000000",
    "IS": "0", "LO": "ANONYMOUS", "LT": "ANONYMOUS", "PN": "ANONYMOUS", "SH": "ANONYMOUS", "ST": "ANONYMOUS",
    "TM": "000000", "UC": "ANONYMOUS", "UR": "urn:dicomkit:anonymous", "UT": "ANONYMOUS",
    "US": 0, "SS": 0, "UL": 0, "SL": 0, "FL": 0.0, "FD": 0.0, "SV": 0, "UV": 0, "AT": 0,
    "OB": b"\x00\x00", "OD": b"\x00" * 8, "OF": b"\x00" * 4, "OL": b"\x00" * 4, "OV": b"\x00" * 8,
    "OW": b"\x00\x00", "UN": b"\x00\x00",
}
