"""Test-suite settings: fast mode by default and a time budget for every notebook.

At the root so that they apply to tests/ and notebooks/ alike.

nbval turns each notebook into one test item per cell; the kernel starts in the first
item's setup, so the sum of a notebook's items is its time from a fresh kernel to the end.

The student copies in build/student/ (written by `make student`, which `make test` runs first)
are collected too, under the same budget; a copy older than its teacher notebook (or than the
tools that made it) fails with the command that refreshes it, instead of testing stale cells.

Parallel runs (`make test` passes `-n N --dist loadfile` to pytest-xdist): every cell of a notebook
stays on one worker, in order (one file, one kernel); the notebooks go first, longest first by the
committed reference run (results/cpu-fast.json), so that no long notebook starts last; and each
worker, with the kernels and processes it starts, uses one torch thread, so that N workers on N
cores do not fight over them. Each notebook then runs beside one competing process, which is what
the 60 s budget is for (idle, the target is 40 s: the README's table shows it).
"""
from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import pytest

os.environ.setdefault("COURSE_MODE", "fast")  # the suite forces fast unless told otherwise (make test-gpu)
os.environ.setdefault("MPLBACKEND", "Agg")
if os.environ.get("PYTEST_XDIST_WORKER"):  # a parallel worker: one thread for it and everything it starts
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parent
STUDENT = ROOT / "build" / "student"
REFERENCE_RUN = ROOT / "results" / "cpu-fast.json"   # the notebooks' seconds, to start the longest first
FAST_BUDGET_S = 60.0   # per notebook on a 2-core CPU, kernel start included
FULL_BUDGET_S = 900.0  # per notebook in full mode on a GPU

_seconds: dict[str, float] = defaultdict(float)


def course_mode() -> str:
    """The mode the notebooks run in, read by helpers.config.mode itself (so COURSE_MODE=Fast is fast here too)."""
    from helpers.config import ConfigError, mode  # imported late: only a run that timed notebooks needs it

    try:
        return mode()
    except ConfigError:
        return "invalid COURSE_MODE"  # every notebook fails on it in its first cell, with the message


def budget_seconds() -> float:
    """Seconds allowed per notebook: COURSE_NOTEBOOK_BUDGET_S, else 60 in fast mode and 900 in full."""
    override = os.environ.get("COURSE_NOTEBOOK_BUDGET_S")
    if override:
        return float(override)
    return FAST_BUDGET_S if course_mode() == "fast" else FULL_BUDGET_S


def reference_seconds(path: Path = REFERENCE_RUN) -> dict[str, float]:
    """Seconds per notebook stem in the committed reference run; {} when it is missing or unreadable."""
    try:
        notebooks = json.loads(path.read_text(encoding="utf-8"))["notebooks"]
        return {stem: float(run["seconds"]) for stem, run in notebooks.items()}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def pytest_collection_modifyitems(session, config, items) -> None:
    """Teacher notebooks first, longest first; then the student copies, longest first; then the tests.

    The two heaviest notebooks, teacher and student copies, run one after another on one worker
    (SHARED_WORKER), so that neither starts beside the other. The sort is stable: the cells of a
    notebook and the tests of a file keep their order. A notebook the reference run does not know
    counts as the budget.
    """
    seconds = reference_seconds()

    def order(item) -> tuple[int, float]:
        path = Path(str(item.path))
        if path.suffix != ".ipynb":
            return (2, 0.0)
        return (1 if path.parent == STUDENT else 0, -seconds.get(path.stem, FAST_BUDGET_S))

    items.sort(key=order)


# Files that run one after another on one worker. The grading tests grade one cached batch
# (tests/grading_support.py), which a second worker would grade all over again. The two heaviest notebooks,
# teacher and student copies: side by side (06 runs several processes) 05b took 61 s of its 60 s budget in a
# fresh-clone CI run; this way each runs beside one light notebook.
HEAVY_NOTEBOOKS = ("05b_presidential_doggy_door.ipynb", "06_multi_gpu_training.ipynb")
SHARED_WORKER = {"test_grading_cheats.py": "grading batch", "test_grading_hostile.py": "grading batch",
                 **dict.fromkeys(HEAVY_NOTEBOOKS, "heavy notebooks")}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist's file scheduling (``--dist loadfile``), except that SHARED_WORKER's files are one unit."""
    from xdist.scheduler import LoadFileScheduling

    class SharedWorkerScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = super()._split_scope(nodeid)
            return SHARED_WORKER.get(Path(path).name, path)

    return SharedWorkerScheduling(config, log) if config.getvalue("dist") == "loadfile" else None


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _seconds[path] += report.duration


def over_budget() -> dict[str, float]:
    limit = budget_seconds()
    return {nb: s for nb, s in _seconds.items() if s > limit}


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    tr = terminalreporter
    if any(not nb.startswith("build/") for nb in _seconds) and not list(STUDENT.glob("*.ipynb")):
        tr.write_line("student copies NOT tested: build/student/ is empty; `make student` writes them "
                      "(`make test` does it first)", yellow=True)
    if not _seconds:
        return
    tr.section(f"notebook seconds ({course_mode()} mode, budget {budget_seconds():.0f} s each)")
    for nb in sorted(_seconds):
        flag = "  OVER BUDGET" if _seconds[nb] > budget_seconds() else ""
        label = nb if nb.startswith("build/") else Path(nb).name  # student copies keep their folder
        tr.write_line(f"{_seconds[nb]:7.1f} s  {label}{flag}")


def pytest_sessionfinish(session: pytest.Session, exitstatus) -> None:
    if hasattr(session.config, "workerinput"):  # an xdist worker: the controller sums and judges every notebook
        return
    if over_budget() and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        names = ", ".join(f"{Path(nb).name} ({s:.1f} s)" for nb, s in over_budget().items())
        session.config.get_terminal_writer().line(
            f"FAILED: notebook time budget of {budget_seconds():.0f} s exceeded by {names}", red=True)


class _StaleStudentCopy(pytest.Item):
    def runtest(self) -> None:
        raise AssertionError(self.reason)

    def repr_failure(self, excinfo):
        return self.reason

    def reportinfo(self):
        return self.path, None, "student copy is stale"


class _StudentCopyCheck(pytest.File):
    def collect(self):
        teacher = ROOT / "notebooks" / self.path.name
        makers = [teacher, ROOT / "tools" / "notebooks.py"]
        if not teacher.exists():
            reason = f"{self.path} has no teacher notebook notebooks/{self.path.name}: run `make student`"
        elif any(m.stat().st_mtime > self.path.stat().st_mtime for m in makers):
            reason = (f"{self.path} is older than notebooks/{self.path.name} or tools/notebooks.py: run "
                      "`make student` (or `.venv/bin/python tools/notebooks.py student`) to refresh it")
        else:
            return
        item = _StaleStudentCopy.from_parent(self, name="up_to_date")
        item.reason = reason
        yield item


def pytest_collect_file(file_path: Path, parent):
    if file_path.suffix == ".ipynb" and file_path.parent == STUDENT:
        return _StudentCopyCheck.from_parent(parent, path=file_path)
    return None
