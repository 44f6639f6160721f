# Two commands do all the set-up on a fresh machine:
#   make demo   - create .venv, generate a sample, run the dimuon analysis on a local cluster
#   make test   - create .venv, install the XRootD server if missing, run the test suite
# The default set (constraints.txt) is the newest dask/distributed; dask-awkward and
# coffea are not in it. `make test-coffea` builds .venv-coffea from the
# coffea-compatible set (constraints-coffea.txt: dask 2025.3 + dask-awkward + coffea)
# and runs the tests marked `coffea` there; CI (.ci/run) runs both.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
COFFEA_VENV := .venv-coffea
COFFEA_STAMP := $(COFFEA_VENV)/.installed

.PHONY: demo test test-coffea test-compiled bench lint system-deps clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,bench]'
	# tritonclient without its declared deps (protobuf<7, ml-dtypes<=0.5.4 clash with
	# TensorFlow's); the [triton] extra above brings the ones it uses (pyproject.toml)
	$(BIN)/python -m pip install --quiet --no-deps -c constraints.txt tritonclient==2.73.0
	touch $(STAMP)

$(COFFEA_STAMP): pyproject.toml constraints-coffea.txt
	$(PYTHON) -m venv $(COFFEA_VENV)
	$(COFFEA_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(COFFEA_VENV)/bin/python -m pip install --quiet -c constraints-coffea.txt -e '.[test,coffea]'
	# as above: the benchmarks' V2 gRPC steps need tritonclient's generated classes
	$(COFFEA_VENV)/bin/python -m pip install --quiet --no-deps -c constraints-coffea.txt tritonclient==2.73.0
	touch $(COFFEA_STAMP)

system-deps:
	bash scripts/install-system-deps.sh

demo: $(STAMP)
	$(BIN)/hepflow demo

test: $(STAMP) system-deps
	$(BIN)/python -m pytest

# The whole suite again with every expression the compiler takes compiled
# (hepflow.engine.exprkernel; HEPFLOW_BACKEND is Options.backend's default, columnar in
# hepflow.yaml): `make test` and this are the suite with either backend forced.
test-compiled: $(STAMP) system-deps
	HEPFLOW_BACKEND=compiled $(BIN)/python -m pytest

test-coffea: $(COFFEA_STAMP) system-deps
	HEPFLOW_REQUIRE_COFFEA=1 $(COFFEA_VENV)/bin/python -m pytest -m coffea

# The benchmark's baselines (uproot.dask + dask-awkward + hist.dask, coffea's Runner)
# need dask-awkward, so it runs in the coffea-compatible set.
bench: $(COFFEA_STAMP)
	$(COFFEA_VENV)/bin/python -m benchmarks.dimuon

lint: $(STAMP)
	$(BIN)/ruff check hepflow tests benchmarks
	$(BIN)/mypy --strict hepflow/plan hepflow/engine hepflow/results hepflow/io hepflow/dataset hepflow/frame hepflow/rdataframe.py hepflow/core

clean:
	rm -rf $(VENV) $(COFFEA_VENV) demo-sample bench-sample
