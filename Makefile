# The two commands of the README: `make demo` and `make test`.
# Both create .venv on first use; re-running skips the install unless pyproject.toml changed.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: setup demo test lint bench browser

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/tinyssl demo

# The labelling page's test drives a real headless Chromium: Debian's packages, installed
# once (a no-op when chromedriver is on PATH already).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromedriver >/dev/null || { $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq chromium chromium-driver; }

test: $(STAMP) browser
	$(VENV)/bin/ruff check tinyssl tests scripts
	$(VENV)/bin/pytest -q

bench: $(STAMP)
	$(PY) scripts/bench_all.py
