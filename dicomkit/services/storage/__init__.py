"""Storage Service Class (PS3.4 Annex B): C-STORE as SCU and SCP.

- ``source``: what an SCU sends — a file probed and checked, the accepted context chosen for it;
- ``scu``: :func:`store` (one object) and :func:`store_files` (a batch, over as many associations as it takes);
- ``scp``: :class:`StorageSCP`, the target protocol it streams into, and the check of what arrived;
- ``files``: a folder of Part 10 files as the SCP's target (``dicomkit receive``), with the duplicates policy;
- ``status``: the Storage statuses.
"""

from typing import TYPE_CHECKING

from ...core.lazy import lazy_attributes

if TYPE_CHECKING:
    from .files import (
        DUPLICATE_POLICIES,
        DirectoryReceiver,
        Duplicates,
        FileStoreTarget,
        safe_filename,
        sweep_temp_files,
    )
    from .scp import (
        StorageSCP,
        StoredInstance,
        StoreOutcome,
        StoreRefused,
        StoreTarget,
        check_received,
        storage_sop_classes,
        storage_transfer_syntaxes,
    )
    from .scu import FileInfo, StoreResult, StoreSummary, find_files, peek, storage_contexts, store, store_files
    from .source import StoreSource, choose_context
    from .status import STORAGE

# name -> module, imported on first use: the receiver of ``dicomkit get`` (files, scp) starts without the
# sending side (scu, source) and the other way round
_LAZY = {
    **dict.fromkeys(("DUPLICATE_POLICIES", "DirectoryReceiver", "Duplicates", "FileStoreTarget", "safe_filename",
                     "sweep_temp_files"), "files"),
    **dict.fromkeys(("StorageSCP", "StoredInstance", "StoreOutcome", "StoreRefused", "StoreTarget", "check_received",
                     "storage_sop_classes", "storage_transfer_syntaxes"), "scp"),
    **dict.fromkeys(("FileInfo", "StoreResult", "StoreSummary", "find_files", "peek", "storage_contexts", "store",
                     "store_files"), "scu"),
    "StoreSource": "source", "choose_context": "source", "STORAGE": "status",
}


__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = [
    "DUPLICATE_POLICIES",
    "STORAGE",
    "DirectoryReceiver",
    "Duplicates",
    "FileInfo",
    "FileStoreTarget",
    "StorageSCP",
    "StoreOutcome",
    "StoreRefused",
    "StoreResult",
    "StoreSource",
    "StoreSummary",
    "StoreTarget",
    "StoredInstance",
    "check_received",
    "choose_context",
    "find_files",
    "peek",
    "safe_filename",
    "storage_contexts",
    "storage_sop_classes",
    "storage_transfer_syntaxes",
    "store",
    "store_files",
    "sweep_temp_files",
]
