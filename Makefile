# Tianfu Chain — the two commands a new user types are `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run dev test test-slow lint bench clean

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

install: $(STAMP)

# ARGS go to the command: `make dev ARGS="--port 8711"`, `make run ARGS="--demo"`.
run: install
	$(VENV)/bin/tianfu up $(ARGS)

dev: install
	$(VENV)/bin/tianfu dev $(ARGS)

# Two workers, a test file per worker at a time (module fixtures start one network per
# file): the integration tests mostly wait for commits, so two halve the wall time. Files
# are handed out in collection order, longest first (tests/conftest.py), so that no long
# file starts last and runs alone. The schemathesis file runs on its own afterwards: its
# generated cases share one test id, which pytest-xdist cannot distribute.
SCHEMA_TESTS := tests/unit/test_api_schema.py
test: install
	$(PY) -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder --ignore=$(SCHEMA_TESTS)
	$(PY) -m pytest -q $(SCHEMA_TESTS)

test-slow: install
	$(PY) -m pytest -m slow

lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy src/tianfu

bench: install
	$(PY) benchmarks/single_node.py

clean:
	rm -rf $(VENV) .tianfu build *.egg-info src/*.egg-info
