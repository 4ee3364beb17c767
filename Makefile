# opsreview — every target bootstraps .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PARAMS ?= params/demo.yaml
DEMO := outputs/demo-data

.PHONY: report test lint pytest notebooks lab bench demo clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (opsreview)" >/dev/null
	touch $(STAMP)

## Demo data for yesterday (regenerated only when missing or stale).
demo: $(STAMP)
	$(BIN)/opsreview demo --out $(DEMO) --if-stale
	@day=$$($(BIN)/python -c "import json;print(json.load(open('$(DEMO)/ground-truth.json'))['review_date'])"); \
	$(BIN)/opsreview pull --params $(PARAMS) --date $$day

## Run the whole suite on the demo data and print the report's path.
report: demo
	@day=$$($(BIN)/python -c "import json;print(json.load(open('$(DEMO)/ground-truth.json'))['review_date'])"); \
	$(BIN)/opsreview run --params $(PARAMS) --date $$day; code=$$?; \
	if [ $$code -gt 1 ]; then echo "opsreview run failed with exit code $$code"; exit $$code; fi; \
	echo "report: $(CURDIR)/outputs/$$day/index.html"

lint: $(STAMP)
	$(BIN)/ruff check lib tests
	$(BIN)/ruff format --check lib tests
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

## Execute every notebook in notebooks/ with the demo params (nbval, outputs not compared).
notebooks: demo
	$(BIN)/pytest --nbval-lax -p no:randomly notebooks/

## lint + type check + unit/integration tests + notebooks
test: lint demo
	$(BIN)/pytest tests notebooks --nbval-lax --ignore=tests/data

## JupyterLab on notebooks/ (the notebooks default to the demo params). As root (a container,
## a fresh VM) JupyterLab refuses to start unless told --allow-root. LAB_ARGS adds options,
## e.g. make lab LAB_ARGS="--no-browser --port=8890".
LAB_ARGS ?=
LAB_AS_ROOT = $(if $(filter 0,$(shell id -u)),--allow-root)
lab: demo
	$(BIN)/jupyter lab --notebook-dir=notebooks $(LAB_AS_ROOT) $(LAB_ARGS)

bench: $(STAMP)
	$(BIN)/python -m tests.bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
