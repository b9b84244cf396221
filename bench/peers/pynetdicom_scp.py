#!/usr/bin/env python3
"""A pynetdicom Storage SCP writing one file per instance, as a peer for bench/store.py (not part of dicomkit).

Usage: python bench/peers/pynetdicom_scp.py PORT FOLDER
"""

from __future__ import annotations

import sys
from pathlib import Path

from pynetdicom import AE, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import Verification


def main() -> None:
    port, folder = int(sys.argv[1]), Path(sys.argv[2])

    def on_store(event: evt.Event) -> int:
        ds = event.dataset
        ds.file_meta = event.file_meta
        ds.save_as(folder / f"{ds.SOPInstanceUID}.dcm", enforce_file_format=True)
        return 0x0000

    ae = AE("PYNETDICOM")
    ae.supported_contexts = AllStoragePresentationContexts
    ae.add_supported_context(Verification)
    ae.start_server(("127.0.0.1", port), block=True, evt_handlers=[(evt.EVT_C_STORE, on_store)])


if __name__ == "__main__":
    main()
