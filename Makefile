# remission: the two commands are `make demo` and `make test` (see README.md).
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast lint typecheck bench examples clean

$(STAMP): requirements.txt pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "need $(PY) (Python 3.11) on PATH"; exit 2; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	# test data only (a real B-ALL MRD tube, MIT): fcsparser 0.2.8 pins numpy<2 but is never
	# imported by remission or its tests, so it is installed without its dependencies
	$(BIN)/python -m pip install --quiet --no-deps fcsparser==0.2.8
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

## install: the virtual environment with the package and all extras (.venv/bin/remission)
install: $(STAMP)

## demo: write the example cases, analyse them, reports under out/demo/<case>/report.html
demo: $(STAMP)
	$(BIN)/remission demo -o out/demo --examples examples
	@echo "Open the demo data in the web application (accounts are never created by default):"
	@echo "  $(BIN)/remission user add doctor --role clinician --db sqlite:///out/demo/remission.db"
	@echo "  $(BIN)/remission access grant doctor --all --db sqlite:///out/demo/remission.db"
	@echo "  $(BIN)/remission serve --db sqlite:///out/demo/remission.db --cases examples"
	@echo "  then open http://127.0.0.1:8000/ and log in as doctor"

examples: $(STAMP)
	$(BIN)/python -c "from remission.synth.examples import write_examples; print(*write_examples('examples'), sep='\n')"

## test: the whole suite (PostgreSQL and browser tiers set themselves up when run as root)
test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports
	bash scripts/test-tiers.sh
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS); rc=$$?; bash scripts/test-tiers.sh stop; exit $$rc

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 -m "not slow and not postgres and not browser and not r" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

## bench: speed/memory benchmarks (results go to BENCHMARKS.md by hand, with the command)
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache build dist
