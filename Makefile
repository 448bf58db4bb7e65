# Two entry points for a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 5055

.PHONY: demo test lint typecheck install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[sandbox,test]'
	touch $(STAMP)

install: $(STAMP)

# Start the local sandbox, stage the scenarios, inspect the reproduced incident, stop the sandbox.
demo: $(STAMP)
	$(BIN)/python -m sfn_forensics.sandbox.demo --port $(PORT)

test: $(STAMP)
	$(BIN)/ruff check sfn_forensics tests bench
	$(BIN)/mypy
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
