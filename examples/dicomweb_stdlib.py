#!/usr/bin/env python3
"""DICOMweb with nothing but the standard library: STOW-RS a folder, QIDO-RS, WADO-RS metadata and frames.

    python examples/dicomweb_stdlib.py FOLDER [--url http://host:8042/dicom-web]

Without ``--url`` the script starts its own archive (``dicomkit.server.Server``) on a free port. What goes
over the wire is what PS3.18 says, written out here by hand: a multipart/related body of application/dicom
parts (10.5), the DICOM JSON answers of QIDO-RS (10.6) and of the metadata resource, and a frame as a
multipart/related application/octet-stream part (10.4). Any DICOMweb server answers the same way.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path

from dicomkit.io.files import Kind, walk


def stow(base: str, files: list[Path]) -> dict[str, object]:
    """One STOW-RS request holding every file (PS3.18 10.5); the answer says what was stored and what not."""
    boundary = uuid.uuid4().hex
    body = b"".join(b"--%s\r\nContent-Type: application/dicom\r\n\r\n%s\r\n" % (boundary.encode(), p.read_bytes())
                    for p in files) + b"--%s--\r\n" % boundary.encode()
    request = urllib.request.Request(f"{base}/studies", data=body, method="POST", headers={
        "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
        "Accept": "application/dicom+json"})
    try:
        with urllib.request.urlopen(request) as response:
            return dict(json.load(response))
    except urllib.error.HTTPError as exc:  # 202 and 409 also carry the answer (some instances refused)
        if exc.code in (202, 409):
            return dict(json.load(exc))
        raise


def get_json(url: str) -> list[dict[str, dict[str, list[object]]]]:
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "application/dicom+json"})) as response:
        return list(json.load(response)) if response.status == 200 else []  # 204: no match


def value(attributes: dict[str, dict[str, list[object]]], tag: str) -> object:
    return attributes.get(tag, {}).get("Value", [None])[0]


def first_frame(url: str) -> bytes:
    """Frame 1 as stored (any transfer syntax): the one part of a multipart/related answer."""
    accept = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": accept})) as response:
        head = f"Content-Type: {response.headers['Content-Type']}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + response.read())
    parts = [part.get_payload(decode=True) for part in message.iter_parts()]
    return bytes(parts[0]) if parts else b""


@contextlib.contextmanager
def archive(url: str | None) -> Iterator[str]:
    if url:
        yield url.rstrip("/")
        return
    from dicomkit.server import Server

    with tempfile.TemporaryDirectory() as tmp, Server(data_dir=Path(tmp) / "pacs", dicom_port=0, http_port=0) as pacs:
        yield f"http://127.0.0.1:{pacs.http_port}/dicom-web"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--url", help="a DICOMweb service root (default: start an archive here)")
    args = parser.parse_args()
    if not args.folder.is_dir():
        parser.error(f"{args.folder} is not a folder")
    files = [found.path for found in walk([args.folder]) if found.kind is Kind.DICOM]
    with archive(args.url) as base:
        answer = stow(base, files)
        stored = answer.get("00081199", {}).get("Value", [])  # type: ignore[attr-defined]
        refused = answer.get("00081198", {}).get("Value", [])  # type: ignore[attr-defined]
        print(f"STOW-RS: {len(files)} files, {len(stored)} stored, {len(refused)} refused")
        for item in refused:
            print(f"  refused {value(item, '00081155') or '(no SOP Instance UID)'}: "
                  f"Failure Reason 0x{value(item, '00081197'):04X}")
        studies = get_json(f"{base}/studies?includefield=ModalitiesInStudy&limit=10")
        print(f"QIDO-RS: {len(studies)} studies (first 10)")
        for study in studies:
            name = value(study, "00100010")  # PN in DICOM JSON: {"Alphabetic": ...} (PS3.18 F.2.2)
            name = name.get("Alphabetic", "-") if isinstance(name, dict) else "-"
            print(f"  {name:<28} "
                  f"{value(study, '00201208')} instance(s)  {value(study, '0020000D')}")
        if not studies:
            return 1
        uid = value(studies[0], "0020000D")
        series = value(get_json(f"{base}/studies/{uid}/series")[0], "0020000E")
        metadata = get_json(f"{base}/studies/{uid}/series/{series}/metadata")
        instance = metadata[0]
        print(f"WADO-RS metadata of series {series}: {len(metadata)} instance(s); the first is "
              f"{value(instance, '00280010')}×{value(instance, '00280011')}, {value(instance, '00280100')} bits")
        if "7FE00010" in instance or "7FE00008" in instance or "7FE00009" in instance:
            frame = first_frame(f"{base}/studies/{uid}/series/{series}/instances/{value(instance, '00080018')}"
                                "/frames/1")
            print(f"WADO-RS frame 1: {len(frame)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
