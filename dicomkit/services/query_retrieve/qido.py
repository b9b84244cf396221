"""QIDO-RS query parameters (PS3.18 8.3.4, Table 8.3.4-1) read into the same query plan as a C-FIND.

:func:`plan_from_query_params` takes the search level (``studies``, ``series``, ``instances``), the
decoded query parameters and the UIDs of the resource path, and gives a :class:`QidoQuery`: the
:class:`~.plan.QueryPlan` (matching keys from ``{attributeID}={value}``, return keys from the level's
default attributes of PS3.18 Tables 10.6.3-3 / -4 / -5 plus ``includefield``), and the paging and flags.
A bad parameter raises :class:`~.errors.QueryError` with ``http_status`` 400 and ``parameter`` naming it.

Attribute IDs are keywords or 8 hexadecimal digits, joined with ``.`` for sequence items (PS3.18 8.3.4.1):
``00400275.00400009=SPS1`` or ``RequestAttributesSequence.ScheduledProcedureStepID=SPS1``. UID values
may be a list separated by commas (``uid-list-match``) or backslashes; so may CS values (codes hold no
comma: ``ModalitiesInStudy=CT,MR``); other values are split at backslashes only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ...core.dataset import Dataset
from ...core.dictionary import tag_for_keyword
from ...core.element import DataElement
from ...core.errors import InvalidValueError
from .errors import QueryError, Reason
from .levels import QUERY_RETRIEVE_LEVEL, STUDY_ROOT, InformationModel, Level, Operation
from .plan import PlanOptions, QueryPlan, _build, vr_of

# PS3.18 Table 10.6.3-3 (studies), 10.6.3-4 (series), 10.6.3-5 (instances): returned without includefield
STUDY_DEFAULTS = ("StudyDate", "StudyTime", "AccessionNumber", "InstanceAvailability", "ModalitiesInStudy",
                  "ReferringPhysicianName", "TimezoneOffsetFromUTC", "RetrieveURL", "PatientName", "PatientID",
                  "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyID", "NumberOfStudyRelatedSeries",
                  "NumberOfStudyRelatedInstances")
SERIES_DEFAULTS = ("Modality", "TimezoneOffsetFromUTC", "SeriesDescription", "RetrieveURL", "SeriesInstanceUID",
                   "SeriesNumber", "NumberOfSeriesRelatedInstances", "PerformedProcedureStepStartDate",
                   "PerformedProcedureStepStartTime", "RequestAttributesSequence.ScheduledProcedureStepID",
                   "RequestAttributesSequence.RequestedProcedureID")
INSTANCE_DEFAULTS = ("SOPClassUID", "SOPInstanceUID", "InstanceAvailability", "TimezoneOffsetFromUTC", "RetrieveURL",
                     "InstanceNumber", "Rows", "Columns", "BitsAllocated", "NumberOfFrames")

RESOURCES = {"studies": Level.STUDY, "series": Level.SERIES, "instances": Level.IMAGE}
_FLAGS = ("fuzzymatching", "emptyvaluematching", "multiplevaluematching")
_LIST_VRS = frozenset({"UI", "CS"})
_BINARY_INT_VRS = frozenset({"US", "SS", "UL", "SL", "UV", "SV"})


@dataclass(frozen=True)
class QidoQuery:
    """A QIDO-RS search: the plan, ``include_all`` (``includefield=all``: every attribute the origin server
    has at the level), ``limit`` / ``offset`` (PS3.18 8.3.4.4) and the flags asked for.

    ``warnings`` are the reasons for ``Warning: 299`` headers (PS3.18 8.3.4.2, 8.3.4.5, 8.3.4.6), e.g. a
    flag the origin server does not support, or a limit lowered to the server's maximum.
    """

    plan: QueryPlan
    include_all: bool = False
    limit: int | None = None
    offset: int = 0
    fuzzy_matching: bool = False
    empty_value_matching: bool = False
    multiple_value_matching: bool = False
    warnings: tuple[str, ...] = ()


def _pairs(params: Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    if isinstance(params, Mapping):
        out = []
        for name, value in params.items():
            if isinstance(value, str):
                out.append((name, value))
            else:
                out.extend((name, v) for v in value)
        return out
    return [(str(n), str(v)) for n, v in params]


def parse_attribute_path(text: str, parameter: str | None = None) -> list[int]:
    """The tags of an attribute ID (PS3.18 8.3.4.1): keywords or 8 hex digits, ``.`` between sequence levels."""
    tags = []
    for part in text.split("."):
        part = part.strip()
        tag: int | None
        if len(part) == 8 and all(c in "0123456789abcdefABCDEF" for c in part):
            tag = int(part, 16)
        else:
            tag = tag_for_keyword(part)
        if tag is None or not part:
            raise QueryError(Reason.INVALID_PARAMETER, f"{text!r} is not an attribute (a keyword or 8 hexadecimal "
                             "digits, PS3.18 8.3.4.1)", parameter=parameter or text)
        tags.append(tag)
    for tag in tags[:-1]:
        if vr_of(tag) != "SQ":
            raise QueryError(Reason.INVALID_PARAMETER, f"{text!r}: {tag:08X} is not a sequence",
                             parameter=parameter or text)
    return tags


def _flag(name: str, value: str) -> bool:
    v = value.strip().lower()
    if v not in ("true", "false"):
        raise QueryError(Reason.INVALID_PARAMETER, f"{name} is true or false, not {value!r} (PS3.18 8.3.4)",
                         parameter=name)
    return v == "true"


MAX_PAGING = 2**63 - 1  # limit and offset go to SQL as 64-bit integers


def _uint(name: str, value: str) -> int:
    v = value.strip()
    if not v.isdigit():
        raise QueryError(Reason.INVALID_PARAMETER, f"{name} is a non-negative integer, not {value!r} (PS3.18 8.3.4.4)",
                         parameter=name)
    number = int(v)
    if number > MAX_PAGING:
        raise QueryError(Reason.INVALID_PARAMETER, f"{name} is at most {MAX_PAGING}, not {v}", parameter=name)
    return number


def _element(tag: int, texts: list[str], parameter: str) -> DataElement:
    vr = vr_of(tag)
    if vr == "SQ":
        raise QueryError(Reason.INVALID_PARAMETER, f"{parameter}: a sequence is matched through its item attributes "
                         "(Sequence.Attribute=value)", parameter=parameter)
    values: list[str] = []
    for text in texts:
        parts = text.split("\\")
        if vr in _LIST_VRS:
            parts = [p for piece in parts for p in piece.split(",")]
        values.extend(p.strip() if vr not in ("PN", "LT", "ST", "UT", "UC") else p for p in parts)
    try:
        if vr in _BINARY_INT_VRS:
            return DataElement(tag, vr, [int(v) for v in values if v != ""] or None)
        if vr in ("FL", "FD"):
            return DataElement(tag, vr, [float(v) for v in values if v != ""] or None)
        if vr == "AT":
            return DataElement(tag, vr, [int(v, 16) for v in values if v != ""] or None)
        # validate=False: the plan checks query values itself, answering 400 (no VR warning per request)
        return DataElement(tag, vr, values if len(values) > 1 else (values[0] if values else ""), validate=False)
    except (ValueError, InvalidValueError) as exc:
        raise QueryError(Reason.INVALID_VALUE, f"{parameter}: {texts[0]!r} is not a {vr} value ({exc})",
                         parameter=parameter) from None


def _put(ds: Dataset, tags: list[int], leaf: DataElement | None, parameter_of: dict[int, str], parameter: str) -> None:
    """Put ``leaf`` (None: a zero-length return key) at the path ``tags``, creating sequence items."""
    target = ds
    for tag in tags[:-1]:
        if tag not in target or not target[tag].value:
            target.add_new(tag, "SQ", [Dataset()])
        target = target[tag].value[0]
    last = tags[-1]
    if leaf is not None:
        parameter_of[last] = parameter  # a match parameter names its attribute's errors
        target.add(leaf)
    else:
        parameter_of.setdefault(last, parameter)
        if last not in target:
            target.add(DataElement(last, vr_of(last), None))


def plan_from_query_params(level: str | Level,
                           params: Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]], *,
                           study_uid: str | None = None, series_uid: str | None = None,
                           model: InformationModel = STUDY_ROOT, fuzzy_supported: bool = True,
                           empty_value_supported: bool = True, multiple_value_supported: bool = True,
                           pn_case_insensitive: bool = True, max_limit: int | None = None) -> QidoQuery:
    """The plan of a QIDO-RS search (see the module docstring).

    ``level`` is the resource searched (``studies``, ``series``, ``instances``, or a level); ``study_uid`` /
    ``series_uid`` come from the path (``/studies/{uid}/series``). ``max_limit`` caps ``limit`` (the cap is
    then reported in ``warnings``).
    """
    lv = level if isinstance(level, Level) else RESOURCES.get(str(level).strip("/").lower())
    if lv is None:
        raise QueryError(Reason.INVALID_PARAMETER, f"{level!r} is not a QIDO-RS resource (studies, series, instances)",
                         parameter="level")
    ds = Dataset()
    ds.add_new(QUERY_RETRIEVE_LEVEL, "CS", lv.value)
    parameter_of: dict[int, str] = {}
    include_all = False
    flags = dict.fromkeys(_FLAGS, False)
    limit: int | None = None
    offset = 0
    matches: dict[tuple[int, ...], tuple[str, list[str]]] = {}
    includes: list[tuple[list[int], str]] = []
    for name, value in _pairs(params):
        lname = name.strip().lower()
        if lname == "includefield":
            for field_id in (f.strip() for f in value.split(",")):
                if not field_id:
                    continue
                if field_id.lower() == "all":
                    include_all = True
                else:
                    includes.append((parse_attribute_path(field_id, "includefield"), "includefield"))
        elif lname in _FLAGS:
            flags[lname] = _flag(lname, value)
        elif lname == "limit":
            limit = _uint("limit", value)
        elif lname == "offset":
            offset = _uint("offset", value)
        else:
            tags = parse_attribute_path(name, name)
            key = tuple(tags)
            if key in matches:
                matches[key][1].append(value)  # a repeated attribute: several values
            else:
                matches[key] = (name, [value])
    # defaults of the level, and of the levels above when searching across them (PS3.18 10.6.3.3)
    defaults: list[str] = []
    if lv is Level.STUDY or (lv is Level.SERIES and not study_uid) or (lv is Level.IMAGE and not study_uid):
        defaults += STUDY_DEFAULTS
    if lv is Level.SERIES or (lv is Level.IMAGE and not series_uid):
        defaults += SERIES_DEFAULTS
    if lv is Level.IMAGE:
        defaults += INSTANCE_DEFAULTS
    for path in defaults:
        _put(ds, parse_attribute_path(path), None, parameter_of, "includefield")
    for tags, parameter in includes:
        _put(ds, tags, None, parameter_of, parameter)
    for tags_key, (parameter, texts) in matches.items():
        tags = list(tags_key)
        _put(ds, tags, _element(tags[-1], texts, parameter), parameter_of, parameter)
    for tag, uid_value, parameter in ((0x0020000D, study_uid, "StudyInstanceUID"),
                                      (0x0020000E, series_uid, "SeriesInstanceUID")):
        if uid_value:
            ds.add(DataElement(tag, "UI", uid_value))
            parameter_of[tag] = parameter
    warnings: list[str] = []
    fuzzy = flags["fuzzymatching"]
    if fuzzy and not fuzzy_supported:
        warnings.append("The fuzzymatching parameter is not supported. Only literal matching has been performed.")
    empty = flags["emptyvaluematching"]
    if empty and not empty_value_supported:
        warnings.append("The emptyvaluematching parameter is not supported. Empty Value Matching has not been "
                        "performed.")
    multiple = flags["multiplevaluematching"]
    if multiple and not multiple_value_supported:
        warnings.append("The multiplevaluematching parameter is not supported. Multiple Value Matching has not "
                        "been performed.")
    if limit is not None and max_limit is not None and limit > max_limit:
        warnings.append(f"The limit {limit} is larger than the maximum of {max_limit}: {max_limit} results at most.")
        limit = max_limit
    elif limit is None and max_limit is not None:
        limit = max_limit
    options = PlanOptions(relational=True, combined_datetime=True, fuzzy_names=fuzzy and fuzzy_supported,
                          timezone_adjustment=True, empty_value_matching=empty and empty_value_supported,
                          multiple_value_matching=multiple and multiple_value_supported,
                          pn_case_insensitive=pn_case_insensitive, strict_hierarchy=False)
    plan = _build(ds, model, Operation.FIND, options, parameter_of)
    return QidoQuery(plan, include_all, limit, offset, fuzzy, empty, multiple, tuple(warnings))
