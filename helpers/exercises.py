"""Exercises with instant feedback: the machinery behind ``helpers.check.<exercise>(answer)``. A
check prints one line and never raises interactively; under nbgrader a wrong answer raises
``ExerciseNotPassed``; the grader calls ``Exercise.outcome`` itself (docs/exercises.md)."""
from __future__ import annotations

import contextlib
import functools
import html
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from torch.utils._python_dispatch import TorchDispatchMode

GRADING_VALUES = ("autograde", "validate")
PASSED, WRONG, NOT_DONE = "passed", "wrong", "not done"


class Wrong(Exception):
    """Raised by a check with a message that says, in words, what is wrong with the answer and how to fix it."""


class ExerciseNotPassed(AssertionError):
    """Raised under nbgrader when an exercise is wrong or not done, so that its graded cell scores 0."""


@dataclass(frozen=True)
class Outcome:
    """What a check found: ``status`` is ``"passed"``, ``"wrong"`` or ``"not done"``; ``line`` is what it prints."""

    exercise: str
    status: str
    message: str

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    @property
    def line(self) -> str:
        mark = {PASSED: "✓", WRONG: "✗", NOT_DONE: "…"}[self.status]
        return f"{mark} {self.exercise}: {self.message}"


def grading() -> bool:
    """Return True when nbgrader is autograding or validating this notebook (notebook 00 and later exercises)."""
    return os.environ.get("NBGRADER_EXECUTION", "") in GRADING_VALUES


def _not_done(exc: BaseException) -> bool:
    # nbgrader's stub is a bare `raise NotImplementedError()`; torch raises it *with* a message
    # (e.g. "Cannot copy out of meta tensor"), and that is a real error of the answer, not a stub.
    return isinstance(exc, NotImplementedError) and not exc.args


_COLOURS = {PASSED: "#1a7f37", WRONG: "#cf222e", NOT_DONE: "#9a6700"}  # green, red, amber


def _show(result: Outcome) -> None:
    """Print ``result.line``; in Jupyter as coloured HTML that wraps between words (notebook 00).
    JupyterLab wraps plain output mid-word (``word-break: break-all``); the plain-text form stays
    the same line, for terminals, nbconvert and graders."""
    if not _in_kernel():
        print(result.line)
        return
    from IPython.display import display

    style = ("white-space: pre-wrap; word-break: normal; overflow-wrap: break-word; "
             "font-family: var(--jp-code-font-family, monospace)")
    html_line = (f'<div style="{style}"><span style="color: {_COLOURS[result.status]}; font-weight: bold">'
                 f"{result.line[0]} {html.escape(result.exercise)}:</span> {html.escape(result.message)}</div>")
    display({"text/plain": result.line, "text/html": html_line}, raw=True)


def _in_kernel() -> bool:
    """Whether this runs in an IPython kernel (not a terminal, a test or a plain script)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


class Exercise:
    """A check: ``check(answer)`` prints its verdict (raising under grading); ``check.outcome(answer)`` returns it."""

    def __init__(self, checker: Callable[[Callable], str], name: str | None = None):
        self.checker = checker
        self.name = name or checker.__name__
        functools.update_wrapper(self, checker)

    def outcome(self, answer: Callable) -> Outcome:
        """Return the ``Outcome`` of checking ``answer`` without printing or raising."""
        if not callable(answer):
            return Outcome(self.name, WRONG,
                           f"expected your function, got {type(answer).__name__} {answer!r}; "
                           f"pass the function itself, e.g. helpers.check.{self.name}({self.name})")
        try:
            with _own_random_state():  # a check's draws must not change what the notebook draws next
                proof = self.checker(answer)
        except Wrong as exc:
            return Outcome(self.name, WRONG, str(exc))
        except Exception as exc:  # noqa: BLE001 - the learner's code raised: say what it raised
            if _not_done(exc):
                return Outcome(self.name, NOT_DONE, "not done yet: replace `raise NotImplementedError()` in the "
                                                    "function above with your code, run that cell, then this one")
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            return Outcome(self.name, WRONG, f"your function raised {type(exc).__name__}: {first}")
        return Outcome(self.name, PASSED, proof)

    def __call__(self, answer: Callable) -> None:
        result = self.outcome(answer)
        _show(result)  # a check's job is to report
        if not result.passed and grading():
            raise ExerciseNotPassed(result.line)

    def __repr__(self) -> str:
        return f"<exercise check {self.name}>"


@contextlib.contextmanager
def _own_random_state() -> Iterator[None]:
    """Restore torch's, Python's and NumPy's global random states afterwards (CUDA's only if already in use)."""
    import random

    import numpy as np
    import torch

    cuda = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        with torch.random.fork_rng(devices=cuda):
            yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def exercise(checker: Callable[[Callable], str]) -> Exercise:
    """Return ``checker`` as an exercise check, for ``helpers/check/nbNN.py`` (notebook 00 and later exercises)."""
    return Exercise(checker)


def expect(condition: Any, message: str) -> None:
    """Return None if ``condition`` holds, else raise ``Wrong(message)``: a check's one-line test (notebook 00)."""
    if not condition:
        raise Wrong(message)


class _OperatorLog(TorchDispatchMode):
    """Records the name of every ATen operator that runs, whichever Python route called it."""

    def __init__(self, names: list[str]):
        super().__init__()
        self.names = names

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.append(func.overloadpacket.__name__)
        return func(*args, **(kwargs or {}))


@contextlib.contextmanager
def operators_called() -> Iterator[list[str]]:
    """Return, as a context, the ATen operators run inside it: what was called (notebooks 01, 02).
    Every spelling of softmax runs ``_softmax``, of conv2d ``convolution``: a check that refuses a
    library function looks here, so that no spelling slips past it."""
    names: list[str] = []
    with _OperatorLog(names):
        yield names
