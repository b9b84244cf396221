"""PS3.4 service classes, as SCU operations and SCP handlers, independent of any archive.

``verification`` (Annex A, C-ECHO) and ``storage`` (Annex B, C-STORE)::

    from dicomkit.net import connect
    from dicomkit.services import echo, store

    async with connect("pacs", 104, called_ae_title="PACS", contexts=["CTImageStorage"]) as assoc:
        await echo(assoc)
        await store(assoc, "ct.dcm")

Query/Retrieve (Annex C: ``query_retrieve`` — models, plans, matching, ``find``, ``move``, ``get``), Modality
Worklist (Annex K: ``worklist``), MPPS (Annex F: ``mpps``), Storage Commitment (Annex J: ``commitment``), the
DIMSE-N operations (``dimse_n``), the data source protocols the SCPs take (``sources``, ``memory_source``), the
AE table (``aetable``) and the registry of SOP Classes (``registry``). ``find``, ``move``, ``get``,
``worklist`` and the SCP classes are importable from here too (loaded on first use). See docs/services.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.lazy import lazy_attributes

if TYPE_CHECKING:
    from .storage import store, store_files
    from .verification import echo

# name -> module, imported on first use (``dicomkit store`` never loads the Query/Retrieve code, nor ``dicomkit
# find`` the storage SCU)
_BASIC = {"store": "storage", "store_files": "storage", "echo": "verification"}
_LAZY = {
    "find": "query_retrieve.find", "find_all": "query_retrieve.find", "FindSCP": "query_retrieve.find",
    "move": "query_retrieve.move", "MoveSCP": "query_retrieve.move",
    "get": "query_retrieve.get", "get_on": "query_retrieve.get", "GetSCP": "query_retrieve.get",
    "worklist": "worklist", "WorklistSCP": "worklist",
    "MppsSCP": "mpps", "CommitmentSCP": "commitment", "request_commitment": "commitment",
    "AETable": "aetable", "RemoteAE": "aetable", "REGISTRY": "registry",
}


__getattr__ = lazy_attributes(__name__, {**_BASIC, **_LAZY})


__all__ = ["echo", "store", "store_files", *_LAZY]
