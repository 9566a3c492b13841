# Two commands for a newcomer: `make install`, then `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install test plan docs bench clean

install:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt

# The README's test command: the whole suite, which includes planning every stack in stacks/.
test:
	$(PY) -m pytest

plan:
	$(PY) -m lfh plan --all --quiet

docs:
	$(PY) -m lfh config-docs > docs/configuration.md

clean:
	rm -rf build .pytest_cache
