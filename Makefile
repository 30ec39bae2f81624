# The two commands: `make run` and `make test`. Everything else is optional.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# make lab: the learner's own copies live in $(LAB_WORK) (git-ignored), made from $(LAB_SOURCE):
# the student copies (no solutions; the teacher's versions with solutions stay in notebooks/)
LAB_SOURCE ?= build/student
LAB_WORK ?= work
LAB_ARGS ?=
LAB_ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
# kernels get CurveZMQ keys from the server (ipykernel's kernelspec declares "curve"), so none warns
# "Kernel is running over TCP without encryption" in the terminal
LAB_KERNEL_FLAGS := --KernelManager.transport_encryption=auto
# make test: pytest-xdist workers, one per core (at most 4: each notebook's kernel holds torch, about
# 0.8 GB); TEST_JOBS=0 runs everything in one process, as plain `pytest` does
TEST_JOBS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( n > 4 ? 4 : n )))

.PHONY: run test test-gpu lab reset data clean help student lint classroom classroom-stop classroom-grade classroom-deps

help:
	@echo "make run       set up, execute every notebook into build/, write build/summary.md"
	@echo "make test      set up, run the helper tests and every notebook (fast mode) under nbval"
	@echo "make lab       open JupyterLab on your own copies of the student notebooks in work/ (extra flags: LAB_ARGS=...)"
	@echo "make reset NB=05b  (or make reset-05b)  a fresh copy of one notebook in work/ (the old one goes to work/.old/)"
	@echo "make student   write student copies (no solutions, nbgrader) to build/student/"
	@echo "make test-gpu  the same suite in full mode on a CUDA GPU"
	@echo "make classroom STUDENTS='ana ben'  (as root) a JupyterHub with nbgrader on this machine; Ctrl-C stops it"
	@echo "make classroom-grade NB=00  collect, grade, release feedback, write the CSV; make classroom-stop"
	@echo "make clean     remove build/, the virtual environments, snapshots and unpacked Fashion-MNIST"
	@echo "               (data/presidential_doggy_door/ and work/ stay: your photos and your notebooks)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; found " + sys.version.split()[0])'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $(STAMP)

data: $(STAMP)
	bash tools/system_packages.sh
	$(PY) -m helpers.prepare

run: $(STAMP) data
	$(PY) tools/notebooks.py run

.PHONY: lint
lint: $(STAMP)
	$(PY) -m ruff check .

test: $(STAMP) data lint student classroom-deps
	COURSE_MODE=fast $(PY) -m pytest -n $(TEST_JOBS) --dist loadfile --no-loadscope-reorder

student: $(STAMP)
	$(PY) tools/notebooks.py student

lab: $(STAMP) data student
	$(PYTHON) tools/lab.py copies --source $(LAB_SOURCE) --work $(LAB_WORK)
	$(PY) tools/classroom learner-config --out build/lab-config
	JUPYTER_CONFIG_PATH=$(CURDIR)/build/lab-config $(VENV)/bin/jupyter lab $(LAB_ROOT_FLAG) $(LAB_KERNEL_FLAGS) $(LAB_ARGS) $(LAB_WORK)/

reset: student
	@test -n "$(NB)" || { echo "make reset: name the notebook, e.g. make reset NB=05b" >&2; exit 2; }
	$(PYTHON) tools/lab.py reset $(NB) --source $(LAB_SOURCE) --work $(LAB_WORK)

reset-%: student
	$(PYTHON) tools/lab.py reset $* --source $(LAB_SOURCE) --work $(LAB_WORK)

test-gpu:
	bash tools/test_gpu.sh

clean:
	rm -rf build $(VENV) .venv-gpu notebooks/snapshots data/FashionMNIST

# make classroom: a JupyterHub on this machine with nbgrader's exchange (tools/classroom/, README "Teaching a
# class"). As root. STUDENTS names the accounts (or ROSTER=FILE, one a line), NB the notebooks released
# (default: all), CLASSROOM_DIR the folder (default classroom/), CLASSROOM_PORT the port (default: a free one).
STUDENTS ?=
ROSTER ?=
CLASSROOM_PORT ?=
CLASSROOM_ARGS = $(if $(STUDENTS),--students "$(STUDENTS)") $(if $(ROSTER),--roster "$(ROSTER)") \
	$(if $(CLASSROOM_PORT),--port $(CLASSROOM_PORT))

classroom-deps:
	bash tools/classroom/install_proxy.sh

classroom: $(STAMP) data student
	bash tools/classroom/install_proxy.sh --require
	$(PY) tools/classroom start --wait $(CLASSROOM_ARGS) $(NB)

classroom-stop:
	$(PY) tools/classroom stop

classroom-grade:
	@test -n "$(NB)" || { echo "make classroom-grade: name the assignment, e.g. make classroom-grade NB=00" >&2; exit 2; }
	$(PY) tools/classroom grade $(NB)
