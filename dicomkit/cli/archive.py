"""``dicomkit archive``: operator commands on a dicomkit archive, whether its server runs or not.

    dicomkit archive stats | verify [--repair] | reindex [--from-blobs] | import PATH... |
                     delete (--patient ID | --study UID | --series UID | --instance UID) |
                     deidentify --study UID [--key TEXT] [--mapping FILE] |
                     export --study UID --to NAME

with ``--data-dir DIR`` / ``--database URL`` / ``--config FILE`` naming the archive (as for ``serve``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from ..core.errors import DicomError
from .archive_options import add_archive_options, archive_config


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION")

    common = add_archive_options

    q = sub.add_parser("stats", help="counts, sizes and nodes")
    common(q)
    q.add_argument("--json", action="store_true", help="print JSON")
    q = sub.add_parser("verify", help="check every index row against its blob and every blob against the index")
    common(q)
    q.add_argument("--repair", action="store_true",
                   help="remove rows whose blob is missing or corrupt (corrupt blobs go to quarantine), re-index "
                        "or remove orphan blobs, remove stale temporary files")
    q.add_argument("--workers", type=int, default=4, metavar="N", help="blobs hashed at once (default: 4)")
    q = sub.add_parser("reindex", help="recompute the index columns (and configured extra keys) from the stored "
                                       "headers, and every aggregate")
    common(q)
    q.add_argument("--from-blobs", action="store_true", help="re-read every blob (rebuilds headers and frame offsets)")
    q = sub.add_parser("import", help="store files and folders in the archive (as C-STORE would)")
    common(q)
    q.add_argument("paths", nargs="+", metavar="PATH")
    q.add_argument("--workers", type=int, default=4, metavar="N", help="files read and hashed at once (default: 4)")
    q.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    q = sub.add_parser("delete", help="remove a patient, study, series or instance (rows, then blobs)")
    common(q)
    which = q.add_mutually_exclusive_group(required=True)
    which.add_argument("--patient", metavar="ID", help="every study of this Patient ID")
    which.add_argument("--study", metavar="UID")
    which.add_argument("--series", metavar="UID")
    which.add_argument("--instance", metavar="UID")
    q = sub.add_parser("deidentify", help="store a de-identified copy of a study as a new study ([deid] options, "
                                          "PS3.15 Annex E)")
    common(q)
    q.add_argument("--study", metavar="UID", required=True)
    q.add_argument("--key", metavar="TEXT", help="the pseudonym key (default: deid.key; env:NAME reads it)")
    q.add_argument("--mapping", metavar="FILE", help="keep the UID and patient mapping in FILE (default: "
                                                     "deid.mapping)")
    q = sub.add_parser("export", help="send a study to a DICOMweb server of [destinations] by STOW-RS "
                                      "(de-identified for those of deid.destinations)")
    common(q)
    q.add_argument("--study", metavar="UID", required=True)
    q.add_argument("--to", metavar="NAME", required=True, help="a [destinations.NAME] table of the configuration")


def _archive(args: argparse.Namespace) -> Any:
    from ..server.ingest import Archive

    return Archive(archive_config(args, existing=True), workers=4)


def run(args: argparse.Namespace) -> int:
    if not getattr(args, "action", None):
        print("dicomkit archive: name an action: stats, verify, reindex, import, delete, deidentify or export",
              file=sys.stderr)
        return 2
    try:
        archive = _archive(args)
    except DicomError as exc:
        print(f"dicomkit archive: {exc}", file=sys.stderr)
        return 2
    try:
        code: int = globals()[f"_{args.action}"](archive, args)
        return code
    except DicomError as exc:
        print(f"dicomkit archive {args.action}: {exc}", file=sys.stderr)
        return 1
    finally:
        archive.close()


def _stats(archive: Any, args: argparse.Namespace) -> int:
    from ..server.operator import stats

    info = stats(archive)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{info['patients']} patients, {info['studies']} studies, {info['series']} series, "
          f"{info['instances']} instances, {_size(info['bytes'])} stored; {info['quarantined']} in quarantine")
    print(f"index: {info['database']}, schema version {info['schema_version']}, {_size(info['index_bytes'])}")
    if "free_bytes" in info:
        print(f"store: {_size(info['free_bytes'])} free")
    for node in info["nodes"]:
        print(f"node {node['node']} on {node['host']} (pid {node['pid']}){' stopped' if node['stopped'] else ''}")
    return 0


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"  # pragma: no cover


def _verify(archive: Any, args: argparse.Namespace) -> int:
    from ..server.sweep import verify

    report = verify(archive, repair=args.repair, workers=args.workers)
    for line in report.missing:
        print(f"missing  {line}")
    for line in report.corrupt:
        print(f"corrupt  {line}")
    for key in report.orphans:
        print(f"orphan   {key}")
    for path in report.temp_leftovers:
        print(f"leftover {path}")
    for line in report.repaired:
        print(f"repaired {line}")
    print(f"{report.rows} rows, {report.blobs} blobs checked: {len(report.missing)} missing, "
          f"{len(report.corrupt)} corrupt, {len(report.orphans)} orphaned"
          + (f"; {len(report.repaired)} repaired" if args.repair else ""))
    return 0 if report.problems == 0 or (args.repair and report.unrepaired == 0) else 1


def _reindex(archive: Any, args: argparse.Namespace) -> int:
    from ..server.operator import reindex

    started = time.perf_counter()
    n = reindex(archive, from_blobs=args.from_blobs)
    print(f"reindexed {n} instances in {time.perf_counter() - started:.1f} s")
    return 0


def _import(archive: Any, args: argparse.Namespace) -> int:
    from ..server.operator import import_files, iter_files
    from .progress import Progress

    files = list(iter_files(args.paths))
    started = time.perf_counter()
    with Progress(len(files), "importing", enabled=not args.quiet) as bar:
        summary = import_files(archive, files, workers=args.workers,
                               progress=lambda _path, _stored, size: bar.advance(size))
    elapsed = time.perf_counter() - started
    out = summary.outcomes
    print(f"imported {summary.stored} of {len(files)} file(s) in {elapsed:.1f} s "
          f"({len(files) / max(elapsed, 1e-9):.0f} files/s); {out['identical']} already stored, "
          f"{out['duplicate']} duplicate(s) quarantined, {out['failed']} failed")
    for path, why in summary.failed:
        print(f"  failed: {path}: {why}", file=sys.stderr)
    return 1 if out["failed"] or out["duplicate"] else 0


def _delete(archive: Any, args: argparse.Namespace) -> int:
    from ..server.operator import delete

    level, uid = next((lv, v) for lv, v in (("patient", args.patient), ("study", args.study),
                                             ("series", args.series), ("instance", args.instance)) if v)
    from ..server.access import studies_touched

    studies = studies_touched(archive.index, level, uid)
    keys = delete(archive, level, uid)
    if not keys:
        print(f"dicomkit archive delete: no {level} {uid} in the archive", file=sys.stderr)
        return 1
    _audit_deletion(archive.config, studies, f"dicomkit archive delete --{level} {uid}: {len(keys)} instance(s)")
    print(f"deleted {level} {uid}: {len(keys)} instance(s)")
    return 0


def _deidentify(archive: Any, args: argparse.Namespace) -> int:
    import getpass

    from ..server.access import make_auditor, studies_touched
    from ..server.deidexport import DeidExport, deidentify_study
    from ..services.sources import Requester

    config = archive.config
    if args.key is not None:
        config.deid.key = args.key
    if args.mapping is not None:
        config.deid.mapping = args.mapping
    export = DeidExport(config)
    original = studies_touched(archive.index, "study", args.study)
    new_uid, stored, failed = deidentify_study(archive, export, args.study)
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    auditor = make_auditor(config)
    try:  # PS3.15 A.5.3.7 / A.5.3.8: the study exported (de-identified) and the new one imported
        who = Requester(user_identity=user, protocol="local")
        description = f"dicomkit archive deidentify --study {args.study}: {stored} instance(s) into {new_uid}"
        auditor.record("export", requester=who, studies=original, description=description,
                       outcome=0 if not failed else 4)
        auditor.record("import", requester=who, studies=[new_uid], description=description)
    finally:
        auditor.close()
    for line in failed:
        print(f"  not de-identified: {line}", file=sys.stderr)
    print(f"{new_uid}: {stored} instance(s) de-identified from study {args.study}"
          + (f"; {len(failed)} failed" if failed else ""))
    return 1 if failed or not stored else 0


def _audit_deletion(config: Any, studies: list[Any], description: str) -> None:
    """PS3.15 A.5.3.6: one DICOM Study Deleted message per study the deletion touched."""
    import getpass

    from ..server.access import make_auditor
    from ..services.sources import Requester

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    auditor = make_auditor(config)
    try:
        for study in studies:
            auditor.record("study-deleted", requester=Requester(user_identity=user, protocol="local"),
                           studies=[study], description=description)
    finally:
        auditor.close()


def _export(archive: Any, args: argparse.Namespace) -> int:
    from ..server.access import make_auditor
    from ..server.forward import export_study
    from ..services.sources import Requester

    auditor = make_auditor(archive.config)
    try:
        result = export_study(archive, args.study, args.to, auditor=auditor,
                              requester=Requester(user_identity=_user(), protocol="local"))
    finally:
        auditor.close()
    for line in result.failed:
        print(f"  not stored: {line}", file=sys.stderr)
    print(f"{result.sent_study}: {result.stored} of {result.total} instance(s) stored at {args.to}"
          + (" (de-identified)" if result.deidentified else ""))
    return 0 if not result.failed else 1


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
