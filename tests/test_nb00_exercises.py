"""Mutation tests of notebook 00's exercise checks: typical wrong answers get their own message.

The pattern for every notebook (copy it to tests/test_nbNN_exercises.py): a table of wrong answers
with the words their message must contain, a table of right answers in several styles that must
pass, and the stub, which is "not done"; tests/mutation.py turns them into cases of one test.
"""
import copy

import pytest
import torch
from mutation import not_done, right, wrong

import helpers

# --- to_device(model, batch, device) ----------------------------------------------------------------

def right_to_device(model, batch, device):
    return model.to(device), batch.to(device)


def right_in_place_model(model, batch, device):
    model.to(device)  # a module moves in place: its result need not be kept
    batch = batch.to(device=device, non_blocking=True)
    return model, batch


def right_copy_of_model(model, batch, device):
    return copy.deepcopy(model).to(device), batch.to(device)


def batch_result_dropped(model, batch, device):
    batch.to(device)  # the copy is thrown away
    return model.to(device), batch


def model_not_moved(model, batch, device):
    return model, batch.to(device)


def fixed_device(model, batch, device):
    return model.to("cpu"), batch.to("cpu")


def empty_like(model, batch, device):
    return model.to(device), torch.empty_like(batch, device=device)


def zeros_like(model, batch, device):
    return model.to(device), torch.zeros_like(batch, device=device)


def parameters_only(model, batch, device):  # each parameter replaced by a moved copy; the buffers stay behind
    for module in model.modules():
        for name, p in list(module.named_parameters(recurse=False)):
            setattr(module, name, torch.nn.Parameter(p.detach().to(device)))
    return model, batch.to(device)


def uses_cuda(model, batch, device):
    return model.cuda(), batch.cuda()


def new_model(model, batch, device):
    return type(model)(*[copy.deepcopy(m).to(device).apply(_reset) for m in model]), batch.to(device)


def _reset(m):
    if hasattr(m, "reset_parameters"):
        m.reset_parameters()


TO_DEVICE_WRONG = {
    "batch_result_dropped": (batch_result_dropped, "tensor.to(device) returns a NEW tensor"),
    "model_not_moved": (model_not_moved, "the model was never moved"),
    "fixed_device": (fixed_device, "you moved it to a fixed device"),
    "model_only": (lambda m, b, d: m.to(d), "return the pair (model, batch)"),
    "swapped": (lambda m, b, d: (b.to(d), m.to(d)), "a module first, then a tensor"),
    "dtype_changed": (lambda m, b, d: (m.to(d), b.to(d).half()), "changed shape or type"),
    "empty_like": (empty_like, "the batch's values changed"),
    "zeros_like": (zeros_like, "the batch's values changed"),
    "parameters_only": (parameters_only, "buffers"),
    "new_model": (new_model, "return the model itself, moved, not a new one"),
    "model_half": (lambda m, b, d: (m.half().to(d), b.to(d)), "cannot run the batch you returned"),
}
if not torch.cuda.is_available():
    TO_DEVICE_WRONG["uses_cuda"] = (uses_cuda, ".cuda() sends everything to the GPU")


# --- run_on_model_device(model, x) ------------------------------------------------------------------

def right_run(model, x):
    return model(x.to(next(model.parameters()).device))


def right_with_helper(model, x):
    return model(x.to(helpers.model_device(model)))


def right_last_parameter(model, x):
    device = list(model.parameters())[-1].device
    return model(x.to(device))


def input_not_moved(model, x):
    return model(x)


def model_moved_instead(model, x):
    model.to(x.device)
    return model(x)


def returns_input(model, x):
    return x.to(next(model.parameters()).device)


def output_moved_back(model, x):
    return model(x.to(helpers.model_device(model))).to(x.device)


def model_weight(model, x):
    return model(x.to(model.weight.device))


def model_device_attribute(model, x):
    return model(x.to(model.device))


def empty_output(model, x):
    out_features = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1].out_features
    return torch.empty(x.shape[0], out_features, device=helpers.model_device(model))


RUN_WRONG = {
    "input_not_moved": (input_not_moved, "move x to the MODEL's device"),
    "fixed_device": (lambda m, x: m(x.to("cpu")), "move x to the MODEL's device"),
    "model_moved_instead": (model_moved_instead, "you moved the model to the input's device"),
    "returns_input": (returns_input, "expected model(x): shape (3, 2)"),
    "output_moved_back": (output_moved_back, "copied a tensor off the model's device"),
    "model_weight": (model_weight, "has no .weight"),
    "model_device_attribute": (model_device_attribute, "a model has no .device attribute"),
    "empty_output": (empty_output, "your output is not model(x)"),
}


CASES = (wrong(helpers.check.to_device, TO_DEVICE_WRONG)
         + right(helpers.check.to_device, [right_to_device, right_in_place_model, right_copy_of_model])
         + wrong(helpers.check.run_on_model_device, RUN_WRONG)
         + right(helpers.check.run_on_model_device, [right_run, right_with_helper, right_last_parameter])
         + not_done(helpers.check.to_device, helpers.check.run_on_model_device))


@pytest.mark.parametrize("case", CASES, ids=str)
def test_each_answer_gets_its_verdict(case):
    """Each wrong answer gets its own message, each right one passes, the stub is not done."""
    case.verify()


def test_module_methods_are_restored_after_a_check():
    before = torch.nn.Module.to, torch.nn.Module.cpu, torch.nn.Module.cuda
    helpers.check.run_on_model_device.outcome(model_moved_instead)
    assert (torch.nn.Module.to, torch.nn.Module.cpu, torch.nn.Module.cuda) == before
