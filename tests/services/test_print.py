"""Print Management (PS3.4 H) between our SCU and our SCP over real sockets, and the film layout and files."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

import dicomkit
from dicomkit import Dataset
from dicomkit.net import ApplicationEntity
from dicomkit.pixels.film import PlacedImage, compose_film, print_image
from dicomkit.pixels.pdf import encode_pdf
from dicomkit.services.dimse_n import NServiceFailed, n_create, n_get, n_set
from dicomkit.services.print_management import (
    COLOR_META,
    GRAYSCALE_META,
    FolderSpooler,
    PrintClient,
    PrinterEvents,
    PrintError,
    PrintSCP,
    image_item,
    layout,
    print_contexts,
    print_images,
)
from dicomkit.services.print_management.model import (
    FILM_BOX_CLASS,
    FILM_SESSION_CLASS,
    GRAYSCALE_IMAGE_BOX_CLASS,
    PRINTER_CLASS,
    PRINTER_INSTANCE,
    density_gray,
)

from ..conftest import corpus_file
from ..helpers import until
from .live import run, serving


def _item(rows: int, columns: int, value: int, *, bits: int = 8) -> Dataset:
    item = Dataset()
    item.SamplesPerPixel = 1
    item.PhotometricInterpretation = "MONOCHROME2"
    item.Rows, item.Columns = rows, columns
    item.PixelAspectRatio = [1, 1]
    item.BitsAllocated = 8 if bits == 8 else 16
    item.BitsStored, item.HighBit, item.PixelRepresentation = bits, bits - 1, 0
    dtype = np.uint8 if bits == 8 else np.uint16
    item.add_new(0x7FE00010, "OB" if bits == 8 else "OW", np.full((rows, columns), value, dtype=dtype).tobytes())
    return item


# -- the model ---------------------------------------------------------------------------------------------------
def test_layout_of_the_display_formats():
    standard = layout("STANDARD\\3,2")  # 3 columns, 2 rows, positions row by row
    assert len(standard) == 6
    assert [(b.x, b.y) for b in standard[:4]] == [(0, 0), (1 / 3, 0), (2 / 3, 0), (0, 0.5)]
    row = layout("ROW\\1,3")  # a row of one box, then one of three
    assert [(b.position, b.width, b.y) for b in row] == [(1, 1.0, 0), (2, 1 / 3, 0.5), (3, 1 / 3, 0.5),
                                                          (4, 1 / 3, 0.5)]
    col = layout("COL\\2,1")  # positions column by column
    assert [(b.x, b.y, b.height) for b in col] == [(0, 0, 0.5), (0, 0.5, 0.5), (0.5, 0, 1.0)]
    for bad in ("SLIDE", "STANDARD\\2", "STANDARD\\0,1", "ROW\\a,b", "CUSTOM\\1", "STANDARD\\65,1"):
        with pytest.raises(PrintError) as info:
            layout(bad)
        assert info.value.offending == (0x20100010,)


def test_densities():
    assert density_gray("WHITE") == 255 and density_gray("BLACK") == 0
    assert density_gray("20") == 255  # Min Density: the film's base
    assert density_gray("120") == 26  # one optical density above it: a tenth of the light


def test_print_image_polarity_monochrome1_and_lin_od():
    data = bytes([0, 128, 255, 64])
    assert print_image(data, 2, 2).tolist() == [[0, 128], [255, 64]]
    assert print_image(data, 2, 2, polarity="REVERSE").tolist() == [[255, 127], [0, 191]]
    assert print_image(data, 2, 2, photometric="MONOCHROME1").tolist() == [[255, 127], [0, 191]]
    twelve = np.array([0, 4095, 2048, 1024], dtype="<u2").tobytes()
    assert print_image(twelve, 2, 2, bits_allocated=16, bits_stored=12).tolist() == [[0, 255], [128, 64]]
    od = print_image(bytes([0, 255, 255, 255]), 2, 2, lin_od=(20, 320))
    assert od[0, 0] == 0 and od[0, 1] == 255  # P = 0 is Max Density, the top value the film's base
    lut = [255 - v for v in range(256)]  # a Presentation LUT that inverts
    assert print_image(data, 2, 2, lut=lut).tolist() == [[255, 127], [0, 191]]
    with pytest.raises(dicomkit.DicomError):
        print_image(b"\x00" * 3, 2, 2)


def test_compose_film_places_fits_and_fills():
    image = np.full((10, 20), 200, dtype=np.uint8)  # twice as wide as high
    film = compose_film(100, 60, [PlacedImage(0, 0, 50, 60, image), PlacedImage(50, 0, 50, 60, None)],
                        border=10, empty=0)
    assert film.shape == (60, 100)
    assert film[30, 25] == 200  # scaled to 50 x 25, centred: rows 17..41
    assert film[5, 25] == 10  # above it: the border density
    assert film[30, 75] == 0  # the empty box
    replicate = compose_film(40, 40, [PlacedImage(0, 0, 40, 40, np.array([[0, 255]], dtype=np.uint8),
                                                  magnification="REPLICATE")])
    assert set(np.unique(replicate[20]).tolist()) == {0, 255}  # nearest neighbour: no grey in between
    none = compose_film(40, 40, [PlacedImage(0, 0, 10, 10, np.full((30, 30), 99, np.uint8), magnification="NONE")],
                        border=1)
    assert none[5, 5] == 99 and none[20, 20] == 1  # not magnified: cropped to its box
    trimmed = compose_film(40, 40, [PlacedImage(0, 0, 40, 40, np.full((40, 40), 100, np.uint8))], trim=True)
    assert trimmed[0, 10] == 255 and trimmed[10, 10] == 100


def test_pdf_pages_read_back_by_pdftoppm(tmp_path):
    tool = shutil.which("pdftoppm")
    if tool is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    gray = np.zeros((100, 80), dtype=np.uint8)
    gray[:, 40:] = 255
    rgb = np.zeros((50, 50, 3), dtype=np.uint8)
    rgb[..., 0] = 255
    path = tmp_path / "films.pdf"
    path.write_bytes(encode_pdf([(gray, 203.2, 254.0), (rgb, 254.0, 254.0)], title="two (films)"))
    subprocess.run([tool, "-r", "10", "-png", str(path), str(tmp_path / "page")], check=True, timeout=60)
    first = dicomkit_png(tmp_path / "page-1.png")
    assert first.shape[:2] == (100, 80)  # 8 x 10 inches at 10 dpi
    assert first[50, 10].max() < 30 and first[50, 70].min() > 225
    second = dicomkit_png(tmp_path / "page-2.png")
    assert second.shape[:2] == (100, 100) and tuple(second[50, 50][:3]) == (255, 0, 0)


def dicomkit_png(path):
    """A PNG file as RGB pixels (decoded by imagecodecs, of the codecs extra)."""
    import imagecodecs

    image = np.asarray(imagecodecs.png_decode(path.read_bytes()))
    return np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image[..., :3]


# -- SCU and SCP -------------------------------------------------------------------------------------------------
def _scp(tmp_path, **options):
    return PrintSCP(FolderSpooler(tmp_path / "films", dpi=20), **options)


async def _assoc(server, *, color=False, lut=False, ae=None):
    ae = ae or ApplicationEntity("PRINTSCU")
    return await ae.associate("127.0.0.1", server.port, print_contexts(color=color, presentation_lut=lut),
                              called_ae_title="SCP")


def test_print_images_on_films_as_png_pdf_and_note(tmp_path):
    scp = _scp(tmp_path)
    images = [dicomkit.read(corpus_file(n)) for n in ("MR2_UNCR.dcm", "693_UNCR.dcm", "US1_UNCR.dcm")]

    async def go():
        async with serving(scp) as server, await _assoc(server, lut=True) as assoc:
            session = Dataset()
            session.NumberOfCopies = "2"
            session.FilmSessionLabel = "ward 3"
            film = Dataset()
            film.FilmSizeID = "14INX17IN"
            film.FilmOrientation = "LANDSCAPE"
            film.BorderDensity = "WHITE"
            report = await print_images(assoc, images, display_format="STANDARD\\2,1", session=session, film=film,
                                        presentation_lut="IDENTITY")
            assert report.films == 2 and report.warnings == []
            assert str(report.printer.PrinterStatus) == "NORMAL"
        await until(lambda: scp.sessions == 0, what="the session ends with the association")

    run(go())
    notes = sorted((tmp_path / "films").glob("*.json"))
    assert len(notes) == 2
    first = json.loads(notes[0].read_text())
    assert first["copies"] == 2 and first["session"]["FilmSessionLabel"] == "ward 3"
    assert first["film"]["ImageDisplayFormat"] == "STANDARD\\2,1" and first["size_mm"] == [431.8, 355.6]
    assert first["pixels"] == [340, 280]  # 17 x 14 inches at 20 dpi
    assert [i["printed"] for i in first["images"]] == [True, True]
    second = json.loads(notes[1].read_text())
    assert [i["printed"] for i in second["images"]] == [True, False]  # the third image and an empty box
    png = dicomkit_png(tmp_path / "films" / first["files"][0])
    assert png.shape[:2] == (280, 340) and tuple(png[0, 0]) == (255, 255, 255)  # the white border
    assert (tmp_path / "films" / first["files"][1]).read_bytes().startswith(b"%PDF-1.4")


def test_session_print_colour_and_printer_n_get(tmp_path):
    scp = _scp(tmp_path)
    rgb = dicomkit.read(corpus_file("SC_rgb.dcm"))

    async def go():
        async with serving(scp) as server, await _assoc(server, color=True) as assoc:
            client = PrintClient(assoc, color=True)
            printer = await client.printer([0x21100010, 0x21100030])
            assert list(printer.tags()) == [0x21100010, 0x21100030]
            partial = await n_get(assoc, PRINTER_CLASS, PRINTER_INSTANCE, [0x21100010, 0x00100010],
                                  meta_sop_class=COLOR_META)
            assert int(partial.status) == 0x0107 and list(partial.dataset.tags()) == [0x21100010]
            await client.create_session()
            for _ in range(2):
                film = await client.create_film_box("STANDARD\\1,1")
                assert film.image_boxes[0][0] == "1.2.840.10008.5.1.1.4.1"  # Basic Color Image Box
                await client.set_image(film.image_boxes[0], image_item(rgb, color=True), 1)
            result = await client.print_session()  # both films, collated
            assert int(result.status) == 0
            await client.delete()

    run(go())
    notes = [json.loads(p.read_text()) for p in sorted((tmp_path / "films").glob("*.json"))]
    assert len(notes) == 2 and all(n["color"] for n in notes)
    png = dicomkit_png(tmp_path / "films" / notes[0]["files"][0])
    assert png[..., 0].astype(int).sum() != png[..., 1].astype(int).sum()  # colour kept


def test_refusals_keep_the_association(tmp_path):
    scp = _scp(tmp_path)

    async def go():
        async with serving(scp) as server, await _assoc(server) as assoc:
            client = PrintClient(assoc)
            early = Dataset()
            early.ImageDisplayFormat = "STANDARD\\1,1"
            result = await n_create(assoc, FILM_BOX_CLASS, early, meta_sop_class=GRAYSCALE_META)
            assert int(result.status) == 0x0110 and "no Film Session" in result.error_comment
            bad = Dataset()
            bad.MediumType = "VELLUM"
            result = await n_create(assoc, FILM_SESSION_CLASS, bad, meta_sop_class=GRAYSCALE_META)
            assert int(result.status) == 0x0106 and result.response.attribute_identifier_list == (0x20000030,)
            odd = Dataset()
            odd.PatientName = "X"  # not a Film Session attribute: a warning listing it
            result = await n_create(assoc, FILM_SESSION_CLASS, odd, meta_sop_class=GRAYSCALE_META)
            assert int(result.status) == 0x0107 and result.response.attribute_identifier_list == (0x00100010,)
            client.session_uid = result.affected_sop_instance_uid
            again = await n_create(assoc, FILM_SESSION_CLASS, Dataset(), meta_sop_class=GRAYSCALE_META)
            assert int(again.status) == 0x0213  # one Film Session per association
            with pytest.raises(NServiceFailed) as info:
                await client.create_film_box("SLIDE")
            assert info.value.status == 0x0106
            film = await client.create_film_box("STANDARD\\2,1")
            box_class, box_uid = film.image_boxes[0]
            assert box_class == GRAYSCALE_IMAGE_BOX_CLASS
            colour = Dataset()
            colour.BasicColorImageSequence = [_item(4, 4, 1)]
            result = await n_set(assoc, GRAYSCALE_IMAGE_BOX_CLASS, box_uid, colour, meta_sop_class=GRAYSCALE_META)
            assert int(result.status) == 0x0106
            short = _item(4, 4, 1)
            short.Rows = 40  # more rows than the Pixel Data holds
            result = await n_set(assoc, GRAYSCALE_IMAGE_BOX_CLASS, box_uid,
                                 _with("BasicGrayscaleImageSequence", short), meta_sop_class=GRAYSCALE_META)
            assert int(result.status) == 0x0106 and "Pixel Data" in result.error_comment
            result = await n_set(assoc, GRAYSCALE_IMAGE_BOX_CLASS, "1.2.3.4", Dataset(),
                                 meta_sop_class=GRAYSCALE_META)
            assert int(result.status) == 0x0112
            empty = await client.print_film(film)  # nothing set: printed, with the empty page warning
            assert int(empty.status) == 0xB603 and client.warnings
            await client.set_image(film.image_boxes[1], _item(8, 8, 100, bits=12), 2)
            assert int((await client.print_film(film)).status) == 0
            await client.delete_film_box(film)
            with pytest.raises(NServiceFailed) as info:
                await client.print_session()  # no Film Box left
            assert info.value.status == 0xC600
            assert assoc.is_established

    run(go())
    assert len(list((tmp_path / "films").glob("*.png"))) == 2


def test_a_printer_that_fails_reports_it_with_n_event_report(tmp_path):
    def broken(film):
        raise OSError("disk full")

    scp = PrintSCP(broken)
    item = _item(8, 8, 50)

    async def go():
        async with serving(scp) as server:
            ae = ApplicationEntity("PRINTSCU")
            events = PrinterEvents.install(ae)
            async with await _assoc(server, ae=ae) as assoc:
                client = PrintClient(assoc)
                await client.create_session()
                film = await client.create_film_box("STANDARD\\1,1")
                await client.set_image(film.image_boxes[0], item, 1)
                with pytest.raises(NServiceFailed) as info:
                    await client.print_film(film)
                assert info.value.status == 0x0110 and "disk full" in str(info.value)
                await until(lambda: events.events, what="the printer's N-EVENT-REPORT")
                assert events.events == [("FAILURE", "PRINTER DOWN")]
                assert str((await client.printer()).PrinterStatus) == "FAILURE"
                with pytest.raises(dicomkit.DicomError, match="FAILURE"):
                    await print_images(assoc, [dicomkit.read(corpus_file("MR2_UNCR.dcm"))])

    run(go())


def test_presentation_lut_n_create_rules(tmp_path):
    scp = _scp(tmp_path)

    async def go():
        async with serving(scp) as server, await _assoc(server, lut=True) as assoc:
            client = PrintClient(assoc)
            uid = await client.create_presentation_lut("LIN OD")
            neither = await n_create(assoc, "1.2.840.10008.5.1.1.23", Dataset())
            assert int(neither.status) == 0x0120
            bad = Dataset()
            bad.PresentationLUTShape = "GAMMA"
            assert int((await n_create(assoc, "1.2.840.10008.5.1.1.23", bad)).status) == 0x0106
            await client.create_session()
            dangling = Dataset()
            ref = Dataset()
            ref.ReferencedSOPClassUID = "1.2.840.10008.5.1.1.23"
            ref.ReferencedSOPInstanceUID = "1.2.3.4.5"
            dangling.ReferencedPresentationLUTSequence = [ref]
            with pytest.raises(NServiceFailed):
                await client.create_film_box("STANDARD\\1,1", dangling)
            film = await client.create_film_box("STANDARD\\1,1", presentation_lut=uid)
            await client.set_image(film.image_boxes[0], _item(4, 4, 255), 1)
            await client.print_film(film)

    run(go())
    note = json.loads(next((tmp_path / "films").glob("*.json")).read_text())
    png = dicomkit_png(tmp_path / "films" / note["files"][0])
    assert png[png.shape[0] // 2, png.shape[1] // 2][0] == 255  # LIN OD: P max is the film's base, white


def test_film_box_n_set_and_the_settable_attributes(tmp_path):
    scp = _scp(tmp_path)

    async def go():
        async with serving(scp) as server, await _assoc(server) as assoc:
            client = PrintClient(assoc)
            await client.create_session()
            film = await client.create_film_box("STANDARD\\1,1")
            change = Dataset()
            change.BorderDensity = "WHITE"
            assert int((await n_set(assoc, FILM_BOX_CLASS, film.sop_instance_uid, change,
                                    meta_sop_class=GRAYSCALE_META)).status) == 0
            layout_change = Dataset()
            layout_change.ImageDisplayFormat = "STANDARD\\2,2"  # fixed at N-CREATE: not an N-SET attribute
            result = await n_set(assoc, FILM_BOX_CLASS, film.sop_instance_uid, layout_change,
                                 meta_sop_class=GRAYSCALE_META)
            assert int(result.status) == 0x0107
            await client.print_film(film)

    run(go())
    note = json.loads(next((tmp_path / "films").glob("*.json")).read_text())
    assert note["film"]["BorderDensity"] == "WHITE" and note["film"]["ImageDisplayFormat"] == "STANDARD\\1,1"


def _with(keyword: str, item: Dataset) -> Dataset:
    ds = Dataset()
    setattr(ds, keyword, [item])
    return ds


@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2", "1.2.840.10008.1.2.1.99"])
def test_print_data_sets_decode_in_their_contexts_syntax(syntax):
    """Group 2000H first in Explicit VR Little Endian reads like group 0020H in Big Endian: the context decides."""
    from dicomkit.io.writer import encode_dataset
    from dicomkit.services.wire import decode

    ds = Dataset()
    ds.NumberOfCopies = "2"
    ds.MediumType = "PAPER"
    back = decode(encode_dataset(ds, syntax), syntax)
    assert back.NumberOfCopies == 2 and back.MediumType == "PAPER"
    assert not back.read_corrections
