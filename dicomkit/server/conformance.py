"""The DICOM Conformance Statement (PS3.2) generated from what dicomkit does and how it is configured.

:func:`statement` collects the facts — the presentation contexts the server's AE accepts, taken from an
ApplicationEntity on which :func:`~dicomkit.server.app.register_services` put every SCP (so it cannot drift
from the server), the SCU roles of the registry (:data:`dicomkit.services.registry.REGISTRY`), the AEs of the
command line (``receive``, ``print-scp`` built the same way), transfer syntaxes, character sets
(:func:`dicomkit.core.charset.supported_terms`), the security profiles and the configuration — into
:class:`Document` blocks in the order of PS3.2 Annex A, with an IHE Integration Statement whose every
transaction names the test that proves it. :func:`to_markdown` and :func:`to_html` render the blocks;
``dicomkit conformance`` writes them, and docs/conformance.md is its output for the default configuration
(a test regenerates it).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from .. import __version__
from ..core.charset import supported_terms
from ..core.uid import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME, UID
from ..net import ApplicationEntity
from ..net import tls as tls_module
from ..net.ae import DEFAULT_TRANSFER_SYNTAXES
from ..net.negotiation import PresentationContext
from ..services.print_management.model import META_CLASSES
from ..services.registry import REGISTRY, SopClassSupport
from .config import Config

APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"  # PS3.7 A.2.1 DICOM Application Context Name


# -- the document model ---------------------------------------------------------------------------------------
@dataclass
class Heading:
    level: int
    text: str


@dataclass
class Paragraph:
    text: str


@dataclass
class Table:
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]


@dataclass
class Items:
    items: list[str]


Block = Heading | Paragraph | Table | Items


@dataclass
class Document:
    title: str
    blocks: list[Block] = field(default_factory=list)

    def h(self, level: int, text: str) -> None:
        self.blocks.append(Heading(level, text))

    def p(self, text: str) -> None:
        self.blocks.append(Paragraph(text))

    def table(self, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
        self.blocks.append(Table(tuple(header), [tuple(r) for r in rows]))

    def items(self, items: Iterable[str]) -> None:
        self.blocks.append(Items(list(items)))


# -- the AEs and what they accept -----------------------------------------------------------------------------
@dataclass
class AcceptorAE:
    """An AE that accepts associations: its title, how it runs, and the contexts it accepts."""

    title: str
    command: str
    description: str
    contexts: list[PresentationContext]
    extended: frozenset[str]  # SOP Classes whose SOP Class Extended Negotiation it answers
    max_associations: int
    max_pdu: int


def _pacs_ae(config: Config) -> AcceptorAE:
    """The server's AE with every SCP as register_services puts them (sources are never called here)."""
    from .app import register_services

    dicom = config.dicom
    ae = ApplicationEntity(dicom.ae_title, max_pdu=dicom.max_pdu, maximum_associations=dicom.max_associations)
    sources = SimpleNamespace(query=None, retrieve=None, worklist=None, mpps=None, commitment=None)
    pacs: Any = SimpleNamespace(config=config, sources=sources, ae_title=dicom.ae_title, archive=None,
                                permits=lambda rc, service: False, policy=None)
    names = register_services(ae, pacs)
    return AcceptorAE(dicom.ae_title, "dicomkit serve", "the PACS: " + ", ".join(names), list(ae.supported_contexts()),
                      _extended(ae), dicom.max_associations, dicom.max_pdu)


def _extended(ae: ApplicationEntity) -> frozenset[str]:
    """The accepted SOP Classes whose Extended Negotiation the registry says dicomkit answers."""
    return frozenset(c.abstract_syntax for c in ae.supported_contexts()
                     if (row := REGISTRY.get(c.abstract_syntax)) is not None and row.extended_negotiation)


def _receive_ae() -> AcceptorAE:
    from ..services.storage import StorageSCP, storage_transfer_syntaxes
    from ..services.verification import VerificationSCP

    ae = ApplicationEntity("DICOMKIT")
    ae.add_service(VerificationSCP())
    ae.add_service(StorageSCP(_no_target, transfer_syntaxes=storage_transfer_syntaxes()))
    return AcceptorAE("DICOMKIT (--aet)", "dicomkit receive", "a Storage SCP writing one file per instance",
                      list(ae.supported_contexts()), frozenset(), 64, 262144)


def _no_target(request: Any, rc: Any) -> Any:
    """Stands in for the receiver: the SCP is built to read its contexts, never to store."""
    raise RuntimeError("the conformance statement's AEs receive nothing")


def _print_ae() -> AcceptorAE:
    from ..services.print_management import PrintSCP
    from ..services.verification import VerificationSCP

    ae = ApplicationEntity("PRINTSCP")
    ae.add_service(VerificationSCP())
    ae.add_service(PrintSCP(lambda film: []))
    return AcceptorAE("PRINTSCP (--aet)", "dicomkit print-scp", "a printer writing each film as PNG and PDF",
                      list(ae.supported_contexts()), frozenset(), 16, 262144)


# -- helpers ------------------------------------------------------------------------------------------------------
def _ts_name(ts: str) -> str:
    return UID(ts).name


def _ts_groups(aes: Sequence[AcceptorAE]) -> dict[tuple[str, ...], str]:
    """Each distinct list of accepted transfer syntaxes, named TS-1, TS-2, ... in order of appearance."""
    groups: dict[tuple[str, ...], str] = {}
    for ae in aes:
        for ctx in ae.contexts:
            key = tuple(ctx.transfer_syntaxes)
            if key not in groups:
                groups[key] = f"TS-{len(groups) + 1}"
    return groups


def _role(ctx: PresentationContext) -> str:
    if ctx.scp_role and ctx.scu_role:
        return "SCU and SCP (role selection)"
    if ctx.scp_role:
        return "SCP (accepts role selection)"
    return "SCP"


def _class_name(uid: str) -> str:
    return UID(uid).name


def _scu_rows() -> list[SopClassSupport]:
    return REGISTRY.entries(role="scu", include_retired=False)


# (service, command, what it does) for the SCUs of the command line
COMMANDS = [
    ("echo", "dicomkit echo", "C-ECHO"),
    ("store", "dicomkit store", "C-STORE of files and folders, recompressing losslessly when a syntax is refused"),
    ("find", "dicomkit find", "C-FIND (and C-CANCEL)"),
    ("move", "dicomkit move", "C-MOVE to a third AE"),
    ("get", "dicomkit get", "C-GET with the storage sub-operations on the same association"),
    ("worklist", "dicomkit find --worklist", "Modality Worklist C-FIND"),
    ("mpps", "dicomkit mpps", "N-CREATE, N-SET, N-GET of Performed Procedure Steps"),
    ("commit", "dicomkit commit", "N-ACTION and the N-EVENT-REPORT on the same or a new association"),
    ("print", "dicomkit print", "Film Session, Film Box, Image Box, Printer and Presentation LUT"),
]

# IHE Integration Statement: (profile, actor, transaction, the test that proves it)
IHE: list[tuple[str, str, str, str]] = [
    ("Scheduled Workflow (SWF)", "Image Manager / Image Archive", "RAD-8 Modality Images Stored",
     "tests/server/test_serve.py::test_storescu_1000_files_echo_health_metrics"),
    ("Scheduled Workflow (SWF)", "Image Manager / Image Archive", "RAD-10 Storage Commitment",
     "tests/server/test_services_on_archive.py::test_worklist_mpps_and_commitment_on_the_archive"),
    ("Scheduled Workflow (SWF)", "Image Manager / Image Archive", "RAD-14 Query Images",
     "tests/server/test_services_on_archive.py::test_findscu_study_root_and_patient_root"),
    ("Scheduled Workflow (SWF)", "Image Manager / Image Archive", "RAD-16 Retrieve Images",
     "tests/server/test_services_on_archive.py::test_getscu_and_movescu_retrieve_from_the_archive"),
    ("Scheduled Workflow (SWF)", "Image Manager / Image Archive",
     "RAD-6 / RAD-7 Modality Procedure Step In Progress / Completed",
     "tests/server/test_services_on_archive.py::test_worklist_mpps_and_commitment_on_the_archive"),
    ("Scheduled Workflow (SWF)", "Department System Scheduler (worklist side)", "RAD-5 Query Modality Worklist",
     "tests/server/test_services_on_archive.py::test_worklist_mpps_and_commitment_on_the_archive"),
    ("Audit Trail and Node Authentication (ATNA)", "Secure Node / Secure Application", "ITI-19 Authenticate Node",
     "tests/server/test_access.py::test_dcmtk_over_tls"),
    ("Audit Trail and Node Authentication (ATNA)", "Secure Node / Secure Application", "ITI-20 Record Audit Event",
     "tests/server/test_audit.py::test_rsyslog_receives_every_kind_over_udp_tcp_and_tls"),
]


# -- the statement ------------------------------------------------------------------------------------------
def statement(config: Config | None = None) -> Document:
    """The Conformance Statement of dicomkit with ``config`` (the defaults when None)."""
    config = config or Config()
    pacs, receive, printer = _pacs_ae(config), _receive_ae(), _print_ae()
    acceptors = [pacs, receive, printer]
    groups = _ts_groups(acceptors)
    doc = Document(f"dicomkit {__version__} DICOM Conformance Statement")
    _overview(doc, pacs)
    _introduction(doc)
    _networking(doc, config, acceptors, groups)
    _media(doc)
    _character_sets(doc)
    _security(doc, config)
    _annexes(doc, groups)
    _ihe(doc)
    return doc


def _overview(doc: Document, pacs: AcceptorAE) -> None:
    doc.h(2, "1 Conformance Statement Overview")
    doc.p("dicomkit is a DICOM toolkit and PACS: `dicomkit serve` stores, indexes and answers queries and retrievals "
          "for the instances it receives; the command line sends, queries, retrieves, reports procedure steps, asks "
          "for storage commitment and prints as an SCU, and `dicomkit receive` and `dicomkit print-scp` are a "
          "storage SCP and a print SCP of their own. This statement is generated from the code (`dicomkit "
          "conformance`): the tables are what the AEs negotiate.")
    accepted = {c.abstract_syntax for c in pacs.contexts}
    rows = []
    for service in ("echo", "store", "find", "move", "get", "worklist", "mpps", "commit", "print"):
        entries = REGISTRY.entries(service)
        if not entries:
            continue
        scu = any(r.scu for r in entries)
        scp_server = any(r.sop_class_uid in accepted for r in entries)
        scp = "Yes (dicomkit print-scp)" if service == "print" else ("Yes" if scp_server else "No")
        name = ("Storage SOP Classes (" + str(len(entries)) + ")") if service == "store" else \
            "; ".join(r.name for r in entries)
        rows.append((service, name, "Yes" if scu else "No", scp))
    doc.table(("Service", "SOP Classes", "User of Service (SCU)", "Provider of Service (SCP)"), rows)
    doc.p("Media: STD-GEN-CD File-set Creator, Reader and Updater (`dicomkit dicomdir`).")


def _introduction(doc: Document) -> None:
    doc.h(2, "2 Introduction")
    doc.p(f"Product: dicomkit {__version__}. Implementation Class UID {IMPLEMENTATION_CLASS_UID}, Implementation "
          f"Version Name {IMPLEMENTATION_VERSION_NAME}.")
    doc.p("Audience: integrators and users connecting dicomkit to other DICOM applications. The reader is assumed to "
          "know the DICOM standard (PS3.2 for the structure of this document, PS3.4 for the service classes, PS3.7 "
          "and PS3.8 for the protocol).")
    doc.p("Remarks: interoperability is tested against DCMTK (storescu, findscu, movescu, getscu, dcmqrscp, "
          "dcmprscu, dcmprscp), Orthanc and pynetdicom; the tests named in the IHE Integration Statement below run "
          "those peers.")


def _networking(doc: Document, config: Config, acceptors: list[AcceptorAE],
                groups: dict[tuple[str, ...], str]) -> None:
    doc.h(2, "3 Networking")
    doc.h(3, "3.1 Implementation Model")
    doc.h(4, "3.1.1 Application Data Flow")
    doc.items([f"**{ae.title}** (`{ae.command}`): {ae.description}." for ae in acceptors] +
              [f"**SCU** (`{command}`, AE title `--aet`): {what}." for _, command, what in COMMANDS])
    doc.h(4, "3.1.2 Functional Definition of AEs")
    doc.p(f"{acceptors[0].title} listens on TCP port {config.dicom.port} (and, with `[tls] port`, a TLS port) and "
          "serves every association in one asyncio process; objects answered Success are on disk (fsynced) and in "
          "the index. Queries are answered from the index, retrievals from the archive. The SCUs open one "
          "association per command (more when the presentation contexts they need exceed 128).")
    doc.h(4, "3.1.3 Sequencing of Real-World Activities")
    doc.p("A Storage Commitment request is answered only for instances already stored; an MPPS N-SET is accepted only "
          "for a step that is IN PROGRESS. A print SCP prints a film when it receives N-ACTION of its Film Box or "
          "of the Film Session.")

    doc.h(3, "3.2 AE Specifications")
    for number, ae in enumerate(acceptors, 1):
        doc.h(4, f"3.2.{number} {ae.title} (`{ae.command}`)")
        doc.h(5, "SOP Classes and Presentation Contexts accepted")
        rows = []
        storage = [c for c in ae.contexts if REGISTRY.service_of(c.abstract_syntax) == "store"]
        others = [c for c in ae.contexts if REGISTRY.service_of(c.abstract_syntax) != "store"]
        for ctx in others:
            extended = "Yes" if ctx.abstract_syntax in ae.extended else "No"
            rows.append((_class_name(ctx.abstract_syntax), ctx.abstract_syntax, groups[tuple(ctx.transfer_syntaxes)],
                         _role(ctx), extended))
        if storage:
            syntaxes = sorted({groups[tuple(c.transfer_syntaxes)] for c in storage})
            rows.append((f"every Storage SOP Class of PS3.4 B.5 ({len(storage)}, listed in 7.2)",
                         "", ", ".join(syntaxes), _role(storage[0]), "No"))
        doc.table(("SOP Class", "UID", "Transfer Syntaxes", "Role", "Extended Negotiation"), rows)
        doc.h(5, "Association Policies")
        doc.table(("Item", "Value"), [
            ("Application Context Name", APPLICATION_CONTEXT),
            ("Maximum simultaneous associations", str(ae.max_associations)),
            ("Maximum PDU size received", f"{ae.max_pdu} bytes (configurable)"),
            ("Asynchronous operations", f"up to {config.dicom.async_ops} performed"
                                        if ae is acceptors[0] else "negotiated, default 1"),
            ("Implementation Class UID", IMPLEMENTATION_CLASS_UID),
            ("Implementation Version Name", IMPLEMENTATION_VERSION_NAME),
        ])
        doc.p("Association acceptance: any calling AE title (with `dicom.access = \"known\"` only those of "
              "`[remotes]`, from their host when `auth.check_ae_host`); a presentation context is accepted with the "
              "first transfer syntax of its list that the requestor proposes. Requests a service does not grant to "
              "the calling AE are answered 0124H Refused: Not Authorized." if ae is acceptors[0] else
              "Association acceptance: any calling AE title (`--require-aet` checks the called one); a presentation "
              "context is accepted with the first transfer syntax of its list that the requestor proposes.")
    doc.h(4, f"3.2.{len(acceptors) + 1} The SCUs of the command line")
    rows = []
    for r in _scu_rows():
        if r.service == "store":
            continue
        rows.append((r.name, r.sop_class_uid, ", ".join(r.dimse), "Yes" if r.extended_negotiation else "No",
                     "Yes" if r.role_selection else "No"))
    rows.append((f"every Storage SOP Class ({len(REGISTRY.entries('store', role='scu'))})", "", "C-STORE", "No",
                 "Yes (C-GET)"))
    doc.table(("SOP Class", "UID", "DIMSE", "Extended Negotiation", "Role Selection"), rows)
    doc.p("Proposed transfer syntaxes: " + ", ".join(_ts_name(t) for t in DEFAULT_TRANSFER_SYNTAXES) + "; `dicomkit "
          "store` proposes each file's own syntax first and recompresses losslessly when the peer refuses it.")

    doc.h(3, "3.3 Network Interfaces")
    doc.p("TCP/IP (IPv4 and IPv6) with TCP_NODELAY; DICOM over TLS (PS3.15 B.9) on a port of its own. DICOMweb "
          f"(PS3.18) on HTTP port {config.http.port} of the server.")
    doc.h(3, "3.4 Configuration")
    doc.table(("Setting", "Value (this configuration)"), [
        ("AE title (`dicom.ae_title`)", config.dicom.ae_title),
        ("Port (`dicom.port`)", str(config.dicom.port)),
        ("Access (`dicom.access`)", config.dicom.access),
        ("Maximum associations (`dicom.max_associations`)", str(config.dicom.max_associations)),
        ("Maximum PDU (`dicom.max_pdu`)", str(config.dicom.max_pdu)),
        ("Network timeout (`dicom.network_timeout`)", f"{config.dicom.network_timeout:g} s"),
        ("Remote AEs (`[remotes]`)", ", ".join(f"{r.ae_title}@{r.host}:{r.port}" for r in config.remotes) or "none"),
    ])


def _media(doc: Document) -> None:
    doc.h(2, "4 Media Interchange")
    doc.p("Application Profile STD-GEN-CD: `dicomkit dicomdir create` (File-set Creator), `list` (Reader), `add` and "
          "`remove` (Updater); native transfer syntaxes are re-encoded to Explicit VR Little Endian.")


def _character_sets(doc: Document) -> None:
    doc.h(2, "5 Support of Character Sets")
    doc.p("Every value of Specific Character Set (0008,0005) below is read and written, ISO 2022 code extensions "
          "(escape sequences) included; a data set without it is read as the default repertoire (ISO_IR 6).")
    doc.table(("Specific Character Set",), [(t,) for t in supported_terms()])


def _security(doc: Document, config: Config) -> None:
    doc.h(2, "6 Security")
    tls = config.tls
    doc.table(("Item", "Support"), [
        ("TLS Secure Transport Connection Profiles (PS3.15 B.9)", ", ".join(tls_module.PROFILES) +
         f"; this configuration: {'port ' + str(tls.port) + ', ' + tls.profile if tls.port >= 0 else 'no TLS port'}"),
        ("Node authentication", "client certificates signed by `[tls] ca`, required with `verify_clients`; "
         f"this configuration: {'required' if tls.verify_clients else 'not required'}"),
        ("User Identity negotiation (PS3.7 D.3.3.7)", "username and passcode (scrypt hashes in `[users]`) and JWT "
         "(RS256, ES256, HS256) are verified; a bare username is recorded; Kerberos and SAML are not supported; "
         f"this configuration: identity {config.auth.dicom_identity}"),
        ("Audit Trail Message Format Profile (PS3.15 A.5)", "messages of DICOM Audit Message Schema to a local file "
         "and RFC 5424 syslog (UDP, TCP, TLS); this configuration: " +
         (config.audit.syslog or "local file only") if config.audit.enabled else "audit off"),
        ("Basic Application Level Confidentiality Profile (PS3.15 E)", "`dicomkit anonymize`, every option of "
         "Table E.1-1; de-identified on the way out with the options of `[deid]` (one keyed UID mapping for all): "
         "C-FIND, C-MOVE and C-GET by (and C-MOVE to) `deid.remotes` and by `deid.users`; WADO-RS, WADO-URI and "
         "QIDO-RS for `deid.users` and `deid.roles` (matching on de-identified attributes refused, pixels that "
         "may carry burned-in text not shown); STOW-RS export (`dicomkit archive export`) to "
         "`deid.destinations`; this configuration: " +
         _deid_summary(config)),
        ("STOW-RS export (PS3.18 10.5, user agent)", "`dicomkit archive export --study UID --to NAME` to the "
         "DICOMweb servers of `[destinations]` (HTTP Basic or bearer token, HTTPS); this configuration: " +
         (", ".join(sorted(config.destinations)) or "no destinations")),
    ])


def _deid_summary(config: Config) -> str:
    deid = config.deid
    named = [f"{what} {', '.join(values)}" for what, values in (("AEs", deid.remotes), ("users", deid.users),
                                                                 ("roles", deid.roles),
                                                                 ("destinations", deid.destinations)) if values]
    return "; ".join(named) or "nothing de-identified on the way out"


def _annexes(doc: Document, groups: dict[tuple[str, ...], str]) -> None:
    doc.h(2, "7 Annexes")
    doc.h(3, "7.1 Transfer Syntaxes")
    doc.p("Each list in the order of preference the acceptor applies.")
    for syntaxes, name in groups.items():
        doc.h(4, name)
        doc.table(("Transfer Syntax", "UID"), [(_ts_name(t), t) for t in syntaxes])
    doc.h(3, "7.2 Storage SOP Classes")
    doc.table(("SOP Class", "UID"), [(r.name + (" (retired)" if r.retired else ""), r.sop_class_uid)
                                     for r in REGISTRY.entries("store")])
    doc.h(3, "7.3 Print Management Meta SOP Classes")
    doc.table(("Meta SOP Class", "SOP Classes it includes"),
              [(_class_name(meta), "; ".join(_class_name(u) for u in members))
               for meta, members in META_CLASSES.items()])
    doc.p("Printed films: display formats STANDARD\\C,R, ROW\\..., COL\\...; Film Size IDs of PS3.3 C.13.3; "
          "magnification REPLICATE, BILINEAR (CUBIC printed as BILINEAR), NONE; polarity; border and empty-image "
          "density; trim; Presentation LUT shapes IDENTITY and LIN OD and Presentation LUT Sequences. No "
          "calibration to the Grayscale Standard Display Function: films are files (PNG, PDF).")
    doc.h(3, "7.4 Private Attributes, SOP Classes and Transfer Syntaxes")
    doc.p("None are created. Private attributes received are kept as they came.")


def _ihe(doc: Document) -> None:
    doc.h(2, "8 IHE Integration Statement")
    doc.p("Each transaction is backed by the test named (a pytest node ID of the repository), which runs it against "
          "a real peer (DCMTK, Orthanc, rsyslog). Print Management is not claimed for IHE Consistent Presentation "
          "of Images: the print SCP does not calibrate to the Grayscale Standard Display Function.")
    doc.table(("Integration Profile", "Actor", "Transaction", "Test"), IHE)


# -- rendering ----------------------------------------------------------------------------------------------
def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(doc: Document) -> str:
    out = [f"# {doc.title}", ""]
    for block in doc.blocks:
        if isinstance(block, Heading):
            out += ["#" * block.level + " " + block.text, ""]
        elif isinstance(block, Paragraph):
            out += [block.text, ""]
        elif isinstance(block, Items):
            out += [f"- {item}" for item in block.items] + [""]
        else:
            out.append("| " + " | ".join(block.header) + " |")
            out.append("|" + "|".join(" --- " for _ in block.header) + "|")
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
            out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _inline(text: str) -> str:
    """Markdown's inline code and bold as HTML, the rest escaped."""
    parts = text.split("`")
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(f"<code>{html.escape(part)}</code>")
        else:
            bold = html.escape(part).split("**")
            out.append("".join(f"<strong>{b}</strong>" if j % 2 else b for j, b in enumerate(bold)))
    return "".join(out)


def to_html(doc: Document) -> str:
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f"<title>{html.escape(doc.title)}</title>",
           "<style>body{font-family:sans-serif;max-width:72em;margin:auto;padding:1em}table{border-collapse:collapse;"
           "margin:.5em 0}td,th{border:1px solid #999;padding:.2em .5em;text-align:left;vertical-align:top}"
           "th{background:#eee}</style>", "</head>", "<body>", f"<h1>{html.escape(doc.title)}</h1>"]
    for block in doc.blocks:
        if isinstance(block, Heading):
            level = min(block.level, 6)
            out.append(f"<h{level}>{_inline(block.text)}</h{level}>")
        elif isinstance(block, Paragraph):
            out.append(f"<p>{_inline(block.text)}</p>")
        elif isinstance(block, Items):
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in block.items) + "</ul>")
        else:
            out.append("<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in block.header)
                       + "</tr></thead><tbody>")
            out += ["<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in block.rows]
            out.append("</tbody></table>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


__all__ = ["IHE", "AcceptorAE", "Document", "statement", "to_html", "to_markdown"]
