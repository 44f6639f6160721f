# Two commands do all the set-up on a fresh machine:
#   make demo   - create .venv, generate a sample, run the dimuon analysis on a local cluster
#   make test   - create .venv, install the XRootD server if missing, run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint system-deps clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,bench]'
	# tritonclient without its declared deps (protobuf<7, ml-dtypes<=0.5.4 clash with
	# TensorFlow's); the [triton] extra above brings the ones it uses (pyproject.toml)
	$(BIN)/python -m pip install --quiet --no-deps -c constraints.txt tritonclient==2.73.0
	touch $(STAMP)

system-deps:
	bash scripts/install-system-deps.sh

demo: $(STAMP)
	$(BIN)/hepflow demo

test: $(STAMP) system-deps
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks.dimuon

lint: $(STAMP)
	$(BIN)/ruff check hepflow tests benchmarks
	$(BIN)/mypy --strict hepflow/plan hepflow/engine hepflow/results hepflow/io hepflow/dataset hepflow/frame hepflow/rdataframe.py

clean:
	rm -rf $(VENV) demo-sample bench-sample
