"""Options shared by ``dicomkit find``, ``move`` and ``get``: the keys, the information model, the AE to talk to."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..services.registry import REGISTRY

if TYPE_CHECKING:
    from ..services.query_retrieve.retrieve import RetrieveResult

MODELS = {"patient": "Patient Root", "study": "Study Root", "patient-study": "Patient/Study Only (retired)"}


def add_key_arguments(p: argparse.ArgumentParser, *, worklist: bool = False) -> None:
    p.add_argument("-k", "--key", dest="keys", action="append", default=[], metavar="KEY[=VALUE]",
                   help="a key: keyword or gggg,eeee, =value to match (DOE*, 20240101-, UID\\UID), none to return "
                        "it; nested: ScheduledProcedureStepSequence[0].Modality=CT (repeatable)")
    p.add_argument("--root", choices=list(MODELS), default="study",
                   help="information model: patient, study or patient-study root (default: %(default)s)")
    if worklist:
        p.add_argument("--worklist", action="store_true", help="Modality Worklist C-FIND (like findscu -W)")


def model_epilog(*services: str) -> str:
    """The SOP Classes of these services, from the registry (for --help)."""
    return "SOP Classes:\n" + REGISTRY.describe(*services, role="scu")


def model_name(args: argparse.Namespace) -> str:
    return "worklist" if getattr(args, "worklist", False) else str(args.root)


def report(result: RetrieveResult, name: str) -> int:
    """Print the outcome of a C-MOVE / C-GET; the exit status (1 unless every sub-operation succeeded)."""
    from ..services.query_retrieve.retrieve import MOVE_STATUSES  # not needed by find

    print(f"{name}: {result.describe(MOVE_STATUSES if name == 'C-MOVE' else None)}")
    for uid in result.failed_sop_instance_uids[:20]:
        print(f"  failed: {uid}")
    if len(result.failed_sop_instance_uids) > 20:
        print(f"  ... and {len(result.failed_sop_instance_uids) - 20} more")
    for note in result.notes:
        print(f"  note: {note}")
    return 0 if result.status is not None and result.status.is_success else 1
