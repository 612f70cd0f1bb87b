# Two entry points (see README): `make pipeline` and `make test`.
# Both create .venv on first use: torch first (the CPU wheel here), then the package.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# stage commands say `python`: make it the venv's
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: pipeline test install clean-venv

install: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[dev,landmarks]"
	touch $(STAMP)

pipeline: $(STAMP)
	$(VENV)/bin/dvc repro

# two workers: the tiny DAG's tests (CPU-bound) in one, the Prefect tests (mostly waiting on
# stages that sleep) in the other, the rest spread over both (tests/conftest.py)
test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadgroup

clean-venv:
	rm -rf $(VENV)
