"""The SOP Classes dicomkit implements, per service, as SCU and as SCP — one table, read by everything else.

Each row is a :class:`SopClassSupport`: the SOP Class, the service it belongs to (the names the AE table
grants: ``echo``, ``store``, ``find``, ``move``, ``get``, ``worklist``, ``mpps``, ``commit``; and ``print``, which
the PACS does not serve: ``dicomkit print`` and ``print-scp`` are AEs of their own), its annex of
PS3.4, the DIMSE operations it uses, whether dicomkit can be its SCU and its SCP, and what it negotiates
beyond the default (SOP Class Extended Negotiation, SCP/SCU role selection). From the table come

- the presentation contexts an SCP accepts (:meth:`Registry.contexts`) and an SCU proposes
  (:meth:`Registry.proposals`): the SCP classes of :mod:`dicomkit.services` take theirs from here;
- the text the command line shows (:meth:`Registry.describe`: ``dicomkit find --help`` lists the models);
- the rows of a conformance statement (:meth:`Registry.rows`, PS3.2 Annex A tables of SOP Classes).

>>> REGISTRY.service_of("1.2.840.10008.5.1.4.1.2.2.1")
'find'
>>> [row.name for row in REGISTRY.entries("commit")]
['Storage Commitment Push Model SOP Class']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from ..core import uid
from ..core.errors import DicomError
from ..net.ae import DEFAULT_TRANSFER_SYNTAXES
from ..net.negotiation import PresentationContext
from .query_retrieve.levels import MODALITY_WORKLIST, QUERY_RETRIEVE_MODELS
from .storage.scp import storage_sop_classes, storage_transfer_syntaxes

# The services an AE may be granted, in PS3.4 order (Annexes A, B, C (FIND, MOVE, GET), K, F, J).
SERVICES: tuple[str, ...] = ("echo", "store", "find", "move", "get", "worklist", "mpps", "commit")
ALL_SERVICES = frozenset(SERVICES)
# Every service of the registry: those and Print Management (Annex H)
REGISTRY_SERVICES: tuple[str, ...] = (*SERVICES, "print")

ANNEX = {"echo": "A", "store": "B", "find": "C", "move": "C", "get": "C", "worklist": "K", "mpps": "F",
         "commit": "J", "print": "H"}




def _class(keyword: str) -> str:
    return str(uid.registered(keyword))


@dataclass(frozen=True)
class SopClassSupport:
    """One SOP Class dicomkit implements (a row of a conformance statement's tables)."""

    sop_class_uid: str
    service: str
    dimse: tuple[str, ...]
    scu: bool = True
    scp: bool = True
    extended_negotiation: bool = False  # SOP Class Extended Negotiation answered / offered (PS3.7 D.3.3.5)
    role_selection: bool = False  # SCP/SCU Role Selection (PS3.7 D.3.3.4) used with it
    retired: bool = False

    @property
    def name(self) -> str:
        return uid.UID(self.sop_class_uid).name

    @property
    def annex(self) -> str:
        return f"PS3.4 {ANNEX[self.service]}"

    def transfer_syntaxes(self) -> list[str]:
        """What an SCP accepts for it: every syntax dicomkit reads for storage, the uncompressed ones otherwise."""
        return storage_transfer_syntaxes() if self.service == "store" else list(DEFAULT_TRANSFER_SYNTAXES)


def _rows() -> list[SopClassSupport]:
    rows = [SopClassSupport(_class("Verification"), "echo", ("C-ECHO",))]
    registered = {str(u): u for u in uid.storage_sop_classes()}
    rows += [SopClassSupport(u, "store", ("C-STORE",), role_selection=True, retired=registered[u].is_retired)
             for u in storage_sop_classes()]
    for model in QUERY_RETRIEVE_MODELS:
        rows.append(SopClassSupport(str(model.find_uid), "find", ("C-FIND", "C-CANCEL"), extended_negotiation=True,
                                    retired=model.retired))
        if model.move_uid is not None:
            rows.append(SopClassSupport(str(model.move_uid), "move", ("C-MOVE", "C-CANCEL"),
                                        extended_negotiation=True, retired=model.retired))
        if model.get_uid is not None:
            rows.append(SopClassSupport(str(model.get_uid), "get", ("C-GET", "C-CANCEL"), extended_negotiation=True,
                                        role_selection=True, retired=model.retired))
    rows.append(SopClassSupport(str(MODALITY_WORKLIST.find_uid), "worklist", ("C-FIND", "C-CANCEL"),
                                extended_negotiation=True))
    rows.append(SopClassSupport(_class("ModalityPerformedProcedureStep"), "mpps", ("N-CREATE", "N-SET")))
    rows.append(SopClassSupport(_class("ModalityPerformedProcedureStepRetrieve"), "mpps", ("N-GET",)))
    rows.append(SopClassSupport(_class("StorageCommitmentPushModel"), "commit", ("N-ACTION", "N-EVENT-REPORT"),
                                role_selection=True))
    # PS3.4 H: the Meta SOP Classes (their SOP Classes: print_management.model.META_CLASSES) and the Presentation LUT
    print_dimse = ("N-CREATE", "N-SET", "N-GET", "N-ACTION", "N-DELETE", "N-EVENT-REPORT")
    rows.append(SopClassSupport(_class("BasicGrayscalePrintManagementMeta"), "print", print_dimse))
    rows.append(SopClassSupport(_class("BasicColorPrintManagementMeta"), "print", print_dimse))
    rows.append(SopClassSupport(_class("PresentationLUT"), "print", ("N-CREATE", "N-DELETE")))
    return rows


class Registry:
    """SOP Classes by service (see the module documentation). ``Registry()`` is everything dicomkit
    implements; :meth:`only` narrows it to what one AE offers."""

    def __init__(self, rows: Iterable[SopClassSupport] | None = None) -> None:
        self._rows: tuple[SopClassSupport, ...] = tuple(rows) if rows is not None else tuple(_rows())

    @cached_property
    def _by_uid(self) -> dict[str, SopClassSupport]:
        return {r.sop_class_uid: r for r in self._rows}

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, sop_class_uid: str) -> SopClassSupport | None:
        return self._by_uid.get(str(sop_class_uid).strip("\x00 "))

    def service_of(self, sop_class_uid: str) -> str | None:
        row = self.get(sop_class_uid)
        return row.service if row is not None else None

    def entries(self, *services: str, role: str | None = None, include_retired: bool = True) -> list[SopClassSupport]:
        """The rows of ``services`` (all when none is named), those dicomkit can be ``role`` ("scu"/"scp") of."""
        for service in services:
            if service not in REGISTRY_SERVICES:
                raise DicomError(f"unknown service {service!r}; known: {', '.join(REGISTRY_SERVICES)}")
        return [r for r in self._rows
                if (not services or r.service in services) and (role is None or getattr(r, role))
                and (include_retired or not r.retired)]

    def sop_classes(self, *services: str, role: str | None = None) -> list[str]:
        return [r.sop_class_uid for r in self.entries(*services, role=role)]

    def only(self, services: Iterable[str]) -> Registry:
        """The rows of these services alone (what one AE offers)."""
        wanted = set(services)
        return Registry(r for r in self._rows if r.service in wanted)

    def contexts(self, *services: str, transfer_syntaxes: Sequence[str] | None = None) -> list[PresentationContext]:
        """What an SCP of these services accepts: one context per SOP Class, its transfer syntaxes in order of
        preference (``transfer_syntaxes`` replaces them)."""
        return [PresentationContext(r.sop_class_uid, list(transfer_syntaxes or r.transfer_syntaxes()))
                for r in self.entries(*services, role="scp")]

    def proposals(self, *services: str, transfer_syntaxes: Sequence[str] | None = None,
                  include_retired: bool = False) -> list[PresentationContext]:
        """What an SCU of these services proposes (uncompressed syntaxes unless told otherwise)."""
        return [PresentationContext(r.sop_class_uid, list(transfer_syntaxes or DEFAULT_TRANSFER_SYNTAXES))
                for r in self.entries(*services, role="scu", include_retired=include_retired)]

    def rows(self) -> list[dict[str, str]]:
        """One dict per SOP Class, for a conformance statement (PS3.2 A.2 "SOP Classes" tables)."""
        return [{"sop_class": r.name, "uid": r.sop_class_uid, "service": r.service, "annex": r.annex,
                 "dimse": ", ".join(r.dimse), "scu": "Yes" if r.scu else "No", "scp": "Yes" if r.scp else "No",
                 "extended_negotiation": "Yes" if r.extended_negotiation else "No",
                 "role_selection": "Yes" if r.role_selection else "No"} for r in self._rows]

    def describe(self, *services: str, role: str | None = None) -> str:
        """Text for command-line help: one line per SOP Class (storage classes as a count)."""
        lines = []
        for service in services or REGISTRY_SERVICES:
            rows = self.entries(service, role=role)
            if not rows:
                continue
            if service == "store":
                lines.append(f"  {service:<9} {len(rows)} Storage SOP Classes (PS3.4 B.5), every transfer syntax "
                             "dicomkit reads")
                continue
            for r in rows:
                note = " (retired)" if r.retired else ""
                lines.append(f"  {service:<9} {r.name}{note} [{', '.join(r.dimse)}]")
        return "\n".join(lines)


REGISTRY = Registry()
"""Every SOP Class dicomkit implements."""

__all__ = ["ALL_SERVICES", "REGISTRY", "REGISTRY_SERVICES", "SERVICES", "Registry", "SopClassSupport"]
