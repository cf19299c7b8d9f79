# make demo : set up (first call only), then run the main job on sample_data/
# make test : set up (first call only), then run every test
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test plugin bench system-deps-demo system-deps-test clean

$(STAMP): setup.cfg pyproject.toml
	bash scripts/system-deps.sh demo
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

system-deps-test:
	bash scripts/system-deps.sh test

demo: $(STAMP)
	$(BIN)/georaster-dl demo sample_data

test: $(STAMP) system-deps-test
	$(BIN)/python -m pytest -n 2 --dist loadfile --durations=15 tests

plugin:
	mkdir -p dist
	$(PYTHON) qgis_plugin/build_zip.py dist/georaster_dl_qgis.zip

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf dist build *.egg-info sample_data/out
