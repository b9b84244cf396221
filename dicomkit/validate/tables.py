"""The PS3.3 IOD tables shipped as generated data (tools/generate_iods.py -> _iods.json.gz), loaded on first use.

The attribute tables come from a 2020 tabulation of PS3.3: modules added since (mostly newer functional-group
modules, microscopy, dermoscopy, enhanced RT image) have no attribute table here and are reported as not
checked.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

# usage of a module in an IOD (PS3.3 A.1.3): Mandatory, Conditional, User option
USAGES = {"M": "Mandatory", "C": "Conditional", "U": "User Option"}


@dataclass(frozen=True)
class Attribute:
    """One row of a module table: the tag (an int, or a text such as "60xx0010" for repeating groups), the
    type (1, 1C, 2, 2C, 3), the condition as an expression where it could be read from the prose (else
    None) and its text, the enumeration ("E" enumerated values / "D" defined terms, values) and the
    attributes of the sequence's items and how many items it has."""

    tag: int | str
    type: str
    condition: Any
    condition_text: str
    enumeration: tuple[str, tuple[str, ...]] | None
    children: tuple[Attribute, ...]
    items: tuple[int, int | None] | None = None  # how many Items a sequence has, where the table says


@dataclass(frozen=True)
class ModuleUse:
    module_id: str
    name: str
    usage: str  # M, C, U
    condition: Any
    condition_text: str
    attributes: tuple[Attribute, ...] | None  # None: no attribute table in the shipped (2020) tables


@dataclass(frozen=True)
class IOD:
    iod_id: str
    name: str
    modules: tuple[ModuleUse, ...]
    functional_groups: tuple[ModuleUse, ...] = ()  # the functional group macros of a multi-frame IOD


@cache
def _data() -> dict[str, Any]:
    raw = (Path(__file__).parent / "_iods.json.gz").read_bytes()
    data: dict[str, Any] = json.loads(gzip.decompress(raw))
    return data


@cache
def _node(index: int) -> Attribute:
    data = _data()
    tag, typ, cond, text_index, enum, children, items = data["nodes"][index]
    strings = data["strings"]
    return Attribute(tag, typ, cond, strings[text_index] if text_index is not None else "",
                     (enum[0], tuple(enum[1])) if enum else None, tuple(_node(i) for i in children),
                     (items[0], items[1]) if items else None)


@cache
def module(module_id: str) -> tuple[str, tuple[Attribute, ...] | None]:
    name, nodes = _data()["modules"].get(module_id, [module_id, None])
    return name, None if nodes is None else tuple(_node(i) for i in nodes)


@cache
def iod(iod_id: str) -> IOD | None:
    entry = _data()["iods"].get(iod_id)
    if entry is None:
        return None
    strings = _data()["strings"]
    uses = []
    for module_id, usage, text_index, cond in entry[1]:
        name, attributes = module(module_id)
        uses.append(ModuleUse(module_id, name, usage, cond, strings[text_index] if text_index is not None else "",
                              attributes))
    groups = []
    for macro_id, usage, text_index, cond in _data()["func_groups"].get(iod_id, ()):
        name, nodes = _data()["macros"].get(macro_id, [macro_id, None])
        groups.append(ModuleUse(macro_id, name, usage, cond, strings[text_index] if text_index is not None else "",
                                None if nodes is None else tuple(_node(i) for i in nodes)))
    return IOD(iod_id, entry[0], tuple(uses), tuple(groups))


def iod_for_sop_class(sop_class_uid: str) -> IOD | None:
    """The IOD of a Storage SOP Class (PS3.4 B.5), or None when the tables do not hold it."""
    iod_id = _data()["sop_classes"].get(str(sop_class_uid))
    return iod(iod_id) if iod_id else None


def module_names_without_table() -> list[str]:
    return sorted(name for name, nodes in _data()["modules"].values() if nodes is None)


__all__ = ["IOD", "USAGES", "Attribute", "ModuleUse", "iod", "iod_for_sop_class", "module",
           "module_names_without_table"]
