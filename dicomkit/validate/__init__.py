"""IOD validation from the PS3.3 tables (like dicom3tools' dciodvfy): the modules a SOP Class requires,
attribute types, VR / VM / value formats, enumerated values and defined terms, sequences and the file meta.

>>> from dicomkit.validate import validate_file
>>> report = validate_file("ct.dcm")
>>> [str(f) for f in report.errors]
"""

from __future__ import annotations

from pathlib import Path

from ..core.errors import DicomError
from .iod import camel, validate
from .report import ERROR, NOTE, WARNING, Finding, Report
from .tables import iod_for_sop_class, module_names_without_table


def validate_file(path: str | Path, *, force: bool = False) -> Report:
    """Read ``path`` and validate it. A file the default reader refuses gives an error saying so, and what a
    lenient read finds there is validated too (as dciodvfy validates what it could read); a file that
    cannot be read at all gives a report with that one error."""
    from ..io.reader import read

    try:
        ds = read(path, force=force)
    except DicomError as exc:
        refused = Finding(ERROR, "unreadable", f"Dicom dataset read failed: {exc}")
        try:
            partial = read(path, force=force, lenient=True)
        except (DicomError, OSError):
            report = Report(str(path))
            report.add(refused)
            return report
        report = validate(partial, source=str(path), file_meta=True)
        report.findings.insert(0, refused)
        return report
    except OSError as exc:
        report = Report(str(path))
        report.add(Finding(ERROR, "unreadable", f"cannot open: {exc.strerror or exc}"))
        return report
    return validate(ds, source=str(path), file_meta=True)


__all__ = ["ERROR", "NOTE", "WARNING", "Finding", "Report", "camel", "iod_for_sop_class",
           "module_names_without_table", "validate", "validate_file"]
