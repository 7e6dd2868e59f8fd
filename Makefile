# The two commands of the README: `make demo` and `make test`.
# Both create .venv on first use; re-running skips the install unless pyproject.toml changed.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: setup demo test lint bench

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/tinyssl demo

test: $(STAMP)
	$(VENV)/bin/ruff check tinyssl tests scripts
	$(VENV)/bin/pytest -q

bench: $(STAMP)
	$(PY) scripts/bench_all.py
