"""helpers.device: picking a device, a module's device, the environment report."""
import pytest
import torch
from torch import nn

from helpers import device as dev
from helpers.config import ConfigError


def test_pick_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert dev.pick_device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda: True)
    assert dev.pick_device().type == "mps"
    monkeypatch.setattr(dev, "_mps_available", lambda: False)
    assert dev.pick_device() == torch.device("cpu")


def test_pick_device_honours_override(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert dev.pick_device() == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_pick_device_refuses_missing_cuda(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        dev.pick_device()


@pytest.mark.parametrize("value", ["toaster", "xpu", "hpu", "meta"])
def test_pick_device_refuses_kinds_the_course_does_not_support(monkeypatch, value):
    monkeypatch.setenv("COURSE_DEVICE", value)  # torch.device accepts xpu, hpu and meta; the course cannot run there
    with pytest.raises(ConfigError, match=f"COURSE_DEVICE='{value}'"):
        dev.pick_device()


def test_pick_device_normalises_the_spelling(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", " CPU ")
    assert dev.pick_device() == torch.device("cpu")


def test_model_device_follows_the_parameters():
    model = nn.Linear(2, 2)
    assert dev.model_device(model) == torch.device("cpu")
    model.to("meta")
    assert dev.model_device(model) == torch.device("meta")


def test_model_device_without_parameters_is_a_clear_error():
    with pytest.raises(ValueError, match="ReLU has no parameters"):
        dev.model_device(nn.ReLU())


def test_describe_environment_reports_versions_and_choices(monkeypatch):
    monkeypatch.setenv("COURSE_MODE", "fast")
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    report = dev.describe_environment()
    assert report["torch"] == torch.__version__
    import torchvision  # the report reads the version without importing it; the same release

    assert torchvision.__version__.split("+")[0] == report["torchvision"].split("+")[0]
    assert dev._installed_version("no-such-package-here") == "not installed"
    assert report["mode"] == "fast" and report["device"] == "cpu"
    assert report["cuda available"] == str(torch.cuda.is_available())
    assert int(report["gpu count"]) == torch.cuda.device_count()
    assert all(isinstance(v, str) for v in report.values())


def test_synchronize_accepts_cpu_and_names():
    dev.synchronize("cpu")
    dev.synchronize(torch.device("cpu"))
