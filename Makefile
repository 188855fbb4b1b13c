# Two commands on a fresh machine: `make demo` runs the main job, `make test` runs the tests.
# Each installs what it needs into .venv first.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# An unpinned `torch` pulls gigabytes of CUDA wheels on a CPU machine: pin the CPU build when none is installed.
TORCH_PIN ?= torch==2.13.0
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-slow test-device clean

install: $(STAMP)

$(STAMP): setup.py pyproject.toml $(wildcard amma_edge/runtime/csrc/*.c amma_edge/runtime/csrc/*.h)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q "$(TORCH_PIN)"
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

# The main job on its built-in default: the bundled demo model on a synthetic stream, headless.
# Writes runs/<date-time>/annotated.mp4, events.jsonl and summary.json, and prints where.
demo: install
	$(BIN)/amma-edge run --headless

test: install
	AMMA_EDGE_REQUIRE_NATIVE=1 $(BIN)/python -m pytest -q -m "not slow and not device"

test-slow: install
	AMMA_EDGE_REQUIRE_NATIVE=1 $(BIN)/python -m pytest -q -m "slow and not device"

test-device: install
	$(BIN)/python -m pytest -q -m device

clean:
	rm -rf build *.egg-info amma_edge/runtime/*.so
