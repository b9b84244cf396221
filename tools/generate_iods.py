#!/usr/bin/env python3
"""Generate dicomkit's shipped IOD tables (PS3.3) for ``dicomkit.validate``.

Usage: python tools/generate_iods.py [STANDARD_DIR]

STANDARD_DIR defaults to ../shared/standard. Reads ciods.json, ciod_to_modules.json, modules.json,
module_attributes.json, macro_attributes.json (attribute tables of the 2020 release: the modules added since
are absent) and uids.tsv, and writes ``dicomkit/validate/_iods.json.gz``:

- ``sop_classes``: SOP Class UID -> IOD id (matched by name: "CT Image Storage" -> "CT Image");
- ``iods``: IOD id -> [name, [[module id, usage M/C/U, condition text, condition expression], ...]];
- ``modules``: module id -> [name, [node index, ...]] (the module's top-level attributes);
- ``nodes``: every distinct attribute node [tag, type, condition expression, condition text, enumeration,
  [child node index, ...], [min, max] Items of a sequence or null] — identical subtrees (expanded macros) are
  stored once;
- ``strings``: condition texts, referenced by index;
- ``macros`` / ``func_groups``: the functional group macros (PS3.3 C.7.6.16) each multi-frame IOD uses, with
  their usage and condition, and their attribute trees.

A condition expression is the prose "Required if ..." turned into a small tree where the sentence follows
one of the common forms (presence, absence, a value equal to / not equal to / greater than); anything else
keeps its text and is reported by the validator as not evaluated. Enumerations are the
"Enumerated Values:" / "Defined Terms:" lists as far as they can be read unambiguously.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "dicomkit" / "validate" / "_iods.json.gz"

# SOP Classes whose IOD name is not their name without " Storage"
SOP_CLASS_IOD = {
    "12-lead ECG Waveform Storage": "12-Lead ECG",
    "General ECG Waveform Storage": "General ECG",
    "Ambulatory ECG Waveform Storage": "Ambulatory ECG",
    "General 32-bit ECG Waveform Storage": "General 32-bit ECG",
    "Cardiac Electrophysiology Waveform Storage": "Basic Cardiac Electrophysiology Waveform",
    "Routine Scalp Electroencephalogram Waveform Storage": "Routine Scalp Electroencephalogram",
    "Electromyogram Waveform Storage": "Electromyogram",
    "Electrooculogram Waveform Storage": "Electrooculogram",
    "Sleep Electroencephalogram Waveform Storage": "Sleep Electroencephalogram",
    "Grayscale Planar MPR Volumetric Presentation State Storage": "Planar MPR Volumetric Presentation State",
    "Compositing Planar MPR Volumetric Presentation State Storage": "Planar MPR Volumetric Presentation State",
    "Segmented Volume Rendering Volumetric Presentation State Storage":
        "Volume Rendering Volumetric Presentation State",
    "Multiple Volume Rendering Volumetric Presentation State Storage":
        "Volume Rendering Volumetric Presentation State",
    "Implantation Plan SR Storage": "Implantation Plan SR Document",
    "Robotic Radiation Record Storage": "Robotic-Arm Radiation Record",
}

TAG = r"\(([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)"
VALUE = r'(?:"[^"]+"|[A-Z0-9_]+(?: [A-Z0-9_]+)*|-?\d+(?:\.\d+)?)'


def _tag(g: str, e: str) -> int:
    return int(g + e, 16)


class _Conditions:
    """Turns "Required if ..." prose into expressions where it follows the common forms."""

    def __init__(self, names: dict[str, int]) -> None:
        self.names = names
        self.name_of = {tag: name.casefold() for name, tag in names.items()}

    def _subject(self, text: str) -> tuple[int, str] | None:
        """The attribute a clause is about (its tag, by number or by exact dictionary name) and the rest."""
        text = text.strip()
        text = re.sub(r"^(?:the )?(?:value of |value for |attribute )?", "", text, flags=re.I)
        m = re.match(r"^([^()]*?)\s*" + TAG + r"\s*(.*)$", text)
        if m:
            tag = _tag(m.group(2), m.group(3))
            # the words before the tag must be its name: "Image Laterality (0020,0062) is ..."
            if m.group(1) and m.group(1).strip().casefold() != self.name_of.get(tag):
                return None
            return tag, m.group(4)
        for name in sorted((n for n in self.names if text.startswith(n + " ")), key=len, reverse=True):
            return self.names[name], text[len(name):].strip()
        return None

    @staticmethod
    def _values(text: str) -> list[str] | None:
        text = text.strip().rstrip(".").strip()
        text = re.sub(r'^("[^"]+")\s*\([^)]*\)$', r"\1", text)  # "1.2.840..." (Legacy Converted)
        parts = re.split(r"\s*,\s*(?:or\s+)?|\s+or\s+", text)
        out = []
        for part in parts:
            if not re.fullmatch(VALUE, part):
                return None
            out.append(part.strip('"'))
        return out or None

    def clause(self, text: str) -> Any:
        text = re.sub(r"^(?:if|either)\s+", "", text.strip())
        subject = self._subject(text)
        if subject is None:
            return None
        tag, rest = subject
        rest = rest.strip().rstrip(".").strip()
        index = None
        m = re.match(r"^Value (\d+)\s+(.*)$", rest)
        if m:
            index, rest = int(m.group(1)), m.group(2)
        if index is None and re.fullmatch(
                r"(?:is|are) present(?: in (?:this|the) (?:Sequence )?Item| in the Item)?|is sent|exists", rest):
            return ["present", tag]
        if index is None and re.fullmatch(r"(?:is|are) present and (?:has|have) a value|has a value", rest):
            return ["value", tag]
        if index is None and re.fullmatch(r"(?:is|are) not present|(?:is|are) absent|is not sent", rest):
            return ["absent", tag]
        m = re.fullmatch(r"(?:is|are) absent or (?:is )?not (.+)", rest)
        if m and index is None and (values := self._values(m.group(1))):
            return ["or", ["absent", tag], ["ne", tag, values, None]]
        m = re.fullmatch(r"(?:is|has a value) greater than (\d+)", rest)
        if m:
            return ["gt", tag, int(m.group(1))]
        m = re.fullmatch(r"(?:is not|does not equal|is other than|is not equal to|equals other than|"
                         r"has a value other than)\s+(.+)", rest)
        if m and (values := self._values(m.group(1))):
            return ["ne", tag, values, index]
        m = re.fullmatch(r"(?:is present and )?(?:is|equals|is equal to|has (?:a|the) value(?: of)?|has a Value of|"
                         r"value is|=|has a value of|with a value of)\s+(.+)", rest)
        if m and (values := self._values(m.group(1))):
            return ["eq", tag, values, index]
        return None

    def _part(self, text: str, op: str, predicate: str) -> Any:
        """A clause; one without a predicate ("A (tag) or B (tag) is present") takes the last clause's."""
        found = self.clause(text)
        if found is None and predicate and re.fullmatch(r"(?:if |either )?[^()]*" + TAG + r"\s*", text.strip()):
            found = self.clause(text.strip() + " " + predicate)
        return found

    def _body(self, body: str) -> Any:
        body = re.sub(r"\bis present and (has a value of|has the value|equals|is)\b", r"\1", body)
        single = self.clause(body)
        if single is not None:
            return single
        for op in (" and ", " or "):
            if op not in body:
                continue
            parts = body.split(op)
            last = re.match(r"^.*?" + TAG + r"\s*(.*)$", parts[-1].strip())
            predicate = last.group(3) if last else ""
            parsed = [self._part(p, op, predicate) for p in parts]
            if op == " and " and not all(parsed):
                parsed = [x if x is not None else self._body_or(p) for x, p in zip(parsed, parts)]
            if all(parsed):
                return [op.strip(), *parsed]
            return None
        return None

    def _body_or(self, text: str) -> Any:
        if " or " not in text:
            return None
        parts = text.split(" or ")
        last = re.match(r"^.*?" + TAG + r"\s*(.*)$", parts[-1].strip())
        predicate = last.group(3) if last else ""
        parsed = [self._part(p, "or", predicate) for p in parts]
        return ["or", *parsed] if all(parsed) else None

    def parse(self, description: str) -> tuple[Any, str]:
        """(expression or None, the condition's text)."""
        m = re.search(r"(?:Required|Shall be present|shall be present)\s+(?:only\s+)?if\s+(.*?)(?:\.\s|\.$|;|$)",
                      description)
        if not m:
            return None, ""
        return self._body(m.group(1).strip()), m.group(0).strip()


def _enumeration(description: str) -> Any:
    """["E" or "D", [values]] when the description lists values for the whole attribute, unambiguously."""
    m = re.search(r"(Enumerated Values?|Defined Terms?)\s*:\s*(.*)$", description)
    if not m or re.search(r"(Enumerated Values?|Defined Terms?) for Value", description):
        return None
    kind = "E" if m.group(1).startswith("Enumerated") else "D"
    rest = m.group(2)
    if re.search(r"(Enumerated Values?|Defined Terms?)\s*:", rest):
        return None  # several lists (per context): not unambiguous
    values: list[str] = []
    for token in rest.split():
        if token in ("Note", "Notes", "See", "Required", "Shall", "If", "When", "The", "This", "Only"):
            break
        if re.fullmatch(r"[A-Z0-9_]{1,16}", token):
            values.append(token)
        elif re.fullmatch(r"[a-z(].*", token) or token.endswith("."):
            continue  # a description of the value before it
        else:
            return None
    return [kind, values] if values else None


def _items(description: str) -> list[int | None] | None:
    """[min, max] Items of a sequence as its description states them (PS3.3 uses a few fixed phrases)."""
    d = description
    if re.search(r"Zero or more Items", d):
        return None
    if re.search(r"Zero or one Item", d):
        return [0, 1]
    if re.search(r"One or more Items (?:shall|are permitted|may)", d):
        return [1, None]
    if re.search(r"Only a single Item (?:shall|is permitted|may)|Exactly one Item", d):
        return [1, 1]
    m = re.search(r"(One|Two|Three|Four|Five|Six) Items? shall be included", d)
    if m:
        n = ["One", "Two", "Three", "Four", "Five", "Six"].index(m.group(1)) + 1
        return [n, n]
    return None


def _tags(path: str) -> list[int | str]:
    """The tags of a path; a repeating-group tag such as 60xx0051 stays a text."""
    return [t if "x" in t.lower() else int(t, 16) for t in path.split(":")[1:]]


def _load(path: Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def generate(std: Path) -> dict[str, Any]:
    names: dict[str, int] = {}
    with open(std / "elements.tsv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if "x" not in row["tag"].lower() and row["retired"] != "Y":
                names[row["name"].strip()] = int(row["tag"].strip("()").replace(",", ""), 16)
    conditions = _Conditions(names)
    strings: list[str] = []
    string_index: dict[str, int] = {}

    def string(text: str) -> int | None:
        if not text:
            return None
        if text not in string_index:
            string_index[text] = len(strings)
            strings.append(text)
        return string_index[text]

    ciods = {c["id"]: c["name"] for c in _load(std / "ciods.json")}
    modules = {m["id"]: m["name"] for m in _load(std / "modules.json")}
    iods: dict[str, Any] = {cid: [name, []] for cid, name in ciods.items()}
    for row in _load(std / "ciod_to_modules.json"):
        usage = row["usage"][0]
        text = (row["conditionalStatement"] or "").strip()
        expr, _ = conditions.parse(text if text.startswith("Required") else "Required if " + text) \
            if usage == "C" and text else (None, "")
        iods[row["ciodId"]][1].append([row["moduleId"], usage, string(text), expr])

    # attribute trees per module: path -> node; children found by path prefix
    attrs: dict[str, list[dict[str, Any]]] = {}
    for row in _load(std / "module_attributes.json"):
        attrs.setdefault(row["moduleId"], []).append(row)
    nodes: list[Any] = []
    node_index: dict[str, int] = {}

    def build(rows: list[dict[str, Any]], depth: int) -> list[int]:
        out: list[int] = []
        i = 0
        while i < len(rows):
            row = rows[i]
            j = i + 1
            while j < len(rows) and len(_tags(rows[j]["path"])) > depth:
                j += 1
            children = build(rows[i + 1:j], depth + 1)
            typ = row["type"] if row["type"] != "None" else "3"
            expr, text = conditions.parse(row["description"]) if typ in ("1C", "2C") else (None, "")
            items = _items(row["description"]) if children else None
            node = [_tags(row["path"])[-1], typ, expr, string(text), _enumeration(row["description"]), children,
                    items]
            key = json.dumps(node, separators=(",", ":"))
            if key not in node_index:
                node_index[key] = len(nodes)
                nodes.append(node)
            out.append(node_index[key])
            i = j
        return out

    # IOD-specific functional-group modules share the generic table (PS3.3 C.7.6.16)
    generic = {"Multi-frame Functional Groups": "multi-frame-functional-groups",
               "Current Frame Functional Groups": "current-frame-functional-groups"}
    module_out: dict[str, Any] = {}
    for module_id, name in modules.items():
        rows = attrs.get(module_id) or attrs.get(generic.get(name, ""))
        # None: the attribute table is not in the (2020) tables
        module_out[module_id] = [name, build(rows, 1) if rows is not None else None]

    macro_rows: dict[str, list[dict[str, Any]]] = {}
    for row in _load(std / "macro_attributes.json"):
        macro_rows.setdefault(row["macroId"], []).append(row)
    macros = {m["id"]: m["name"] for m in _load(std / "macros.json")}
    macro_out: dict[str, Any] = {}
    func_groups: dict[str, list[Any]] = {}
    for row in _load(std / "ciod_to_func_group_macros.json"):
        macro_id = row["macroId"]
        if macro_id not in macro_out:
            rows = macro_rows.get(macro_id)
            macro_out[macro_id] = [macros.get(macro_id, macro_id), build(rows, 1) if rows else None]
        usage = row["usage"][0]
        text = (row["conditionalStatement"] or "").strip()
        expr, _ = conditions.parse(text if text.lower().startswith("required") else "Required if " + text) \
            if usage == "C" and text else (None, "")
        func_groups.setdefault(row["ciodId"], []).append([macro_id, usage, string(text), expr])

    by_name = {name: cid for cid, name in ciods.items()}
    sop_classes: dict[str, str] = {}
    with open(std / "uids.tsv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["type"] != "SOP Class":
                continue
            name = row["name"].strip()
            base = name.removesuffix(" Storage")
            for candidate in (SOP_CLASS_IOD.get(name), base, base.removesuffix(" Document"),
                              base + " Document", base.replace(" Image", "") + " Image"):
                if candidate and candidate in by_name:
                    sop_classes[row["uid"].strip()] = by_name[candidate]
                    break
    return {"sop_classes": sop_classes, "iods": iods, "modules": module_out, "nodes": nodes, "strings": strings,
            "macros": macro_out, "func_groups": func_groups}


def main(argv: list[str]) -> int:
    std = Path(argv[1]) if len(argv) > 1 else ROOT.parent / "shared" / "standard"
    data = generate(std)
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(gzip.compress(raw, 9, mtime=0))
    print(f"wrote {OUT.relative_to(ROOT)}: {len(data['sop_classes'])} SOP classes, {len(data['iods'])} IODs, "
          f"{len(data['modules'])} modules, {len(data['nodes'])} attribute nodes, {OUT.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
