"""The one way the mutation tests of the exercise checks are written (docs/exercises.md, "Testing a check").

Each ``tests/test_nbNN_exercises.py`` lists, per exercise, its wrong answers (each with words its
message must contain), its valid alternatives and its stub as ``Case``s, and runs them all through
one parametrized test::

    CASES = (wrong(helpers.check.to_device, {"fixed_device": (fixed_device, "you moved it to a fixed device")})
             + right(helpers.check.to_device, [right_to_device, right_in_place_model])
             + not_done(helpers.check.to_device))

    @pytest.mark.parametrize("case", CASES, ids=str)
    def test_each_answer_gets_its_verdict(case):
        case.verify()

A case's id says what it is: ``to_device-wrong-fixed_device``, ``to_device-right-right_to_device``,
``to_device-stub``. ``tests/test_mutation.py`` shows that ``verify`` fails when a check's verdict or
message is not the one a case expects.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

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


def _labelled(answers: Mapping[str, object] | Iterable[Callable]) -> list[tuple[str, object]]:
    """(label, entry) pairs: a dict's keys, or each function's own name (a lambda needs a dict key)."""
    if isinstance(answers, Mapping):
        pairs = list(answers.items())
    else:
        pairs = [(getattr(f, "__name__", ""), f) for f in answers]
        nameless = [label for label, _ in pairs if not label.isidentifier()]
        if nameless:
            raise ValueError(f"answers without a readable name ({nameless}): give them in a dict, name -> answer")
    labels = [label for label, _ in pairs]
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:
        raise ValueError(f"two answers share the label(s) {twice}")
    return pairs


def wrong(check: Exercise, answers: Mapping[str, tuple[Callable, str]]) -> list[Case]:
    """Return a case per wrong answer, ``{label: (answer, words its message must contain)}``: each must be WRONG."""
    return [Case(check, label, answer, WRONG, words) for label, (answer, words) in _labelled(answers)]


def right(check: Exercise, answers: Mapping[str, Callable] | Iterable[Callable]) -> list[Case]:
    """Return a case per valid answer (``{label: answer}`` or named functions): each must pass."""
    return [Case(check, label, answer, PASSED) for label, answer in _labelled(answers)]


def not_done(*checks: Exercise, answer: Callable = stub) -> list[Case]:
    """Return, for each check, the case of the untouched stub, which must be "not done"."""
    return [Case(check, "", answer, NOT_DONE) for check in checks]
