"""Coded entries (PS3.3 8.8, Code Sequence Macro) and the few codes the SR templates here need (PS3.16)."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.dataset import Dataset
from ..core.errors import InvalidValueError


@dataclass(frozen=True)
class Code:
    """A coded concept: value, coding scheme designator, meaning (and scheme version when needed).

    Equality ignores the meaning (PS3.3 8.3: the meaning is not part of the identity of a code).

    >>> Code("mm", "UCUM", "millimeter") == Code("mm", "UCUM", "mm")
    True
    """

    value: str
    scheme: str
    meaning: str
    scheme_version: str = ""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Code):
            return NotImplemented
        return (self.value, self.scheme) == (other.value, other.scheme)

    def __hash__(self) -> int:
        return hash((self.value, self.scheme))

    def __str__(self) -> str:
        return f"({self.value}, {self.scheme}, \"{self.meaning}\")"

    @classmethod
    def from_item(cls, item: Dataset) -> Code:
        """The code of one item of a Code Sequence (Code Value, Long Code Value or URN Code Value)."""
        value = item.value("CodeValue") or item.value("LongCodeValue") or item.value("URNCodeValue")
        if not value:
            raise InvalidValueError("a code sequence item has no Code Value (0008,0100), Long Code Value or "
                                    "URN Code Value")
        return cls(str(value), str(item.value("CodingSchemeDesignator", "") or ""),
                   str(item.value("CodeMeaning", "") or ""), str(item.value("CodingSchemeVersion", "") or ""))

    def to_item(self) -> Dataset:
        """One Code Sequence item (PS3.3 Table 8.8-1a): values over 16 characters go to Long Code Value,
        URNs and URLs to URN Code Value."""
        item = Dataset()
        if ":" in self.value:
            item.URNCodeValue = self.value
        elif len(self.value) > 16:
            item.LongCodeValue = self.value
        else:
            item.CodeValue = self.value
        item.CodingSchemeDesignator = self.scheme
        if self.scheme_version:
            item.CodingSchemeVersion = self.scheme_version
        item.CodeMeaning = self.meaning
        return item


def ucum(unit: str, meaning: str | None = None) -> Code:
    """A unit of measurement in UCUM (PS3.16 CID 82): ``ucum("mm")``, ``ucum("mm2", "square millimeter")``."""
    return Code(unit, "UCUM", meaning if meaning is not None else unit)


def dcm(value: str, meaning: str) -> Code:
    """A code of the DICOM Controlled Terminology (PS3.16 Annex D)."""
    return Code(value, "DCM", meaning)


def sct(value: str, meaning: str) -> Code:
    """A SNOMED CT code."""
    return Code(value, "SCT", meaning)


class codes:
    """Codes used by the templates in this package (PS3.16 Annex D and CID tables)."""

    # TID 1500 Measurement Report
    IMAGING_MEASUREMENT_REPORT = dcm("126000", "Imaging Measurement Report")
    LANGUAGE_OF_CONTENT = Code("121049", "DCM", "Language of Content Item and Descendants")
    ENGLISH = Code("en-US", "RFC5646", "English (United States)")
    OBSERVER_TYPE = dcm("121005", "Observer Type")
    PERSON = dcm("121006", "Person")
    DEVICE = dcm("121007", "Device")
    PERSON_OBSERVER_NAME = dcm("121008", "Person Observer Name")
    DEVICE_OBSERVER_UID = dcm("121012", "Device Observer UID")
    PROCEDURE_REPORTED = dcm("121058", "Procedure reported")
    IMAGE_LIBRARY = dcm("111028", "Image Library")
    IMAGE_LIBRARY_GROUP = dcm("126200", "Image Library Group")
    IMAGING_MEASUREMENTS = dcm("126010", "Imaging Measurements")
    MEASUREMENT_GROUP = dcm("125007", "Measurement Group")
    TRACKING_IDENTIFIER = dcm("112039", "Tracking Identifier")
    TRACKING_UID = dcm("112040", "Tracking Unique Identifier")
    FINDING = dcm("121071", "Finding")
    FINDING_SITE = sct("363698007", "Finding Site")
    SOURCE = sct("260753009", "Source")
    IMAGE_REGION = dcm("111030", "Image Region")
    # TID 2010 Key Object Selection
    OF_INTEREST = dcm("113000", "Of Interest")
    KEY_OBJECT_DESCRIPTION = dcm("113012", "Key Object Description")
