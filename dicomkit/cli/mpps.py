"""``dicomkit mpps create|set|get``: Modality Performed Procedure Step SCU (PS3.4 F), N-CREATE / N-SET / N-GET.

``create`` sends a step IN PROGRESS (every type 1 and 2 attribute of PS3.4 Table F.7.2-1, from the options and
``-k`` keys) and prints its SOP Instance UID; ``set UID --status COMPLETED --series UID`` ends it (the end date
and time are now's; a final status needs a Performed Series Sequence item); ``get UID`` prints the step.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from ..core.errors import DicomError
from ..net import ApplicationEntity
from ..services.mpps import (
    RETRIEVE_SOP_CLASS,
    SOP_CLASS,
    MppsState,
    completion,
    create_step,
    get_step,
    set_step,
    step_attributes,
)
from ..services.query_retrieve.keys import identifier
from .netopts import add_peer_arguments, add_tls_arguments, tls_context


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="N-CREATE a step IN PROGRESS; prints its SOP Instance UID")
    add_peer_arguments(create)
    create.add_argument("--patient-id", default="", help="Patient ID")
    create.add_argument("--patient-name", default="", help="Patient's Name")
    create.add_argument("--modality", required=True, help="Modality (CT, MR, ...)")
    create.add_argument("--station-ae", help="Performed Station AE Title (default: --aet)")
    create.add_argument("--study-uid", help="Study Instance UID (default: a new one)")
    create.add_argument("--accession", default="", help="Accession Number")
    create.add_argument("--step-id", help="Performed Procedure Step ID (default: from the time)")
    create.add_argument("--uid", help="the step's SOP Instance UID (default: a new one)")
    create.add_argument("-k", "--key", dest="keys", action="append", default=[], metavar="KEY=VALUE",
                        help="more attributes, as find's -k (repeatable)")
    add_tls_arguments(create, server=False)
    change = sub.add_parser("set", help="N-SET a step: change attributes, end it COMPLETED or DISCONTINUED")
    add_peer_arguments(change)
    change.add_argument("uid", help="the step's SOP Instance UID")
    change.add_argument("--status", choices=[s.value.replace(" ", "_") for s in MppsState],
                        help="new Performed Procedure Step Status")
    change.add_argument("--series", action="append", default=[], metavar="UID",
                        help="a Performed Series Sequence item for this Series Instance UID (repeatable)")
    change.add_argument("--protocol", default="", help="Protocol Name of the series items")
    change.add_argument("-k", "--key", dest="keys", action="append", default=[], metavar="KEY=VALUE",
                        help="attributes to set, as find's -k (repeatable)")
    add_tls_arguments(change, server=False)
    show = sub.add_parser("get", help="N-GET a step (MPPS Retrieve SOP Class)")
    add_peer_arguments(show)
    show.add_argument("uid", help="the step's SOP Instance UID")
    add_tls_arguments(show, server=False)


async def _run(args: argparse.Namespace) -> int:
    ae = ApplicationEntity(args.aet, connect_timeout=args.timeout, acse_timeout=args.timeout,
                           dimse_timeout=args.timeout, max_pdu=args.max_pdu)
    contexts = [str(RETRIEVE_SOP_CLASS)] if args.action == "get" else [str(SOP_CLASS)]
    async with ae.connect(args.host, args.port, contexts, called_ae_title=args.aec,
                          tls=tls_context(args, server=False)) as assoc:
        if args.action == "create":
            attrs = step_attributes(patient_id=args.patient_id, patient_name=args.patient_name, modality=args.modality,
                                    station_ae=args.station_ae or args.aet, study_instance_uid=args.study_uid,
                                    accession_number=args.accession, step_id=args.step_id)
            uid = await create_step(assoc, identifier(args.keys, base=attrs), sop_instance_uid=args.uid)
            print(uid)
        elif args.action == "set":
            if args.status and args.status != "IN_PROGRESS":
                series = [{"SeriesInstanceUID": s, "ProtocolName": args.protocol} for s in args.series]
                change = completion(args.status.replace("_", " "), series=series)
            else:
                change = identifier([])
                if args.status:
                    change.PerformedProcedureStepStatus = "IN PROGRESS"
            change = identifier(args.keys, base=change)
            if not len(change):
                raise DicomError("nothing to set: give --status or -k")
            result = await set_step(assoc, args.uid, change)
            print(f"N-SET {args.uid}: {result.describe()}")
        else:
            print(await get_step(assoc, args.uid))
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_run(args))
    except DicomError as exc:
        print(f"dicomkit mpps {args.action}: {exc}", file=sys.stderr)
        return 1
