"""dicomkit: DICOM in Python — data sets, Part 10 files, pixel data, networking and a PACS.

>>> import dicomkit
>>> ds = dicomkit.read("ct.dcm", stop_before_pixels=True)
>>> ds.PatientName, ds.Modality
"""

from .core import uid
from .core.dataset import Correction, Dataset, PrivateBlock
from .core.element import DataElement
from .core.errors import (
    AssociationAborted,
    AssociationRejected,
    AssociationReleased,
    DicomError,
    DimseError,
    InvalidFileError,
    InvalidTagError,
    InvalidValueError,
    InvalidValueWarning,
    MissingDependencyError,
    NetworkError,
    NetworkTimeout,
    PDUError,
    PixelDataError,
    TruncatedError,
    UnsupportedTransferSyntaxError,
)
from .core.personname import PersonName
from .core.sequence import Sequence
from .core.tag import Tag
from .core.uid import UID, generate_uid
from .core.valuetypes import DA, DS, DT, IS, TM
from .core.vr import VR
from .io.reader import read, read_file_meta
from .io.writer import write

__version__ = "0.1.0"

dcmread = read  # the name pydicom users reach for

__all__ = [
    "DA",
    "DS",
    "DT",
    "IS",
    "TM",
    "UID",
    "VR",
    "AssociationAborted",
    "AssociationRejected",
    "AssociationReleased",
    "Correction",
    "DataElement",
    "Dataset",
    "DicomError",
    "DimseError",
    "InvalidFileError",
    "InvalidTagError",
    "InvalidValueError",
    "InvalidValueWarning",
    "MissingDependencyError",
    "NetworkError",
    "NetworkTimeout",
    "PDUError",
    "PersonName",
    "PixelDataError",
    "PrivateBlock",
    "Sequence",
    "Tag",
    "TruncatedError",
    "UnsupportedTransferSyntaxError",
    "__version__",
    "dcmread",
    "generate_uid",
    "read",
    "read_file_meta",
    "uid",
    "write",
]
