"""Shared by the grading tests: notebook 00's student copy, submissions built from it, and ONE cached grade run.

Each test module registers a builder in ``BUILDERS`` when pytest imports it; the first test that asks
for ``batch()`` grades everything registered in one run (one set-up, both cores busy throughout).
"""
from __future__ import annotations

import atexit
import functools
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "notebooks.py"
NB00 = ROOT / "notebooks" / "00_setup_and_devices.ipynb"
NB01 = ROOT / "notebooks" / "01_softmax_stability.ipynb"
EX1, EX2 = "nb00_to_device", "nb00_run_on_model_device"
CHECK1, CHECK2 = "nb00_to_device_check", "nb00_run_on_model_device_check"
RIGHT1 = "def to_device(model, batch, device):\n    return model.to(device), batch.to(device)\n"
RIGHT2 = "def run_on_model_device(model, x):\n    return model(x.to(next(model.parameters()).device))\n"
WRONG1 = "def to_device(model, batch, device):\n    return model, batch\n"          # moves nothing
WRONG2 = "def run_on_model_device(model, x):\n    return model(x)\n"                # the device mismatch itself
SMALL_LIMITS = ["--cell-timeout", "6", "--memory-mb", "256", "--output-mb", "1", "--pids", "48", "--jobs", "2"]


@functools.cache
def scratch() -> Path:
    """A temporary folder for the session's grading files, removed when the session ends."""
    path = Path(tempfile.mkdtemp(prefix="grading-tests-"))
    atexit.register(shutil.rmtree, path, True)
    return path


@functools.cache
def student_copy(teacher: Path = NB00) -> Path:
    """nbgrader's student copy of ``teacher`` (made once per session)."""
    out = scratch() / f"student-{teacher.stem}"
    subprocess.run([sys.executable, str(TOOL), "student", "--out", str(out), str(teacher)], check=True,
                   timeout=300, capture_output=True)
    return out / teacher.name


def notebook(cells: dict[str, str] | None = None, base: Path | None = None, edit=None):
    """The student copy with the exercise cells of ``cells`` (grade_id → whole source) replaced, then ``edit(nb)``."""
    nb = nbformat.read(base or student_copy(), as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cells and grade_id in cells:
            cell.source = cells[grade_id]
    if edit is not None:
        edit(nb)
    return nb


def write(nb, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def grade(*args: str, timeout: float = 400) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), "grade", *args], capture_output=True, text=True,
                          timeout=timeout)


def blocks(stdout: str) -> dict[str, list[str]]:
    """Split grade's stdout into {label: its lines}; a block starts at an unindented line ending in ':'."""
    found: dict[str, list[str]] = {}
    label = None
    for line in stdout.splitlines():
        if re.match(r"^\S.*:$", line) and not line.startswith(("score:", "time:", "batch:")):
            label = line[:-1]
            found[label] = []
        elif label is not None:
            found[label].append(line)
    return found


def score(lines: list[str]) -> str:
    return next((line for line in lines if line.startswith("score: ")), "no score line")


def points(lines: list[str], grade_id: str) -> str:
    """'1 / 1  ✓ to_device: ...' for ``grade_id`` in a block."""
    prefix = f"  {grade_id}: "
    return next((line[len(prefix):] for line in lines if line.startswith(prefix)), f"no line for {grade_id}")


BUILDERS: dict = {}  # name -> build(folder) returning the paths to hand to grade
OUT = "grade-out"


@functools.cache
def batch() -> subprocess.CompletedProcess:
    """Grade every registered builder's files in one run, with the small limits, feedback and CSV."""
    pytest.importorskip("nbgrader", reason="nbgrader is not installed (the offline GPU host: too big to carry)")
    sys.path.insert(0, str(ROOT / "tools"))
    from grading import sandbox

    why = sandbox.unavailable()
    if why:
        pytest.skip(f"the grading sandbox cannot be built here: {why}")
    paths: list[str] = []
    for name, build in sorted(BUILDERS.items()):
        paths += [str(p) for p in build(scratch() / name)]
    out = scratch() / OUT
    # returned even when it failed, so that the cache holds it and each test shows the failure without a rerun
    return grade(*SMALL_LIMITS, "--feedback", str(out / "feedback"), "--csv", str(out / "grades.csv"), *paths)
