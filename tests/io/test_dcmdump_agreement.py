"""Element-for-element agreement with DCMTK's dcmdump over the corpus (the reference oracle)."""

from __future__ import annotations

import re
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

import dicomkit
from dicomkit import Dataset
from dicomkit.core.vr import CHARSET_VRS, VR
from tests.conftest import RAW_FILES, corpus_params, read_options, require_tool

pytestmark = pytest.mark.interop  # runs DCMTK / dicom3tools peers

LINE = re.compile(r"^(?P<indent> *)\((?P<g>[0-9a-f]{4}),(?P<e>[0-9a-f]{4})\) (?P<vr>[A-Za-z?]{2}) (?P<value>.*?) +"
                  r"# +(?P<len>u/l|\d+), *(?P<vm>\d+) (?P<name>.+)$")


@dataclass
class Row:
    depth: int
    tag: int
    vr: str
    value: str
    length: str
    vm: int
    name: str = ""


def dcmdump_rows(path: Path, raw: bool) -> list[Row]:
    exe = require_tool("dcmdump")
    args = [exe, "+L", "-M", "-Un", "+uc", "+U8", "+E", "-q"]
    if raw:
        args.append("-f")
    out = subprocess.run([*args, str(path)], capture_output=True, timeout=120)
    text = out.stdout.decode("utf-8", "replace")
    rows = []
    in_dataset = False
    for line in text.splitlines():
        if line.startswith("# Dicom-Data-Set"):
            in_dataset = True
            continue
        m = LINE.match(line)
        if not m or not in_dataset:
            continue
        if m["vr"] in ("na", "pi"):
            continue  # items and delimiters
        rows.append(Row(len(m["indent"]) // 2, int(m["g"] + m["e"], 16), m["vr"], m["value"], m["len"],
                        int(m["vm"]), m["name"]))
    return rows


def our_rows(ds: Dataset, depth: int = 0) -> list[tuple[Row, object]]:
    rows: list[tuple[Row, object]] = []
    for elem in ds:
        length = "u/l" if elem.is_undefined_length or (elem.vr is VR.SQ and elem.value.is_undefined_length) \
            else str(elem.length)
        rows.append((Row(depth, elem.tag, elem.vr.value, "", length, 0), elem))
        if elem.vr is VR.SQ:
            for item in elem.value:
                rows += our_rows(item, depth + 2)
    return rows


def _numbers(text: str) -> list[float]:
    return [float(x) for x in text.split("\\")] if text else []


def compare_value(row: Row, elem: dicomkit.DataElement) -> str | None:
    vr = elem.vr.value
    text = row.value
    if text in ("(no value available)", "(not loaded)") or text.startswith("("):
        return None
    if elem.tag == 0x00080005:
        return None  # +U8 makes dcmdump report ISO_IR 192
    value = elem.value
    if vr in ("US", "SS", "UL", "SL", "FL", "FD", "SV", "UV"):
        ours = list(value) if isinstance(value, tuple) else ([] if value is None else [value])
        theirs = _numbers(text)
        if ours != pytest.approx(theirs, rel=1e-6):
            return f"{ours} != {theirs}"
        return None
    if vr in ("OB", "UN", "OW", "OL", "OV"):
        word = {"OB": 1, "UN": 1, "OW": 2, "OL": 4, "OV": 8}[vr]
        data = bytes(value)
        usable = len(data) - len(data) % word
        fmt = {1: "B", 2: "H", 4: "I", 8: "Q"}[word]
        ours_hex = "\\".join(f"{w:0{2 * word}x}" for w in struct.unpack(f"<{usable // word}{fmt}", data[:usable]))
        return None if ours_hex == text else f"{ours_hex[:60]} != {text[:60]}"
    if vr in ("OF", "OD"):
        size = 4 if vr == "OF" else 8
        ours = list(struct.unpack(f"<{len(value) // size}{'f' if size == 4 else 'd'}", value))
        return None if ours == pytest.approx(_numbers(text), rel=1e-6) else "float values differ"
    if vr == "AT":
        return None
    if not (text.startswith("[") and text.endswith("]")):
        return f"unexpected dcmdump value {text!r}"
    theirs = [t.strip(" \x00") for t in text[1:-1].split("\\")] if vr not in ("LT", "ST", "UT", "UR") \
        else [text[1:-1].rstrip(" \x00")]
    ours = [str(v).strip(" \x00") for v in value] if isinstance(value, tuple) else [str(value).strip(" \x00")]
    if vr in ("LT", "ST", "UT"):
        ours = [str(value).rstrip(" \x00")]
    if ours != theirs:
        return f"{ours} != {theirs}"
    return None


@pytest.mark.parametrize("path", corpus_params())
def test_elements_agree_with_dcmdump(path: Path):
    raw = path.name in RAW_FILES
    theirs = dcmdump_rows(path, raw)
    if not theirs:
        pytest.skip(f"dcmdump could not list {path.name}")
    problems = agreement_problems(path, dicomkit.read(path, **read_options(path)), theirs)
    assert not problems, "\n".join(problems[:20])


def agreement_problems(path: Path, ds: Dataset, theirs: list[Row]) -> list[str]:
    """Where our elements of ``ds`` (read from ``path``) differ from dcmdump's rows: order, VR, length, value."""
    ours = our_rows(ds)
    problems: list[str] = []
    i = j = 0
    skip_depth: int | None = None
    while i < len(ours) and j < len(theirs):
        row, elem = ours[i]
        if skip_depth is not None:
            if row.depth > skip_depth:
                i += 1
                continue
            skip_depth = None
        ref = theirs[j]
        if (ref.tag >> 16 == 0x0002 and ref.depth == 0) or (ref.tag == 0x00080005 and row.tag != 0x00080005):
            j += 1  # meta elements of a raw data set / Specific Character Set added by +U8
            continue
        where = f"{path.name} {dicomkit.Tag(row.tag)} (depth {row.depth})"
        if (row.depth, row.tag) != (ref.depth, ref.tag):
            problems.append(f"{where}: element order differs from dcmdump's {dicomkit.Tag(ref.tag)} "
                            f"(depth {ref.depth})")
            break
        assert isinstance(elem, dicomkit.DataElement)
        if row.vr == "SQ" and ref.vr in ("UN", "??"):
            # a private UN value that is a valid item sequence: we parse it, dcmdump keeps the bytes
            skip_depth = row.depth
        elif row.vr != ref.vr and not (row.vr == "OB" and ref.vr == "OW" and row.length == "u/l") and not (
                ref.vr in ("xs", "ox", "lt") and row.vr in ("US", "SS", "OW", "OB")) and not (
                ref.vr == "??" and row.vr == "UN"):
            # dcmdump leaves context-dependent VRs unresolved (xs = US or SS, ox = OB or OW, lt = US/SS/OW),
            # and shows ?? for an implicit-VR element its dictionaries do not know (we say UN)
            problems.append(f"{where}: VR {row.vr} != dcmdump {ref.vr}")
        elif row.vr != "SQ" and row.length != ref.length and row.vr not in CHARSET_VRS:
            # (+U8 re-encodes text in UTF-8, so lengths of text in other character sets differ)
            problems.append(f"{where}: length {row.length} != dcmdump {ref.length}")
        elif row.vr != "SQ" and row.length != "u/l":
            diff = compare_value(ref, elem)
            if diff:
                problems.append(f"{where}: value {diff}")
        i += 1
        j += 1
    if not problems and (i, j) != (len(ours), len(theirs)):
        problems.append(f"{path.name}: {len(ours) - i} of our and {len(theirs) - j} of dcmdump's elements unmatched")
    return problems
