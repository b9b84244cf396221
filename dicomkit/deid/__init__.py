"""De-identification: the PS3.15 Annex E Basic Application Level Confidentiality Profile with every Option.

>>> from dicomkit.deid import Deidentifier, Options
>>> deid = Deidentifier(Options(dates="shift", retain_safe_private=True), key="a secret")
>>> clean = deid.apply(dicomkit.read("ct.dcm"))      # a de-identified copy
>>> deid.apply_file("ct.dcm", "out/ct.dcm")          # files (and DICOMDIRs), written atomically

Builds on core, io and (for pixel masking only) pixels; knows no network.
"""

from .engine import Deidentifier
from .profile import BurnedInAnnotationError, DeidentificationError, Options, Profile, Region
from .uids import MappingTable, Pseudonymizer, read_key_file

__all__ = [
    "BurnedInAnnotationError",
    "DeidentificationError",
    "Deidentifier",
    "MappingTable",
    "Options",
    "Profile",
    "Pseudonymizer",
    "Region",
    "read_key_file",
]
