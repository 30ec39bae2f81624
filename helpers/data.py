"""Datasets: one registry of sources with checksums and licences, and loaders.

Introduced in notebook 00 (Fashion-MNIST). The doggy-door photos (05a, 05b) are built by
:mod:`helpers.photos` and :mod:`helpers.door_data` instead.
Every dataset lives under :func:`helpers.config.data_dir` (``data/`` by default,
``COURSE_DATA`` to move it).
"""
from __future__ import annotations

import gzip
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch.utils.data import Dataset, TensorDataset

from . import config
from .files import ChecksumMismatch, atomic_write, socket_timeout, verify

if TYPE_CHECKING:
    from torchvision.datasets import FashionMNIST


class DataNotFound(FileNotFoundError):
    """No source of a dataset could be used; the message says what to install or do."""


@dataclass(frozen=True)
class DatasetEntry:
    """One dataset: where it may come from, in order, and what it must contain."""

    name: str
    licence: str
    homepage: str
    sources: tuple[str, ...]
    files: dict[str, str] = field(default_factory=dict)  # file name -> sha256 of its content


# Downloaded or unpacked files with checksums. The doggy-door photos are built, not fetched: their
# sources and licences are in helpers/photos.py, helpers/door_data.py and data/README.md.
REGISTRY: dict[str, DatasetEntry] = {
    "fashion-mnist": DatasetEntry(
        name="Fashion-MNIST",
        licence="MIT (Zalando Research)",
        homepage="https://github.com/zalandoresearch/fashion-mnist",
        sources=(
            "cache: data/FashionMNIST/raw/ (unpacked idx files)",
            "system: /usr/share/datasets/fashion-mnist/*.gz (Debian package dataset-fashion-mnist)",
            "download: torchvision.datasets.FashionMNIST(download=True)",
        ),
        files={
            "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
    ),
}

FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")


def _gunzip(src: Path, dst: Path) -> None:
    with gzip.open(src, "rb") as fin, open(dst, "wb") as fout:
        shutil.copyfileobj(fin, fout)


def prepare_fashion_mnist(*, system_dir: Path | str = FASHION_MNIST_SYSTEM_DIR,
                          download: bool = True, timeout: float = 30.0) -> tuple[Path, str]:
    """Return ``(root, source)`` once the Fashion-MNIST files are in ``data/FashionMNIST/raw/`` (notebook 00).

    Sources in order: the cache, the Debian copy (unpacked from ``system_dir``), then
    torchvision's download with a socket timeout. Every file is checked against the
    registry's sha256. Raises :class:`DataNotFound` naming the fix when all fail.
    Introduced in notebook 00.
    """
    entry = REGISTRY["fashion-mnist"]
    root = config.data_dir()
    raw = root / "FashionMNIST" / "raw"

    def cached() -> bool:
        return all((raw / name).is_file() for name in entry.files)

    if cached():
        for name, digest in entry.files.items():
            verify(raw / name, digest)
        return root, f"cache ({raw})"

    system_dir = Path(system_dir)
    gz_files = {name: system_dir / f"{name}.gz" for name in entry.files}
    if all(p.is_file() for p in gz_files.values()):
        raw.mkdir(parents=True, exist_ok=True)
        for name, gz in gz_files.items():
            if not (raw / name).is_file():
                atomic_write(raw / name, lambda tmp, gz=gz: _gunzip(gz, tmp))
            verify(raw / name, entry.files[name])
        return root, f"Debian package dataset-fashion-mnist ({system_dir})"

    errors = []
    if download:
        from torchvision.datasets import FashionMNIST

        try:
            with socket_timeout(timeout):
                FashionMNIST(str(root), train=True, download=True)
                FashionMNIST(str(root), train=False, download=True)
            for name, digest in entry.files.items():
                verify(raw / name, digest)
            return root, "download (torchvision)"
        except ChecksumMismatch:
            raise
        except Exception as exc:  # offline, DNS failure, timeout, HTTP error
            errors.append(f"download failed: {type(exc).__name__}: {exc}")
    raise DataNotFound(
        "Fashion-MNIST was not found.\n"
        f"  looked in: {raw} (cache), {system_dir} (Debian package)\n"
        + "".join(f"  {e}\n" for e in errors)
        + "Fix: `sudo apt-get install dataset-fashion-mnist` (works offline from a Debian mirror), "
        "or connect to the internet and run again so torchvision can download it."
    )


def fashion_mnist(train: bool = True, transform=None) -> FashionMNIST:
    """Return torchvision's ``FashionMNIST`` (train or test split), preparing the files first (notebook 00).

    See :func:`prepare_fashion_mnist` for the sources tried. Default transform: none (PIL
    images); use :func:`as_tensors` to hold the whole split as tensors instead.
    """
    from torchvision.datasets import FashionMNIST

    root, _ = prepare_fashion_mnist()
    return FashionMNIST(str(root), train=train, download=False, transform=transform)


def as_tensors(dataset: Dataset, device: torch.device | str = "cpu", *,
               limit: int | None = None) -> TensorDataset:
    """Return the whole (small) dataset as one ``TensorDataset`` of (images, labels) on ``device`` (notebook 00).

    Images become float32 in [0, 1] with a channel axis (N, 1, 28, 28 for Fashion-MNIST);
    labels become int64. ``limit`` keeps the first ``limit`` items. Keeping data on the
    device means the training loop is not starved by per-item Python work (the course's
    ``MyDataset`` idea). Works for torchvision's MNIST family directly and for any dataset
    whose items are ``(tensor or PIL image, int)``.
    """
    n = len(dataset) if limit is None else min(limit, len(dataset))
    if n == 0:
        raise ValueError("as_tensors got an empty dataset: nothing to train on.")
    data = getattr(dataset, "data", None)
    targets = getattr(dataset, "targets", None)
    if isinstance(data, torch.Tensor) and getattr(dataset, "transform", None) is None and targets is not None:
        x = data[:n].float().div_(255.0)
        if x.ndim == 3:
            x = x.unsqueeze(1)
        y = torch.as_tensor(targets[:n], dtype=torch.long)
    else:
        from torchvision.transforms.functional import pil_to_tensor

        xs, ys = [], []
        for i in range(n):
            img, label = dataset[i]
            if not isinstance(img, torch.Tensor):
                img = pil_to_tensor(img).float().div_(255.0)
            xs.append(img.float())
            ys.append(int(label))
        x = torch.stack(xs)
        y = torch.tensor(ys, dtype=torch.long)
    return TensorDataset(x.to(device), y.to(device))

