# Two commands set everything up on a fresh Debian/Ubuntu machine:
#   make demo   installs the platform and serves the demo on the embedded database
#   make test   runs the whole test suite on SpatiaLite and on PostgreSQL/PostGIS

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
# PostGIS for the PostgreSQL major version that runs here (15 on the project's machines).
PG_MAJOR ?= $(shell ls /etc/postgresql 2>/dev/null | sort -n | tail -n 1)
PG_MAJOR := $(or $(PG_MAJOR),15)

RUNTIME_DEBS := libsqlite3-mod-spatialite
# wrk: the C load generator of the production-server benches (bench/redemption_throughput.py, public_search.py).
TEST_DEBS := postgresql-$(PG_MAJOR)-postgis-3 libzbar0 chromium redis-server wrk

.PHONY: demo test install install-test system-deps test-system-deps

demo: install
	$(BIN)/aptic demo --host $(HOST) --port $(PORT)

test: install-test
	$(BIN)/python -m pytest

install: system-deps $(VENV)/.installed

install-test: install test-system-deps $(VENV)/.installed-test

system-deps:
	@scripts/ensure-debian-packages $(RUNTIME_DEBS)

test-system-deps:
	@scripts/ensure-debian-packages $(TEST_DEBS)

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11 ou plus récent est requis." >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@
