"""C-GET (PS3.4 C.4.3): the SCP, which sends the instances back on the same association, and the SCU, which
receives them through the streaming storage path of ``dicomkit receive``.

**SCP.** :class:`GetSCP` is the engine of :mod:`.retrieve` with the C-STORE sub-operations on the request's own
association, in the presentation contexts for which the requestor took the SCP role (PS3.7 D.3.3.4): each
instance in its own transfer syntax when accepted, else transcoded losslessly; an instance of a SOP Class
the requestor did not offer to receive fails alone ("... was not proposed").

**SCU.** A C-GET SCU must offer, when it opens the association, the SCP role for every Storage SOP Class it
may receive — one presentation context each, at most 128 in all (PS3.8 9.3.2.2). :func:`get` does that by
itself: it first asks the peer what will come (a C-FIND for SOP Classes in Study at STUDY level, or
SOPClassUID at IMAGE level: :func:`discover`), proposes the storage roles for exactly those classes
(:func:`storage_roles`, adding compressed transfer syntaxes while room is left so the instances can arrive as
they are stored), and

- when the classes need more than one association's contexts, issues one C-GET per group of classes, each for
  the instances of its group (IMAGE level, by SOP Instance UID), and merges the counts into one result;
- when the peer cannot answer the query, proposes the 128 most common storage classes
  (:data:`COMMON_STORAGE_CLASSES`) and reports sub-operations of other classes as failed with that reason
  (:attr:`~.retrieve.RetrieveResult.notes`).

What arrives is written by a :class:`~..storage.files.DirectoryReceiver` (checked, written atomically, the
duplicates policy of ``receive``), or any receiver given. :func:`get_on` is the single C-GET on an association
the caller opened (with :func:`storage_roles` contexts).
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...core import uid as uids
from ...core.dataset import Dataset
from ...core.errors import AssociationRejected, DicomError, DimseError, NetworkError
from ...net.ae import ApplicationEntity
from ...net.association import DEFAULT_TIMEOUT, Association, Timeout
from ...net.dimse import CGetRQ, CStoreRQ, DataSink, Priority, Request, Response
from ...net.handlers import DimseHandler, RequestContext, closing
from ...net.negotiation import MAX_CONTEXTS, PresentationContext
from ...net.payload import Payload
from ..aetable import RemoteAE
from ..sources import RetrieveSource, StoredObject, SyncRetrieveSource
from ..storage.files import DirectoryReceiver
from ..storage.scp import Receiver, StorageSCP, StoreOutcome, StoreRefused, StoreTarget
from ..wire import context_for
from .keys import identifier as make_identifier
from .levels import PATIENT_ROOT, InformationModel, Level, Operation, model_named
from .retrieve import GET_STATUSES, OnProgress, RetrieveResult, RetrieveSCP, Sending, _Tally, run_retrieve

if TYPE_CHECKING:
    from ..storage.scu import StoreSummary
    from .find import Keys

log = logging.getLogger("dicomkit.services.qr")

ELE, ILE = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2"
# Transfer syntaxes offered for received instances, after the uncompressed ones, while contexts are left
# (the order says which compressed forms are worth a context most).
RECEIVE_SYNTAXES: tuple[str, ...] = (
    "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203",
    "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2",
)

# The storage classes most archives hold, most common first: the fallback when the peer cannot say which
# classes it will send (filled up to 126 with the other current Storage SOP Classes: 128 contexts less
# the C-GET's and Verification's).
_COMMON_KEYWORDS = (
    "CTImageStorage", "MRImageStorage", "ComputedRadiographyImageStorage", "DigitalXRayImageStorageForPresentation",
    "SecondaryCaptureImageStorage", "UltrasoundImageStorage", "UltrasoundMultiFrameImageStorage",
    "DigitalMammographyXRayImageStorageForPresentation", "XRayAngiographicImageStorage",
    "XRayRadiofluoroscopicImageStorage", "NuclearMedicineImageStorage", "PositronEmissionTomographyImageStorage",
    "EnhancedCTImageStorage", "EnhancedMRImageStorage", "EnhancedPETImageStorage", "EnhancedXAImageStorage",
    "GrayscaleSoftcopyPresentationStateStorage", "KeyObjectSelectionDocumentStorage", "BasicTextSRStorage",
    "EnhancedSRStorage", "ComprehensiveSRStorage", "Comprehensive3DSRStorage", "XRayRadiationDoseSRStorage",
    "EncapsulatedPDFStorage", "RTImageStorage", "RTDoseStorage", "RTStructureSetStorage", "RTPlanStorage",
    "RTIonPlanStorage", "RTBeamsTreatmentRecordStorage", "SegmentationStorage", "SpatialRegistrationStorage",
    "BreastTomosynthesisImageStorage", "DigitalMammographyXRayImageStorageForProcessing",
    "DigitalXRayImageStorageForProcessing", "DigitalIntraOralXRayImageStorageForPresentation",
    "MultiFrameGrayscaleByteSecondaryCaptureImageStorage", "MultiFrameGrayscaleWordSecondaryCaptureImageStorage",
    "MultiFrameTrueColorSecondaryCaptureImageStorage", "MultiFrameSingleBitSecondaryCaptureImageStorage",
    "VLPhotographicImageStorage", "VLEndoscopicImageStorage", "VideoEndoscopicImageStorage",
    "OphthalmicPhotography8BitImageStorage", "OphthalmicTomographyImageStorage", "VLWholeSlideMicroscopyImageStorage",
    "ColorSoftcopyPresentationStateStorage", "PseudoColorSoftcopyPresentationStateStorage",
    "ParametricMapStorage", "RawDataStorage", "LegacyConvertedEnhancedCTImageStorage",
    "LegacyConvertedEnhancedMRImageStorage", "MammographyCADSRStorage", "TwelveLeadECGWaveformStorage",
    "GeneralECGWaveformStorage", "EncapsulatedCDAStorage", "MRSpectroscopyStorage",
)


def _common_classes() -> list[str]:
    first = [str(uids.by_keyword(k)) for k in _COMMON_KEYWORDS if uids.by_keyword(k) is not None]
    rest = [str(u) for u in uids.storage_sop_classes(include_retired=False) if str(u) not in first]
    return (first + rest)[:MAX_CONTEXTS - 2]  # 128 contexts less the C-GET's and Verification's


COMMON_STORAGE_CLASSES: tuple[str, ...] = tuple(_common_classes())


# -- SCP --------------------------------------------------------------------------------------------------
class GetSCP(RetrieveSCP):
    """The C-GET SCP over a :class:`~..sources.RetrieveSource` (see the module documentation)."""

    operation = Operation.GET
    statuses = GET_STATUSES

    def __init__(self, source: RetrieveSource | SyncRetrieveSource, *, storage_classes: Iterable[str] | None = None,
                 **options: Any) -> None:
        super().__init__(source, **options)
        from ..registry import REGISTRY

        self.storage_classes = [str(u) for u in storage_classes] if storage_classes is not None \
            else REGISTRY.sop_classes("store", role="scu")

    def contexts(self) -> Sequence[PresentationContext]:
        """The C-GET SOP Classes, and every Storage SOP Class with the SCP role allowed to the requestor
        (PS3.7 D.3.3.4: the C-GET SCU receives the C-STOREs), in every transfer syntax dicomkit sends as is."""
        from ..storage.scp import storage_transfer_syntaxes

        syntaxes = storage_transfer_syntaxes()
        return [*super().contexts(),
                *(PresentationContext(u, list(syntaxes), scp_role=True) for u in self.storage_classes)]

    def handlers(self) -> dict[type[Request], DimseHandler]:
        return {CGetRQ: self}

    async def send(self, sending: Sending, items: Sequence[StoredObject], request: Request, rc: RequestContext,
                   tally: _Tally, stop: asyncio.Event) -> StoreSummary:
        from ..storage.scu import store_files  # the SCP's sending side: the SCU starts without it

        return await store_files(rc.association, items, on_result=tally.record, allow_lossy=self.allow_lossy,
                                 stop=stop)


# -- SCU: receiving on the association of the C-GET ---------------------------------------------------------
class _Recording:
    """A store target that remembers where an object it committed went (for :attr:`RetrieveResult.received`)."""

    def __init__(self, target: StoreTarget, received: list[str]) -> None:
        self.target = target
        self.received = received
        # the data set's fragments go straight to the target (no call of ours in between)
        self.write = target.write  # type: ignore[method-assign]

    def write(self, data: memoryview) -> None:
        self.target.write(data)

    def finish(self) -> None:
        self.target.finish()

    def discard(self) -> None:
        self.target.discard()

    def _note(self, outcome: StoreOutcome | None) -> StoreOutcome | None:
        if outcome is not None and outcome.status < 0xA000:
            target = self.target
            self.received.append(getattr(target, "path_text", None) or str(getattr(target, "path", "")))
        return outcome

    def commit_now(self) -> StoreOutcome | None:
        commit_now = getattr(self.target, "commit_now", None)
        return self._note(commit_now()) if commit_now is not None else None

    async def commit(self) -> StoreOutcome:
        outcome = await self.target.commit()
        self._note(outcome)
        return outcome


class GetStorage(DimseHandler):
    """The C-STORE handler of an AE that runs C-GETs: each association with a C-GET in progress has its own
    receiver; C-STOREs on other associations go to the handler the AE had before (if any)."""

    def __init__(self, fallback: DimseHandler | None = None) -> None:
        self.fallback = fallback
        self.receivers: dict[str, StorageSCP] = {}

    @classmethod
    def install(cls, ae: ApplicationEntity) -> GetStorage:
        """The AE's GetStorage (installed on first use, wrapping the AE's own C-STORE handler)."""
        current = ae.handlers.get(CStoreRQ)
        if isinstance(current, GetStorage):
            return current
        handler = cls(current)
        ae.handlers[CStoreRQ] = handler
        return handler

    def register(self, assoc: Association, receiver: Receiver, received: list[str]) -> None:
        def receive(request: CStoreRQ, rc: RequestContext) -> StoreTarget:
            return _Recording(receiver(request, rc), received)

        self.receivers[assoc.id] = StorageSCP(receive)

    def unregister(self, assoc: Association) -> None:
        self.receivers.pop(assoc.id, None)

    def _handler(self, rc: RequestContext) -> DimseHandler | None:
        return self.receivers.get(rc.association.id) or self.fallback

    def data_sink(self, request: Request, rc: RequestContext) -> DataSink:
        handler = self._handler(rc)
        if handler is None:
            raise StoreRefused("no C-GET is in progress on this association", 0xA700)
        return handler.data_sink(request, rc)

    def handle_now(self, request: Request, data: DataSink | None, rc: RequestContext) -> Response | None:
        handler = self._handler(rc)
        return handler.handle_now(request, data, rc) if handler is not None else None

    async def responses(self, request: Request, data: DataSink | None,
                        rc: RequestContext) -> AsyncIterator[tuple[Response, Payload | None]]:
        handler = self._handler(rc)
        if handler is None:
            from ...net.dimse import CStoreRSP
            from ...net.status import Status

            yield CStoreRSP(status=Status(0xA700), error_comment="no C-GET is in progress here"), None
            return
        async with closing(handler.responses(request, data, rc)) as responses:
            async for item in responses:
                yield item


def _receiver(output: str | os.PathLike[str] | Receiver) -> tuple[Receiver, DirectoryReceiver | None]:
    if isinstance(output, str | os.PathLike):
        receiver = DirectoryReceiver(output)
        return receiver, receiver
    return output, None


async def get_on(assoc: Association, keys: Keys, *, output: str | os.PathLike[str] | Receiver,
                 model: InformationModel | str = "study", priority: int = Priority.MEDIUM,
                 on_progress: OnProgress | None = None, cancel: asyncio.Event | None = None,
                 timeout: Timeout = DEFAULT_TIMEOUT) -> RetrieveResult:
    """One C-GET on an association opened with the storage roles (:func:`storage_roles`); what arrives goes
    to ``output`` (a folder, or a receiver such as :class:`~..storage.files.DirectoryReceiver`)."""
    m = model_named(model)
    if m.get_uid is None:
        raise DicomError(f"the {m.name} model has no C-GET")
    ctx = context_for(assoc, str(m.get_uid))
    receiver, owned = _receiver(output)
    storage = GetStorage.install(assoc.ae)
    received: list[str] = []
    storage.register(assoc, receiver, received)
    try:
        request = CGetRQ(affected_sop_class_uid=str(m.get_uid), priority=priority)
        result = await run_retrieve(assoc, request, make_identifier(keys), context=ctx, on_progress=on_progress,
                                    cancel=cancel, timeout=timeout)
    finally:
        storage.unregister(assoc)
        if owned is not None:
            owned.close()
    result.received = received
    return result


# -- SCU: which classes will come, and the contexts for them --------------------------------------------------
def storage_roles(sop_classes: Iterable[str], *, budget: int = MAX_CONTEXTS - 2,
                  syntaxes: Sequence[str] = RECEIVE_SYNTAXES) -> list[PresentationContext]:
    """Presentation contexts offering the SCP role for receiving ``sop_classes`` (PS3.7 D.3.3.4): one per class
    with Explicit and Implicit VR Little Endian, then — while ``budget`` contexts are left — one per class and
    compressed syntax, in the order of ``syntaxes``, so instances can come as they are stored."""
    classes = list(dict.fromkeys(str(c) for c in sop_classes))
    if len(classes) > budget:
        raise DicomError(f"{len(classes)} storage classes need more than {budget} presentation contexts")
    out = [PresentationContext(c, [ELE, ILE], scu_role=False, scp_role=True) for c in classes]
    for ts in syntaxes:
        for c in classes:
            if len(out) >= budget:
                return out
            out.append(PresentationContext(c, [ts], scu_role=False, scp_role=True))
    return out


@dataclass
class Discovery:
    """What the peer said will come: the SOP Classes, and — when it was asked at IMAGE level — each instance
    as (Study, Series, SOP Instance, SOP Class) with the Patient ID for the Patient Root model."""

    classes: set[str] = field(default_factory=set)
    instances: list[tuple[str, str, str, str, str]] | None = None
    note: str | None = None


def _text(ds: Dataset, keyword: str) -> str:
    values = _values(ds, keyword)
    return values[0] if values else ""


def _values(ds: Dataset, keyword: str) -> list[str]:
    v = ds.value(keyword) if keyword in ds else None
    if v is None or v == "":
        return []
    return [str(x).strip("\x00 ") for x in (v if isinstance(v, tuple | list) else (v,)) if str(x).strip("\x00 ")]


async def _find(assoc: Association, model: InformationModel, keys: dict[str, str]) -> list[Dataset]:
    from .find import find  # the C-FIND SCU (and the matching it carries) only when the peer is asked

    query = Dataset()
    for k, v in keys.items():
        setattr(query, k, v)
    async with find(assoc, query, model=model) as matches:
        return [m async for m in matches]


async def discover(assoc: Association, model: InformationModel, identifier: Dataset, *,
                   need_instances: bool = False) -> Discovery:
    """Ask the peer (C-FIND on ``assoc``) which SOP Classes the C-GET of ``identifier`` will send: SOP Classes in
    Study for a PATIENT or STUDY level C-GET, SOPClassUID per instance at IMAGE level for SERIES and IMAGE ones
    — and at IMAGE level for any C-GET with ``need_instances`` (to split one over groups of classes).
    DicomError when the peer does not answer what is asked (the caller then offers the common classes)."""
    level = model.parse_level(_text(identifier, "QueryRetrieveLevel"))
    if level is None:
        raise DicomError("the C-GET Identifier has no usable Query/Retrieve Level")
    patient_id = _text(identifier, "PatientID")
    patient = {"PatientID": patient_id} if model is PATIENT_ROOT or model.top is Level.PATIENT else {}
    if level in (Level.PATIENT, Level.STUDY):
        study_keys = {"QueryRetrieveLevel": "STUDY", **patient, "StudyInstanceUID": "\\".join(
            _values(identifier, "StudyInstanceUID"))}
        if level is Level.PATIENT:
            study_keys["StudyInstanceUID"] = ""
        if not need_instances:
            study_keys["SOPClassesInStudy"] = ""
        studies = await _find(assoc, model, study_keys)
        classes = [set(_values(s, "SOPClassesInStudy")) for s in studies]
        if not need_instances:
            if not studies:
                return Discovery()
            if not all(classes):
                raise DicomError("the peer does not return SOPClassesInStudy at STUDY level")
            return Discovery(set().union(*classes))
        if Level.SERIES not in model.levels:
            return Discovery(set().union(*classes) if classes else set(), note="the model has no IMAGE level")
        series: list[tuple[str, str]] = []
        for s in studies:
            study = _text(s, "StudyInstanceUID")
            found = await _find(assoc, model, {"QueryRetrieveLevel": "SERIES", **_patient_of(s, patient),
                                               "StudyInstanceUID": study, "SeriesInstanceUID": ""})
            series += [(study, _text(x, "SeriesInstanceUID")) for x in found]
    elif level is Level.SERIES:
        study = _text(identifier, "StudyInstanceUID")
        series = [(study, s) for s in _values(identifier, "SeriesInstanceUID")]
    else:
        series = [(_text(identifier, "StudyInstanceUID"), _text(identifier, "SeriesInstanceUID"))]
    from .find import find

    out = Discovery(instances=[])
    assert out.instances is not None
    wanted = set(_values(identifier, "SOPInstanceUID")) if level is Level.IMAGE else None
    for study, one_series in series:
        query = Dataset()
        for k, v in {"QueryRetrieveLevel": "IMAGE", **patient, "StudyInstanceUID": study,
                     "SeriesInstanceUID": one_series, "SOPInstanceUID": "", "SOPClassUID": ""}.items():
            setattr(query, k, v)
        async with find(assoc, query, model=model) as matches:
            async for x in matches:
                instance, sop_class = _text(x, "SOPInstanceUID"), _text(x, "SOPClassUID")
                if not sop_class:  # the first answer says it: the query is cancelled, not read to its end
                    raise DicomError("the peer does not return SOPClassUID at IMAGE level")
                if wanted is not None and instance not in wanted:
                    continue
                out.classes.add(sop_class)
                out.instances.append((_text(x, "PatientID") or patient_id, study, one_series, instance, sop_class))
    return out


def _patient_of(study: Dataset, patient: dict[str, str]) -> dict[str, str]:
    return {"PatientID": _text(study, "PatientID") or patient.get("PatientID", "")} if patient else {}


@dataclass
class GetPlan:
    """The C-GETs to issue: per group its storage classes, and the Identifiers to send (None: the caller's)."""

    groups: list[tuple[list[str], list[Dataset] | None]]
    notes: list[str] = field(default_factory=list)


def plan_gets(discovery: Discovery | None, identifier: Dataset, model: InformationModel, *,
              budget: int = MAX_CONTEXTS - 2) -> GetPlan:
    """Split a C-GET over groups of at most ``budget`` storage classes (see the module documentation)."""
    if discovery is None:
        note = (f"the peer could not say which SOP Classes will come; the {len(COMMON_STORAGE_CLASSES)} most "
                "common Storage SOP Classes were offered, instances of others fail")
        return GetPlan([(list(COMMON_STORAGE_CLASSES[:budget]), None)], [note])
    classes = sorted(discovery.classes)
    if not classes:
        return GetPlan([(list(COMMON_STORAGE_CLASSES[:budget]), None)],
                       ["the peer lists no instance for this C-GET"])
    if len(classes) <= budget:
        return GetPlan([(classes, None)])
    if discovery.instances is None:
        raise DicomError("splitting a C-GET over groups of classes needs the instances (IMAGE level)")
    groups: list[tuple[list[str], list[Dataset] | None]] = []
    for start in range(0, len(classes), budget):
        members = set(classes[start:start + budget])
        by_series: dict[tuple[str, str, str], list[str]] = {}
        for patient_id, study, series, instance, sop_class in discovery.instances:
            if sop_class in members:
                by_series.setdefault((patient_id, study, series), []).append(instance)
        identifiers = []
        for (patient_id, study, series), instances in by_series.items():
            ds = Dataset()
            ds.QueryRetrieveLevel = "IMAGE"
            if model.top is Level.PATIENT:
                ds.PatientID = patient_id
            ds.StudyInstanceUID = study
            ds.SeriesInstanceUID = series
            ds.SOPInstanceUID = "\\".join(instances)
            identifiers.append(ds)
        groups.append((sorted(members), identifiers))
    return GetPlan(groups, [f"{len(classes)} SOP Classes: {len(groups)} associations, one C-GET per series each"])


async def get(peer: RemoteAE | Association, keys: Keys, *, output: str | os.PathLike[str] | Receiver,
              model: InformationModel | str = "study", ae_title: str = "DICOMKIT",
              sop_classes: Iterable[str] | None = None, priority: int = Priority.MEDIUM,
              on_progress: OnProgress | None = None, cancel: asyncio.Event | None = None,
              timeout: Timeout = DEFAULT_TIMEOUT, tls: ssl.SSLContext | None = None,
              **ae_options: Any) -> RetrieveResult:
    """C-GET what ``keys`` identify from ``peer`` into ``output`` (a folder or a receiver), proposing the
    storage roles by itself (see the module documentation). ``peer`` is a
    :class:`~..aetable.RemoteAE` (host, port, AE title, TLS); given an Association instead, one C-GET is sent on
    it (its contexts are the caller's). ``sop_classes`` skips the discovery. ``tls`` overrides the entry's TLS
    settings; ``ae_options`` configure our AE (timeouts, ``max_pdu``)."""
    identifier = make_identifier(keys)
    m = model_named(model)
    if isinstance(peer, Association):
        return await get_on(peer, identifier, output=output, model=m, priority=priority, on_progress=on_progress,
                            cancel=cancel, timeout=timeout)
    if m.get_uid is None or m.is_worklist:
        raise DicomError(f"the {m.name} model has no C-GET")
    ae = ApplicationEntity(ae_title, **ae_options)
    receiver, owned = _receiver(output)
    try:
        discovery: Discovery | None
        if sop_classes is not None:
            discovery = Discovery(set(sop_classes))
        else:
            discovery = await _discover(ae, peer, m, identifier, tls)
        plan = plan_gets(discovery, identifier, m)
        result = RetrieveResult()
        result.notes += plan.notes + ([discovery.note] if discovery is not None and discovery.note else [])
        for classes, identifiers in plan.groups:
            contexts = [PresentationContext(str(m.get_uid), [ELE, ILE]), *storage_roles(classes)]
            async with await _associate(ae, peer, contexts, tls) as assoc:
                for ident in identifiers if identifiers is not None else [identifier]:
                    part = await get_on(assoc, ident, output=receiver, model=m, priority=priority,
                                        on_progress=on_progress, cancel=cancel, timeout=timeout)
                    result.merge(part)
                    if cancel is not None and cancel.is_set():
                        break
            if cancel is not None and cancel.is_set():
                break
        return result
    finally:
        if owned is not None:
            owned.close()


async def _associate(ae: ApplicationEntity, peer: RemoteAE, contexts: list[PresentationContext],
                     tls: ssl.SSLContext | None) -> Association:
    if tls is not None:
        return await peer.associate(ae, contexts, tls=tls)
    return await peer.associate(ae, contexts)


async def _discover(ae: ApplicationEntity, peer: RemoteAE, model: InformationModel, identifier: Dataset,
                    tls: ssl.SSLContext | None = None) -> Discovery | None:
    """The classes the C-GET will send, asked over an association of its own; None when the peer cannot say."""
    from .find import QueryFailed

    contexts = [PresentationContext(str(model.find_uid), [ELE, ILE])]
    try:
        async with await _associate(ae, peer, contexts, tls) as assoc:
            found = await discover(assoc, model, identifier)
            if len(found.classes) > MAX_CONTEXTS - 2 and found.instances is None:
                found = await discover(assoc, model, identifier, need_instances=True)
            return found
    except (QueryFailed, DicomError) as exc:
        if isinstance(exc, NetworkError) and not isinstance(exc, AssociationRejected | DimseError):
            raise  # the peer is unreachable or broke off: the C-GET would fail the same way
        log.info("cannot learn the SOP Classes of the C-GET from %s: %s", peer.ae_title, exc)
        return None


def received_paths(result: RetrieveResult) -> list[Path]:
    return [Path(p) for p in result.received]


__all__ = ["COMMON_STORAGE_CLASSES", "Discovery", "GetPlan", "GetSCP", "GetStorage", "discover", "get", "get_on",
           "plan_gets", "received_paths", "storage_roles"]
