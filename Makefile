# Two entry points, each sets itself up from nothing: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q --disable-pip-version-check

.PHONY: demo test lint bench clean

# torch is pinned and installed first, so the CPU wheel on this machine is used and no
# dependency can pull a CUDA build. `pip install -e .` also compiles the beam search (setup.py).
BEAM_C := setup.py sparkhtr/text/_beam.c sparkhtr/text/_beam_lm.h sparkhtr/text/_beam_search.h
$(VENV)/.base: pyproject.toml $(BEAM_C)
	$(PYTHON) -m venv $(VENV)
	$(PIP) torch==2.13.0
	$(PIP) -e .
	touch $@

$(VENV)/.full: $(VENV)/.base
	$(PIP) -e '.[spark,onnx,pdf,train,dev]'
	touch $@

demo: $(VENV)/.base
	$(VENV)/bin/sparkhtr recognize examples/*.png
	$(VENV)/bin/sparkhtr recognize --paragraph --lang fr examples/pages/*.jpg --draw seen/

# Two pytest-xdist workers (CI has two cores): the Spark session's tests run together on one of
# them (tests/conftest.py), everything else is shared out. `pytest -q` alone runs in one process.
TEST_WORKERS ?= 2
test: $(VENV)/.full
	$(VENV)/bin/ruff check sparkhtr tests benchmarks
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup

clean:
	rm -rf $(VENV) build *.egg-info
