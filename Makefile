# uedge — one Makefile for setup, tests, the demo, benchmarks and boards.
VENV  ?= .venv
BIN   := $(VENV)/bin
PY    := $(BIN)/python
BOARD ?= rp2040
PORT  ?=

.PHONY: setup test lint test-cpython test-micropython mpy-check bench demo build flash provision hil clean

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

# The firmware test suite on an attached board instead of the virtual one.
# Also set UEDGE_TEST_HOST (this machine's LAN address) and
# UEDGE_TEST_WIFI_SSID / UEDGE_TEST_WIFI_PASSWORD in the environment.
hil: setup
	@test -n "$(PORT)" || { echo "hil: give PORT=/dev/ttyACM0 (the board's serial port)"; exit 2; }
	UEDGE_TEST_PORT=$(PORT) UEDGE_TEST_BOARD=$(BOARD) $(BIN)/pytest tests/firmware

clean:
	rm -rf build .pytest_cache .ruff_cache
