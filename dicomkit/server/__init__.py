"""The dicomkit PACS: an archive (blob store + SQL index) behind DIMSE and HTTP, as a library first.

- :mod:`.config` — the configuration tree (TOML + flags);
- :mod:`.blobs` — the blob store interface and the folder store;
- :mod:`.index` — the SQL index (SQLite or PostgreSQL), its schema, migrations and group commit;
- :mod:`.ingest` — the archive and the Storage SCP's target on it (the consistency promise);
- :mod:`.sweep` — the start-up sweep and ``archive verify``;
- :mod:`.operator` — stats, import, reindex, delete (``dicomkit archive``);
- :mod:`.app` — :class:`Server` (in-process) and ``dicomkit serve``; :mod:`.http` — health and metrics.

>>> from dicomkit.server import Server
>>> with Server(data_dir="/tmp/pacs", dicom_port=0, http_port=0) as pacs:
...     pacs.port, pacs.ae_title, pacs.index.count("instance")
"""

from .app import Pacs, Server, serve
from .config import Config, ConfigError, load_config
from .index import Index
from .ingest import Archive

__all__ = ["Archive", "Config", "ConfigError", "Index", "Pacs", "Server", "load_config", "serve"]
