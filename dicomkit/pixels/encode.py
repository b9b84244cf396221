"""Writing pixel data: native Pixel Data from arrays, and transcoding between any two transfer syntaxes.

Encapsulated output follows PS3.5 A.4 (one fragment per frame, a Basic or Extended Offset Table) and
PS3.5 8.2 (Photometric Interpretation per codec, Planar Configuration 0). Lossy encoding records what
PS3.3 C.7.6.1.1.5 asks (Lossy Image Compression "01", ratio and method, appended to earlier ones) and makes
a new SOP Instance derived from the original (C.7.6.1.1.2 Image Type DERIVED, Source Image Sequence with
purpose "Uncompressed predecessor", Derivation Code "Lossy Compression"), as DCMTK does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ..core import uid
from ..core.dataset import Dataset, keyword_vr
from ..core.element import DataElement
from ..core.errors import PixelDataError, UnsupportedTransferSyntaxError
from ..core.sequence import Sequence
from ..core.tag import DOUBLE_FLOAT_PIXEL_DATA, FLOAT_PIXEL_DATA, PIXEL_DATA
from ..core.uid import TRANSFER_SYNTAXES, UID, by_keyword, generate_uid
from ..io.encapsulation import encapsulate, encapsulate_extended
from .codecs import EncodeOptions, codec_for
from .description import SAMPLES_PER_PIXEL, PixelDescription
from .frames import PixelSource, pixel_source
from .native import encode_native
from .photometric import to_rgb

OffsetTable = Literal["basic", "extended", "none"]
Progress = Callable[[int, int], None]

_EOT = 0x7FE00001
_EOT_LENGTHS = 0x7FE00002
_BIG_ENDIAN = uid.ExplicitVRBigEndian
# Codecs that carry the stored words whole (so bits beyond Bits Stored, e.g. embedded overlays, survive).
_WORD_PRESERVING = {uid.RLELossless, uid.DeflatedImageFrameCompression,
                    uid.EncapsulatedUncompressedExplicitVRLittleEndian}
_CERTAINLY_LOSSY = {uid.JPEGBaseline8Bit, uid.JPEGExtended12Bit}

# Short names accepted wherever a transfer syntax is asked for (besides UIDs and registry keywords).
ALIASES = {
    "implicit": uid.ImplicitVRLittleEndian, "explicit": uid.ExplicitVRLittleEndian,
    "little": uid.ExplicitVRLittleEndian,
    "big": uid.ExplicitVRBigEndian, "deflate": uid.DeflatedExplicitVRLittleEndian,
    "encapsulated-uncompressed": uid.EncapsulatedUncompressedExplicitVRLittleEndian, "rle": uid.RLELossless,
    "deflate-frames": uid.DeflatedImageFrameCompression,
    "jpeg-baseline": uid.JPEGBaseline8Bit, "jpeg": uid.JPEGBaseline8Bit,
    "jpeg-extended": uid.JPEGExtended12Bit, "jpeg-lossless": uid.JPEGLossless,
    "jpeg-lossless-sv1": uid.JPEGLosslessSV1, "jpeg-sv1": uid.JPEGLosslessSV1,
    "jpeg-ls": uid.JPEGLSLossless, "jpeg-ls-lossless": uid.JPEGLSLossless,
    "jpeg-ls-near": uid.JPEGLSNearLossless, "jpeg-ls-near-lossless": uid.JPEGLSNearLossless,
    "j2k-lossless": uid.JPEG2000Lossless, "jpeg2000-lossless": uid.JPEG2000Lossless,
    "j2k": uid.JPEG2000, "jpeg2000": uid.JPEG2000,
    "htj2k-lossless": uid.HTJ2KLossless, "htj2k-rpcl": uid.HTJ2KLosslessRPCL,
    "htj2k": uid.HTJ2K,
}


def resolve_transfer_syntax(name: str) -> UID:
    """A transfer syntax from its UID, registry keyword (``JPEGBaseline8Bit``) or short alias (``j2k``)."""
    text = str(name).strip()
    if text in TRANSFER_SYNTAXES:
        return UID(text)
    alias = ALIASES.get(text.lower())
    if alias:
        return UID(alias)
    found = by_keyword(text)
    if found is not None and str(found) in TRANSFER_SYNTAXES:
        return found
    raise UnsupportedTransferSyntaxError(
        f"unknown transfer syntax {name!r}: give a UID, a keyword such as JPEG2000Lossless, or one of "
        + ", ".join(sorted(ALIASES))
    )


# ---------------------------------------------------------------------------------------------------
# Native pixel data from arrays


def _bits_for(dtype: np.dtype[Any]) -> int:
    if dtype == np.bool_:
        return 1
    if dtype.kind not in "iuf":
        raise PixelDataError(f"cannot store {dtype} samples as pixel data")
    return dtype.itemsize * 8


def set_pixel_data(ds: Dataset, frames: Any, *, photometric: str | None = None, bits_stored: int | None = None,
                   bits_allocated: int | None = None, planar_configuration: int = 0) -> None:
    """Store ``frames`` as native Pixel Data of ``ds`` and set the Image Pixel attributes to match.

    ``frames`` is shaped as :func:`~dicomkit.pixels.pixel_array` returns it: (rows, columns) one grayscale
    frame, (rows, columns, samples) one colour frame, (frames, rows, columns) grayscale frames, (frames,
    rows, columns, samples). A 3-D array is one colour frame when its last axis has as many samples as
    ``photometric`` has (PS3.3 C.7.6.3.1.2), or without ``photometric`` as the data set's Samples per Pixel
    says, or for a data set without it 3 or 4; else it is grayscale frames. Integer
    dtypes give Pixel Data (Bits Allocated from the dtype, or 1 for bool), float32/float64 give Float /
    Double Float Pixel Data. The transfer syntax becomes Explicit VR Little Endian if it was encapsulated.
    """
    arr = np.asarray(frames)
    if arr.ndim == 2:
        arr = arr[None, :, :, None]
    elif arr.ndim == 3:
        if photometric:
            samples = SAMPLES_PER_PIXEL.get(photometric, 1)
        elif isinstance(ds.get("SamplesPerPixel"), int):
            samples = int(ds.SamplesPerPixel)
        else:
            samples = arr.shape[-1] if arr.shape[-1] in (3, 4) else 1
        arr = arr[None] if samples > 1 and arr.shape[-1] == samples else arr[..., None]
    if arr.ndim != 4:
        raise PixelDataError(f"expected 2 to 4 dimensions (frames, rows, columns, samples), got {arr.shape}")
    n, rows, columns, spp = arr.shape
    allocated = bits_allocated or _bits_for(arr.dtype)
    is_float = arr.dtype.kind == "f"
    signed = arr.dtype.kind == "i"
    stored = bits_stored or allocated
    pi = photometric or ("MONOCHROME2" if spp == 1 else "RGB")
    pixel_tag = PIXEL_DATA
    if is_float:
        pixel_tag = FLOAT_PIXEL_DATA if allocated == 32 else DOUBLE_FLOAT_PIXEL_DATA
    desc = PixelDescription(rows, columns, spp, allocated, stored, stored - 1, int(signed), planar_configuration,
                            n, pi, uid.ExplicitVRLittleEndian, pixel_tag)
    desc.validate()
    data = encode_native(arr, desc)
    _store_native(ds, desc, data)


def _store_native(ds: Dataset, desc: PixelDescription, data: bytes) -> None:
    for tag in (PIXEL_DATA, FLOAT_PIXEL_DATA, DOUBLE_FLOAT_PIXEL_DATA, _EOT, _EOT_LENGTHS):
        if tag in ds:
            del ds[tag]
    ds.Rows = desc.rows
    ds.Columns = desc.columns
    ds.SamplesPerPixel = desc.samples_per_pixel
    ds.PhotometricInterpretation = desc.photometric_interpretation
    ds.BitsAllocated = desc.bits_allocated
    if desc.is_float:
        for keyword in ("BitsStored", "HighBit", "PixelRepresentation"):
            if keyword in ds:
                delattr(ds, keyword)
    else:
        ds.BitsStored = desc.bits_stored
        ds.HighBit = desc.high_bit
        ds.PixelRepresentation = desc.pixel_representation
    _set_frames_and_planar(ds, desc)
    if desc.pixel_tag == FLOAT_PIXEL_DATA:
        vr = "OF"
    elif desc.pixel_tag == DOUBLE_FLOAT_PIXEL_DATA:
        vr = "OD"
    else:
        vr = "OB" if desc.bits_allocated <= 8 else "OW"
    ds.add(DataElement(desc.pixel_tag, vr, data))
    ts = ds.transfer_syntax
    if ts is None or TRANSFER_SYNTAXES.get(str(ts), TRANSFER_SYNTAXES[uid.ExplicitVRLittleEndian]).encapsulated:
        _set_transfer_syntax(ds, uid.ExplicitVRLittleEndian)
    ds.__dict__.pop("_pixel_source", None)


def _set_frames_and_planar(ds: Dataset, desc: PixelDescription) -> None:
    if desc.number_of_frames > 1 or "NumberOfFrames" in ds:
        ds.NumberOfFrames = desc.number_of_frames
    if desc.samples_per_pixel > 1:
        ds.PlanarConfiguration = desc.planar_configuration
    elif "PlanarConfiguration" in ds:
        del ds.PlanarConfiguration


def _set_transfer_syntax(ds: Dataset, transfer_syntax: UID) -> None:
    meta = ds.file_meta
    if meta is None:
        meta = Dataset()
        object.__setattr__(ds, "file_meta", meta)
    meta.add_new(0x00020010, "UI", str(transfer_syntax))
    ds.read_transfer_syntax = transfer_syntax


# ---------------------------------------------------------------------------------------------------
# Transcoding


def transcode(ds: Dataset, transfer_syntax: str, *, options: EncodeOptions | None = None,
              offset_table: OffsetTable = "basic", as_rgb: bool = False,
              progress: Progress | None = None) -> Dataset:
    """A copy of ``ds`` with its pixel data in ``transfer_syntax`` (UID, keyword or alias).

    Lossless paths are bit-exact. Frames are decoded and encoded one at a time. ``as_rgb`` converts
    YBR/PALETTE COLOR samples to RGB first (never done otherwise). ``progress(done, total)`` is called
    after each frame. Lossy output gets a new SOP Instance UID and the Lossy Image Compression attributes.
    """
    target = resolve_transfer_syntax(transfer_syntax)
    info = TRANSFER_SYNTAXES[str(target)]
    if info.referenced:
        raise UnsupportedTransferSyntaxError(f"{target.name} references pixel data; it cannot carry it")
    options = options or EncodeOptions()
    source = pixel_source(ds)
    desc = source.desc
    out = ds.copy()
    out.__dict__.pop("_pixel_source", None)
    if str(target) == desc.transfer_syntax and not as_rgb:
        _set_transfer_syntax(out, target)
        return out
    if not info.encapsulated:
        _to_native(out, source, target, as_rgb, progress)
    else:
        _to_encapsulated(out, ds, source, target, options, offset_table, as_rgb, progress)
    return out


def decompress(ds: Dataset, *, as_rgb: bool = False, transfer_syntax: str = uid.ExplicitVRLittleEndian) -> Dataset:
    """A copy of ``ds`` with native pixel data (Explicit VR Little Endian unless told otherwise)."""
    return transcode(ds, transfer_syntax, as_rgb=as_rgb)


def compress(ds: Dataset, transfer_syntax: str, *, offset_table: OffsetTable = "basic",
             **options: Any) -> Dataset:
    """A copy of ``ds`` encoded in ``transfer_syntax``; keyword options are :class:`EncodeOptions` fields."""
    try:
        opts = EncodeOptions(**options)
    except TypeError as exc:
        raise PixelDataError(f"unknown encoding option: {exc}") from None
    return transcode(ds, transfer_syntax, options=opts, offset_table=offset_table)


def _word_desc(desc: PixelDescription) -> PixelDescription:
    """The description that reads stored words whole (every bit of Bits Allocated, unsigned)."""
    if desc.is_float or desc.bits_allocated == 1:
        return desc
    return desc.with_(bits_stored=desc.bits_allocated, high_bit=desc.bits_allocated - 1, pixel_representation=0)


class _Plan:
    """How frames are read for re-encoding, and what the re-encoded pixel data looks like.

    ``desc`` describes the output (its attributes); ``codec_desc`` is what the encoder is given (the same,
    or the stored words whole when both sides carry words, so bits beyond Bits Stored survive).
    """

    def __init__(self, source: PixelSource, target: str, as_rgb: bool) -> None:
        self.source = source
        self.as_rgb = as_rgb
        src = source.desc
        pi = source.photometric
        desc = src.with_(photometric_interpretation=pi, planar_configuration=0, transfer_syntax=target)
        if as_rgb and pi != "RGB" and not pi.startswith("MONOCHROME"):
            if pi == "PALETTE COLOR":
                bits = 8 if to_rgb(np.zeros((1, 1, 1), src.dtype), pi, source.ds).dtype == np.uint8 else 16
                desc = desc.with_(samples_per_pixel=3, bits_allocated=bits, bits_stored=bits, high_bit=bits - 1,
                                  pixel_representation=0)
            desc = desc.with_(photometric_interpretation="RGB")
        self.desc = desc
        self.photometric = desc.photometric_interpretation
        source_words = not source.encapsulated or src.transfer_syntax in _WORD_PRESERVING
        target_words = target in _WORD_PRESERVING or not TRANSFER_SYNTAXES[target].encapsulated
        self.keep_words = source_words and target_words and not as_rgb
        self.read_desc = _word_desc(src) if self.keep_words else src
        self.codec_desc = _word_desc(desc) if self.keep_words else desc

    def read(self, index: int) -> NDArray[Any]:
        arr = self.source.decode(index, self.read_desc)
        if self.as_rgb:
            arr = to_rgb(arr, self.source.photometric, self.source.ds, bits_stored=self.source.desc.bits_stored)
        return arr


def _values_are_words(source: PixelSource) -> bool:
    """Whether the element value (little endian words, see core.values) holds the samples in order."""
    elem = source.element
    src = elem.source
    if src is None or src.little_endian or source.desc.bits_allocated <= 8:
        return True
    word = {"OW": 2, "OF": 4, "OD": 8, "OL": 4, "OV": 8}.get(elem.vr.value, 1)
    return word * 8 == source.desc.bits_allocated


def _to_native(out: Dataset, source: PixelSource, target: UID, as_rgb: bool, progress: Progress | None) -> None:
    desc = source.desc
    n = desc.number_of_frames
    if str(target) == _BIG_ENDIAN and not desc.is_float and desc.bits_allocated > 16:
        raise PixelDataError("Explicit VR Big Endian (retired) has no unambiguous layout for 32/64-bit integer "
                             "samples in OW; choose a little endian transfer syntax")
    if not source.encapsulated and not as_rgb and not desc.is_subsampled and _values_are_words(source):
        # Native to native: the element (shared with the copy) is re-encoded by the writer.
        _set_transfer_syntax(out, target)
        if progress:
            progress(n, n)
        return
    plan = _Plan(source, str(target), as_rgb)
    if desc.bits_allocated == 1:
        frames = np.empty((n, *plan.desc.frame_shape), dtype=np.uint8)
        for i in range(n):
            frames[i] = plan.read(i)
            if progress:
                progress(i + 1, n)
        data = encode_native(frames, plan.desc)
    else:
        chunks = []
        for i in range(n):
            chunks.append(encode_native(plan.read(i)[None], plan.codec_desc))
            if progress:
                progress(i + 1, n)
        data = b"".join(chunks)
    _store_native(out, plan.desc, data)
    if desc.transfer_syntax in _CERTAINLY_LOSSY and "LossyImageCompression" not in out:
        out.LossyImageCompression = "01"  # PS3.3 C.7.6.1.1.5: once lossy, always flagged
    _set_transfer_syntax(out, target)


def _to_encapsulated(out: Dataset, original: Dataset, source: PixelSource, target: UID, options: EncodeOptions,
                     offset_table: OffsetTable, as_rgb: bool, progress: Progress | None) -> None:
    codec = codec_for(str(target))
    desc = source.desc
    plan = _Plan(source, str(target), as_rgb)
    lossy = codec.is_lossy(options)
    if lossy and plan.photometric == "PALETTE COLOR":
        raise PixelDataError("PALETTE COLOR indices cannot be lossy compressed (their colours would change); "
                             "convert to RGB first (as_rgb / --rgb) or choose a lossless syntax")
    codec.check_encodable(plan.codec_desc, options)
    if desc.is_float and str(target) not in _WORD_PRESERVING:
        raise PixelDataError(f"{codec.name} cannot carry Float or Double Float Pixel Data")
    if str(target) == uid.JPEGBaseline8Bit and plan.desc.bits_allocated != 8:
        raise PixelDataError("JPEG Baseline needs Bits Allocated 8 (PS3.5 8.2.1)")
    if str(target) == uid.JPEGExtended12Bit and plan.desc.bits_allocated not in (8, 16):
        raise PixelDataError("JPEG Extended needs Bits Allocated 8 or 16 (PS3.5 8.2.1)")
    encoded: list[bytes] = []
    n = desc.number_of_frames
    for i in range(n):
        encoded.append(codec.encode(plan.read(i), plan.codec_desc, options, plan.photometric))
        if progress:
            progress(i + 1, n)
    for tag in (PIXEL_DATA, FLOAT_PIXEL_DATA, DOUBLE_FLOAT_PIXEL_DATA, _EOT, _EOT_LENGTHS):
        if tag in out:
            del out[tag]
    total = sum(len(f) + 8 + (len(f) & 1) for f in encoded)
    if offset_table == "extended" or (offset_table == "basic" and total > 0xFFFFFFFF):
        stream, offsets, lengths = encapsulate_extended(encoded)
        out.add(DataElement(_EOT, "OV", offsets))
        out.add(DataElement(_EOT_LENGTHS, "OV", lengths))
    else:
        stream = encapsulate(encoded, basic_offset_table=offset_table == "basic")
    out.add(DataElement(desc.pixel_tag, "OB", stream, undefined_length=True))
    final = plan.desc
    out.PhotometricInterpretation = codec.encoded_photometric(plan.photometric, plan.codec_desc, options)
    if final.samples_per_pixel != desc.samples_per_pixel:
        out.SamplesPerPixel = final.samples_per_pixel
        out.BitsAllocated = final.bits_allocated
        out.BitsStored = final.bits_stored
        out.HighBit = final.high_bit
        out.PixelRepresentation = 0
    _set_frames_and_planar(out, final)
    _set_transfer_syntax(out, target)
    if lossy:
        ratio = final.native_bytes / max(1, sum(len(f) for f in encoded))
        _mark_lossy(out, original, codec.lossy_method, ratio, codec.name)


def _append(ds: Dataset, keyword: str, value: str) -> None:
    old = ds.get(keyword)
    values: tuple[Any, ...] = () if old in (None, "") else (old if isinstance(old, tuple) else (old,))
    # the values already there are the file's, taken as they are (and ours are valid)
    ds.add_new(keyword, keyword_vr(keyword) or "UN", [*(str(v) for v in values), value], validate=False)


def _code_item(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = "DCM"
    item.CodeMeaning = meaning
    return item


def _mark_lossy(out: Dataset, original: Dataset, method: str, ratio: float, codec_name: str) -> None:
    """PS3.3 C.7.6.1.1.5 lossy attributes and a new, derived SOP Instance (C.7.6.1.1.2, C.7.6.1.1.3)."""
    out.LossyImageCompression = "01"
    _append(out, "LossyImageCompressionRatio", f"{ratio:.4g}"[:16])
    _append(out, "LossyImageCompressionMethod", method)
    image_type = out.get("ImageType")
    if image_type:
        values = list(image_type) if isinstance(image_type, tuple) else [image_type]
        values[0] = "DERIVED"
        out.add_new("ImageType", "CS", values, validate=False)  # the file's other values, as they are
    out.DerivationDescription = f"Lossy compression with {codec_name}, ratio {ratio:.4g}:1"[:1024]
    sop_class = original.get("SOPClassUID")
    sop_instance = original.get("SOPInstanceUID")
    if sop_class and sop_instance:
        ref = Dataset()
        ref.add_new("ReferencedSOPClassUID", "UI", str(sop_class), validate=False)  # the original's UIDs
        ref.add_new("ReferencedSOPInstanceUID", "UI", str(sop_instance), validate=False)
        ref.PurposeOfReferenceCodeSequence = Sequence([_code_item("121320", "Uncompressed predecessor")])
        existing = list(out.get("SourceImageSequence") or [])
        out.SourceImageSequence = Sequence([*existing, ref])
    out.DerivationCodeSequence = Sequence([_code_item("113040", "Lossy Compression")])
    out.SOPInstanceUID = generate_uid()
