"""Print Management (PS3.4 Annex H): the Basic Grayscale and Basic Color Print Management Meta SOP Classes
(Basic Film Session, Basic Film Box, Basic Grayscale / Color Image Box, Printer) and the Presentation LUT SOP
Class, as SCU and SCP on the DIMSE-N services.

- :mod:`.model`: the SOP Classes, statuses, attribute tables and the layout of a film (Image Display Format);
- :mod:`.scp`: :class:`PrintSCP`, a printer that hands each printed film to a spooler;
- :mod:`.spool`: :class:`FolderSpooler`, films as PNG and PDF files in a folder (``dicomkit print-scp``);
- :mod:`.scu`: :class:`PrintClient` and :func:`print_images` (``dicomkit print``), :class:`PrinterEvents`.

See docs/print.md.
"""

from __future__ import annotations

from .model import COLOR_META, GRAYSCALE_META, PRESENTATION_LUT_CLASS, PrintError, layout
from .scp import Defaults, PrintedFilm, PrinterInfo, PrintSCP
from .scu import PrintClient, PrinterEvents, PrintReport, image_item, print_contexts, print_images, print_items
from .spool import FolderSpooler

__all__ = ["COLOR_META", "GRAYSCALE_META", "PRESENTATION_LUT_CLASS", "Defaults", "FolderSpooler", "PrintClient",
           "PrintError", "PrintReport", "PrintSCP", "PrintedFilm", "PrinterEvents", "PrinterInfo", "image_item",
           "layout", "print_contexts", "print_images", "print_items"]
