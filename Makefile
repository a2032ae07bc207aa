# cvpipeline: `make run` sets up and runs the whole pipeline; `make test` sets up and tests.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export DAGSTER_HOME ?= $(CURDIR)/data/dagster_home

.PHONY: setup run ui test lint format sample bench bench-national bench-ui screenshot clean

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) introuvable : installez Python 3.11 ou lancez make PYTHON=python3"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

$(DAGSTER_HOME)/dagster.yaml: | $(STAMP)
	$(PY) -c 'from pathlib import Path; from cvpipeline.cli import ensure_dagster_home; ensure_dagster_home(Path("data"))'

run: setup $(DAGSTER_HOME)/dagster.yaml
	$(PY) -m cvpipeline run

ui: setup $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

test: setup
	$(PY) -m pytest -q -n auto --dist loadfile

lint: setup
	$(VENV)/bin/ruff check cvpipeline cvpipeline_tests benchmarks
	$(VENV)/bin/ruff format --check cvpipeline cvpipeline_tests benchmarks

format: setup
	$(VENV)/bin/ruff format cvpipeline cvpipeline_tests
	$(VENV)/bin/ruff check --fix cvpipeline cvpipeline_tests

sample: setup
	$(PY) -m cvpipeline.sample --out data

screenshot: setup
	CVPIPELINE_UPDATE_SCREENSHOT=1 $(PY) -m pytest -q cvpipeline_tests/test_browser.py

# Sizes and PostgreSQL rows are options: make bench BENCH_ARGS="--sizes 100000 --postgres 200000"
BENCH_ARGS ?= --sizes 250000,500000,1000000 --postgres 1000000
bench: setup
	$(PY) benchmarks/pipeline_benchmark.py $(BENCH_ARGS)
	$(PY) benchmarks/metrics_benchmark.py
	$(PY) benchmarks/national_benchmark.py $(NATIONAL_ARGS)

# Many contracts on PostgreSQL (also the end of `make bench`): 10, 20 and 40 contracts, each refreshed
# as a Dagster backfill (python -m cvpipeline backfill, run by dagster-daemon on a PostgreSQL instance,
# at most 2 runs at once), workbooks and notes included; then one changed file, its sensor's run timed.
# The national case, 433 contracts and 1 000 000 participations (about 10 minutes or more):
#   make bench-national NATIONAL_ARGS="--only-full --no-data-docs"
# The in-process way (python -m cvpipeline run), for comparison:
#   make bench-national NATIONAL_ARGS="--mode cli --only-full --parallel 2 --no-data-docs --no-documents"
NATIONAL_ARGS ?= --base 10 --factors 1,2,4 --no-data-docs
bench-national: setup
	$(PY) benchmarks/national_benchmark.py $(NATIONAL_ARGS)

# Materialize all for one contract from the UI (dagster dev + headless Chromium) against the command line:
# make bench-ui UI_BENCH_ARGS="--repeat 3 --contract CV262"
UI_BENCH_ARGS ?=
bench-ui: setup
	$(PY) benchmarks/ui_benchmark.py $(UI_BENCH_ARGS)

clean:
	rm -rf data/warehouse data/archive data/dagster_home data/reports
