"""The Conformance Statement: generated from the code, equal to what the running server negotiates, and
docs/conformance.md kept current."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from dicomkit.server import Server
from dicomkit.server.config import load_config
from dicomkit.server.conformance import IHE, _pacs_ae, statement, to_html, to_markdown

from ..cli.runner import dicomkit
from ..conftest import ROOT


def test_docs_conformance_md_is_the_generated_statement():
    expected = to_markdown(statement())
    current = (ROOT / "docs" / "conformance.md").read_text()
    assert current == expected, "docs/conformance.md is stale: run `dicomkit conformance -o docs/conformance.md`"


def test_the_statement_lists_what_the_running_server_accepts(tmp_path: Path):
    described = {(c.abstract_syntax, tuple(c.transfer_syntaxes), c.scu_role, c.scp_role)
                 for c in _pacs_ae(load_config(None)).contexts}
    with Server(data_dir=tmp_path / "data", dicom_port=0, http=False) as server:
        assert server.pacs.dimse is not None
        running = {(c.abstract_syntax, tuple(c.transfer_syntaxes), c.scu_role, c.scp_role)
                   for c in server.pacs.dimse.ae.supported_contexts()}
    assert described == running
    assert len(described) > 200  # every storage class, Q/R, worklist, MPPS, commitment, verification


def test_every_ihe_transaction_names_a_test_that_exists():
    for _, _, transaction, node in IHE:
        path, _, name = node.partition("::")
        source = (ROOT / path).read_text()
        assert re.search(rf"^def {re.escape(name)}\(", source, re.M), f"{transaction}: {node} does not exist"


def test_configuration_shows_and_html_is_well_formed(tmp_path: Path):
    config = tmp_path / "dicomkit.toml"
    config.write_text('[dicom]\nae_title = "ARCHIVE7"\nport = 4104\naccess = "known"\n'
                      '[remotes.CT1]\nhost = "ct1.example"\nport = 104\n')
    result = dicomkit("conformance", "--config", config)
    assert result.code == 0, result.err
    assert "#### 3.2.1 ARCHIVE7 (`dicomkit serve`)" in result.out
    assert "| Port (`dicom.port`) | 4104 |" in result.out and "CT1@ct1.example:104" in result.out
    assert "| Basic Grayscale Print Management Meta SOP Class | 1.2.840.10008.5.1.1.9 | TS-1 | SCP | No |" in result.out
    out = tmp_path / "conformance.html"
    assert dicomkit("conformance", "--config", config, "-o", out).code == 0
    text = out.read_text()
    assert text == to_html(statement(load_config(config)))

    class Checker(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.open: list[str] = []
            self.tables = 0

        def handle_starttag(self, tag, attrs):
            if tag not in ("meta", "br", "!doctype"):
                self.open.append(tag)
            self.tables += tag == "table"

        def handle_endtag(self, tag):
            assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:]}"
            self.open.pop()

    checker = Checker()
    checker.feed(text)
    assert checker.open == [] and checker.tables > 10
    bad = dicomkit("conformance", "--config", tmp_path / "missing.toml")
    assert bad.code == 1 and bad.err.startswith("dicomkit conformance: ")
