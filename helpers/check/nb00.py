"""Checks for notebook 00's exercises: moving a model and a batch, and fixing a device mismatch. The
``meta`` device is the "other" device on every machine, but holds no values, so answers also run
where values exist (docs/exercises.md, "What each check probes")."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from ..exercises import Wrong, exercise, expect

__all__ = ["to_device", "run_on_model_device"]

OTHER = torch.device("meta")


def _real_devices() -> list[torch.device]:
    """Devices with values to move to: the CPU, and CUDA when this machine has it."""
    return [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])


def _devices(model: nn.Module) -> set[str]:
    return {str(t.device) for t in list(model.parameters()) + list(model.buffers())}


def _model() -> nn.Module:
    """A model with parameters AND buffers (batch norm's running statistics), seeded, in eval mode."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 2)).eval()


@contextlib.contextmanager
def _module_moves() -> Iterator[list[nn.Module]]:
    """Record every module that nn.Module.to / .cpu / .cuda is called on while the answer runs."""
    moved: list[nn.Module] = []
    saved = {name: getattr(nn.Module, name) for name in ("to", "cpu", "cuda")}

    def spy(name):
        def method(self, *args, **kwargs):
            moved.append(self)
            return saved[name](self, *args, **kwargs)
        return method

    for name in saved:
        setattr(nn.Module, name, spy(name))
    try:
        yield moved
    finally:
        for name, original in saved.items():
            setattr(nn.Module, name, original)


def _row(t: torch.Tensor) -> str:
    return "[" + ", ".join(f"{v:.4g}" for v in t.detach().flatten()[:4].tolist()) + "]"


def _cuda_refused(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(w in text for w in ("cuda", "nvidia driver", "not compiled with"))


@exercise
def to_device(answer) -> str:
    """``answer(model, batch, device)`` must return ``(model, batch)`` with both on ``device``, values kept."""
    model, batch = _model(), torch.arange(12.0).reshape(3, 4) / 7
    try:
        with _module_moves() as moved:
            result = answer(model, batch, OTHER)
    except (RuntimeError, AssertionError) as exc:
        if _cuda_refused(exc):
            raise Wrong(".cuda() sends everything to the GPU whatever device you were given (and fails where there "
                        "is none): use .to(device) with the `device` argument") from None
        raise
    expect(isinstance(result, tuple) and len(result) == 2,
           f"return the pair (model, batch); your function returned {type(result).__name__} {result!r:.60}")
    moved_model, moved_batch = result
    expect(isinstance(moved_model, nn.Module) and isinstance(moved_batch, torch.Tensor),
           "return (model, batch) in that order: a module first, then a tensor")
    params = {str(p.device) for p in moved_model.parameters()}
    if params != {str(OTHER)}:
        raise Wrong(f"the model's parameters are on {', '.join(sorted(params))}, not on the device you were given "
                    f"({OTHER}): " + ("you moved it to a fixed device (or DEVICE); use the `device` argument" if moved
                                      else "the model was never moved; call model.to(device)"))
    buffers = {str(b.device) for b in moved_model.buffers()}
    expect(buffers == {str(OTHER)},
           f"the parameters moved but the model's buffers (batch norm's running mean and variance) are still on "
           f"{', '.join(sorted(buffers - {str(OTHER)}))}: moving each parameter by hand misses them; model.to(device) "
           "moves parameters and buffers together")
    if moved_batch.device != OTHER:
        if moved_batch is batch:
            message = ("the batch you returned is the one you were given, still on "
                       f"{batch.device}: tensor.to(device) returns a NEW tensor and leaves the original where it "
                       "was, so keep its result")
        else:
            message = (f"the batch is on {moved_batch.device}, not on the device you were given ({OTHER}): "
                       "use batch.to(device) with the `device` argument")
        raise Wrong(message)
    expect(tuple(moved_batch.shape) == tuple(batch.shape) and moved_batch.dtype == batch.dtype,
           f"the batch changed shape or type ({tuple(batch.shape)} {batch.dtype} → "
           f"{tuple(moved_batch.shape)} {moved_batch.dtype}): .to(device) alone keeps both")
    for device in _real_devices():  # devices with values: the batch's numbers and the model's weights must survive
        model, batch = _model(), torch.arange(12.0).reshape(3, 4) / 7
        want = model(batch).detach().to(device)
        moved_model, moved_batch = answer(model, batch, device)
        expect(moved_batch.device.type == device.type and torch.equal(moved_batch, batch.to(device)),
               f"moved to {device}, the batch's values changed (first row {_row(moved_batch)} instead of "
               f"{_row(batch)}): a new empty or zero tensor on the device is not the batch; .to(device) "
               "copies the values")
        try:
            got = moved_model(moved_batch).detach()
        except RuntimeError as exc:
            raise Wrong(f"moved to {device}, the model you returned cannot run the batch you returned "
                        f"({str(exc).splitlines()[0][:80]}): move them, and change nothing else (.to(device) "
                        "keeps the dtype)") from None
        expect(torch.allclose(got, want), f"moved to {device}, the model computes something else than before: "
                                          "return the model itself, moved, not a new one")
    return (f"model (parameters and buffers) and batch end on the device you asked for (tried with {OTHER}, which is "
            "not this machine's, and with " + ", ".join(str(d) for d in _real_devices()) + ", where the values were "
            "compared): model.to() moves the module in place, tensor.to() returns a copy you must keep")


@exercise
def run_on_model_device(answer) -> str:
    """``answer(model, x)`` must return ``model(x)`` computed on the model's device, leaving the model where it is."""
    for model in (nn.Linear(4, 2).to(OTHER), _model().to(OTHER)):
        x = torch.ones(3, 4)
        with _module_moves() as moved:
            try:
                out = answer(model, x)
            except NotImplementedError as exc:
                if not (exc.args and "meta" in str(exc)):
                    raise
                if not moved:
                    raise Wrong(f"your function copied a tensor off the model's device ({OTHER}, whose tensors hold "
                                "no data: 'Cannot copy out of meta tensor'): return model(x) as it comes out, on the "
                                "model's device, and move only x") from None
                raise Wrong("you moved the model to the input's device: in a training loop the model stays where "
                            "it is (moving it copies every weight, every batch); move the input to the model "
                            "instead") from None
            except AttributeError as exc:
                if "'device'" in str(exc):
                    raise Wrong("a model has no .device attribute (its parameters do): ask where its first "
                                "parameter is") from None
                if "'weight'" in str(exc):
                    raise Wrong(f"{type(model).__name__} has no .weight: model.weight works for a single layer only. "
                                "Ask the model's parameters where they are, which works for any model") from None
                raise
            except RuntimeError as exc:
                if _cuda_refused(exc):
                    raise Wrong(".cuda() sends the input to the GPU whatever device the model is on: send it to "
                                "the model's device") from None
                if "device" not in str(exc):
                    raise
                raise Wrong("PyTorch still says the model and the input are on different devices "
                            f"({str(exc).splitlines()[0][:90]}...): move x to the MODEL's device, "
                            "not to a fixed device") from None
        expect(_devices(model) == {str(OTHER)},
               f"the model moved from {OTHER} to {', '.join(sorted(_devices(model)))}: leave the model where it is "
               "and move the input to it")
        expect(isinstance(out, torch.Tensor), f"return the model's output, model(x); got {type(out).__name__}")
        if tuple(out.shape) == (3, 2) and out.device != OTHER:
            raise Wrong(f"the output is on {out.device}, but the model computes on {OTHER}: return model(x) as it "
                        "comes out, on the model's device (you moved it back, or computed it elsewhere)")
        expect(tuple(out.shape) == (3, 2) and out.device == OTHER,
               f"expected model(x): shape (3, 2) on {OTHER}; got shape {tuple(out.shape)} on {out.device} "
               "(did you return x?)")
    for device in _real_devices():  # where values exist: the output must be the model's
        model = _model().to(device)
        x = torch.arange(12.0).reshape(3, 4) / 5
        want = model(x.to(device)).detach()
        out = answer(model, x)
        expect(isinstance(out, torch.Tensor) and out.device.type == device.type and torch.allclose(out, want),
               f"with the model on {device}, your output is not model(x) (first row "
               f"{_row(out) if isinstance(out, torch.Tensor) else repr(out)[:60]}, expected {_row(want)}): "
               "return what the model computes, not a new tensor of the right shape")
    return (f"the input went to the model's device ({OTHER}, and " + ", ".join(str(d) for d in _real_devices())
            + " with values compared) and the model stayed put, for a single layer and a Sequential with buffers: "
              "the fix for 'Expected all tensors to be on the same device'")
