# Two commands for a fresh machine: `make run` and `make test`. Both build .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint clean

$(STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,gp]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/ppl main

# the import contracts first (.importlinter: layers, the backend boundary, no cycles), then the tests
test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/python -m pytest ppl tests -n auto --maxprocesses 4 --durations 15

lint: $(STAMP)
	$(BIN)/ruff check ppl tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info
