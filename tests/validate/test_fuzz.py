"""Mutated SR, RT Structure Set and image files: reading the content tree or structure set and validating give
a DicomError or a result, never another exception."""

from __future__ import annotations

import random

import pytest

import dicomkit
from dicomkit.core.errors import DicomError
from dicomkit.io.writer import to_bytes
from dicomkit.rt import ROISpec, StructureSet, build_structure_set
from dicomkit.sr import SRDocument, to_html, to_text
from dicomkit.validate import validate

from ..conftest import CORPUS
from ..rt.test_structure_set import ct_series, sphere_polygons
from ..sr.test_sr import every_value_type


def _mutants(data: bytes, count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        buf = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(132, len(buf))
            buf[i] = rng.randrange(256)
        out.append(bytes(buf))
    return out


def _survives(data: bytes, *steps) -> None:
    try:
        ds = dicomkit.read(data)
    except DicomError:
        return
    for step in steps:
        try:
            step(ds)
        except DicomError:
            pass


@pytest.fixture(scope="module")
def sr_bytes() -> bytes:
    ct = CORPUS / "693_UNCR.dcm"
    if not ct.exists():
        pytest.skip(f"corpus not found at {CORPUS}")
    return to_bytes(every_value_type(dicomkit.read(ct, stop_before_pixels=True)))


def test_mutated_structured_reports(sr_bytes):
    for data in _mutants(sr_bytes, 400, 1):
        _survives(data, lambda ds: to_text(SRDocument.from_dataset(ds)),
                  lambda ds: to_html(SRDocument.from_dataset(ds)), validate)


def test_mutated_structure_sets():
    images = ct_series(n=6, size=24)
    data = to_bytes(build_structure_set(images, [ROISpec("s", polygons=sphere_polygons(images)[:3])]))
    for mutant in _mutants(data, 400, 2):
        _survives(mutant, StructureSet.from_dataset, validate)
