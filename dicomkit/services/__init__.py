"""PS3.4 service classes, as SCU operations and SCP handlers, independent of any archive.

``verification`` (Annex A, C-ECHO) and ``storage`` (Annex B, C-STORE)::

    from dicomkit.net import connect
    from dicomkit.services import echo, store

    async with connect("pacs", 104, called_ae_title="PACS", contexts=["CTImageStorage"]) as assoc:
        await echo(assoc)
        await store(assoc, "ct.dcm")

The building blocks of the other classes: ``query_retrieve`` (Annex C: models, query plans, matching; shared
with Annex K worklists), ``sources`` (the data source protocols the SCPs take), ``memory_source`` (sources in
memory and over a folder), ``mpps`` (Annex F state rules) and ``commitment`` (Annex J data sets). See
docs/services.md.
"""

from .storage import store, store_files
from .verification import echo

__all__ = ["echo", "store", "store_files"]
