"""Mutated files fed to the reader: only DicomError may come out (never IndexError, struct.error, ...)."""

from __future__ import annotations

import io
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dicomkit
from dicomkit import DicomError
from dicomkit.core.display import dump_lines
from dicomkit.io.writer import to_bytes
from tests.conftest import CORPUS, corpus_files
from tests.io.test_errors import minimal

SEEDS = [to_bytes(minimal()), to_bytes(minimal(), transfer_syntax=dicomkit.uid.ImplicitVRLittleEndian),
         to_bytes(minimal(), transfer_syntax=dicomkit.uid.ExplicitVRBigEndian, sequence_length="undefined")]
if CORPUS.is_dir():
    for p in corpus_files():
        if p.stat().st_size < 60_000:
            SEEDS.append(p.read_bytes())


def exercise(data: bytes, **options: bool) -> None:
    try:
        ds = dicomkit.read(io.BytesIO(data), **options)
    except DicomError:
        return
    try:
        for elem in ds.iterall():  # a lazily parsed sequence may be broken: a DicomError then
            try:
                elem.value  # noqa: B018
            except DicomError:
                pass
    except DicomError:
        pass
    try:
        list(dump_lines(ds))
        to_bytes(ds, file_meta=False)
    except DicomError:
        pass


mutation = st.tuples(st.integers(min_value=0), st.binary(min_size=1, max_size=8), st.sampled_from(
    ["replace", "insert", "delete", "truncate"]))


def mutate(seed: bytes, edits: list[tuple[int, bytes, str]]) -> bytes:
    data = bytearray(seed)
    for pos, chunk, kind in edits:
        if not data:
            break
        at = pos % len(data)
        if kind == "replace":
            data[at:at + len(chunk)] = chunk
        elif kind == "insert":
            data[at:at] = chunk
        elif kind == "delete":
            del data[at:at + len(chunk)]
        else:
            del data[at:]
    return bytes(data)


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "300")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(SEEDS) - 1), st.lists(mutation, min_size=1, max_size=6),
       st.booleans())
def test_mutated_files_raise_only_dicom_errors(seed_index: int, edits, lenient: bool):
    exercise(mutate(SEEDS[seed_index], edits), lenient=lenient, force=True)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_dicom_errors(data: bytes):
    exercise(data, force=True)
    exercise(b"\x00" * 128 + b"DICM" + data)
