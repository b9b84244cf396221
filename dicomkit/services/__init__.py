"""PS3.4 service classes, as SCU operations and SCP handlers, independent of any archive.

``verification`` (Annex A, C-ECHO) and ``storage`` (Annex B, C-STORE)::

    from dicomkit.net import connect
    from dicomkit.services import echo, store

    async with connect("pacs", 104, called_ae_title="PACS", contexts=["CTImageStorage"]) as assoc:
        await echo(assoc)
        await store(assoc, "ct.dcm")
"""

from .storage import store, store_files
from .verification import echo

__all__ = ["echo", "store", "store_files"]
