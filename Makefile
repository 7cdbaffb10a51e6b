# preimage — fresh machine: `make demo` (set up + run the demo) or `make test` (set up + run the tests).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo explore test bench lint clean

setup: $(STAMP)

# torch first, from the pinned CPU wheel, so no resolver pulls a multi-GB CUDA build;
# skipped when the venv can already import a torch.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# out/demo is the demo's own folder: each `make demo` replaces what the last one wrote there
demo: setup
	$(BIN)/preimage demo --overwrite

explore: setup
	$(BIN)/preimage explore

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python bench/representations.py
	$(BIN)/python bench/optimize.py
	$(BIN)/python bench/inversion_speed.py
	$(BIN)/python bench/explore.py

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
