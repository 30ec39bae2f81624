"""Mutation tests of notebook 00's exercise checks: typical wrong answers get their own message.

The pattern for every notebook (copy it to tests/test_nbNN_exercises.py), on tests/mutation.py: per
exercise an ``Answers``, the wrong answers marked with the words their message must contain, right
answers in several styles that must pass, and the stub, which is "not done"; one test runs them all.
"""
import copy

import pytest
import torch
from mutation import Answers

import helpers

# --- to_device(model, batch, device) ----------------------------------------------------------------

TO_DEVICE = Answers(helpers.check.to_device)


@TO_DEVICE.right
def right_to_device(model, batch, device):
    return model.to(device), batch.to(device)


@TO_DEVICE.right
def right_in_place_model(model, batch, device):
    model.to(device)  # a module moves in place: its result need not be kept
    batch = batch.to(device=device, non_blocking=True)
    return model, batch


@TO_DEVICE.right
def right_copy_of_model(model, batch, device):
    return copy.deepcopy(model).to(device), batch.to(device)


@TO_DEVICE.wrong("tensor.to(device) returns a NEW tensor")
def batch_result_dropped(model, batch, device):
    batch.to(device)  # the copy is thrown away
    return model.to(device), batch


@TO_DEVICE.wrong("the model was never moved")
def model_not_moved(model, batch, device):
    return model, batch.to(device)


@TO_DEVICE.wrong("you moved it to a fixed device")
def fixed_device(model, batch, device):
    return model.to("cpu"), batch.to("cpu")


@TO_DEVICE.wrong("the batch's values changed")
def empty_like(model, batch, device):
    return model.to(device), torch.empty_like(batch, device=device)


@TO_DEVICE.wrong("the batch's values changed")
def zeros_like(model, batch, device):
    return model.to(device), torch.zeros_like(batch, device=device)


@TO_DEVICE.wrong("buffers")
def parameters_only(model, batch, device):  # each parameter replaced by a moved copy; the buffers stay behind
    for module in model.modules():
        for name, p in list(module.named_parameters(recurse=False)):
            setattr(module, name, torch.nn.Parameter(p.detach().to(device)))
    return model, batch.to(device)


def uses_cuda(model, batch, device):
    return model.cuda(), batch.cuda()


@TO_DEVICE.wrong("return the model itself, moved, not a new one")
def new_model(model, batch, device):
    return type(model)(*[copy.deepcopy(m).to(device).apply(_reset) for m in model]), batch.to(device)


def _reset(m):
    if hasattr(m, "reset_parameters"):
        m.reset_parameters()


TO_DEVICE.wrong("return the pair (model, batch)", model_only=lambda m, b, d: m.to(d))
TO_DEVICE.wrong("a module first, then a tensor", swapped=lambda m, b, d: (b.to(d), m.to(d)))
TO_DEVICE.wrong("changed shape or type", dtype_changed=lambda m, b, d: (m.to(d), b.to(d).half()))
TO_DEVICE.wrong("cannot run the batch you returned", model_half=lambda m, b, d: (m.half().to(d), b.to(d)))
if not torch.cuda.is_available():
    TO_DEVICE.wrong(".cuda() sends everything to the GPU", uses_cuda=uses_cuda)


# --- run_on_model_device(model, x) ------------------------------------------------------------------

RUN = Answers(helpers.check.run_on_model_device)


@RUN.right
def right_run(model, x):
    return model(x.to(next(model.parameters()).device))


@RUN.right
def right_with_helper(model, x):
    return model(x.to(helpers.model_device(model)))


@RUN.right
def right_last_parameter(model, x):
    device = list(model.parameters())[-1].device
    return model(x.to(device))


@RUN.wrong("move x to the MODEL's device")
def input_not_moved(model, x):
    return model(x)


@RUN.wrong("you moved the model to the input's device")
def model_moved_instead(model, x):
    model.to(x.device)
    return model(x)


@RUN.wrong("expected model(x): shape (3, 2)")
def returns_input(model, x):
    return x.to(next(model.parameters()).device)


@RUN.wrong("copied a tensor off the model's device")
def output_moved_back(model, x):
    return model(x.to(helpers.model_device(model))).to(x.device)


@RUN.wrong("has no .weight")
def model_weight(model, x):
    return model(x.to(model.weight.device))


@RUN.wrong("a model has no .device attribute")
def model_device_attribute(model, x):
    return model(x.to(model.device))


@RUN.wrong("your output is not model(x)")
def empty_output(model, x):
    out_features = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1].out_features
    return torch.empty(x.shape[0], out_features, device=helpers.model_device(model))


RUN.wrong("move x to the MODEL's device", fixed_device=lambda m, x: m(x.to("cpu")))


CASES = TO_DEVICE.cases + RUN.cases


@pytest.mark.parametrize("case", CASES, ids=str)
def test_each_answer_gets_its_verdict(case):
    """Each wrong answer gets its own message, each right one passes, the stub is not done."""
    case.verify()


def test_module_methods_are_restored_after_a_check():
    before = torch.nn.Module.to, torch.nn.Module.cpu, torch.nn.Module.cuda
    helpers.check.run_on_model_device.outcome(model_moved_instead)
    assert (torch.nn.Module.to, torch.nn.Module.cpu, torch.nn.Module.cuda) == before
