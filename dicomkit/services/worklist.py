"""Modality Worklist (PS3.4 Annex K): the Basic Worklist Management C-FIND, SCP and SCU.

The worklist SCP is the C-FIND SCP of :mod:`.query_retrieve.find` on the Modality Worklist Information
Model: the same plan, the same matching (the Scheduled Procedure Step Sequence is a sequence key matched
item by item: Scheduled Station AE Title, Modality, Scheduled Procedure Step Start Date and Time ranges,
Scheduled Performing Physician's Name with the person-name rules), the same streaming, cancel and statuses
(Table K.4-1). Entities without a value of a key do not match it (K.2.2.1.1.1). Its source is a
:class:`~.sources.WorklistSource` (:class:`~.memory_source.MemoryWorklistSource`, or the server's).

The SCU builds the usual query of a modality with :func:`worklist_keys` and sends it with :func:`worklist`::

    async for item in worklist(assoc, station_ae="CT1", modality="CT", date="20240115"):
        step = item.ScheduledProcedureStepSequence[0]
        print(item.PatientName, step.ScheduledProcedureStepStartTime)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..core.dataset import Dataset
from ..net.association import DEFAULT_TIMEOUT, Association, Timeout
from ..net.dimse import Priority
from .query_retrieve.find import FindSCP, Query, find
from .query_retrieve.keys import identifier
from .query_retrieve.levels import MODALITY_WORKLIST
from .sources import SyncQuerySource, WorklistSource

SCHEDULED_STEP_RETURN_KEYS: tuple[str, ...] = (
    "ScheduledStationAETitle", "ScheduledStationName", "ScheduledProcedureStepStartDate",
    "ScheduledProcedureStepStartTime", "Modality", "ScheduledPerformingPhysicianName",
    "ScheduledProcedureStepDescription", "ScheduledProcedureStepID", "ScheduledProcedureStepLocation",
)
RETURN_KEYS: tuple[str, ...] = (
    "AccessionNumber", "ReferringPhysicianName", "PatientName", "PatientID", "PatientBirthDate", "PatientSex",
    "StudyInstanceUID", "RequestedProcedureID", "RequestedProcedureDescription", "RequestedProcedurePriority",
)


class WorklistSCP(FindSCP):
    """The Modality Worklist C-FIND SCP over a :class:`~.sources.WorklistSource` (or a sync one, run in
    threads). Options are those of :class:`~.query_retrieve.find.FindSCP`."""

    def __init__(self, source: WorklistSource | SyncQuerySource, **options: Any) -> None:
        options.setdefault("models", (MODALITY_WORKLIST,))
        super().__init__(source, **options)


def worklist_keys(*, station_ae: str | None = None, modality: str | None = None, date: str | None = None,
                  time: str | None = None, performing_physician: str | None = None, patient_name: str | None = None,
                  patient_id: str | None = None, accession_number: str | None = None,
                  extra: Iterable[str] | Mapping[str, Any] = ()) -> Dataset:
    """A worklist query: the given matching keys (dates and times as single values or ranges,
    ``20240101-20240131``), every usual return key (:data:`RETURN_KEYS`, :data:`SCHEDULED_STEP_RETURN_KEYS`),
    and ``extra`` keys (``-k`` texts or a mapping) on top."""
    step = Dataset()
    for keyword in SCHEDULED_STEP_RETURN_KEYS:
        setattr(step, keyword, "")
    given = {"ScheduledStationAETitle": station_ae, "Modality": modality, "ScheduledProcedureStepStartDate": date,
             "ScheduledProcedureStepStartTime": time, "ScheduledPerformingPhysicianName": performing_physician}
    for keyword, value in given.items():
        if value is not None:
            setattr(step, keyword, value)
    ds = Dataset()
    for keyword in RETURN_KEYS:
        setattr(ds, keyword, "")
    for keyword, value in (("PatientName", patient_name), ("PatientID", patient_id),
                           ("AccessionNumber", accession_number)):
        if value is not None:
            setattr(ds, keyword, value)
    ds.ScheduledProcedureStepSequence = [step]
    return identifier(extra, base=ds) if extra else ds


def worklist(assoc: Association, keys: Dataset | Mapping[str, Any] | Iterable[str] | None = None, *,
             priority: int = Priority.MEDIUM, timeout: Timeout = DEFAULT_TIMEOUT, **filters: Any) -> Query:
    """Modality Worklist C-FIND: ``keys`` as they are, or (without them) :func:`worklist_keys` of ``filters``."""
    query = keys if keys is not None else worklist_keys(**filters)
    return find(assoc, query, model=MODALITY_WORKLIST, priority=priority, timeout=timeout)


__all__ = ["RETURN_KEYS", "SCHEDULED_STEP_RETURN_KEYS", "WorklistSCP", "worklist", "worklist_keys"]
