"""Query/Retrieve (PS3.4 Annex C) and the query machinery shared with Modality Worklist (Annex K).

- :mod:`.levels`: the information models, levels and key tables (C.6, K.6);
- :mod:`.negotiation`: SOP Class Extended Negotiation (C.5, K.5.1);
- :mod:`.plan`: Identifiers read into typed query plans (C.2.2.2, C.4);
- :mod:`.matching`: the Python evaluator of a plan and the response Identifier of a match;
- :mod:`.temporal`: dates and times as comparable text (C.2.2.2.5);
- :mod:`.qido`: the same plan from QIDO-RS query parameters (PS3.18 8.3.4);
- :mod:`.errors`: :class:`QueryError`, with the DIMSE status and Error Comment of each refusal.
"""

from typing import TYPE_CHECKING

from ...core.lazy import lazy_attributes
from .errors import QueryError, Reason
from .levels import (
    MODALITY_WORKLIST,
    PATIENT_ROOT,
    PATIENT_STUDY_ONLY,
    STUDY_ROOT,
    InformationModel,
    KeyType,
    Operation,
    QueryRetrieveLevel,
    model_for_sop_class,
)
from .negotiation import FindOptions, RetrieveOptions, WorklistOptions

if TYPE_CHECKING:
    from .matching import Matcher, response_identifier
    from .plan import (
        DateTimeRange,
        KeyMatch,
        MatchKind,
        PersonNameKey,
        PlanOptions,
        QueryPlan,
        Single,
        Wildcard,
        plan_from_identifier,
    )

# The SCP's machinery (plans and their matching) is imported when first asked for: an SCU (``dicomkit find``,
# ``get``, ``move``) needs the levels but never builds a plan, and starts without it.
_LAZY = {"Matcher": "matching", "response_identifier": "matching", **dict.fromkeys(
    ("DateTimeRange", "KeyMatch", "MatchKind", "PersonNameKey", "PlanOptions", "QueryPlan", "Single", "Wildcard",
     "plan_from_identifier"), "plan")}


__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = [
    "MODALITY_WORKLIST",
    "PATIENT_ROOT",
    "PATIENT_STUDY_ONLY",
    "STUDY_ROOT",
    "DateTimeRange",
    "FindOptions",
    "InformationModel",
    "KeyMatch",
    "KeyType",
    "MatchKind",
    "Matcher",
    "Operation",
    "PersonNameKey",
    "PlanOptions",
    "QueryError",
    "QueryPlan",
    "QueryRetrieveLevel",
    "Reason",
    "RetrieveOptions",
    "Single",
    "Wildcard",
    "WorklistOptions",
    "model_for_sop_class",
    "plan_from_identifier",
    "response_identifier",
]
