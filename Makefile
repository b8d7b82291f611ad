# uedge — one Makefile for setup, tests, the demo, benchmarks and boards.
VENV  ?= .venv
BIN   := $(VENV)/bin
PY    := $(BIN)/python
BOARD ?= rp2040
PORT  ?=
OPT   ?= 3

.PHONY: setup test lint test-cpython test-micropython test-qemu mpy-check micropython firmware bench demo build flash provision hil clean

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
	$(BIN)/pytest --ignore=tests/portable --durations=12

# MicroPython from the pinned source (tools/micropython.pin), built once into
# ~/.cache/uedge/micropython/<commit>/ (kept by make clean): mpy-cross, the
# 32-bit unix port (.venv/bin/micropython), the qemu Cortex-M3 board, the Pico W image.
micropython: setup
	$(PY) tools/mpbuild.py build mpy-cross unix32 qemu

test-micropython: micropython
	@echo "== portable tests under the 32-bit MicroPython unix port (i686, mbedTLS in the GC heap)"
	$(BIN)/micropython tests/portable/mpy_runner.py

# The portable suite on the Cortex-M3 virtual board through mpremote (make hil without PORT).
# The suite's test files are compiled on the board from source, which a firmware
# never does: it runs in a 320 KiB heap; the firmware's own need at the Pico W's
# 196,896 bytes is what make bench measures (mcu.heap.*).
QEMU_TEST_HEAP ?= 327680
test-qemu: micropython
	@echo "== portable tests on the qemu Cortex-M3 board (littlefs, 8 KB stack, float32, $(QEMU_TEST_HEAP)-byte heap)"
	$(PY) tools/qemu_hil.py --heap $(QEMU_TEST_HEAP)

# make firmware BOARD=rp2040: the Pico W .uf2 with uedge frozen in (BOARD=esp32 needs ESP-IDF).
firmware: setup
	$(PY) tools/mpbuild.py firmware $(BOARD)

mpy-check: setup
	bash tools/mpy_check.sh

# The MicroPython builds (cached after the first run) and then the 32-bit runs
# and the image go on in the background, on one core, while the CPython suites
# (mostly waiting on peers and timeouts) run; their output follows.
test: lint
	@mkdir -p build
	@( MPBUILD_JOBS=1 $(PY) tools/mpbuild.py build mpy-cross unix32 qemu rp2040 && \
	  $(MAKE) --no-print-directory test-micropython mpy-check firmware test-qemu ) > build/boards.log 2>&1 & bpid=$$!; \
	$(MAKE) --no-print-directory test-cpython; rc=$$?; \
	wait $$bpid; brc=$$?; cat build/boards.log; \
	[ $$rc -eq 0 ] || exit $$rc; [ $$brc -eq 0 ] || { echo "test: the MicroPython builds or 32-bit runs failed"; exit $$brc; }

bench: setup
	@for f in tools/bench/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

demo: setup
	$(PY) -m uedge_host.demo

build: setup
	$(PY) tools/deploy.py build --board $(BOARD) --opt "$(OPT)"

flash: setup
	$(PY) tools/deploy.py flash --board $(BOARD) --port "$(PORT)" --opt "$(OPT)"

provision: setup
	$(PY) tools/deploy.py provision --board $(BOARD)

# With PORT=/dev/ttyACM0: the firmware test suite on an attached board; also set
# UEDGE_TEST_HOST (this machine's LAN address) and UEDGE_TEST_WIFI_SSID /
# UEDGE_TEST_WIFI_PASSWORD in the environment.
# Without PORT: the qemu Cortex-M3 board, flashed and driven through mpremote.
hil: setup
ifeq ($(PORT),)
	$(PY) tools/qemu_hil.py
else
	UEDGE_TEST_PORT=$(PORT) UEDGE_TEST_BOARD=$(BOARD) $(BIN)/pytest tests/firmware
endif

clean:
	rm -rf build .pytest_cache .ruff_cache
