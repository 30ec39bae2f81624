"""The one way the mutation tests of the exercise checks are written (docs/exercises.md, "Testing a check").

Each ``tests/test_nbNN_exercises.py`` gathers, per exercise, the answers its check is tried with
in an ``Answers``: the nbgrader stub (which must be "not done"), each wrong answer with words its
message must contain, written where the mistake is, and each valid alternative (which must pass)::

    TO_DEVICE = Answers(helpers.check.to_device)

    @TO_DEVICE.right
    def right_to_device(model, batch, device):
        return model.to(device), batch.to(device)

    @TO_DEVICE.wrong("you moved it to a fixed device")
    def fixed_device(model, batch, device):
        return model.to("cpu"), batch.to("cpu")

    TO_DEVICE.wrong("return the pair (model, batch)", model_only=lambda m, b, d: m.to(d))

and one parametrized test runs every case of the file::

    @pytest.mark.parametrize("case", TO_DEVICE.cases + RUN.cases, ids=str)
    def test_each_answer_gets_its_verdict(case):
        case.verify()

A case's id says what it is: ``to_device-wrong-fixed_device``, ``to_device-right-right_to_device``,
``to_device-stub``. ``tests/test_mutation.py`` shows that ``verify`` fails when a check's verdict or
message is not the one a case expects.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from helpers.exercises import NOT_DONE, PASSED, WRONG, Exercise, Outcome

_KIND = {WRONG: "wrong", PASSED: "right", NOT_DONE: "stub"}


def stub(*args, **kwargs):
    """nbgrader's stub: the body of every solution in a student copy."""
    raise NotImplementedError()


@dataclass(frozen=True)
class Case:
    """One answer to one check and the verdict it must get: ``status`` and, when WRONG, ``words`` of its message."""

    check: Exercise
    label: str
    answer: Callable
    status: str
    words: str = ""

    def __post_init__(self):
        if self.status not in _KIND:
            raise ValueError(f"status must be one of {sorted(_KIND)}, not {self.status!r}")
        if self.status == WRONG and not self.words:
            raise ValueError(f"{self}: a wrong answer needs words its message must contain")

    def __str__(self) -> str:
        kind = _KIND.get(self.status, self.status)
        return f"{self.check.name}-{kind}" + (f"-{self.label}" if self.label else "")

    def verify(self) -> Outcome:
        """Return the check's outcome for the answer; AssertionError unless it has the expected status and words."""
        result = self.check.outcome(self.answer)
        assert result.status == self.status, f"{self}: expected {self.status!r}, got: {result.line}"
        assert self.words in result.message, f"{self}: expected the message to say {self.words!r}, got: {result.line}"
        return result


class Answers:
    """The answers one check is tried with, as ``cases``: its stub first, then each answer in the order given."""

    def __init__(self, check: Exercise, stub: Callable = stub):
        self.check = check
        self.cases: list[Case] = [Case(check, "", stub, NOT_DONE)]

    def _add(self, label: str, answer: Callable, status: str, words: str = "") -> None:
        if not label.isidentifier():  # a lambda's name is '<lambda>'
            raise ValueError(f"{self.check.name}: an answer without a readable name ({label!r}): give name=answer")
        if any(case.label == label for case in self.cases):
            raise ValueError(f"{self.check.name}: two answers are called {label!r}")
        self.cases.append(Case(self.check, label, answer, status, words))

    def wrong(self, words: str, **answers: Callable):
        """Add wrong answers whose message must contain ``words``: ``name=answer``, or as ``@answers.wrong(words)``."""
        for label, answer in answers.items():
            self._add(label, answer, WRONG, words)

        def mark(function: Callable) -> Callable:
            self._add(function.__name__, function, WRONG, words)
            return function
        return None if answers else mark

    def right(self, *functions: Callable, **answers: Callable) -> Callable | None:
        """Add valid answers, which must pass: named functions, ``name=answer``, or as ``@answers.right``."""
        for function in functions:
            self._add(getattr(function, "__name__", ""), function, PASSED)
        for label, answer in answers.items():
            self._add(label, answer, PASSED)
        return functions[0] if functions else None


def head_on_base(*head: nn.Module, loss, freeze: str = "base") -> Callable:
    """Return an answer ``base -> (nn.Sequential(base, *head), loss)``, the shape of 05b's and 08's model exercises.

    ``freeze`` is ``"base"`` (the course's way), ``"none"`` or ``"all"``. Each call gets fresh copies of the
    head's layers (their parameters drawn again, as a new ``nn.Linear`` would) and of the loss.
    """
    if freeze not in ("base", "none", "all"):
        raise ValueError(f"freeze must be 'base', 'none' or 'all', not {freeze!r}")

    def answer(base):
        if freeze == "base":
            base.requires_grad_(False)
        layers = copy.deepcopy(head)
        for layer in layers:
            if hasattr(layer, "reset_parameters"):
                layer.reset_parameters()
        model = nn.Sequential(base, *layers)
        if freeze == "all":
            model.requires_grad_(False)
        return model, copy.deepcopy(loss)
    return answer


def course_model(head: nn.Module, loss) -> Callable:
    """Return ``variant(*layers, loss=, freeze=)``: answers that are the course's model answer (the base frozen,
    ``head`` on it, ``loss``) but for what the arguments change, as ``head_on_base`` builds them (05b, 08)."""
    def variant(*layers: nn.Module, loss=loss, freeze: str = "base") -> Callable:
        return head_on_base(*(layers or [head]), loss=loss, freeze=freeze)
    return variant
