# The portal's everyday commands. Two are all a newcomer needs:
#   make run     install, migrate, seed the demo, serve on http://127.0.0.1:$(PORT)
#   make test    install the test tools and run the whole suite
# Every step is a file target with a stamp, so a second run skips what has not changed.

SHELL := /bin/bash
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
PYTEST_ARGS ?=
export PORT
export PIP_DISABLE_PIP_VERSION_CHECK := 1

RUNTIME_STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
NODE_STAMP := node_modules/.package-lock.json
VENDOR := static/vendor/htmx.min.js static/vendor/socket.io.min.js
PO := $(wildcard translations/*/LC_MESSAGES/messages.po)
MO := $(PO:.po=.mo)
FLASK := $(BIN)/flask --app wsgi

.PHONY: help install install-test vendor compile-translations migrate seed run test test-fast e2e \
        system-deps bench lint translations lock clean

help:
	@echo "make run           install, migrate, seed demo data, serve on http://127.0.0.1:$(PORT)"
	@echo "make test          install test tools (and system packages as root), run all tests"
	@echo "make test-fast     the edit-test loop: all tests but browser and media ones"
	@echo "make install       Python venv ($(VENV)), npm ci, static/vendor/, compiled translations"
	@echo "make migrate       flask --app wsgi db upgrade"
	@echo "make seed          flask --app wsgi seed-demo"
	@echo "make e2e           browser tests only (pytest -m browser)"
	@echo "make bench         run every bench/*.py but _*.py helpers (each prints JSON)"
	@echo "make lint          ruff check . and mypy portal video"
	@echo "make translations  extract messages and update the .po catalogues"
	@echo "make lock          regenerate constraints.txt in a fresh venv"

# --- installation ---------------------------------------------------------------------

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e .
	touch $@

# The test extra is a superset of the runtime install, so it refreshes both stamps.
$(TEST_STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	touch $@ $(RUNTIME_STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(VENDOR) &: $(NODE_STAMP) scripts/copy-vendor.sh
	scripts/copy-vendor.sh

vendor: $(VENDOR)

translations/%/LC_MESSAGES/messages.mo: translations/%/LC_MESSAGES/messages.po | $(RUNTIME_STAMP)
	$(BIN)/pybabel compile -d translations -l $*

compile-translations: $(MO)

install: $(RUNTIME_STAMP) vendor compile-translations

install-test: $(TEST_STAMP) vendor compile-translations

# --- running --------------------------------------------------------------------------

migrate: | $(RUNTIME_STAMP)
	$(FLASK) db upgrade

seed: | $(RUNTIME_STAMP)
	$(FLASK) seed-demo

# One gunicorn worker with threads (Flask-SocketIO threading mode); the outbox worker
# runs as a thread inside it (gunicorn.conf.py). The data stays in PORTAL_DATA_DIR
# (./instance by default), so a second `make run` keeps it.
run: install
	$(FLASK) db upgrade
	$(FLASK) seed-demo
	@echo
	@echo "Serving http://127.0.0.1:$(PORT) -- log in with a demo account above (password: demo)."
	@echo "Ctrl-C stops; the data stays in $${PORTAL_DATA_DIR:-instance}/."
	exec $(BIN)/gunicorn -c gunicorn.conf.py 'wsgi:create_app()'

# --- tests and checks -----------------------------------------------------------------

# As root, installs missing system packages (browser, CJK fonts, ffmpeg); otherwise says
# which tests will be skipped.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	{ fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || dpkg -s fonts-noto-cjk >/dev/null 2>&1; } \
	  || missing="$$missing fonts-noto-cjk"; \
	command -v ffmpeg >/dev/null 2>&1 || missing="$$missing ffmpeg"; \
	command -v pdftoppm >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	command -v janus >/dev/null 2>&1 || missing="$$missing janus"; \
	command -v janus-pp-rec >/dev/null 2>&1 || missing="$$missing janus-tools"; \
	command -v turnserver >/dev/null 2>&1 || missing="$$missing coturn"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" -eq 0 ]; then \
	  echo "make test: installing missing system packages:$$missing"; \
	  scripts/install-system-deps; \
	else \
	  echo "make test: missing system packages:$$missing -- browser and media tests will be" \
	       "skipped. Install them as root with: sudo scripts/install-system-deps"; \
	fi

# pytest's exit code 5 (no tests collected) is a failure here too, with a line saying so.
test: install-test system-deps
	@rc=0; $(BIN)/python -m pytest -ra $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests; that is a failure"; fi; \
	exit $$rc

# The edit-test loop: everything but the tests that drive Chromium (browser) or send real
# audio and video (media: aiortc, Janus, coturn, recordings); `make test` still runs them.
test-fast: install-test
	@rc=0; $(BIN)/python -m pytest -ra -m "not browser and not media" $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test-fast: pytest collected no tests; that is a failure"; fi; \
	exit $$rc

e2e: install-test system-deps
	@rc=0; $(BIN)/python -m pytest -ra -m browser $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make e2e: no browser tests collected; that is a failure"; fi; \
	exit $$rc

bench: install-test
	@shopt -s nullglob; files=(bench/[!_]*.py); \
	if [ $${#files[@]} -eq 0 ]; then echo "make bench: no bench/*.py yet"; exit 0; fi; \
	for f in "$${files[@]}"; do echo "== $$f"; $(BIN)/python "$$f" || exit $$?; done

lint: | $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy portal video

# --- translations ---------------------------------------------------------------------

# Extract every _() / _l() / lazy_gettext() from Python and templates, then merge into
# each catalogue (translations/<locale>/LC_MESSAGES/messages.po). `make install` compiles.
# A new language: .venv/bin/pybabel init -i translations/messages.pot -d translations -l XX
translations: | $(RUNTIME_STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --sort-by-file \
	  --project portal --version 0.1 -w 100 -o translations/messages.pot .
	$(BIN)/pybabel update -w 100 -i translations/messages.pot -d translations
	$(BIN)/pybabel compile -d translations --statistics

# --- the Python lock ------------------------------------------------------------------

# Resolve pyproject.toml's dependencies (with the test extra) in a fresh venv and pin them.
lock:
	@set -euo pipefail; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/pip" install -q -e '.[test]'; \
	{ echo "# Pinned versions of every Python dependency, with the [test] extra."; \
	  echo "# Made by \`make lock\` (fresh venv, pip install -e '.[test]', pip freeze)."; \
	  echo "# Used as: pip install -c constraints.txt -e .   (or -e '.[test]')"; \
	  "$$tmp/venv/bin/pip" freeze --exclude-editable; } > constraints.txt.new; \
	mv constraints.txt.new constraints.txt; \
	echo "constraints.txt: $$(grep -vc '^#' constraints.txt) pinned packages"

clean:
	rm -rf $(VENV) node_modules $(VENDOR) static/vendor/*.map $(MO)
