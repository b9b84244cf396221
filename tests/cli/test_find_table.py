"""The table of ``dicomkit find``: column widths from the first rows, cells padded, long cells cut with an ellipsis
(the layout of a line is made once; each line must be what padding and cutting cell by cell gives)."""

from __future__ import annotations

import io

from dicomkit import Dataset
from dicomkit.cli.find import MAX_WIDTH, SIZE_ROWS, Table, _columns


def expected_line(row: list[str], widths: list[int]) -> str:
    cells = [(c if len(c) <= w else c[: w - 1] + "…").ljust(w) for c, w in zip(row, widths, strict=True)]
    return "  ".join(cells).rstrip() + "\n"


def match(description: str, modality: str, number: str | None) -> Dataset:
    ds = Dataset()
    ds.StudyDescription = description
    ds.Modality = modality
    if number is not None:
        ds.SeriesNumber = number
    return ds


def test_rows_after_the_first_ones_are_padded_and_cut_as_cell_by_cell():
    query = Dataset()
    query.QueryRetrieveLevel = "SERIES"
    query.StudyDescription = ""
    query.Modality = ""
    query.SeriesNumber = ""
    columns = _columns(query)
    assert [h for h, _ in columns] == ["Modality", "StudyDescription", "SeriesNumber"]
    out = io.StringIO()
    table = Table(columns, out)
    first = [match(f"study {i}", "CT", str(i)) for i in range(SIZE_ROWS)]
    later = [
        match("short", "MR", "7"),
        match("x" * (MAX_WIDTH + 5), "CT", "12"),  # longer than any column may be: cut with an ellipsis
        match("Ünïcödé^名前", "OT", None),  # non-ASCII text pads by characters; a missing value is empty
        match("a much longer description", "SEG", "1234"),  # longer than its column (set by the first rows): cut
        match("", "", ""),
    ]
    for ds in first + later:
        table.add(ds)
    table.close()
    lines = out.getvalue().splitlines(keepends=True)
    widths = table.widths
    assert widths == [len("Modality"), len("StudyDescription"), len("SeriesNumber")]
    rows = [[read(ds) for read in table.readers] for ds in first + later]
    assert lines[0] == expected_line([h for h, _ in columns], widths)
    assert lines[1] == expected_line(["-" * w for w in widths], widths)
    assert lines[2:] == [expected_line(row, widths) for row in rows]
    assert "…" in lines[-4] and "…" in lines[-2] and lines[-3].startswith("OT")
