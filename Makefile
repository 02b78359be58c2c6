# The two commands a newcomer runs: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo calc-demo test lint install clean browser

# The console's browser libraries (ECharts, htmx) from the npm registry into build/web, served by
# yibao itself at /console/vendor/: never committed, never loaded from a CDN.
WEB := build/web
WEB_STAMP := $(WEB)/.installed
WEB_PACKAGES := echarts@5.6.0 htmx.org@1.9.12

$(WEB_STAMP):
	mkdir -p $(WEB)
	npm install --prefix $(WEB) --no-audit --no-fund --loglevel=error $(WEB_PACKAGES)
	touch $(WEB_STAMP)

$(STAMP): pyproject.toml | $(WEB_STAMP)
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

## Debian's chromium (and a CJK font) for the browser tests, when it is missing; Playwright for Python
## drives it (a dev dependency; `playwright install` is never run: it would download browsers).
browser:
	@test -x /usr/bin/chromium || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-cjk; }

## The whole suite: lint, types, the layering contract and every test.
test: lint browser
	$(BIN)/pytest -q -n auto --dist loadfile

clean:
	rm -rf $(VENV) $(WEB) .pytest_cache .mypy_cache .ruff_cache .hypothesis
