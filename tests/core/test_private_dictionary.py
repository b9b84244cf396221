"""The vendors' private dictionary: entries scoped by private creator (PS3.5 7.8.1), by block offset, fixed
element, or odd-group range, and loaded only when a private element needs it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dicomkit.core.dictionary import PrivateEntry, private_creators, private_lookup
from tests.conftest import CORPUS


def test_entries_are_found_by_creator_and_offset_whatever_block_the_creator_holds():
    entry = private_lookup("SIEMENS MEDCOM HEADER", 0x0029, 0x1031)
    assert entry == PrivateEntry("LO", "1", "PMTFInformation1")
    assert private_lookup("SIEMENS MEDCOM HEADER", 0x0029, 0x1131) == entry  # block 11 instead of 10
    assert private_lookup("SIEMENS MEDCOM HEADER", 0x0029, 0xFF31) == entry
    assert private_lookup("SIEMENS MEDCOM HEADER", 0x0029, 0x1032).vr == "UL"
    assert private_lookup("GEMS_GENIE_1", 0x0009, 0x1011) == PrivateEntry("SL", "1", "StudyFlags")


def test_the_creator_scopes_the_entry():
    assert private_lookup("SIEMENS MEDCOM OOG", 0x0029, 0x1031) is None  # same tag, other creator
    assert private_lookup("NO SUCH VENDOR", 0x0029, 0x1031) is None
    assert private_lookup("SIEMENS MEDCOM HEADER", 0x0019, 0x1031) is None  # other group
    # LO values carry insignificant leading and trailing spaces (PS3.5 6.2)
    assert private_lookup(" SIEMENS MEDCOM HEADER ", 0x0029, 0x1031) is not None


def test_only_private_data_elements_have_entries():
    assert private_lookup("SIEMENS MEDCOM HEADER", 0x0029, 0x0010) is None  # the creator element itself
    assert private_lookup("SIEMENS MEDCOM HEADER", 0x0029, 0x0031) is None
    assert private_lookup("SIEMENS MEDCOM HEADER", 0x0028, 0x1031) is None  # an even group is standard


def test_fixed_elements_match_only_their_own_element_number():
    # PHILIPS MR/PART lists (0019,1005) as a fixed element rather than an offset in any block
    assert private_lookup("PHILIPS MR/PART", 0x0019, 0x1005) == PrivateEntry("DS", "1", "CCAngulation")
    assert private_lookup("PHILIPS MR/PART", 0x0019, 0x1205) is None
    # ... while its offset entries of group 0029 follow the block
    assert private_lookup("PHILIPS MR/PART", 0x0029, 0x10C3) == private_lookup("PHILIPS MR/PART", 0x0029, 0x12C3)


def test_odd_group_ranges_cover_every_odd_group_and_no_even_one():
    for group in (0x6001, 0x6003, 0x6055, 0x60FF):
        assert private_lookup("PAPYRUS 3.0", group, 0x1011) == PrivateEntry("US", "1", "OverlayColumns")
    for group in (0x6000, 0x6002, 0x6101, 0x5FFF):
        assert private_lookup("PAPYRUS 3.0", group, 0x1011) is None
    assert private_lookup("DLX_ANNOT_01", 0x7021, 0x1005) == PrivateEntry("IS", "2", "Box")


def test_vendor_pseudo_vrs_are_mapped_to_real_ones():
    # the vendor table's "ox" is PS3.6's "OB or OW"; "px" (a pixel sequence) is encapsulated, i.e. OB
    assert private_lookup("SPI-P Release 1", 0x7FE1, 0x1010).vr == "OB or OW"
    assert private_lookup("GEMS_Ultrasound_MovieGroup_001", 0x7FE1, 0x1060).vr == "OB"


def test_every_creator_of_the_table_is_known():
    creators = private_creators()
    assert len(creators) == 132
    assert {"SIEMENS MEDCOM HEADER", "GEMS_GENIE_1", "PAPYRUS 3.0", "DLX_LKUP_01"} <= set(creators)


def _modules_after(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", "import sys\n" + code + "\nprint(sorted(m for m in sys.modules "
                          "if m.startswith('dicomkit.core._')))"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()[-1]  # after what the code printed


def test_the_private_dictionary_is_not_imported_unless_a_private_element_needs_it():
    if not (CORPUS / "MR2_UNCR.dcm").exists():
        pytest.skip(f"corpus not found at {CORPUS}")
    # dicomkit dump of a file without private elements: the standard dictionary only
    plain = _modules_after("from dicomkit.cli.main import main\n"
                           f"main(['dump', {str(CORPUS / 'MR2_UNCR.dcm')!r}])")
    assert "_dictionary_data" in plain and "_private_dictionary_data" not in plain
    # private elements read in explicit VR need no dictionary to be read ...
    read_only = _modules_after("import dicomkit\n"
                               f"ds = dicomkit.read({str(CORPUS / 'MR-SIEMENS-DICOM-WithOverlays.dcm')!r})\n"
                               "[e.value for e in ds]")
    assert "_private_dictionary_data" not in read_only
    # ... and their names do
    dumped = _modules_after("from dicomkit.cli.main import main\n"
                            f"main(['dump', {str(CORPUS / 'MR-SIEMENS-DICOM-WithOverlays.dcm')!r}])")
    assert "_private_dictionary_data" in dumped
