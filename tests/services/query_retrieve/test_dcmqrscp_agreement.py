"""The same queries against DCMTK's dcmqrscp and our FolderSource over the same files agree.

dcmqrscp (Study Root, hierarchical) matches person names case-sensitively and lets an empty stored value
match no key value; the plans here take the same two choices (``pn_case_insensitive=False``,
``unknown_values_match=False``), so that what remains compared is the matching itself: wild cards,
ranges, single values, UID lists and character sets. (By default dicomkit follows PS3.4 C.2.2.1.2: an
unknown value matches every key value; the table of cases tests that.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import dicomkit
from dicomkit import Dataset
from dicomkit.services.memory_source import FolderSource
from dicomkit.services.query_retrieve import STUDY_ROOT, Operation, PlanOptions, plan_from_identifier
from dicomkit.services.sources import LOCAL

from ...conftest import require_tool
from ...peers import dcmtk, free_port, running
from .matching_cases import record_datasets, uid_for

pytestmark = pytest.mark.interop

# The Japanese record is left out: this DCMTK build's iconv has no ISO 2022 IR 87 (dcmqrscp says so).
NAMES = [n for n in record_datasets("people") if n != "yamada"]
UIDS = {uid_for("study", "people", n): n for n in ("doe_john", "doe_jane", "dole", "lower", "under", "underx",
                                                     "mueller", "odegard", "noname", "petct")}

QUERIES: list[dict[str, str]] = [
    {"PatientName": "DOE*"},
    {"PatientName": "DOE^JOHN"},
    {"PatientName": "DO?E^J"},
    {"PatientName": "*^JOHN"},
    {"PatientName": "doe*"},
    {"PatientID": "P1"},
    {"StudyDate": "20240115"},
    {"StudyDate": "20240101-20240131"},
    {"StudyDate": "-20221231"},
    {"StudyDate": "20240301-"},
    {"StudyTime": "0800-0900"},
    {"StudyTime": "-0830"},
    {"AccessionNumber": "A_5"},
    {"AccessionNumber": "A?5"},
    {"StudyInstanceUID": f"{uid_for('study', 'people', 'dole')}\\{uid_for('study', 'people', 'petct')}"},
    {"ReferringPhysicianName": "SMITH*"},
    {"SpecificCharacterSet": "ISO_IR 192", "PatientName": "Müller^Jürgen"},
    {"SpecificCharacterSet": "ISO_IR 192", "PatientName": "Ødegård*"},
    {"PatientName": "DOE*", "StudyDate": "20240201-"},
]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    require_tool("dcmqrscp")
    root = tmp_path_factory.mktemp("dcmqrscp")
    files, db = root / "files", root / "db"
    files.mkdir()
    db.mkdir()
    datasets = record_datasets("people")
    for name in NAMES:
        datasets[name].save(files / f"{name}.dcm", transfer_syntax="1.2.840.10008.1.2.1")
    result = dcmtk("dcmqridx", str(db), *sorted(str(p) for p in files.iterdir()))
    assert result.returncode == 0, result.stderr
    port = free_port()
    config = root / "dcmqrscp.cfg"
    config.write_text(f"""NetworkTCPPort = {port}
MaxPDUSize = 16384
MaxAssociations = 4
HostTable BEGIN
HostTable END
VendorTable BEGIN
VendorTable END
AETable BEGIN
ARCHIVE {db} RW (200, 1024mb) ANY
AETable END
""")
    with running([require_tool("dcmqrscp"), "-c", str(config)], port):
        yield port, files


def _dcmqrscp(port: int, keys: dict[str, str], out: Path) -> set[str]:
    out.mkdir()
    args = ["-S", "-aec", "ARCHIVE", "127.0.0.1", str(port), "-X", "-od", str(out),
            "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID"]
    for keyword, value in keys.items():
        if keyword != "StudyInstanceUID":
            args += ["-k", f"{keyword}={value}"]
        else:
            args[args.index("StudyInstanceUID")] = f"StudyInstanceUID={value}"
    result = dcmtk("findscu", *args)
    assert result.returncode == 0, result.stderr
    return {UIDS[str(dicomkit.read(p).StudyInstanceUID)] for p in sorted(out.glob("rsp*.dcm"))}


def _ours(files: Path, keys: dict[str, str]) -> set[str]:
    q = Dataset()
    if "SpecificCharacterSet" in keys:
        q.SpecificCharacterSet = keys["SpecificCharacterSet"]
    q.QueryRetrieveLevel = "STUDY"
    q.StudyInstanceUID = ""
    for keyword, value in keys.items():
        if keyword != "SpecificCharacterSet":
            setattr(q, keyword, value)
    q = dicomkit.read(q.to_bytes("1.2.840.10008.1.2.1"), force=True)
    plan = plan_from_identifier(q, model=STUDY_ROOT, operation=Operation.FIND,
                                options=PlanOptions(pn_case_insensitive=False, unknown_values_match=False))
    source = FolderSource(files)

    async def run() -> list[Any]:
        return [m async for m in source.find(plan, LOCAL)]

    return {UIDS[str(m.StudyInstanceUID)] for m in asyncio.run(run())}


@pytest.mark.parametrize("keys", QUERIES, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_same_matches_as_dcmqrscp(archive: tuple[int, Path], keys: dict[str, str], tmp_path: Path) -> None:
    port, files = archive
    expected = _dcmqrscp(port, keys, tmp_path / "rsp")
    assert _ours(files, keys) == expected
