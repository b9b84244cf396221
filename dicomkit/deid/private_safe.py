"""Private attributes known to be safe (PS3.15 E.3.10, Retain Safe Private Option).

``SAFE_PRIVATE`` transcribes PS3.15 Table E.3.10-1 "Safe Private Attributes": (group, private creator,
element offset within the creator's block ``xx``, VR, meaning). The standard notes that vendors do not
guarantee them to be safe; it is the sample list the standard gives, and what dicomkit retains (besides
blocks a data set itself declares SAFE, PS3.3 C.12.1.1.7).
"""

from __future__ import annotations

from typing import Any

# (group, private creator, element offset "xx", VR as listed ("" where the table leaves it empty), meaning)
SAFE_PRIVATE: tuple[tuple[int, str, int, str, str], ...] = (
    (0x7053, "Philips PET Private Group", 0x00, "DS", "SUV Factor"),
    (0x7053, "Philips PET Private Group", 0x09, "DS", "Activity Concentration Factor"),
    (0x00E1, "ELSCINT1", 0x21, "DS", "DLP"),
    (0x00E1, "ELSCINT1", 0x50, "DS", "Acquisition Duration"),
    (0x01E1, "ELSCINT1", 0x26, "CS", "Phantom Type"),
    (0x01F1, "ELSCINT1", 0x01, "CS", "Acquisition Type"),
    (0x01F1, "ELSCINT1", 0x07, "DS", "Table Velocity"),
    (0x01F1, "ELSCINT1", 0x26, "DS", "Pitch"),
    (0x01F1, "ELSCINT1", 0x27, "DS", "Rotation Time"),
    (0x0019, "GEMS_ACQU_01", 0x23, "DS", "Table Speed [mm/rotation]"),
    (0x0019, "GEMS_ACQU_01", 0x24, "DS", "Mid Scan Time [sec]"),
    (0x0019, "GEMS_ACQU_01", 0x27, "DS", "Rotation Speed (Gantry Period)"),
    (0x0019, "GEMS_ACQU_01", 0x9E, "LO", "Internal Pulse Sequence Name"),
    (0x0043, "GEMS_PARM_01", 0x27, "SH", "Scan Pitch Ratio in the form \"n.nnn:1\""),
    (0x0045, "GEMS_HELIOS_01", 0x01, "SS", "Number of Macro Rows in Detector"),
    (0x0045, "GEMS_HELIOS_01", 0x02, "FL", "Macro width at ISO Center"),
    (0x0903, "GEIIS PACS", 0x10, "US", "Reject Image Flag"),
    (0x0903, "GEIIS PACS", 0x11, "US", "Significant Flag"),
    (0x0903, "GEIIS PACS", 0x12, "US", "Confidential Flag"),
    (0x2001, "Philips Imaging DD 001", 0x03, "FL", "Diffusion B-Factor"),
    (0x2001, "Philips Imaging DD 001", 0x04, "CS", "Diffusion Direction"),
    (0x0019, "SIEMENS MR HEADER", 0x0C, "IS", "B Value"),
    (0x0019, "SIEMENS MR HEADER", 0x0D, "CS", "Diffusion Directionality"),
    (0x0019, "SIEMENS MR HEADER", 0x0E, "FD", "Diffusion Gradient Direction"),
    (0x0019, "SIEMENS MR HEADER", 0x27, "FD", "B Matrix"),
    (0x0043, "GEMS_PARM_01", 0x39, "IS", "1st value is B Value"),
    (0x0043, "GEMS_PARM_01", 0x6F, "DS", "Scanner Table Entry + Gradient Coil Selected"),
    (0x0025, "GEMS_SERS_01", 0x07, "SL", "Images in Series"),
    (0x7E01, "HOLOGIC, Inc.", 0x01, "LO", "Codec Version"),
    (0x7E01, "HOLOGIC, Inc.", 0x02, "SH", "Codec Content Type"),
    (0x7E01, "HOLOGIC, Inc.", 0x10, "SQ", "High Resolution Data Sequence"),
    (0x7E01, "HOLOGIC, Inc.", 0x11, "SQ", "Low Resolution Data Sequence"),
    (0x7E01, "HOLOGIC, Inc.", 0x12, "OB", "Codec Content"),
    (0x0099, "NQHeader", 0x01, "UI", "Version"),
    (0x0099, "NQHeader", 0x02, "UI", "Analyzed Series UID"),
    (0x0099, "NQHeader", 0x04, "SS", "Return Code"),
    (0x0099, "NQHeader", 0x05, "LT", "Return Message"),
    (0x0099, "NQHeader", 0x10, "FL", "MI"),
    (0x0099, "NQHeader", 0x20, "SH", "Units"),
    (0x0099, "NQHeader", 0x21, "FL", "ICV"),
    *((0x0199, "NQLeft", offset, "FL", "Left " + region) for offset, region in enumerate((
        "Cortical White Matter", "Cortical Gray Matter", "3rd Ventricle", "4th Ventricle", "5th Ventricle",
        "Lateral Ventricle", "Inferior Lateral Ventricle", "Inferior CSF", "Cerebellar White Matter",
        "Cerebellar Gray Matter", "Hippocampus", "Amygdala", "Thalamus", "Caudate", "Putamen", "Pallidum",
        "Ventral Diencephalon", "Nucleus Accumbens", "Brain Stem", "Exterior CSF", "WM Hypo", "Other"), 1)),
    *((0x0299, "NQRight", offset, "FL", "Right " + region) for offset, region in enumerate((
        "Cortical White Matter", "Cortical Gray Matter", "3rd Ventricle", "4th Ventricle", "5th Ventricle",
        "Lateral Ventricle", "Inferior Lateral Ventricle", "Inferior CSF", "Cerebellar White Matter",
        "Cerebellar Gray Matter", "Hippocampus", "Amygdala", "Thalamus", "Caudate", "Putamen", "Pallidum",
        "Ventral Diencephalon", "Nucleus Accumbens", "Brain Stem", "Exterior CSF", "WM Hypo", "Other"), 1)),
    (0x2005, "Philips MR Imaging DD 001", 0x0D, "FL", "Scale Intercept"),
    (0x2005, "Philips MR Imaging DD 001", 0x0E, "FL", "Scale Slope"),
    (0x0119, "SIEMENS Ultrasound SC2000", 0x00, "LO", "Acoustic Meta Information Version"),
    (0x0119, "SIEMENS Ultrasound SC2000", 0x01, "OB", "Common Acoustic Meta Information"),
    (0x0119, "SIEMENS Ultrasound SC2000", 0x02, "SQ", "Multi Stream Sequence"),
    (0x0119, "SIEMENS Ultrasound SC2000", 0x03, "SQ", "Acoustic Data Sequence"),
    (0x0119, "SIEMENS Ultrasound SC2000", 0x04, "OB", "Per Transaction Acoustic Control Information"),
    (0x0119, "SIEMENS Ultrasound SC2000", 0x05, "UL", "Acoustic Data Offset"),
    (0x0119, "SIEMENS Ultrasound SC2000", 0x06, "UL", "Acoustic Data Length"),
    (0x0119, "SIEMENS Ultrasound SC2000", 0x07, "UL", "Footer Offset"),
    (0x0119, "SIEMENS Ultrasound SC2000", 0x08, "UL", "Footer Length"),
    (0x0119, "SIEMENS Ultrasound SC2000", 0x09, "SS", "Acoustic Stream Number"),
    (0x0119, "SIEMENS Ultrasound SC2000", 0x10, "SH", "Acoustic Stream Type"),
    (0x0119, "SIEMENS Ultrasound SC2000", 0x11, "", "Stage Timer Time"),
    (0x0119, "SIEMENS Ultrasound SC2000", 0x12, "", "Stop Watch Time"),
    (0x0119, "SIEMENS Ultrasound SC2000", 0x13, "IS", "Volume Rate"),
    (0x0119, "SIEMENS Ultrasound SC2000", 0x21, "SH", ""),
    (0x0129, "SIEMENS Ultrasound SC2000", 0x00, "SQ", "MPR View Sequence"),
    (0x0129, "SIEMENS Ultrasound SC2000", 0x02, "UI", "Bookmark UID"),
    (0x0129, "SIEMENS Ultrasound SC2000", 0x03, "", "Plane Origin Vector"),
    (0x0129, "SIEMENS Ultrasound SC2000", 0x04, "", "Row Vector"),
    (0x0129, "SIEMENS Ultrasound SC2000", 0x05, "", "Column Vector"),
    (0x0129, "SIEMENS Ultrasound SC2000", 0x06, "SQ", "Visualization Sequence"),
    (0x0129, "SIEMENS Ultrasound SC2000", 0x07, "UI", "Bookmark UID"),
    (0x0129, "SIEMENS Ultrasound SC2000", 0x08, "OB", "Visualization Information"),
    (0x0129, "SIEMENS Ultrasound SC2000", 0x09, "SQ", "Application State Sequence"),
    (0x0129, "SIEMENS Ultrasound SC2000", 0x10, "OB", "Application State Information"),
    (0x0129, "SIEMENS Ultrasound SC2000", 0x11, "SQ", "Referenced Bookmark Sequence"),
    (0x0129, "SIEMENS Ultrasound SC2000", 0x12, "UI", "Referenced Bookmark UID"),
    (0x0129, "SIEMENS Ultrasound SC2000", 0x20, "SQ", "Cine Parameters Sequence"),
    (0x0129, "SIEMENS Ultrasound SC2000", 0x21, "OB", "Cine Parameters Schema"),
    (0x0129, "SIEMENS Ultrasound SC2000", 0x22, "OB", "Values of Cine Parameters"),
    (0x0129, "SIEMENS Ultrasound SC2000", 0x29, "OB", ""),
    (0x0129, "SIEMENS Ultrasound SC2000", 0x30, "CS", "Raw Data Object Type"),
    (0x0139, "SIEMENS Ultrasound SC2000", 0x01, "SL", "Physio Capture ROI"),
    (0x0149, "SIEMENS Ultrasound SC2000", 0x01, "FD", "Vector of BROI Points"),
    (0x0149, "SIEMENS Ultrasound SC2000", 0x02, "FD", "Start/End Timestamps of Strip Stream"),
    (0x0149, "SIEMENS Ultrasound SC2000", 0x03, "FD", "Timestamps of Visible R-waves"),
    (0x7FD1, "SIEMENS Ultrasound SC2000", 0x01, "OB", "Acoustic Image and Footer Data"),
    (0x7FD1, "SIEMENS Ultrasound SC2000", 0x09, "UI", "Volume Version ID"),
    (0x7FD1, "SIEMENS Ultrasound SC2000", 0x10, "OB", "Volume Payload"),
    (0x7FD1, "SIEMENS Ultrasound SC2000", 0x11, "OB", "After Payload"),
    (0x7FD1, "SIEMENS SYNGO ULTRA-SOUND TOYON DATA STREAMING", 0x01, "OB", "Padding"),
    (0x7FD1, "SIEMENS SYNGO ULTRA-SOUND TOYON DATA STREAMING", 0x09, "UI", "Version ID"),
    (0x7FD1, "SIEMENS SYNGO ULTRA-SOUND TOYON DATA STREAMING", 0x10, "OB", "Volume Payload"),
    (0x7FD1, "SIEMENS SYNGO ULTRA-SOUND TOYON DATA STREAMING", 0x11, "OB", "After Payload"),
)

# (group, creator) -> the safe element offsets of that block
SAFE_BLOCKS: dict[tuple[int, str], frozenset[int]] = {}
for _group, _creator, _offset, _vr, _meaning in SAFE_PRIVATE:
    _key = (_group, _creator)
    SAFE_BLOCKS[_key] = SAFE_BLOCKS.get(_key, frozenset()) | {_offset}

# PS3.3 C.12.1.1.7 Private Data Element Characteristics Sequence and its items' attributes
PRIVATE_DATA_ELEMENT_CHARACTERISTICS = 0x00080300
PRIVATE_GROUP_REFERENCE = 0x00080301
PRIVATE_CREATOR_REFERENCE = 0x00080302
BLOCK_IDENTIFYING_INFORMATION_STATUS = 0x00080303
NONIDENTIFYING_PRIVATE_ELEMENTS = 0x00080304


def declared_safe(characteristics: Any) -> dict[tuple[int, str], frozenset[int] | None]:
    """Blocks a data set declares safe in its Private Data Element Characteristics Sequence (0008,0300):
    ``None`` for a whole block with Block Identifying Information Status SAFE, else the element offsets
    listed in Nonidentifying Private Elements (0008,0304) of a MIXED block."""
    out: dict[tuple[int, str], frozenset[int] | None] = {}
    for item in characteristics or ():
        group = item.get(PRIVATE_GROUP_REFERENCE)
        creator = item.get(PRIVATE_CREATOR_REFERENCE)
        status = item.get(BLOCK_IDENTIFYING_INFORMATION_STATUS)
        if group is None or creator is None or status is None:
            continue
        key = (int(group.value), str(creator.value).strip())
        if str(status.value).strip() == "SAFE":
            out[key] = None
        elif str(status.value).strip() == "MIXED":
            listed = item.get(NONIDENTIFYING_PRIVATE_ELEMENTS)
            values = listed.value if listed is not None else ()
            values = values if isinstance(values, tuple) else (values,)
            out[key] = frozenset(int(v) & 0xFF for v in values if v is not None)
    return out
