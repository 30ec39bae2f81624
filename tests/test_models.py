"""helpers.models: the offline EfficientNet-Lite0, its key renaming, ImageNet names, VGG16 without downloads."""
import urllib.error
from pathlib import Path

import pytest
import torch

from helpers import models
from helpers.images import load_rgb


def test_class_ranges_are_the_courses():
    assert (models.DOG_CLASSES.start, models.DOG_CLASSES.stop, len(models.DOG_CLASSES)) == (151, 269, 118)
    assert list(models.CAT_CLASSES) == [281, 282, 283, 284, 285]


def test_imagenet_label_reads_names_offline():
    assert models.imagenet_label(151) == "Chihuahua"
    assert models.imagenet_label(torch.tensor(285)) == "Egyptian cat"
    assert "tabby" in models.imagenet_label(281)
    for bad in (-1, 1000):
        with pytest.raises(IndexError, match="0..999"):
            models.imagenet_label(bad)


def test_rename_maps_first_block_other_blocks_and_top():
    w = torch.zeros(1)
    renamed = models.rename_efficientnet_lite0_keys({
        "_conv_stem.weight": w, "_bn0.running_mean": w, "_fc.bias": w, "_bn1.weight": w,
        "_blocks.0._depthwise_conv.weight": w, "_blocks.0._bn2.bias": w,
        "_blocks.1._expand_conv.weight": w, "_blocks.3._project_conv.weight": w, "_blocks.15._bn2.weight": w,
    })
    assert set(renamed) == {
        "conv_stem.weight", "bn1.running_mean", "classifier.bias", "bn2.weight",
        "blocks.0.0.conv_dw.weight", "blocks.0.0.bn2.bias",
        "blocks.1.0.conv_pw.weight", "blocks.2.0.conv_pwl.weight", "blocks.6.0.bn3.weight",
    }


@pytest.mark.parametrize("key", ["_blocks.16._bn0.weight", "_blocks.2._squeeze.weight", "_mystery.weight"])
def test_rename_refuses_unknown_keys(key):
    with pytest.raises(KeyError):
        models.rename_efficientnet_lite0_keys({key: torch.zeros(1)})


def test_pretrained_efficientnet_sees_a_cat_in_chelsea():
    model, preprocess = models.pretrained()
    assert not model.training
    assert model.conv_stem.weight.is_contiguous(memory_format=torch.channels_last)
    x = preprocess(load_rgb(_chelsea_path()))
    assert tuple(x.shape) == (3, 224, 224)
    with torch.no_grad():
        top3 = model(x.unsqueeze(0))[0].topk(3).indices.tolist()
    assert set(top3) <= set(models.CAT_CLASSES), [models.imagenet_label(i) for i in top3]


def _chelsea_path():
    import skimage.data

    return Path(skimage.data.__file__).parent / "chelsea.png"


def test_pretrained_unknown_name():
    with pytest.raises(ValueError, match="efficientnet_lite0"):
        models.pretrained("resnet9000")


def test_vgg16_weights_cached_looks_without_downloading(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    assert models.vgg16_weights_cached() is None
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "vgg16-397923af.pth").write_bytes(b"")
    assert models.vgg16_weights_cached() == tmp_path / "checkpoints" / "vgg16-397923af.pth"


def test_vgg16_offline_raises_weights_unavailable_naming_the_default(monkeypatch):
    import torchvision.models

    def offline(**kwargs):
        raise urllib.error.URLError("no network")
    monkeypatch.setattr(torchvision.models, "vgg16", offline)
    with pytest.raises(models.WeightsUnavailable, match="efficientnet_lite0"):
        models.pretrained("vgg16")
