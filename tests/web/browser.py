"""Headless Debian Chromium driven by Playwright (never a browser Playwright downloads), and OHIF's build."""

from __future__ import annotations

import functools
import glob
import http.server
import os
import shutil
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
OHIF_CACHE = "/tmp/dicomkit-ohif"  # where .ci/run puts `npm pack @ohif/app`


def require_chromium() -> Any:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (.ci/run installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright (the dev extra) is not installed")
    return sync_playwright


@contextmanager
def browser() -> Iterator[Any]:
    sync_playwright = require_chromium()
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def ohif_dist(work: Path) -> Path:
    """The dist/ of the npm package @ohif/app: DICOMKIT_OHIF_DIST, or the tarball `npm pack` left in
    DICOMKIT_OHIF_TGZ or /tmp/dicomkit-ohif; skipped, saying why, when there is neither."""
    dist = os.environ.get("DICOMKIT_OHIF_DIST")
    if dist and (Path(dist) / "index.html").exists():
        return Path(dist)
    tgz = os.environ.get("DICOMKIT_OHIF_TGZ") or next(iter(sorted(glob.glob(f"{OHIF_CACHE}/ohif-app-*.tgz"))), None)
    if not tgz or not Path(tgz).exists():
        pytest.skip(f"OHIF's build is not here: `npm pack @ohif/app --pack-destination {OHIF_CACHE}` "
                    "(.ci/run does it) or set DICOMKIT_OHIF_DIST")
    target = work / "ohif"
    with tarfile.open(tgz) as tar:
        tar.extractall(target, filter="data")
    return target / "package" / "dist"


class _SPA(http.server.SimpleHTTPRequestHandler):
    """Static files, index.html for the routes of a single-page app."""

    def send_head(self) -> Any:
        path = Path(self.translate_path(self.path))
        if not path.exists():
            self.path = "/index.html"
        return super().send_head()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_folder(folder: Path) -> Iterator[int]:
    handler = functools.partial(_SPA, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def ohif_config(dicomweb: str, wado_uri: str) -> str:
    return f"""window.config = {{
  routerBasename: '/',
  extensions: [],
  modes: [],
  showStudyList: true,
  maxNumberOfWebWorkers: 2,
  showWarningMessageForCrossOrigin: false,
  showCPUFallbackMessage: false,
  defaultDataSourceName: 'dicomkit',
  dataSources: [{{
    namespace: '@ohif/extension-default.dataSourcesModule.dicomweb',
    sourceName: 'dicomkit',
    configuration: {{
      friendlyName: 'dicomkit serve',
      name: 'dicomkit',
      wadoUriRoot: '{wado_uri}',
      qidoRoot: '{dicomweb}',
      wadoRoot: '{dicomweb}',
      qidoSupportsIncludeField: true,
      imageRendering: 'wadors',
      thumbnailRendering: 'wadors',
      enableStudyLazyLoad: true,
      supportsFuzzyMatching: true,
      supportsWildcard: true,
      omitQuotationForMultipartRequest: true,
    }},
  }}],
}};
"""


def prepare_ohif(dist: Path, dicomweb: str, wado_uri: str) -> Path:
    (dist / "app-config.js").write_text(ohif_config(dicomweb, wado_uri))
    return dist


__all__ = ["ARGS", "CHROMIUM", "browser", "ohif_dist", "prepare_ohif", "require_chromium", "serve_folder",
           "shutil"]
