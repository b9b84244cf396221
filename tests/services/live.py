"""Helpers for the service tests over real sockets: instances to serve, an SCP in the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from typing import Any

from dicomkit import Dataset
from dicomkit.net import ApplicationEntity
from dicomkit.net.ae import Server

CT = "1.2.840.10008.5.1.4.1.1.2"
MR = "1.2.840.10008.5.1.4.1.1.4"
SC = "1.2.840.10008.5.1.4.1.1.7"
ROOT = "1.2.826.0.1.3680043.10.1099"


def instance(study: int, series: int = 0, number: int = 0, *, sop_class: str = CT, patient: str | None = None,
             name: str | None = None, modality: str = "CT", date: str = "20240115", pixels: bool = False) -> Dataset:
    """A small composite instance with UIDs derived from its place in the hierarchy."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = name or f"DOE^PATIENT{study % 7}"
    ds.PatientID = patient or f"P{study % 7}"
    ds.StudyInstanceUID = f"{ROOT}.{study}"
    ds.StudyDate = date
    ds.StudyTime = "101500"
    ds.AccessionNumber = f"A{study}"
    ds.StudyID = str(study)
    ds.StudyDescription = f"study {study}"
    ds.SeriesInstanceUID = f"{ROOT}.{study}.{series}"
    ds.SeriesNumber = series
    ds.Modality = modality
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = f"{ROOT}.{study}.{series}.{number}"
    ds.InstanceNumber = number
    if pixels:
        ds.Rows = ds.Columns = 8
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.add_new(0x7FE00010, "OW", bytes(range(128)))
    return ds


def study_uid(study: int) -> str:
    return f"{ROOT}.{study}"


@contextlib.asynccontextmanager
async def serving(*services: Any, ae_title: str = "SCP", **options: Any) -> AsyncIterator[Server]:
    """An SCP with these services, listening on a free loopback port."""
    ae = ApplicationEntity(ae_title, artim_timeout=2, **options)
    for service in services:
        ae.add_service(service)
    server = await ae.start_server("127.0.0.1", 0)
    try:
        yield server
    finally:
        await server.close(grace=2)


def run(coro: Any, timeout: float = 60) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def keys(level: str, **values: str) -> list[str]:
    return [f"QueryRetrieveLevel={level}", *(f"{k}={v}" for k, v in values.items())]


def uids(datasets: Iterable[Dataset], keyword: str = "StudyInstanceUID") -> list[str]:
    return sorted(str(ds.value(keyword)) for ds in datasets)
