"""Print Management with DCMTK both ways: dcmprscu prints on ``dicomkit print-scp``, ``dicomkit print`` prints on
dcmprscp (both configured by a dcmpstat.cfg the test writes; dcmpsprt makes the Stored Print that dcmprscu sends)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dicomkit
from dicomkit.services.print_management import image_item

from ..cli.runner import dicomkit as run_cli
from ..conftest import ROOT, corpus_file, require_tool
from ..peers import DCMTK_ENV, free_port, running

pytestmark = pytest.mark.interop

PRINTER = """\
Type = {type}
Aetitle = {aet}
Description = {aet}
Hostname = localhost
Port = {port}
MaxPDU = 32768
ImplicitOnly = false
DisableNewVRs = false
DisplayFormat = 1,1\\1,2\\2,1\\2,2\\2,3\\3,3
FilmSizeID = 8INX10IN\\14INX17IN
MediumType = PAPER\\CLEAR FILM\\BLUE FILM
MagnificationType = REPLICATE\\BILINEAR\\CUBIC\\NONE
BorderDensity = BLACK\\WHITE\\150
EmptyImageDensity = BLACK\\WHITE
FilmDestination = MAGAZINE\\PROCESSOR
MinDensity = 20
MaxDensity = 320
Supports12Bit = true
SupportsPresentationLUT = true
PresentationLUTMatchRequired = false
SupportsTrim = true
SupportsImageSize = true
SupportsDecimateCrop = true
ResolutionID = STANDARD\\HIGH
SmoothingType = NONE
"""


def _config(folder: Path, *, dicomkit_port: int = 0, dcmtk_port: int = 0) -> Path:
    for name in ("spool", "database", "lut"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    text = (f"[[GENERAL]]\n[PRINT]\nSpooler = dcmprscu\nServer = dcmprscp\nDirectory = {folder / 'spool'}\n"
            "DetailedLog = false\nSleep = 1\nMinPrintResolution = 256\\256\nMaxPrintResolution = 8192\\8192\n"
            "DefaultIllumination = 2000\nDefaultReflection = 10\n"
            f"[DATABASE]\nDirectory = {folder / 'database'}\n[LUT]\nDirectory = {folder / 'lut'}\n"
            "[NETWORK]\naetitle = DCMPSTATE\n[[COMMUNICATION]]\n"
            "[DICOMKIT]\n" + PRINTER.format(type="PRINTER", aet="PRINTSCP", port=dicomkit_port) +
            "[DCMTKPRINT]\n" + PRINTER.format(type="LOCALPRINTER", aet="DCMPRSCP", port=dcmtk_port))
    path = folder / "dcmpstat.cfg"
    path.write_text(text)
    return path


def _print_scp(output: Path) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen([sys.executable, "-m", "dicomkit.cli.main", "print-scp", "--port", "0", "--host",
                                "127.0.0.1", "--output", str(output), "--dpi", "30", "--formats", "png,pdf,dcm"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
    assert match, line + (process.stderr.read() if process.stderr else "")
    return process, int(match.group(1))


def _stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    try:
        out, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return out


@pytest.mark.parametrize("session_print", [False, True], ids=["film-box-print", "session-print"])
def test_dcmprscu_prints_on_dicomkit_print_scp(tmp_path, session_print):
    require_tool("dcmpsprt")
    dcmprscu = require_tool("dcmprscu")
    process, port = _print_scp(tmp_path / "films")
    try:
        config = _config(tmp_path / "dcmtk", dicomkit_port=port)
        made = subprocess.run([require_tool("dcmpsprt"), "-c", str(config), "-p", "DICOMKIT", "--layout", "2", "1",
                               "--filmsize", "14INX17IN", "--border", "WHITE", "--landscape",
                               str(corpus_file("MR2_UNCR.dcm")), str(corpus_file("693_UNCR.dcm"))],
                              capture_output=True, text=True, timeout=120, env=DCMTK_ENV)
        assert made.returncode == 0, made.stdout + made.stderr
        stored = list((tmp_path / "dcmtk" / "database").glob("SP_*.dcm"))
        assert len(stored) == 1
        args = [dcmprscu, "-c", str(config), "-p", "DICOMKIT", "--copies", "2", "--label", "from dcmtk",
                "--medium-type", "CLEAR FILM", *(["--session-print"] if session_print else []), str(stored[0])]
        sent = subprocess.run(args, capture_output=True, text=True, timeout=120, env=DCMTK_ENV)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        assert "E:" not in sent.stdout + sent.stderr
    finally:
        log = _stop(process)
    notes = [json.loads(p.read_text()) for p in (tmp_path / "films").glob("*.json")]
    assert len(notes) == 1, log
    note = notes[0]
    assert note["calling_ae_title"] == "DCMPSTATE" and note["copies"] == 2
    assert note["session"]["FilmSessionLabel"] == "from dcmtk" and note["session"]["MediumType"] == "CLEAR FILM"
    assert note["film"]["ImageDisplayFormat"] == "STANDARD\\2,1" and note["film"]["FilmSizeID"] == "14INX17IN"
    assert note["film"]["FilmOrientation"] == "LANDSCAPE" and note["film"]["BorderDensity"] == "WHITE"
    assert [i["printed"] for i in note["images"]] == [True, True]
    assert note["pixels"] == [510, 420]  # 17 x 14 inches at 30 dpi
    png, pdf, dcm = (tmp_path / "films" / name for name in note["files"])
    assert png.stat().st_size > 1000 and pdf.read_bytes().startswith(b"%PDF")
    film = dicomkit.read(dcm)  # the film as a Secondary Capture image, as dciodvfy accepts it
    assert film.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7" and (film.Columns, film.Rows) == (510, 420)
    assert film.SeriesDescription == "from dcmtk" and film.pixel_array.shape == (420, 510)
    checked = subprocess.run([require_tool("dciodvfy"), str(dcm)], capture_output=True, text=True, timeout=60)
    assert "Error" not in checked.stdout + checked.stderr, checked.stderr


def test_dicomkit_print_on_dcmprscp(tmp_path):
    dcmprscp = require_tool("dcmprscp")
    port = free_port()
    config = _config(tmp_path / "dcmtk", dcmtk_port=port)
    names = ("MR2_UNCR.dcm", "693_UNCR.dcm", "US1_UNCR.dcm")
    with running([dcmprscp, "-c", str(config), "-p", "DCMTKPRINT"], port):
        result = run_cli("print", "127.0.0.1", port, "--aec", "DCMPRSCP", *(corpus_file(n) for n in names),
                         "--format", "STANDARD\\2,2", "--film-size", "14INX17IN", "--border-density", "150",
                         "--presentation-lut", "IDENTITY", "--copies", "2", "--polarity", "NORMAL")
        assert result.code == 0, result.out + result.err
        assert result.out.startswith("printed 3 image(s) on 1 film(s) (STANDARD\\2,2)")
        refused = run_cli("print", "127.0.0.1", port, "--aec", "DCMPRSCP", corpus_file("SC_rgb.dcm"), "--color")
        assert refused.code == 1
        assert "rejected Basic Color Print Management Meta SOP Class" in refused.err
        bad = run_cli("print", "127.0.0.1", port, "--aec", "DCMPRSCP", corpus_file("MR2_UNCR.dcm"),
                      "--format", "STANDARD\\9,9")  # not among dcmprscp's display formats
        assert bad.code == 1 and "0x0106" in bad.err
    database = tmp_path / "dcmtk" / "database"
    stored = [dicomkit.read(p) for p in database.glob("SP_*.dcm")]
    assert len(stored) == 1
    film = stored[0].FilmBoxContentSequence[0]
    assert film.ImageDisplayFormat == "STANDARD\\2,2" and film.FilmSizeID == "14INX17IN"
    assert film.BorderDensity == "150"
    assert stored[0].PresentationLUTContentSequence[0].PresentationLUTShape == "IDENTITY"
    hardcopies = {}
    for path in database.glob("HG_*.dcm"):
        ds = dicomkit.read(path)
        hardcopies[(int(ds.Rows), int(ds.Columns))] = ds
    assert len(hardcopies) == 3
    for name in names:  # each image arrived as we sent it
        item = image_item(dicomkit.read(corpus_file(name)))
        got = hardcopies[(int(item.Rows), int(item.Columns))]
        sent = np.frombuffer(item.value(0x7FE00010), np.uint8)[: int(item.Rows) * int(item.Columns)]
        assert np.array_equal(got.pixel_array.reshape(-1).astype(np.uint8), sent)
