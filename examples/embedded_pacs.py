#!/usr/bin/env python3
"""Run a PACS inside a script: send it a folder, find what arrived, retrieve a study, ask DICOMweb.

    python examples/embedded_pacs.py FOLDER [--keep DIR]

``dicomkit.server.Server`` is the archive that ``dicomkit serve`` runs (storage, index, the DIMSE services
and DICOMweb), here in a thread of this process on free loopback ports, in a fresh folder (or ``--keep
DIR``). This is what a pipeline's integration test does instead of mocking a PACS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import urllib.request
from pathlib import Path

from dicomkit import DicomError
from dicomkit.net import ApplicationEntity
from dicomkit.server import Server
from dicomkit.services.aetable import RemoteAE
from dicomkit.services.query_retrieve.find import find_all, query_contexts
from dicomkit.services.query_retrieve.get import get
from dicomkit.services.storage import find_files, peek
from dicomkit.services.storage.scu import store_all


async def send(folder: Path, port: int, called: str) -> None:
    """C-STORE every DICOM file of the folder (and its subfolders), as ``dicomkit store -r`` does."""
    files = []
    for path in find_files([folder], recursive=True):
        try:
            files.append(peek(path))
        except DicomError as exc:  # not a storable object: say so and go on with the others
            print(f"skipped {path.name}: {exc}")
    ae = ApplicationEntity("EXAMPLE", max_ops_invoked=8)
    # as many associations as the files' presentation contexts need (at most 127 each)
    summary = await store_all(lambda contexts: ae.associate("127.0.0.1", port, contexts, called_ae_title=called),
                              files)
    print(f"stored {len(summary.sent)} of {len(files)} files; {len(summary.failed)} refused")
    for result in summary.failed:
        print(f"  refused: {result.path.name}: {result.text}")


async def query(port: int, called: str) -> list[str]:
    """C-FIND at STUDY level: every study, with what the index keeps about it."""
    async with await ApplicationEntity("EXAMPLE").associate("127.0.0.1", port, query_contexts("study"),
                                                            called_ae_title=called) as assoc:
        studies = await find_all(assoc, ["QueryRetrieveLevel=STUDY", "StudyInstanceUID", "PatientName",
                                         "ModalitiesInStudy", "NumberOfStudyRelatedInstances"])
    for study in studies:
        modalities = study.ModalitiesInStudy or ()  # a str for one value, a tuple for several
        modalities = "/".join((modalities,) if isinstance(modalities, str) else modalities) or "-"
        print(f"  {study.PatientName!s:<28} {modalities:<8} "
              f"{study.NumberOfStudyRelatedInstances:>4} instance(s)  {study.StudyInstanceUID}")
    return [str(study.StudyInstanceUID) for study in studies]


async def retrieve(port: int, called: str, study: str, out: Path) -> None:
    """C-GET one study into a folder (the SCU asks which SOP Classes will come, then offers their roles)."""
    result = await get(RemoteAE(called, "127.0.0.1", port), ["QueryRetrieveLevel=STUDY", f"StudyInstanceUID={study}"],
                       output=out)
    print(f"C-GET {study}: {result.describe()}; {len(result.received)} file(s) written in {out.name}/")


def qido(http_port: int, study: str) -> None:
    """QIDO-RS for the series of the study, then WADO-RS metadata of its first series (from the index)."""
    base = f"http://127.0.0.1:{http_port}/dicom-web"
    with urllib.request.urlopen(f"{base}/studies/{study}/series?includefield=SeriesDescription") as response:
        series = json.load(response)
    print(f"QIDO-RS: {len(series)} series; first: Modality {series[0]['00080060']['Value'][0]}")
    uid = series[0]["0020000E"]["Value"][0]
    with urllib.request.urlopen(f"{base}/studies/{study}/series/{uid}/metadata") as response:
        print(f"WADO-RS metadata: {len(json.load(response))} instance(s) described, no file opened")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--keep", type=Path, help="the archive's folder (default: a temporary one)")
    args = parser.parse_args()
    if not args.folder.is_dir():
        parser.error(f"{args.folder} is not a folder")
    with tempfile.TemporaryDirectory() as tmp:
        data = args.keep or Path(tmp) / "pacs"
        with Server(data_dir=data, dicom_port=0, http_port=0) as pacs:
            print(f"PACS {pacs.ae_title} on DICOM port {pacs.port}, HTTP port {pacs.http_port}, data in {data}")
            asyncio.run(send(args.folder, pacs.port, pacs.ae_title))
            print(f"index: {pacs.index.count('study')} studies, {pacs.index.count('instance')} instances")
            studies = asyncio.run(query(pacs.port, pacs.ae_title))
            if not studies:
                return 1
            asyncio.run(retrieve(pacs.port, pacs.ae_title, studies[0], Path(tmp) / "retrieved"))
            assert pacs.http_port is not None
            qido(pacs.http_port, studies[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
