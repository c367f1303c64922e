# Urban Signatures. The two commands: `make demo` (the main job) and `make test`.
# Both install what is missing first (QGIS from Debian's packages: needs root or sudo;
# the backend environment in .venv/backend), and are safe to re-run.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
QGIS_PYTHON ?= /usr/bin/python3
TORCH ?= auto
VENV := $(CURDIR)/.venv
BACKEND_VENV ?= $(VENV)/backend
BACKEND_PY := $(BACKEND_VENV)/bin/python
QGIS_VENV := $(VENV)/qgis
QGIS_PY := $(QGIS_VENV)/bin/python
OUT ?= $(CURDIR)/out
DIST ?= $(CURDIR)/dist
VERSION := $(shell sed -n 's/^version=//p' metadata.txt)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := qgis python3-qgis qgis-providers xvfb python3-venv python3-pip git

export URBANSIG_BACKEND_PYTHON ?= $(BACKEND_PY)
export QT_QPA_PLATFORM := offscreen
export XDG_RUNTIME_DIR := $(VENV)/xdg
QGIS_PROFILE := $(VENV)/qgis-profile
QGIS_PLUGINS := $(VENV)/plugins
QGIS_PROCESS = $$(command -v qgis_process.bin || command -v qgis_process)
QGIS_RUN = QGIS_CUSTOM_CONFIG_PATH=$(QGIS_PROFILE) QGIS_PLUGINPATH=$(QGIS_PLUGINS) $(QGIS_PROCESS)

.PHONY: help setup qgis backend qgis-venv plugin test test-backend test-quality test-badinput test-qgis test-gui screenshots lint demo package bench clean

help:
	@echo "make demo     run the main job on a generated demo city (writes $(OUT)); QUICK=1: tiny city"
	@echo "make test     run every test tier (backend, plugin in QGIS, qgis_process end to end, GUI)"
	@echo "make setup    install QGIS (Debian packages) and the backend environment"
	@echo "make screenshots  PNGs of every dialog and every result map with legend ($(OUT)/screenshots)"
	@echo "make package  build the plugin ZIP for the QGIS Plugin Manager in $(DIST)"
	@echo "make bench    run the benchmarks in bench/"
	@echo "Variables: TORCH=auto|cpu|cuda  BACKEND_VENV=$(BACKEND_VENV)"

setup: qgis backend qgis-venv plugin

qgis:
	@if command -v qgis_process.bin >/dev/null || command -v qgis_process >/dev/null; then \
	  if $(QGIS_PYTHON) -c 'import qgis.core, venv, ensurepip' 2>/dev/null; then exit 0; fi; fi; \
	  echo "== Installing QGIS from Debian's packages (needs root or sudo)"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q \
	    --no-install-recommends $(APT_PACKAGES)

backend: $(BACKEND_VENV)/.urbansig-ready

$(BACKEND_VENV)/.urbansig-ready: backend/requirements.txt backend/requirements-torch.txt backend/requirements-dev.txt
	@echo "== Backend environment in $(BACKEND_VENV)"
	$(PYTHON) -m plugin.backend_env setup --venv $(BACKEND_VENV) --torch $(TORCH)
	$(BACKEND_PY) -m pip install -q --disable-pip-version-check -r backend/requirements-dev.txt
	@touch $@

qgis-venv: $(QGIS_VENV)/.urbansig-ready

$(QGIS_VENV)/.urbansig-ready: tests/requirements-qgis.txt
	@echo "== Test environment over QGIS's Python in $(QGIS_VENV)"
	$(QGIS_PYTHON) -m venv --system-site-packages $(QGIS_VENV)
	$(QGIS_PY) -m pip install -q --disable-pip-version-check -r tests/requirements-qgis.txt
	@touch $@

plugin: $(QGIS_PROFILE)/.urbansig-enabled

$(QGIS_PROFILE)/.urbansig-enabled:
	@mkdir -p $(QGIS_PLUGINS) $(QGIS_PROFILE) && chmod 700 $(VENV) && mkdir -p -m 700 $(XDG_RUNTIME_DIR)
	@ln -sfn $(CURDIR) $(QGIS_PLUGINS)/urban_signatures
	$(QGIS_RUN) plugins enable urban_signatures >/dev/null
	@touch $@

lint: backend qgis-venv
	$(BACKEND_PY) -m ruff check .
	$(BACKEND_PY) -m ruff format --check .
	$(QGIS_PY) -m mypy plugin  # against QGIS 3.22's own stubs (pyproject.toml [tool.mypy])
	$(BACKEND_PY) -m mypy backend/urbansig  # against torch's and numpy's own types
	$(PYTHON) .ci/check_qt6.py  # Qt6: scoped enums, no exec_(), Qt only through qgis.PyQt

test-backend: backend
	$(BACKEND_PY) -m pytest tests/backend -rs

# Quality tier: each method against its simple baseline on the tiny city, fixed seeds.
test-quality: backend
	$(BACKEND_PY) -m pytest tests/quality -rs

# Bad-input tier: every algorithm, one corrupted parameter per case (tests/badinput/cases.py);
# killing and cancelling runs are in tests/e2e/test_interruptions.py, tests/plugin/test_cancel.py.
test-badinput: backend
	$(BACKEND_PY) -m pytest tests/badinput -rs

# pytest-qgis writes a settings folder into the rootdir: keep it out of the source tree.
test-qgis: setup
	$(QGIS_PY) -m pytest tests/plugin tests/e2e -rs -o qgis_gui_enabled=false \
	  --rootdir "$$(mktemp -d)" -c pyproject.toml

# GUI tier: the real dialogs, batch panel and Model Designer in a QGIS GUI session (Xvfb),
# in a throwaway profile.
GUI_PYTEST = env -u QT_QPA_PLATFORM QGIS_CUSTOM_CONFIG_PATH="$$(mktemp -d)" \
  xvfb-run -a -s "-screen 0 1400x900x24" $(QGIS_PY) -m pytest -rs -o qgis_gui_enabled=true \
  --rootdir "$$(mktemp -d)" -c pyproject.toml
test-gui: setup
	$(GUI_PYTEST) tests/gui

# PNGs of every dialog (help panel open) and of every result on a map with its legend, each
# checked as it is written (what was checked: $(OUT)/screenshots/CHECKED.txt).
screenshots: setup
	rm -rf $(OUT)/screenshots && mkdir -p $(OUT)/screenshots
	URBANSIG_SCREENSHOTS=$(OUT)/screenshots $(GUI_PYTEST) tests/gui/test_dialog_runs.py
	@echo "Screenshots in $(OUT)/screenshots; what each shows: $(OUT)/screenshots/CHECKED.txt"

test: setup lint test-backend test-quality test-badinput test-qgis test-gui

# The main job: every method on a freshly generated demo city, through qgis_process.
# QUICK=1: the tiny city (a few minutes).
demo: setup
	QGIS_CUSTOM_CONFIG_PATH=$(QGIS_PROFILE) QGIS_PLUGINPATH=$(QGIS_PLUGINS) \
	  $(QGIS_PY) -m plugin.demo_pipeline --out $(OUT) $(if $(QUICK),--quick,)

# The ZIP holds what is committed (HEAD), less the export-ignore paths in .gitattributes.
package:
	@for f in LICENSE CHANGELOG.md metadata.txt; do git cat-file -e HEAD:$$f 2>/dev/null || \
	  { echo "make package: $$f is not committed (the ZIP is built from HEAD)" >&2; exit 1; }; done
	@mkdir -p $(DIST)
	git archive --format=zip --prefix=urban_signatures/ -o $(DIST)/urban_signatures-$(VERSION).zip HEAD
	@echo "Plugin ZIP: $(DIST)/urban_signatures-$(VERSION).zip (Plugins > Install from ZIP)"

bench: backend
	@for script in bench/bench_*.py; do echo "== $$script"; PYTHONPATH=backend $(BACKEND_PY) $$script || exit 1; done

clean:
	rm -rf $(OUT) $(DIST) .pytest_cache .ruff_cache
