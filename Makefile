# Two entry points: `make demo` and `make test` (see README.md). Both install into .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 2

.PHONY: install demo test lint bench clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

install: $(STAMP)

demo: install
	$(BIN)/snakemake --configfile config/demo.yaml --cores $(CORES)
	$(BIN)/snakemake --configfile config/demo.yaml --report results/report.html

lint: install
	$(BIN)/ruff check src tests workflow bench
	$(BIN)/snakefmt --check Snakefile workflow
	$(BIN)/snakemake --configfile config/demo.yaml --lint

test: lint
	@sh tests/tools/ensure_chromium.sh || echo "Chromium unavailable: the report-rendering tests will skip"
	$(BIN)/pytest

bench: install
	@mkdir -p bench/results
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done
	@echo "results in bench/results/"

clean:
	rm -rf results resources/demo .snakemake
