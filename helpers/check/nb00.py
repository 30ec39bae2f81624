"""Checks for notebook 00's exercises: moving a model and a batch, and fixing a device mismatch.

Both use PyTorch's ``meta`` device as the "other" device, so that they test the same thing on a
CPU-only laptop as on a GPU machine.
"""
from __future__ import annotations

import torch
from torch import nn

from ..exercises import exercise, expect

__all__ = ["to_device", "run_on_model_device"]

OTHER = torch.device("meta")


def _devices(model: nn.Module) -> set[str]:
    return {str(p.device) for p in model.parameters()}


@exercise
def to_device(answer) -> str:
    """``answer(model, batch, device)`` must return ``(model, batch)`` with both on ``device``."""
    model, batch = nn.Linear(4, 2), torch.ones(3, 4)
    result = answer(model, batch, OTHER)
    expect(isinstance(result, tuple) and len(result) == 2,
           f"return the pair (model, batch); your function returned {type(result).__name__} {result!r:.60}")
    moved_model, moved_batch = result
    expect(isinstance(moved_model, nn.Module) and isinstance(moved_batch, torch.Tensor),
           "return (model, batch) in that order: a module first, then a tensor")
    expect(_devices(moved_model) == {str(OTHER)},
           f"the model's parameters are on {', '.join(sorted(_devices(moved_model)))}, not on the device you were "
           f"given ({OTHER}): call model.to(device) with the `device` argument, not a fixed device or DEVICE")
    if moved_batch.device != OTHER:
        if moved_batch is batch:
            message = ("the batch you returned is the one you were given, still on "
                         f"{batch.device}: tensor.to(device) returns a NEW tensor and leaves the original where it "
                         "was, so keep its result: batch = batch.to(device)")
        else:
            message = (f"the batch is on {moved_batch.device}, not on the device you were given ({OTHER}): "
                         "use batch.to(device) with the `device` argument")
        expect(False, message)
    expect(tuple(moved_batch.shape) == tuple(batch.shape) and moved_batch.dtype == batch.dtype,
           f"the batch changed shape or type ({tuple(batch.shape)} {batch.dtype} → "
           f"{tuple(moved_batch.shape)} {moved_batch.dtype}): .to(device) alone keeps both")
    return (f"model and batch both end on the device you asked for (tried with {OTHER}, which is not the CPU): "
            "model.to() moves the module in place, tensor.to() returns a copy you must keep")


@exercise
def run_on_model_device(answer) -> str:
    """``answer(model, x)`` must return ``model(x)`` computed on the model's device, leaving the model where it is."""
    model, x = nn.Linear(4, 2).to(OTHER), torch.ones(3, 4)
    try:
        out = answer(model, x)
    except NotImplementedError as exc:
        if exc.args and "meta" in str(exc):  # model.to(x.device) from the meta device
            expect(False, "you moved the model to the input's device: in a training loop the model stays where "
                          "it is (moving it copies every weight, every batch); move the input to the model instead")
        raise
    except RuntimeError as exc:
        if "device" not in str(exc):
            raise
        expect(False, "PyTorch still says the model and the input are on different devices "
                      f"({str(exc).splitlines()[0][:90]}...): move x to the MODEL's device, "
                      "next(model.parameters()).device or helpers.model_device(model), not to a fixed device")
    expect(_devices(model) == {str(OTHER)},
           f"the model moved from {OTHER} to {', '.join(sorted(_devices(model)))}: leave the model where it is "
           "and move the input to it")
    expect(isinstance(out, torch.Tensor), f"return the model's output, model(x); got {type(out).__name__}")
    expect(tuple(out.shape) == (3, 2) and out.device == OTHER,
           f"expected model(x): shape (3, 2) on {OTHER}; got shape {tuple(out.shape)} on {out.device} "
           "(did you return x, or move the output back?)")
    return (f"the input went to the model's device ({OTHER} here) and the model stayed put: the fix for "
            "'Expected all tensors to be on the same device'")
