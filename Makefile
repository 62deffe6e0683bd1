# Two commands do all the set-up on a fresh machine with python3 and pip:
#   make run   -> the end-to-end demo (creates .venv on first use)
#   make test  -> the whole test suite
# Other targets: make lint (ruff and mypy), make bench (benchmarks, run by hand).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-konsel

.PHONY: run test lint bench clean

# The stamp is rebuilt when pyproject.toml changes, so new dependencies get installed.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet --editable . --group test --group lint
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/konsel-chat demo

test: $(STAMP)
	$(BIN)/python -m pytest

# mypy sees the source folders under their installed names through a folder of links,
# because the editable install maps protocol/ to konsel.protocol with an import hook
# that mypy does not follow.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	rm -rf $(VENV)/mypy-path && mkdir -p $(VENV)/mypy-path/konsel
	for package in protocol relay client; do ln -s "$(CURDIR)/$$package" $(VENV)/mypy-path/konsel/$$package; done
	MYPYPATH=$(VENV)/mypy-path $(BIN)/mypy --config-file pyproject.toml \
		-p konsel.protocol -p konsel.relay -p konsel.client

bench: $(STAMP)
	$(BIN)/python bench/protocol.py
	$(BIN)/python bench/relay.py
	$(BIN)/python bench/client_store.py
	$(BIN)/python bench/tui.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
