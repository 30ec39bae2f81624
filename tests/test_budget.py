"""The per-notebook time budget in conftest.py really fails a slow notebook."""
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent


def run_suite_on(tmp_path, seconds: float, budget: str):
    (tmp_path / "notebooks").mkdir()
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    nb = new_notebook(cells=[new_code_cell(f"import time\ntime.sleep({seconds})")],
                      metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, tmp_path / "notebooks" / "99_sleepy.ipynb")
    env = {**__import__("os").environ, "COURSE_NOTEBOOK_BUDGET_S": budget, "COURSE_MODE": "fast"}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--nbval-lax",
                           "--nbval-current-env", "-q", "notebooks"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_slow_notebook_fails_the_suite_and_is_named(tmp_path):
    result = run_suite_on(tmp_path, seconds=1.5, budget="1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "99_sleepy.ipynb  OVER BUDGET" in result.stdout
    assert "budget of 1 s exceeded by 99_sleepy.ipynb" in result.stdout


def test_notebook_within_budget_passes_and_is_timed(tmp_path):
    result = run_suite_on(tmp_path, seconds=0, budget="60")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "99_sleepy.ipynb" in result.stdout and "OVER BUDGET" not in result.stdout


def load_conftest():
    import importlib.util

    spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("mode, budget",
                         [("fast", 60.0), ("Fast", 60.0), (" FAST ", 60.0), ("full", 900.0), ("Full", 900.0)])
def test_budget_follows_the_mode_the_notebooks_run_in(monkeypatch, mode, budget):
    conftest = load_conftest()
    monkeypatch.delenv("COURSE_NOTEBOOK_BUDGET_S", raising=False)
    monkeypatch.setenv("COURSE_MODE", mode)
    assert conftest.budget_seconds() == budget


class _Config:  # what a scheduler reads of pytest's config
    def __init__(self, dist: str):
        self.dist = dist

    def getvalue(self, name):
        return {"dist": self.dist, "tx": ["popen"] * 2, "numprocesses": 2}.get(name)


def test_shared_worker_files_are_one_unit_and_other_files_are_not():
    pytest.importorskip("xdist")
    sched = load_conftest().pytest_xdist_make_scheduler(_Config("loadfile"), None)
    scope = sched._split_scope
    assert scope("tests/test_grading_cheats.py::test_a[x]") == scope("tests/test_grading_hostile.py::test_b")
    assert scope("tests/test_grading_intake.py::test_c") != scope("tests/test_grading_cheats.py::test_a")
    assert scope("notebooks/04_adam.ipynb::Cell 3") == "notebooks/04_adam.ipynb"
    nb06, nb05b = "06_multi_gpu_training.ipynb::Cell 3", "05b_presidential_doggy_door.ipynb::Cell 0"
    heavy = {scope(f"notebooks/{nb06}"), scope(f"build/student/{nb06}"), scope(f"notebooks/{nb05b}"),
             scope(f"build/student/{nb05b}")}
    assert len(heavy) == 1, "the two heaviest notebooks, teacher and student copies, run one after another"
    assert scope("notebooks/04_adam.ipynb::Cell 1") != scope("build/student/04_adam.ipynb::Cell 1")
    assert load_conftest().pytest_xdist_make_scheduler(_Config("load"), None) is None
