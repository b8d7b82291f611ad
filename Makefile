# uedge — one Makefile for setup, tests, the demo, benchmarks and boards.
VENV  ?= .venv
BIN   := $(VENV)/bin
PY    := $(BIN)/python
BOARD ?= rp2040
PORT  ?=

.PHONY: setup test lint test-cpython test-micropython mpy-check bench demo build flash provision clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml tools/setup.sh
	bash tools/setup.sh
	touch $@

lint: setup
	$(BIN)/ruff check lib host tools tests firmware boards

test-cpython: setup
	@echo "== portable tests under CPython"
	$(BIN)/pytest tests/portable
	@echo "== host tests under CPython"
	$(BIN)/pytest --ignore=tests/portable

test-micropython: setup
	@echo "== portable tests under the MicroPython unix port"
	$(BIN)/micropython tests/portable/mpy_runner.py

mpy-check: setup
	bash tools/mpy_check.sh

test: lint test-cpython test-micropython mpy-check

bench: setup
	@for f in tools/bench/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

demo: setup
	$(PY) -m uedge_host.demo

build: setup
	$(PY) tools/deploy.py build --board $(BOARD)

flash: setup
	$(PY) tools/deploy.py flash --board $(BOARD) --port "$(PORT)"

provision: setup
	$(PY) tools/deploy.py provision --board $(BOARD)

clean:
	rm -rf build .pytest_cache .ruff_cache
