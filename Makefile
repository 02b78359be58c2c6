# The two commands a newcomer runs: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo calc-demo test lint install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## The main job on the embedded default: a Guangzhou hospital settles through a running yibao server
## (SQLite file yibao-demo.db), the ledger is checked, and the server keeps serving on 127.0.0.1:8000.
demo: $(STAMP)
	$(BIN)/yibao demo

## The calculator alone: one inpatient claim, line by line, as JSON.
calc-demo: $(STAMP)
	$(BIN)/yibao calc \
	  --policy examples/guangzhou/employee-2021.toml \
	  --policy examples/guangzhou/employee-2022-12.toml \
	  --catalog examples/guangzhou/catalog.toml \
	  --claim examples/guangzhou/claim-inpatient.json

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports

## The whole suite: lint, types, the layering contract and every test.
test: lint
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
