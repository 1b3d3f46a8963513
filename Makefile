# Two commands for a fresh machine: `make run` and `make test` (and `make docs` for the site).
# All build .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint docs clean

$(STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,gp]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/ppl main

# Each test worker runs torch on one thread: the workers already share the cores (14% less CPU
# on the Pyro cmcd, snf and svi tests). XLA keeps its default code generation: at LLVM level 0
# the tests compile a quarter faster, but svi's chi2 fit diverges there and not at the default,
# so the tests would not test what users run.
TEST_ENV := OMP_NUM_THREADS=1

# the import contracts first (.importlinter: layers, the backend boundary, no cycles), then the tests
test: $(STAMP)
	$(BIN)/lint-imports
	$(TEST_ENV) $(BIN)/python -m pytest ppl tests -n auto --maxprocesses 4 --dist worksteal --durations 15

# the static site in site/: the tutorials executed (smoke mode unless DOCS_SMOKE=0, which runs
# them in full, minutes each) and rendered with their figures, and the API reference; tqdm's
# notice that the kernel has no ipywidgets is filtered out of the pages
DOCS_SMOKE ?= 1
DOCS_STAMP := $(VENV)/.docs-installed

$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,gp,docs]'
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	PPL_SMOKE=$(DOCS_SMOKE) NO_MKDOCS_2_WARNING=1 PYTHONWARNINGS='ignore:IProgress not found' \
		$(BIN)/mkdocs build

lint: $(STAMP)
	$(BIN)/ruff check ppl tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info site
