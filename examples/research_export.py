#!/usr/bin/env python3
"""De-identify a folder for a research partner, then prove that no identifier is left in what leaves.

    python examples/research_export.py IN OUT --key "a secret kept by the site" [--map map.json]

The PS3.15 Annex E Basic Profile with shifted dates and clean descriptors (``dicomkit anonymize`` does the
same from the command line). UIDs are replaced by a keyed mapping, so the partner gets whole studies and
series whose references still resolve, and a second export with the same key gives the same UIDs.

Then every byte written is searched for each identifying value the originals held — names, IDs, accession
numbers, dates of birth, institution and physician names, and the original UIDs. A file in which one turns
up is reported and the script exits non-zero: what a site would check before anything leaves.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import dicomkit
from dicomkit import DicomError
from dicomkit.deid import BurnedInAnnotationError, Deidentifier, Options
from dicomkit.io.files import Kind, walk

IDENTIFYING = ("PatientName", "PatientID", "OtherPatientIDs", "PatientBirthDate", "AccessionNumber",
               "InstitutionName", "ReferringPhysicianName", "PerformingPhysicianName", "OperatorsName",
               "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "StudyID")


def identifiers(ds: dicomkit.Dataset) -> set[bytes]:
    """The identifying values of a data set, as they would appear in its encoding (long enough to mean it)."""
    found = set()
    for keyword in IDENTIFYING:
        values = ds.get(keyword)
        for value in values if isinstance(values, tuple) else (values,):
            text = str(value or "").strip()
            if len(text) >= 6:  # shorter values ("1", "CT") turn up by chance in any pixel data
                found.add(text.encode("utf-8", "replace"))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--key", required=True, help="the site's secret: same key, same pseudonyms")
    parser.add_argument("--map", type=Path, help="write the mapping table (for re-identification) here")
    args = parser.parse_args()
    if not args.input.is_dir():
        parser.error(f"{args.input} is not a folder")
    deid = Deidentifier(Options(dates="shift", clean_descriptors=True), key=args.key)
    secrets: set[bytes] = set()
    written: list[Path] = []
    for found in walk([args.input]):
        if found.kind is not Kind.DICOM:
            continue
        target = args.output / found.path.relative_to(args.input)
        try:
            original = dicomkit.read(found.path, stop_before_pixels=True, force=True)
            target.parent.mkdir(parents=True, exist_ok=True)
            deid.apply_file(found.path, target)
        except BurnedInAnnotationError as exc:  # pixels may show the patient's name: not sent unmasked
            print(f"held back {found.path.name}: {exc}")
            continue
        except DicomError as exc:
            print(f"not exported {found.path.name}: {exc}")
            continue
        secrets |= identifiers(original)
        written.append(target)
    if args.map:
        deid.table.save(args.map)

    leaks = 0
    for path in written:
        data = path.read_bytes()
        for secret in secrets:
            if secret in data:
                leaks += 1
                print(f"LEAK: {path}: {secret.decode(errors='replace')!r}")
    print(f"exported {len(written)} files to {args.output}; {len(secrets)} identifying values searched for in them; "
          f"{leaks} found")
    return 1 if leaks else 0


if __name__ == "__main__":
    sys.exit(main())
