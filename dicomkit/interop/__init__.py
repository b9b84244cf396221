"""Bridges to other DICOM libraries, imported only when called (``Dataset.to_pydicom``/``from_pydicom``).

They sit apart from ``core`` so that the data model never depends on another library, not even lazily.
"""
