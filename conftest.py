"""Test-suite settings: fast mode by default and a time budget for every notebook.

At the root so that they apply to tests/ and notebooks/ alike.

nbval turns each notebook into one test item per cell; the kernel starts in the first
item's setup, so the sum of a notebook's items is its time from a fresh kernel to the end.
"""
from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import pytest

os.environ.setdefault("COURSE_MODE", "fast")  # the suite forces fast unless told otherwise (make test-gpu)
os.environ.setdefault("MPLBACKEND", "Agg")

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


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _seconds[path] += report.duration


def over_budget() -> dict[str, float]:
    limit = budget_seconds()
    return {nb: s for nb, s in _seconds.items() if s > limit}


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not _seconds:
        return
    tr = terminalreporter
    tr.section(f"notebook seconds ({course_mode()} mode, budget {budget_seconds():.0f} s each)")
    for nb in sorted(_seconds):
        flag = "  OVER BUDGET" if _seconds[nb] > budget_seconds() else ""
        tr.write_line(f"{_seconds[nb]:7.1f} s  {Path(nb).name}{flag}")


def pytest_sessionfinish(session: pytest.Session, exitstatus) -> None:
    if over_budget() and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        names = ", ".join(f"{Path(nb).name} ({s:.1f} s)" for nb, s in over_budget().items())
        session.config.get_terminal_writer().line(
            f"FAILED: notebook time budget of {budget_seconds():.0f} s exceeded by {names}", red=True)
