# uvmos: `make demo` and `make test` do all set-up on a fresh machine (idempotent).
PYTHON ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.uvmos-installed
PYTEST_ARGS ?=

.PHONY: all install lint format test test-slow demo clean-venv

all: test

$(VPY):
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade "pip>=23" wheel

$(STAMP): $(VPY) pyproject.toml setup.py tools/install_deps.sh
	bash tools/install_deps.sh $(VPY)
	$(VPY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(VPY) -m ruff check .
	$(VPY) -m ruff format --check .

format: $(STAMP)
	$(VPY) -m ruff check --fix .
	$(VPY) -m ruff format .

test: $(STAMP)
	$(VPY) -m pytest -q $(PYTEST_ARGS) tests

test-slow: $(STAMP)
	$(VPY) -m pytest -q -m slow --run-slow $(PYTEST_ARGS) tests

demo: $(STAMP)
	$(VPY) tools/make_demo.py

clean-venv:
	rm -rf $(VENV)
