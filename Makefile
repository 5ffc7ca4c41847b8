# The README's commands. Everything installs itself: a venv with the operator and the emulator
# (emulator/, a distribution of its own) on pinned dependencies (constraints.txt), and the test
# bed's binaries built from Go modules (cached in ~/.cache).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: test demo bench faults crds lint binaries venv lock clean

venv: $(STAMP)
$(STAMP): pyproject.toml emulator/pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test,dev]' -e ./emulator
	touch $@

binaries:
	tools/build-binaries

test: venv binaries
	$(BIN)/pytest $(PYTEST_ARGS)

demo: venv binaries
	$(BIN)/hwcloud-access demo

# The benchmark (docs/benchmark.md): one VPN server and several at once (BENCH_SCENARIOS);
# BENCH_N, BENCH_SIZES, BENCH_SERVERS, BENCH_USERS_PER_SERVER, ... on the command line,
# e.g. `make bench BENCH_SCENARIOS=one BENCH_N=200`.
bench: venv binaries
	$(BIN)/python tools/bench/bench.py

# The long fault suite (1,000 objects); `make test` runs it at 60.
faults: venv binaries
	HWCLOUD_FAULTS_N=$${HWCLOUD_FAULTS_N:-1000} $(BIN)/pytest tests/faults $(PYTEST_ARGS)

crds: venv
	$(BIN)/hwcloud-access crds --write deploy/crds --write deploy/helm/hwcloud-access-operator/crds

# ruff, and the import contracts of pyproject.toml ([tool.importlinter]).
lint: venv
	$(BIN)/ruff check operator emulator tests tools
	$(BIN)/lint-imports --no-logo --no-cache

lock: venv
	{ echo '# Pinned versions of every dependency (regenerate with `make lock`); installs use -c constraints.txt.'; \
	  $(BIN)/pip freeze --exclude-editable; } > constraints.txt

clean:
	rm -rf $(VENV) .demo .bench
