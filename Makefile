# The two commands of the quick start. Both create .venv and install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_DIR ?= retrainer-demo
PYTEST_ARGS ?=

.PHONY: demo test lint reproduce clean install

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/retrainer demo --output $(DEMO_DIR)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src

# replays the backtest tables of benchmarks/README.md and checks every figure (~10 min)
reproduce: $(STAMP)
	$(BIN)/python benchmarks/backtest/reproduce.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
