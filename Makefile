# The two commands: `make demo` (the main job) and `make test`. Both bootstrap uv when it
# is missing and install the locked environment into .venv with `uv sync --locked`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(PYTHON) -m uv
endif
PY := $(VENV)/bin/python
# The companion notebooks 10 (MLflow, Hugging Face cards, OpenLineage) and 11 (data beyond
# memory on Dask) use these extras, so the main job and Binder install them.
DEMO_EXTRAS := --extra mlflow --extra hub --extra lineage --extra scale

.PHONY: demo test bench uv sync sync-dev lint clean

uv:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --user uv || $(PYTHON) -m pip install --quiet --break-system-packages uv || $(PYTHON) -m pip install --quiet uv

sync: uv
	$(UV) sync --locked --python $(PYTHON) $(DEMO_EXTRAS)

sync-dev: uv
	$(UV) sync --locked --python $(PYTHON) --extra dev

## make demo: run every companion notebook with papermill; HTML reports go to reports/
demo: sync
	$(PY) -m mlops_nb.cli demo --notebooks notebooks --out reports

## make test: the whole test suite (slow and browser tests included), then the team
## pass: the store, data, model, secure, drift and human tests on PostgreSQL + S3
test: sync-dev
	MLOPS_NB_TEST_STORE= $(PY) -m pytest --durations=20 $(PYTEST_ARGS)
	MLOPS_NB_TEST_STORE="$${MLOPS_NB_TEST_STORE:-postgresql}" $(PY) -m pytest \
	  tests/data tests/model tests/store tests/secure tests/drift tests/human \
	  -m 'not embedded_only and not browser' --durations=10

## make bench: side-by-side benchmarks, printed as a markdown table
bench: uv
	$(UV) sync --locked --python $(PYTHON) --extra dev --extra bench
	$(PY) -m benchmarks $(BENCH_ARGS)

lint: sync-dev
	$(PY) -m ruff check mlops_nb tests benchmarks
	$(PY) -m ruff format --check mlops_nb tests benchmarks

clean:
	rm -rf reports .pytest_cache
