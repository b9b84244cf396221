"""Resolving dictionary VRs that depend on context, such as "US or SS" and "OB or OW" (PS3.5 A.1 c)."""

from __future__ import annotations

# Elements whose first value tells the length of a LUT and is unsigned regardless of
# Pixel Representation (PS3.3 C.11.1.1.1 and C.7.6.3.1.5).
_LUT_DESCRIPTORS = frozenset({0x00283002, 0x00281101, 0x00281102, 0x00281103, 0x00281221, 0x00281222,
                              0x00281223})


def resolve_vr(tag: int, vr: str, pixel_representation: int | None, explicit_little: bool = True) -> str:
    """Choose one VR for an ambiguous dictionary entry, from the data set's context.

    - ``US or SS``: SS when Pixel Representation is 1 (signed), else US; LUT descriptors stay US.
    - ``OB or OW``: OW (implicit VR Little Endian requires OW for Pixel Data and overlays, PS3.5 A.1 c).
    - ``US or OW`` / ``US or SS or OW`` (LUT Data): OW for implicit-VR-read data, as words.
    """
    if " or " not in vr:
        return vr
    if vr == "US or SS":
        if tag in _LUT_DESCRIPTORS:
            return "US"
        return "SS" if pixel_representation == 1 else "US"
    if vr == "OB or OW":
        return "OW"
    if vr in ("US or OW", "US or SS or OW"):
        return "OW"
    return vr.split(" or ")[0]
