# Two commands set everything up on a fresh machine: `make serve` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv test serve lint typecheck bench generate clean viewer

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,server,security]'
	@# pynetdicom is a test oracle; its console scripts (storescu, findscu, ...) would shadow DCMTK's tools
	@# of the same names for anyone with the venv active, so they are removed from the venv.
	$(BIN)/python tools/remove_oracle_scripts.py
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check dicomkit tests bench tools examples
	$(BIN)/mypy
	$(BIN)/mypy examples

# The PACS on the embedded default: ./dicomkit-data, SQLite, DIMSE 11112 (AE DICOMKIT), HTTP 8042 (loopback).
serve: $(STAMP)
	$(BIN)/dicomkit serve

bench: $(STAMP)
	$(BIN)/python bench/parse.py
	$(BIN)/python bench/pixels.py
	$(BIN)/python bench/json_convert.py
	$(BIN)/python bench/store.py
	$(BIN)/python bench/anonymize.py
	$(BIN)/python bench/validate.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/web.py

# Regenerate the shipped dictionary and UID registry from ../shared/standard.
generate:
	$(PYTHON) tools/generate_standard.py
	$(PYTHON) tools/generate_qr_levels.py
	$(PYTHON) tools/generate_deid.py
	$(PYTHON) tools/generate_iods.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache

# The web viewer (dicomkit/web/viewer, shipped in the package): bundled from viewer/src with esbuild (npm).
# The built files are committed, so pip installs need no Node; this rebuilds them from the sources.
VIEWER_OUT := dicomkit/web/viewer
viewer:
	cd viewer && npm ci --no-audit --no-fund && npm run build
	cp viewer/src/index.html viewer/src/style.css $(VIEWER_OUT)/
