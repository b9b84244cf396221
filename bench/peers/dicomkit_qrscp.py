#!/usr/bin/env python3
"""A dicomkit Query/Retrieve SCP over a folder (FolderSource): C-FIND, C-MOVE, C-GET and C-ECHO, for bench/qr.py.

Usage: dicomkit_qrscp.py PORT FOLDER [AE_TITLE] [DEST=HOST:PORT ...]
Prints "ready" once the folder is indexed and the port listens.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from dicomkit.net import ApplicationEntity
from dicomkit.services.aetable import AETable
from dicomkit.services.memory_source import FolderSource
from dicomkit.services.query_retrieve.find import FindSCP
from dicomkit.services.query_retrieve.get import GetSCP
from dicomkit.services.query_retrieve.move import MoveSCP
from dicomkit.services.verification import VerificationSCP


async def main() -> None:
    port, folder = int(sys.argv[1]), Path(sys.argv[2])
    title = sys.argv[3] if len(sys.argv) > 3 else "DKQR"
    source = FolderSource(folder)
    # dcmqrscp's choices (for the same answers): case-sensitive names, empty values match no key value
    choices = {"pn_case_insensitive": False, "unknown_values_match": False}
    ae = ApplicationEntity(title, max_ops_performed=4)
    for service in (VerificationSCP(), FindSCP(source, **choices),
                    MoveSCP(source, AETable.of(*sys.argv[4:]), **choices), GetSCP(source, **choices)):
        ae.add_service(service)
    server = await ae.start_server("127.0.0.1", port)
    print(f"ready {len(source)} instances", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
