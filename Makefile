# The two commands: `make run` and `make test`. Everything else is optional.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-gpu lab data clean help student

help:
	@echo "make run       set up, execute every notebook into build/, write build/summary.md"
	@echo "make test      set up, run the helper tests and every notebook (fast mode) under nbval"
	@echo "make lab       open JupyterLab on the notebooks"
	@echo "make student   write student copies (no solutions, nbgrader) to build/student/"
	@echo "make test-gpu  the same suite in full mode on a CUDA GPU"
	@echo "make clean     remove build/, the virtual environments, snapshots and unpacked Fashion-MNIST"
	@echo "               (data/presidential_doggy_door/ stays: it may hold your own photos)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; found " + sys.version.split()[0])'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $(STAMP)

data: $(STAMP)
	$(PY) -m helpers.prepare

run: $(STAMP) data
	$(PY) tools/notebooks.py run

.PHONY: lint
lint: $(STAMP)
	$(PY) -m ruff check .

test: $(STAMP) data lint student
	COURSE_MODE=fast $(PY) -m pytest

student: $(STAMP)
	$(PY) tools/notebooks.py student

lab: $(STAMP) data
	$(VENV)/bin/jupyter lab notebooks/

test-gpu:
	bash tools/test_gpu.sh

clean:
	rm -rf build $(VENV) .venv-gpu notebooks/snapshots data/FashionMNIST
