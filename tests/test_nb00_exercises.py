"""Mutation tests of notebook 00's exercise checks: typical wrong answers get their own message.

The pattern for every notebook (copy it to tests/test_nbNN_exercises.py): a list of
(answer, the words its message must contain); the right answer passes; the stub is "not done".
"""
import pytest

import helpers
from helpers.exercises import NOT_DONE, PASSED, WRONG


def stub(*args):
    raise NotImplementedError()


def right_to_device(model, batch, device):
    return model.to(device), batch.to(device)


def batch_result_dropped(model, batch, device):
    batch.to(device)  # the copy is thrown away
    return model.to(device), batch


def model_not_moved(model, batch, device):
    return model, batch.to(device)


def fixed_device(model, batch, device):
    return model.to("cpu"), batch.to("cpu")


@pytest.mark.parametrize("answer, words", [
    (batch_result_dropped, "tensor.to(device) returns a NEW tensor"),
    (model_not_moved, "the model's parameters are on cpu, not on the device you were given"),
    (fixed_device, "not a fixed device or DEVICE"),
    (lambda m, b, d: m.to(d), "return the pair (model, batch)"),
    (lambda m, b, d: (b.to(d), m.to(d)), "a module first, then a tensor"),
    (lambda m, b, d: (m.to(d), b.to(d).half()), "changed shape or type"),
], ids=["batch_result_dropped", "model_not_moved", "fixed_device", "model_only", "swapped", "dtype_changed"])
def test_to_device_mistakes_get_their_message(answer, words):
    result = helpers.check.to_device.outcome(answer)
    assert result.status == WRONG and words in result.message, result.line


def right_run(model, x):
    return model(x.to(next(model.parameters()).device))


def input_not_moved(model, x):
    return model(x)


def model_moved_instead(model, x):
    model.to(x.device)
    return model(x)


def returns_input(model, x):
    return x.to(next(model.parameters()).device)


@pytest.mark.parametrize("answer, words", [
    (input_not_moved, "move x to the MODEL's device"),
    (lambda m, x: m(x.to("cpu")), "move x to the MODEL's device"),
    (model_moved_instead, "you moved the model to the input's device"),
    (returns_input, "expected model(x): shape (3, 2)"),
], ids=["input_not_moved", "fixed_device", "model_moved_instead", "returns_input"])
def test_run_on_model_device_mistakes_get_their_message(answer, words):
    result = helpers.check.run_on_model_device.outcome(answer)
    assert result.status == WRONG and words in result.message, result.line


@pytest.mark.parametrize("check, right", [(helpers.check.to_device, right_to_device),
                                          (helpers.check.run_on_model_device, right_run)])
def test_right_answers_pass_and_stubs_are_not_done(check, right):
    assert check.outcome(right).status == PASSED
    assert check.outcome(stub).status == NOT_DONE

