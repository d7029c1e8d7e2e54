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

run: install
	$(VENV)/bin/tianfu up

dev: install
	$(VENV)/bin/tianfu dev

test: install
	$(PY) -m pytest -q

test-slow: install
	$(PY) -m pytest -m slow

lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy src/tianfu

bench: install
	$(PY) benchmarks/single_node.py

clean:
	rm -rf $(VENV) .tianfu build *.egg-info src/*.egg-info
