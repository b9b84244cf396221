#!/usr/bin/env python3
"""An AI node: receive images over DICOM, analyse each one, send the result to the PACS as a Structured Report.

    python examples/ai_node.py FOLDER [--save DIR]

The script plays three parts on loopback ports:

- a PACS (``dicomkit.server.Server``, the archive of ``dicomkit serve``, in a thread);
- the AI node: a Storage SCP (AE ``AINODE``) that answers each C-STORE once the image is on disk, queues it,
  and has a worker read its pixels, run the "model" and C-STORE a TID 1500 Measurement Report (PS3.16) that
  references the image to the PACS;
- a modality sending the folder's images to the node (what ``storescu`` or ``dicomkit store`` would do).

The model is a stand-in: it outlines the brightest tenth of the image and reports that region's area in mm²
(from Pixel Spacing). Replace :func:`analyse` with yours; the plumbing stays. Needs numpy (``dicomkit[pixels]``)
and, for compressed images, ``dicomkit[codecs]``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import dicomkit
from dicomkit import Dataset, DicomError
from dicomkit.net import ApplicationEntity
from dicomkit.server import Server
from dicomkit.services import store
from dicomkit.services.query_retrieve.find import find_all, query_contexts
from dicomkit.services.storage import DirectoryReceiver, StorageSCP, StoredInstance, find_files, peek
from dicomkit.services.storage.scu import store_all
from dicomkit.sr import (
    COMPREHENSIVE_SR,
    MeasurementGroup,
    MeasurementSpec,
    Reference,
    SRDocument,
    build_sr,
    measurement_report,
    sct,
    to_text,
    ucum,
)

NODE_UID = "2.25.151062542180066356468263315412718104217"  # this node's Device Observer UID (PS3.16 TID 1004)
PROCEDURES = {"CT": sct("77477000", "Computerized tomography"), "MR": sct("113091000", "Magnetic resonance imaging")}


def analyse(ds: Dataset) -> Dataset:
    """The model: outline the brightest tenth of the image and measure its area; the report as an SR."""
    import numpy as np

    pixels = ds.pixel_array
    image = pixels[0] if pixels.ndim == 3 and int(ds.get("NumberOfFrames", 1) or 1) > 1 else pixels
    if image.ndim != 2:
        raise DicomError("only single-channel images are analysed")
    bright = image >= np.percentile(image, 90)
    rows, columns = np.nonzero(bright)
    row_mm, column_mm = (float(v) for v in ds.get("PixelSpacing", (1.0, 1.0)))
    area = float(bright.sum()) * row_mm * column_mm
    top, bottom, left, right = float(rows.min()), float(rows.max()), float(columns.min()), float(columns.max())
    outline = [(left, top), (right, top), (right, bottom), (left, bottom), (left, top)]  # (column, row) pairs
    group = MeasurementGroup("brightest tenth", [
        MeasurementSpec(sct("42798000", "Area"), round(area, 1), ucum("mm2", "square millimeter"),
                        region=("POLYLINE", outline, Reference.to(ds)))])
    tree = measurement_report(PROCEDURES.get(str(ds.get("Modality", "")), sct("363679005", "Imaging")), [group],
                              device_observer_uid=NODE_UID)
    return build_sr(tree, source=ds, sop_class_uid=COMPREHENSIVE_SR, series_description="AI node results")


class Node:
    """The AI node's Storage SCP and its worker."""

    def __init__(self, folder: Path, pacs_port: int, pacs_ae: str, save: Path | None = None) -> None:
        self.queue: asyncio.Queue[StoredInstance] = asyncio.Queue()
        self.receiver = DirectoryReceiver(folder, on_stored=self.queue.put_nowait)  # answered, then queued
        self.pacs = (pacs_port, pacs_ae)
        self.reports: list[Dataset] = []
        self.save = save

    async def work(self) -> None:
        while True:
            received = await self.queue.get()
            try:
                ds = await asyncio.to_thread(dicomkit.read, received.path)
                report = await asyncio.to_thread(analyse, ds)
                async with await ApplicationEntity("AINODE").associate(
                        "127.0.0.1", self.pacs[0], [str(report.SOPClassUID)], called_ae_title=self.pacs[1]) as assoc:
                    rsp = await store(assoc, report)
                print(f"{received.path.name}: report {report.SOPInstanceUID} -> PACS {rsp.status_text}")
                self.reports.append(report)
                if self.save is not None:
                    report.save(self.save / f"{report.SOPInstanceUID}.dcm")
            except DicomError as exc:  # an image the model cannot take: logged, the node goes on
                print(f"{received.path.name}: not analysed: {exc}")
            finally:
                self.queue.task_done()


async def run(folder: Path, work: Path, pacs_port: int, pacs_ae: str, save: Path | None) -> int:
    node = Node(work / "received", pacs_port, pacs_ae, save)
    ae = ApplicationEntity("AINODE")
    ae.add_service(StorageSCP(node.receiver))
    server = await ae.start_server("127.0.0.1", 0)
    worker = asyncio.create_task(node.work())
    try:
        # the modality: send the folder's images to the node
        images = []
        for path in find_files([folder], recursive=True):
            try:
                images.append(peek(path))
            except DicomError as exc:
                print(f"modality: not sending {path.name}: {exc}")
        modality = ApplicationEntity("MODALITY")
        sent = await store_all(lambda contexts: modality.associate("127.0.0.1", server.port, contexts,
                                                                   called_ae_title="AINODE"), images)
        print(f"modality: {len(sent.sent)} of {len(images)} images sent to the node")
        await node.queue.join()  # every image analysed
    finally:
        worker.cancel()
        await server.close()
        node.receiver.close()
    # the results, as a viewer would find them in the PACS: the SR series of each study analysed
    studies = sorted({str(report.StudyInstanceUID) for report in node.reports})
    async with await modality.associate("127.0.0.1", pacs_port, query_contexts("study"),
                                        called_ae_title=pacs_ae) as assoc:
        for study in studies:
            series = await find_all(assoc, ["QueryRetrieveLevel=SERIES", f"StudyInstanceUID={study}", "Modality=SR",
                                            "SeriesDescription", "NumberOfSeriesRelatedInstances"])
            print(f"PACS, study {study}: " + ", ".join(
                f"SR series '{s.SeriesDescription}' ({s.NumberOfSeriesRelatedInstances} instance(s))" for s in series))
    if node.reports:
        print(to_text(SRDocument.from_dataset(node.reports[0])))
    return 0 if node.reports else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="images for the modality to send")
    parser.add_argument("--save", type=Path, help="also write the reports into this folder")
    args = parser.parse_args()
    if not args.folder.is_dir():
        parser.error(f"{args.folder} is not a folder")
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, Server(data_dir=Path(tmp) / "pacs", dicom_port=0, http=False) as pacs:
        return asyncio.run(run(args.folder, Path(tmp), pacs.port, pacs.ae_title, args.save))


if __name__ == "__main__":
    sys.exit(main())
