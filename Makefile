# The README's commands. Everything installs itself: a venv with pinned dependencies
# (constraints.txt) and the test bed's binaries built from Go modules (cached in ~/.cache).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: test demo bench faults crds lint binaries venv lock clean

venv: $(STAMP)
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test,dev]'
	touch $@

binaries:
	tools/build-binaries

test: venv binaries
	$(BIN)/pytest $(PYTEST_ARGS)

demo: venv binaries
	$(BIN)/hwcloud-access demo

crds: venv
	$(BIN)/hwcloud-access crds --write deploy/crds

lint: venv
	$(BIN)/ruff check operator tests

lock: venv
	{ echo '# Pinned versions of every dependency (regenerate with `make lock`); installs use -c constraints.txt.'; \
	  $(BIN)/pip freeze --exclude-editable; } > constraints.txt

clean:
	rm -rf $(VENV) .demo .bench
