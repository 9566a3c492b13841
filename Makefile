# Two commands for a newcomer: `make install`, then `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install test lint plan docs bench clean scan scan-venv

install:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt
	# Bytecode for our own modules too (pip compiles the dependencies): a plan starts faster.
	$(PY) -m compileall -q lfh components policy

# The README's test command: lint (ruff, configured in pyproject.toml), then the whole suite, which
# includes planning every stack in stacks/.
test:
	$(PY) -m ruff check .
	$(PY) -m pytest

lint:
	$(PY) -m ruff check .

plan:
	$(PY) -m lfh plan --all --quiet

# Regenerate every generated doc (configuration, policies, hipaa); `make test` fails when one is stale.
docs:
	$(PY) -m lfh docs

# Planning speed at 1/10/50 client stacks; writes docs/performance.md (< 5 min).
bench:
	$(PY) benchmarks/plan_bench.py

# Independent scan of the recorded cloud resources (checkov, pinned, in its own virtualenv); not part of `make test`.
SCAN_VENV ?= .scan-venv
scan-venv:
	$(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/pip install --quiet -r tools/scan-requirements.txt

scan: plan
	CHECKOV=$(SCAN_VENV)/bin/checkov $(PY) tools/scan_cloud.py

clean:
	rm -rf build .pytest_cache
