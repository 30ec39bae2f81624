"""tests/mutation.py, the harness of every exercise's mutation tests: it can fail, its answer builders do what
they say, and every test_nbNN_exercises.py runs all its cases."""
import importlib
from pathlib import Path

import pytest
import torch
from mutation import Answers, Case, course_model, head_on_base, stub
from torch import nn

import helpers.check
from helpers.exercises import NOT_DONE, PASSED, WRONG, exercise, expect


@exercise
def double(answer):
    expect(answer(2) == 4, f"double(2) should be 4, got {answer(2)!r}")
    return "doubles a number"


def twice(x):
    return 2 * x


def plus_one(x):
    return x + 1


def test_the_expected_verdicts_pass():
    answers = Answers(double)
    answers.wrong("should be 4, got 3")(plus_one)
    answers.right(twice, by_lambda=lambda x: x * 2)
    assert [c.verify().status for c in answers.cases] == [NOT_DONE, WRONG, PASSED, PASSED]
    assert [str(c) for c in answers.cases] == ["double-stub", "double-wrong-plus_one", "double-right-twice",
                                               "double-right-by_lambda"]


@pytest.mark.parametrize("case, says", [
    (Case(double, "passes", twice, WRONG, "should be 4"), "expected 'wrong', got: ✓ double: doubles a number"),
    (Case(double, "other_words", plus_one, WRONG, "should be 5"), "expected the message to say 'should be 5'"),
    (Case(double, "is_wrong", plus_one, PASSED), "expected 'passed', got: ✗ double: double(2) should be 4"),
    (Case(double, "done", twice, NOT_DONE), "expected 'not done', got: ✓ double"),
    (Case(double, "stub", stub, PASSED), "expected 'passed', got: … double: not done yet"),
], ids=str)
def test_a_verdict_other_than_the_expected_one_fails(case, says):
    """A wrong answer that passes (or another message, or any other verdict) makes the case fail, saying why."""
    with pytest.raises(AssertionError) as failure:
        case.verify()
    assert says in str(failure.value) and str(case) in str(failure.value)


def test_answers_that_would_give_unreadable_or_vacuous_cases_are_refused():
    answers = Answers(double)
    with pytest.raises(ValueError, match="without a readable name"):
        answers.right(lambda x: 2 * x)
    answers.right(twice)
    with pytest.raises(ValueError, match="two answers are called 'twice'"):
        answers.wrong("should be 4", twice=plus_one)
    with pytest.raises(ValueError, match="needs words"):
        answers.wrong("", plus_one=plus_one)
    with pytest.raises(ValueError, match="status must be"):
        Case(double, "x", twice, "fine")



def _trains(module):
    return [p.requires_grad for p in module.parameters()]


@pytest.mark.parametrize("freeze, base_trains, head_trains", [("base", False, True), ("none", True, True),
                                                              ("all", False, False)])
def test_head_on_base_freezes_what_it_says_and_builds_a_fresh_head_each_call(freeze, base_trains, head_trains):
    answer = head_on_base(nn.Linear(3, 2), loss=nn.MSELoss(), freeze=freeze)
    (first, loss), (second, _) = answer(nn.Linear(4, 3)), answer(nn.Linear(4, 3))
    assert isinstance(loss, nn.MSELoss) and len(first) == 2
    assert _trains(first[0]) == [base_trains] * 2 and _trains(first[1]) == [head_trains] * 2
    assert first[1] is not second[1] and not torch.equal(first[1].weight, second[1].weight)  # drawn again


def test_course_model_changes_only_what_it_is_given():
    door = course_model(nn.Linear(3, 1), nn.BCEWithLogitsLoss())
    model, loss = door()(nn.Linear(4, 3))
    assert [type(m) for m in model] == [nn.Linear, nn.Linear] and isinstance(loss, nn.BCEWithLogitsLoss)
    model, loss = door(nn.Linear(3, 1), nn.Sigmoid(), loss=nn.BCELoss())(nn.Linear(4, 3))
    assert [type(m) for m in model] == [nn.Linear, nn.Linear, nn.Sigmoid] and isinstance(loss, nn.BCELoss)
    with pytest.raises(ValueError, match="freeze must be"):
        head_on_base(nn.Linear(3, 1), loss=None, freeze="head")


EXERCISE_TESTS = sorted(Path(__file__).parent.glob("test_nb*_exercises.py"))


@pytest.mark.parametrize("path", EXERCISE_TESTS, ids=lambda p: p.name)
def test_every_answers_table_is_run(path):
    """A test file runs its CASES: an Answers left out of them would test nothing, silently."""
    module = importlib.import_module(path.stem)
    tables = [v for v in vars(module).values() if isinstance(v, Answers)]
    left_out = [str(case) for table in tables for case in table.cases if case not in module.CASES]
    assert tables and not left_out, left_out


def test_every_check_has_its_wrong_right_and_stub_cases():
    """docs/exercises.md asks for at least five wrong answers and two right ones per exercise, and the stub."""
    cases = [case for path in EXERCISE_TESTS for case in importlib.import_module(path.stem).CASES]
    counts = {name: {s: 0 for s in (WRONG, PASSED, NOT_DONE)} for name in helpers.check.CHECKS}
    for case in cases:
        counts[case.check.name][case.status] += 1
    short = {name: n for name, n in counts.items() if n[WRONG] < 5 or n[PASSED] < 2 or n[NOT_DONE] != 1}
    assert len(EXERCISE_TESTS) >= 9 and not short, short
